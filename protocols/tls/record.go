package tls

import "strconv"

// Record content types (RFC 8446 section 5.1, RFC 6520).
const (
	typeChangeCipherSpec = 20
	typeAlert            = 21
	typeHandshake        = 22
	typeApplicationData  = 23
	typeHeartbeat        = 24
)

// Handshake message types (RFC 8446 section 4, RFC 5246 section 7.4).
const (
	hsClientHello         = 1
	hsServerHello         = 2
	hsNewSessionTicket    = 4
	hsEncryptedExtensions = 8
	hsCertificate         = 11
	hsServerKeyExchange   = 12
	hsCertificateRequest  = 13
	hsServerHelloDone     = 14
	hsCertificateVerify   = 15
	hsClientKeyExchange   = 16
	hsFinished            = 20
	hsKeyUpdate           = 24
)

// Protocol versions.
const (
	versionSSL30 = 0x0300
	versionTLS10 = 0x0301
	versionTLS11 = 0x0302
	versionTLS12 = 0x0303
	versionTLS13 = 0x0304
)

const (
	// HeaderLen is the size of a TLS record header.
	HeaderLen = 5
	// MaxRecordLen bounds a record's fragment: 2^14 bytes of plaintext plus
	// the 2048 bytes of expansion TLS 1.2 allows (RFC 5246 section 6.2.3).
	MaxRecordLen = 1<<14 + 2048
	// MaxHandshakeLen bounds one handshake message (a certificate chain
	// included); a longer one stops the connection with ErrHandshakeTooLarge.
	MaxHandshakeLen = 128 << 10
)

// recordHeader is a parsed TLS record header.
type recordHeader struct {
	typ     uint8
	version uint16
	length  int
}

// parseHeader reads a record header from b (at least HeaderLen bytes). ok is
// false when the bytes cannot start a record.
func parseHeader(b []byte) (h recordHeader, ok bool) {
	h = recordHeader{typ: b[0], version: uint16(b[1])<<8 | uint16(b[2]), length: int(b[3])<<8 | int(b[4])}
	if h.typ < typeChangeCipherSpec || h.typ > typeHeartbeat || b[1] != 3 || b[2] > 4 || h.length > MaxRecordLen {
		return h, false
	}
	return h, true
}

// resync returns the offset in b of the first plausible record header after
// lost bytes: a header whose successor, when b holds it, is a header too.
// It returns -1 when there is none in b (the caller keeps the last bytes).
func resync(b []byte) int {
	for i := 0; i+HeaderLen <= len(b); i++ {
		h, ok := parseHeader(b[i:])
		if !ok || h.typ == typeHeartbeat || h.version < versionTLS10 || h.version > versionTLS12 {
			continue
		}
		next := i + HeaderLen + h.length
		if next+HeaderLen <= len(b) {
			if _, ok := parseHeader(b[next:]); !ok {
				continue
			}
		}
		return i
	}
	return -1
}

// versionName returns "1.3", "1.2", ... for a protocol version.
func versionName(v uint16) string {
	switch v {
	case versionTLS13:
		return "1.3"
	case versionTLS12:
		return "1.2"
	case versionTLS11:
		return "1.1"
	case versionTLS10:
		return "1.0"
	case versionSSL30:
		return "3.0"
	}
	return ""
}

// alertNames are the alert descriptions of RFC 8446 section 6 and RFC 5246
// section 7.2.
var alertNames = map[uint8]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
	21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
	40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
	43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
	46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error",
	60: "export_restriction", 70: "protocol_version", 71: "insufficient_security",
	80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
	100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
	111: "certificate_unobtainable", 112: "unrecognized_name",
	113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
	115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
}

// alertName returns the alert description's name, or "alert_<n>".
func alertName(d uint8) string {
	if s, ok := alertNames[d]; ok {
		return s
	}
	return "alert_" + strconv.Itoa(int(d))
}
