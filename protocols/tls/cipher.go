package tls

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// Record protection of the supported cipher suites.
const (
	aeadAESGCM = iota + 1
	aeadChaCha20
	cbcAES // AES-CBC with HMAC (TLS 1.2, MAC-then-encrypt or RFC 7366 encrypt-then-MAC)
)

// MAC hashes of the CBC suites.
const (
	macSHA1 = iota + 1
	macSHA256
	macSHA384
)

// suite is a cipher suite the parser can decrypt.
type suite struct {
	aead   int
	keyLen int
	sha384 bool // the PRF or HKDF hash is SHA-384, else SHA-256
	tls13  bool
	mac    int // CBC suites: the HMAC hash
}

func (s *suite) macHash() (func() hash.Hash, int) {
	switch s.mac {
	case macSHA1:
		return sha1.New, sha1.Size
	case macSHA256:
		return sha256.New, sha256.Size
	case macSHA384:
		return sha512.New384, sha512.Size384
	}
	return nil, 0
}

func (s *suite) hash() func() hash.Hash {
	if s.sha384 {
		return sha512.New384
	}
	return sha256.New
}

// suites are the decryptable cipher suites: the AEAD suites of TLS 1.2
// (RFC 5288, RFC 5289, RFC 7905) and every TLS 1.3 suite but the CCM ones.
var suites = map[uint16]suite{
	0x009C: {aeadAESGCM, 16, false, false, 0}, // TLS_RSA_WITH_AES_128_GCM_SHA256
	0x009D: {aeadAESGCM, 32, true, false, 0},  // TLS_RSA_WITH_AES_256_GCM_SHA384
	0x009E: {aeadAESGCM, 16, false, false, 0}, // TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
	0x009F: {aeadAESGCM, 32, true, false, 0},  // TLS_DHE_RSA_WITH_AES_256_GCM_SHA384
	0xC02B: {aeadAESGCM, 16, false, false, 0}, // TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	0xC02C: {aeadAESGCM, 32, true, false, 0},  // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
	0xC02F: {aeadAESGCM, 16, false, false, 0}, // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
	0xC030: {aeadAESGCM, 32, true, false, 0},  // TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
	0xCCA8: {aeadChaCha20, 32, false, false, 0},
	0xCCA9: {aeadChaCha20, 32, false, false, 0},
	0xCCAA: {aeadChaCha20, 32, false, false, 0},
	// AES-CBC with HMAC (RFC 5246, RFC 5289).
	0x002F: {cbcAES, 16, false, false, macSHA1},   // TLS_RSA_WITH_AES_128_CBC_SHA
	0x0035: {cbcAES, 32, false, false, macSHA1},   // TLS_RSA_WITH_AES_256_CBC_SHA
	0x003C: {cbcAES, 16, false, false, macSHA256}, // TLS_RSA_WITH_AES_128_CBC_SHA256
	0x003D: {cbcAES, 32, false, false, macSHA256}, // TLS_RSA_WITH_AES_256_CBC_SHA256
	0x0033: {cbcAES, 16, false, false, macSHA1},   // TLS_DHE_RSA_WITH_AES_128_CBC_SHA
	0x0039: {cbcAES, 32, false, false, macSHA1},   // TLS_DHE_RSA_WITH_AES_256_CBC_SHA
	0x0067: {cbcAES, 16, false, false, macSHA256}, // TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
	0x006B: {cbcAES, 32, false, false, macSHA256}, // TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
	0xC009: {cbcAES, 16, false, false, macSHA1},   // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
	0xC00A: {cbcAES, 32, false, false, macSHA1},   // TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
	0xC013: {cbcAES, 16, false, false, macSHA1},   // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
	0xC014: {cbcAES, 32, false, false, macSHA1},   // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA
	0xC023: {cbcAES, 16, false, false, macSHA256}, // TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
	0xC024: {cbcAES, 32, true, false, macSHA384},  // TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
	0xC027: {cbcAES, 16, false, false, macSHA256}, // TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256
	0xC028: {cbcAES, 32, true, false, macSHA384},  // TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
	0x1301: {aeadAESGCM, 16, false, true, 0},      // TLS_AES_128_GCM_SHA256
	0x1302: {aeadAESGCM, 32, true, true, 0},       // TLS_AES_256_GCM_SHA384
	0x1303: {aeadChaCha20, 32, false, true, 0},
}

// recordCipher decrypts the records of one direction.
type recordCipher struct {
	suite  suite
	aead   cipher.AEAD
	block  cipher.Block // CBC suites
	mac    hash.Hash    // CBC suites: HMAC with the MAC key
	etm    bool         // CBC suites: encrypt-then-MAC (RFC 7366)
	sum    []byte
	iv     [12]byte // TLS 1.2 AES-GCM uses the first 4 bytes (the salt)
	seq    uint64
	secret []byte // TLS 1.3 traffic secret, for KeyUpdate
	trial  int    // the next record may have any of the trial sequence numbers after seq
	nonce  [12]byte
	aad    [13]byte
}

