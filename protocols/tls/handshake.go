package tls

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// Extension types (IANA TLS ExtensionType Values).
const (
	extServerName          = 0
	extSupportedGroups     = 10
	extECPointFormats      = 11
	extSignatureAlgorithms = 13
	extALPN                = 16
	extEncryptThenMAC      = 22
	extSupportedVersions   = 43
)

// clientHello holds what a ClientHello tells.
type clientHello struct {
	version      uint16
	random       [32]byte
	ciphers      []uint16
	extensions   []uint16
	groups       []uint16
	pointFormats []uint8
	sigAlgs      []uint16
	versions     []uint16 // supported_versions
	serverName   string
	alpn         []string
}

// serverHello holds what a ServerHello tells.
type serverHello struct {
	version    uint16 // negotiated: supported_versions when present
	legacy     uint16
	random     [32]byte
	cipher     uint16
	extensions []uint16
	alpn       string
	retry      bool // a HelloRetryRequest
}

// helloRetryRandom is the Random of a HelloRetryRequest (RFC 8446 4.1.3).
var helloRetryRandom = [32]byte{
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
	0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
}

// isGREASE reports a GREASE value (RFC 8701).
func isGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

// parseClientHello parses a ClientHello body (after the 4-byte handshake
// header).
func parseClientHello(body []byte, ch *clientHello) bool {
	s := cryptobyte.String(body)
	var random, sessionID, ciphers, compression cryptobyte.String
	if !s.ReadUint16(&ch.version) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) || !s.ReadUint16LengthPrefixed(&ciphers) ||
		!s.ReadUint8LengthPrefixed(&compression) {
		return false
	}
	copy(ch.random[:], random)
	for !ciphers.Empty() {
		var c uint16
		if !ciphers.ReadUint16(&c) {
			return false
		}
		ch.ciphers = append(ch.ciphers, c)
	}
	if s.Empty() {
		return true // no extensions (SSL 3.0 style)
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return false
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return false
		}
		ch.extensions = append(ch.extensions, typ)
		switch typ {
		case extServerName:
			var list cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&list) {
				return false
			}
			for !list.Empty() {
				var nameType uint8
				var name cryptobyte.String
				if !list.ReadUint8(&nameType) || !list.ReadUint16LengthPrefixed(&name) {
					return false
				}
				if nameType == 0 && ch.serverName == "" {
					ch.serverName = printable(name)
				}
			}
		case extALPN:
			var list cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&list) {
				return false
			}
			for !list.Empty() {
				var proto cryptobyte.String
				if !list.ReadUint8LengthPrefixed(&proto) {
					return false
				}
				if len(ch.alpn) < 16 {
					ch.alpn = append(ch.alpn, string(proto))
				}
			}
		case extSupportedGroups:
			if !readUint16List(&data, &ch.groups) {
				return false
			}
		case extSignatureAlgorithms:
			if !readUint16List(&data, &ch.sigAlgs) {
				return false
			}
		case extECPointFormats:
			var list cryptobyte.String
			if !data.ReadUint8LengthPrefixed(&list) {
				return false
			}
			ch.pointFormats = append(ch.pointFormats, list...)
		case extSupportedVersions:
			var list cryptobyte.String
			if !data.ReadUint8LengthPrefixed(&list) {
				return false
			}
			for !list.Empty() {
				var v uint16
				if !list.ReadUint16(&v) {
					return false
				}
				ch.versions = append(ch.versions, v)
			}
		}
	}
	return true
}

func readUint16List(data *cryptobyte.String, out *[]uint16) bool {
	var list cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) {
		return false
	}
	for !list.Empty() {
		var v uint16
		if !list.ReadUint16(&v) {
			return false
		}
		*out = append(*out, v)
	}
	return true
}

