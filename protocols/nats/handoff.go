package nats

import "github.com/wiretrace/wiretrace/protocols"

// Limits on hand-off links.
const (
	// MaxLinkName bounds the subject in a link value. A longer subject
	// becomes its first MaxLinkName-17 bytes, "~" and the 16-hex-digit
	// FNV-1a 64 digest of the whole subject.
	MaxLinkName = 256
	// MaxDigestLen bounds the payload bytes that are hashed; a longer
	// payload's digest goes on over its length.
	MaxDigestLen = 64 << 10
)

// Link value kinds.
const (
	kindMsg   = "nats"
	kindInbox = "nats-inbox"
)

// FNV-1a 64 (http://www.isthe.com/chongo/tech/comp/fnv/).
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// digest is FNV-1a 64 of a payload's first MaxDigestLen bytes and, when it
// is longer, of its length (8 bytes, little-endian).
type digest struct {
	h uint64
	n int64
}

func (d *digest) reset() { d.h, d.n = fnvOffset, 0 }

func (d *digest) add(b []byte) {
	if d.n < MaxDigestLen {
		d.h = fnv(d.h, b[:min(int64(len(b)), MaxDigestLen-d.n)])
	}
	d.n += int64(len(b))
}

func (d *digest) sum() uint64 {
	if d.n <= MaxDigestLen {
		return d.h
	}
	var l [8]byte
	for i := range l {
		l[i] = byte(d.n >> (8 * i))
	}
	return fnv(d.h, l[:])
}

func fnv(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func appendHex(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for s := 60; s >= 0; s -= 4 {
		dst = append(dst, digits[v>>uint(s)&0xf])
	}
	return dst
}

// appendName appends a subject as a link shows it (see MaxLinkName).
func appendName(dst, name []byte) []byte {
	if len(name) <= MaxLinkName {
		return append(dst, name...)
	}
	dst = append(dst, name[:MaxLinkName-17]...)
	dst = append(dst, '~')
	return appendHex(dst, fnv(fnvOffset, name))
}

// link returns the link "<kind>:<name>:<id>" under key; the id is id or,
// when id is empty, the hex digest dig.
func link(key, kind string, name []byte, id string, dig uint64) protocols.Attr {
	var buf [len(kindInbox) + MaxLinkName + 2 + 16]byte
	b := append(buf[:0], kind...)
	b = append(b, ':')
	b = appendName(b, name)
	b = append(b, ':')
	if id != "" {
		b = append(b, id...)
	} else {
		b = appendHex(b, dig)
	}
	return protocols.String(key, string(b))
}