func newAEAD(s *suite, key []byte) (cipher.AEAD, error) {
	if s.aead == aeadChaCha20 {
		return chacha20poly1305.New(key)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// prf12 is the TLS 1.2 PRF, P_hash of RFC 5246 section 5.
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	labelSeed := append([]byte(label), seed...)
	mac := hmac.New(h, secret)
	mac.Write(labelSeed)
	a := mac.Sum(nil)
	out := make([]byte, 0, n+64)
	for len(out) < n {
		mac.Reset()
		mac.Write(a)
		mac.Write(labelSeed)
		out = mac.Sum(out)
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
	return out[:n]
}

// newCiphers12 derives the client's and the server's record ciphers of a
// TLS 1.2 session from its master secret (RFC 5246 section 6.3). etm says
// the ServerHello accepted encrypt-then-MAC (CBC suites only).
func newCiphers12(s suite, master []byte, clientRandom, serverRandom []byte, etm bool) (client, server *recordCipher, err error) {
	if s.aead == cbcAES {
		return newCBC12(s, master, clientRandom, serverRandom, etm)
	}
	ivLen := 4
	if s.aead == aeadChaCha20 {
		ivLen = 12
	}
	seed := append(append([]byte(nil), serverRandom...), clientRandom...)
	kb := prf12(s.hash(), master, "key expansion", seed, 2*s.keyLen+2*ivLen)
	ck, sk := kb[:s.keyLen], kb[s.keyLen:2*s.keyLen]
	civ, siv := kb[2*s.keyLen:2*s.keyLen+ivLen], kb[2*s.keyLen+ivLen:]
	client, server = &recordCipher{suite: s}, &recordCipher{suite: s}
	if client.aead, err = newAEAD(&s, ck); err != nil {
		return nil, nil, err
	}
	if server.aead, err = newAEAD(&s, sk); err != nil {
		return nil, nil, err
	}
	copy(client.iv[:], civ)
	copy(server.iv[:], siv)
	return client, server, nil
}

// newCBC12 derives the AES-CBC and HMAC keys of a TLS 1.2 session: the key
// block holds the two MAC keys, then the two encryption keys (the IVs
// that follow are unused: TLS 1.2 records carry an explicit IV).
func newCBC12(s suite, master []byte, clientRandom, serverRandom []byte, etm bool) (client, server *recordCipher, err error) {
	h, macLen := s.macHash()
	seed := append(append([]byte(nil), serverRandom...), clientRandom...)
	kb := prf12(s.hash(), master, "key expansion", seed, 2*macLen+2*s.keyLen)
	cm, sm := kb[:macLen], kb[macLen:2*macLen]
	ck, sk := kb[2*macLen:2*macLen+s.keyLen], kb[2*macLen+s.keyLen:]
	mk := func(mac, key []byte) (*recordCipher, error) {
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return &recordCipher{suite: s, block: b, mac: hmac.New(h, mac), etm: etm}, nil
	}
	if client, err = mk(cm, ck); err != nil {
		return nil, nil, err
	}
	if server, err = mk(sm, sk); err != nil {
		return nil, nil, err
	}
	return client, server, nil
}

// macRecord computes the record MAC over seq, the header fields with the
// given length, and data (RFC 5246 section 6.2.3.1).
func (c *recordCipher) macRecord(hdr []byte, data []byte) []byte {
	binary.BigEndian.PutUint64(c.aad[:8], c.seq)
	c.aad[8], c.aad[9], c.aad[10] = hdr[0], hdr[1], hdr[2]
	binary.BigEndian.PutUint16(c.aad[11:], uint16(len(data)))
	c.mac.Reset()
	c.mac.Write(c.aad[:])
	c.mac.Write(data)
	c.sum = c.mac.Sum(c.sum[:0])
	return c.sum
}

// openCBC decrypts an AES-CBC record: explicit IV, then the ciphertext, the
// MAC inside it (MAC-then-encrypt) or after it (encrypt-then-MAC).
func (c *recordCipher) openCBC(dst, hdr, frag []byte) ([]byte, uint8, bool) {
	macLen := c.mac.Size()
	bs := aes.BlockSize
	if c.etm {
		if len(frag) < bs+bs+macLen {
			return dst, 0, false
		}
		body, tag := frag[:len(frag)-macLen], frag[len(frag)-macLen:]
		if !hmac.Equal(c.macRecord(hdr, body), tag) {
			return dst, 0, false
		}
		frag = body
	}
	if len(frag) < 2*bs || len(frag)%bs != 0 {
		return dst, 0, false
	}
	iv, ct := frag[:bs], frag[bs:]
	start := len(dst)
	dst = append(dst, ct...)
	plain := dst[start:]
	cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(plain, plain)
	pad := int(plain[len(plain)-1])
	n := len(plain) - pad - 1
	if n < 0 {
		return dst[:start], 0, false
	}
	for _, b := range plain[n:] {
		if int(b) != pad {
			return dst[:start], 0, false
		}
	}
	plain = plain[:n]
	if !c.etm {
		if len(plain) < macLen {
			return dst[:start], 0, false
		}
		content, tag := plain[:len(plain)-macLen], plain[len(plain)-macLen:]
		if !hmac.Equal(c.macRecord(hdr, content), tag) {
			return dst[:start], 0, false
		}
		plain = content
	}
	c.seq++
	return dst[:start+len(plain)], hdr[0], true
}

// expandLabel is HKDF-Expand-Label of RFC 8446 section 7.1 with an empty
// context.
func expandLabel(h func() hash.Hash, secret []byte, label string, n int) ([]byte, error) {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, 0)
	return hkdf.Expand(h, secret, string(info), n)
}

// newCipher13 derives a TLS 1.3 record cipher from a traffic secret (RFC
// 8446 section 7.3).
func newCipher13(s suite, secret []byte) (*recordCipher, error) {
	c := &recordCipher{suite: s, secret: append([]byte(nil), secret...)}
	if err := c.rekey(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *recordCipher) rekey() error {
	h := c.suite.hash()
	key, err := expandLabel(h, c.secret, "key", c.suite.keyLen)
	if err != nil {
		return err
	}
	iv, err := expandLabel(h, c.secret, "iv", 12)
	if err != nil {
		return err
	}
	if c.aead, err = newAEAD(&c.suite, key); err != nil {
		return err
	}
	copy(c.iv[:], iv)
	c.seq = 0
	return nil
}

// update applies a TLS 1.3 KeyUpdate: the next traffic secret (RFC 8446
// section 7.2).
func (c *recordCipher) update() error {
	next, err := expandLabel(c.suite.hash(), c.secret, "traffic upd", c.suite.hash()().Size())
	if err != nil {
		return err
	}
	c.secret = next
	return c.rekey()
}

// open decrypts the record whose header is hdr (HeaderLen bytes) and whose
// fragment is frag, appending the plaintext to dst. For TLS 1.3 it strips
// the padding and returns the inner content type; otherwise typ is the
// record's type. ok is false when the record does not authenticate.
func (c *recordCipher) open(dst, hdr, frag []byte) (out []byte, typ uint8, ok bool) {
	out, typ, ok = c.open1(dst, hdr, frag)
	if ok || c.trial == 0 {
		c.trial = 0
		return out, typ, ok
	}
	base := c.seq
	for k := 1; k <= c.trial; k++ {
		c.seq = base + uint64(k)
		if out, typ, ok = c.open1(dst, hdr, frag); ok {
			c.trial = 0
			return out, typ, ok
		}
	}
	c.seq, c.trial = base, 0
	return dst, 0, false
}

// open1 is open with the current sequence number only.
func (c *recordCipher) open1(dst, hdr, frag []byte) (out []byte, typ uint8, ok bool) {
	if c.block != nil {
		return c.openCBC(dst, hdr, frag)
	}
	typ = hdr[0]
	overhead := c.aead.Overhead()
	explicit := !c.suite.tls13 && c.suite.aead == aeadAESGCM
	if explicit {
		if len(frag) < 8+overhead {
			return dst, 0, false
		}
		copy(c.nonce[:4], c.iv[:4])
		copy(c.nonce[4:], frag[:8])
		frag = frag[8:]
	} else {
		if len(frag) < overhead {
			return dst, 0, false
		}
		c.nonce = c.iv
		for i := 0; i < 8; i++ {
			c.nonce[4+i] ^= byte(c.seq >> (56 - 8*i))
		}
	}
	var aad []byte
	if c.suite.tls13 {
		aad = hdr[:HeaderLen]
	} else {
		binary.BigEndian.PutUint64(c.aad[:8], c.seq)
		c.aad[8] = hdr[0]
		c.aad[9], c.aad[10] = hdr[1], hdr[2]
		binary.BigEndian.PutUint16(c.aad[11:], uint16(len(frag)-overhead))
		aad = c.aad[:]
	}
	start := len(dst)
	out, err := c.aead.Open(dst, c.nonce[:], frag, aad)
	if err != nil {
		return dst, 0, false
	}
	c.seq++
	if !c.suite.tls13 {
		return out, typ, true
	}
	// TLSInnerPlaintext: content, the type, zero padding.
	i := len(out) - 1
	for i >= start && out[i] == 0 {
		i--
	}
	if i < start {
		return dst, 0, false
	}
	return out[:i], out[i], true
}