// printable returns b as a string with bytes outside printable ASCII
// replaced by '?', at most 255 bytes.
func printable(b []byte) string {
	if len(b) > 255 {
		b = b[:255]
	}
	out := []byte(nil)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			if out == nil {
				out = append([]byte(nil), b...)
			}
			out[i] = '?'
		}
	}
	if out != nil {
		return string(out)
	}
	return string(b)
}

// parseServerHello parses a ServerHello body.
func parseServerHello(body []byte, sh *serverHello) bool {
	s := cryptobyte.String(body)
	var random, sessionID cryptobyte.String
	var compression uint8
	if !s.ReadUint16(&sh.legacy) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&sessionID) || !s.ReadUint16(&sh.cipher) || !s.ReadUint8(&compression) {
		return false
	}
	copy(sh.random[:], random)
	sh.version = sh.legacy
	sh.retry = sh.random == helloRetryRandom
	if s.Empty() {
		return true
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return false
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return false
		}
		sh.extensions = append(sh.extensions, typ)
		switch typ {
		case extSupportedVersions:
			if !data.ReadUint16(&sh.version) {
				return false
			}
		case extALPN:
			if a, ok := parseALPNSelected(data); ok {
				sh.alpn = a
			} else {
				return false
			}
		}
	}
	return true
}

// parseALPNSelected reads the ALPN extension of a ServerHello or of
// EncryptedExtensions: a list of exactly one protocol.
func parseALPNSelected(data cryptobyte.String) (string, bool) {
	var list, proto cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !list.ReadUint8LengthPrefixed(&proto) {
		return "", false
	}
	return printable(proto), true
}

// parseEncryptedExtensions returns the ALPN protocol a TLS 1.3
// EncryptedExtensions message selects, if any.
func parseEncryptedExtensions(body []byte) (alpn string, ok bool) {
	s := cryptobyte.String(body)
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return "", false
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return "", false
		}
		if typ == extALPN {
			if alpn, ok = parseALPNSelected(data); !ok {
				return "", false
			}
		}
	}
	return alpn, true
}

// certInfo is what the attributes show of the leaf certificate.
type certInfo struct {
	subject, issuer     string
	notBefore, notAfter time.Time
}

// parseCertificate reads the leaf certificate of a Certificate message
// (tls13 selects the TLS 1.3 layout with a request context and
// per-certificate extensions). ok is false when the message does not parse;
// a leaf that crypto/x509 rejects gives ok with an empty certInfo.
func parseCertificate(body []byte, tls13 bool) (ci certInfo, ok bool) {
	s := cryptobyte.String(body)
	if tls13 {
		var ctx cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&ctx) {
			return ci, false
		}
	}
	var list, leaf cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&list) {
		return ci, false
	}
	if list.Empty() {
		return ci, true // no certificate (a client with none to send)
	}
	if !list.ReadUint24LengthPrefixed(&leaf) {
		return ci, false
	}
	c, err := x509.ParseCertificate(leaf)
	if err != nil {
		return ci, true
	}
	return certInfo{subject: c.Subject.String(), issuer: c.Issuer.String(), notBefore: c.NotBefore, notAfter: c.NotAfter}, true
}

// ja3 returns the JA3 fingerprint of a ClientHello: the MD5, in hex, of
// "version,ciphers,extensions,groups,point formats" in decimal, each list
// joined by "-", GREASE values left out
// (https://github.com/salesforce/ja3).
func ja3(ch *clientHello) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(ch.version)))
	b.WriteByte(',')
	joinDec(&b, ch.ciphers)
	b.WriteByte(',')
	joinDec(&b, ch.extensions)
	b.WriteByte(',')
	joinDec(&b, ch.groups)
	b.WriteByte(',')
	for i, f := range ch.pointFormats {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(int(f)))
	}
	return md5Hex([]byte(b.String()))
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// ja3s returns the JA3S fingerprint of a ServerHello: the MD5 of
// "version,cipher,extensions".
func ja3s(sh *serverHello) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(sh.legacy)))
	b.WriteByte(',')
	b.WriteString(strconv.Itoa(int(sh.cipher)))
	b.WriteByte(',')
	joinDec(&b, sh.extensions)
	sum := md5.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

func joinDec(b *strings.Builder, vs []uint16) {
	first := true
	for _, v := range vs {
		if isGREASE(v) {
			continue
		}
		if !first {
			b.WriteByte('-')
		}
		first = false
		b.WriteString(strconv.Itoa(int(v)))
	}
}

// ja4 returns the JA4 fingerprint of a ClientHello sent over TCP, per
// FoxIO's specification (https://github.com/FoxIO-LLC/ja4,
// technical_details/JA4.md): "t", the highest version offered (from
// supported_versions, else the ClientHello's version), "d" with SNI or
// "i", the counts of ciphers and extensions (two digits, at most 99), the
// first and last characters of the first ALPN value ("00" without), then
// the first 12 hex digits of the SHA-256 of the sorted cipher list, and of
// the sorted extension list without SNI and ALPN followed by "_" and the
// signature algorithms in their order. GREASE values are ignored throughout.
func ja4(ch *clientHello) string {
	var b strings.Builder
	b.WriteByte('t')
	v := ch.version
	if len(ch.versions) > 0 {
		v = 0
		for _, x := range ch.versions {
			if !isGREASE(x) && x > v {
				v = x
			}
		}
	}
	switch v {
	case versionTLS13:
		b.WriteString("13")
	case versionTLS12:
		b.WriteString("12")
	case versionTLS11:
		b.WriteString("11")
	case versionTLS10:
		b.WriteString("10")
	case versionSSL30:
		b.WriteString("s3")
	case 0x0002:
		b.WriteString("s2")
	default:
		b.WriteString("00")
	}
	if slices.Contains(ch.extensions, extServerName) {
		b.WriteByte('d')
	} else {
		b.WriteByte('i')
	}
	ciphers := noGREASE(ch.ciphers)
	exts := noGREASE(ch.extensions)
	twoDigits(&b, len(ciphers))
	twoDigits(&b, len(exts))
	b.WriteString(alpnChars(ch.alpn))
	b.WriteByte('_')

	slices.Sort(ciphers)
	b.WriteString(hash12(hexList(ciphers)))
	b.WriteByte('_')

	sorted := exts[:0]
	for _, e := range exts {
		if e != extServerName && e != extALPN {
			sorted = append(sorted, e)
		}
	}
	slices.Sort(sorted)
	in := hexList(sorted)
	if sigs := noGREASE(ch.sigAlgs); len(sigs) > 0 {
		in += "_" + hexList(sigs)
	}
	if len(sorted) == 0 {
		b.WriteString("000000000000")
	} else {
		b.WriteString(hash12(in))
	}
	return b.String()
}

func noGREASE(vs []uint16) []uint16 {
	out := make([]uint16, 0, len(vs))
	for _, v := range vs {
		if !isGREASE(v) {
			out = append(out, v)
		}
	}
	return out
}

func twoDigits(b *strings.Builder, n int) {
	n = min(n, 99)
	b.WriteByte(byte('0' + n/10))
	b.WriteByte(byte('0' + n%10))
}

func alpnChars(alpn []string) string {
	if len(alpn) == 0 || alpn[0] == "" {
		return "00"
	}
	a := alpn[0]
	first, last := a[0], a[len(a)-1]
	if isAlnum(first) && isAlnum(last) {
		return string([]byte{first, last})
	}
	h := hex.EncodeToString([]byte(a))
	return string([]byte{h[0], h[len(h)-1]})
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func hexList(vs []uint16) string {
	var b strings.Builder
	const digits = "0123456789abcdef"
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(digits[v>>12])
		b.WriteByte(digits[v>>8&0xf])
		b.WriteByte(digits[v>>4&0xf])
		b.WriteByte(digits[v&0xf])
	}
	return b.String()
}

func hash12(s string) string {
	if s == "" {
		return "000000000000"
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}
