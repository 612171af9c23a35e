package protocols

// Hand-off link values carry digests of payloads and names: FNV-1a 64
// (http://www.isthe.com/chongo/tech/comp/fnv/), in 16 hex digits.

// MaxDigestLen bounds the payload bytes a Digest hashes; a longer
// payload's digest goes on over its length, so that a huge value costs no
// more than MaxDigestLen.
const MaxDigestLen = 64 << 10

// FNV-1a 64 parameters.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Digest is the digest of a payload read in pieces: FNV-1a 64 of its first
// MaxDigestLen bytes and, when it is longer, of its length (8 bytes,
// little-endian). Call Reset before the first Add.
type Digest struct {
	h uint64
	n int64
}

// Reset starts a new digest.
func (d *Digest) Reset() { d.h, d.n = fnvOffset, 0 }

// Add hashes the next bytes of the payload.
func (d *Digest) Add(b []byte) {
	if d.n < MaxDigestLen {
		d.h = FNV(d.h, b[:min(int64(len(b)), MaxDigestLen-d.n)])
	}
	d.n += int64(len(b))
}

// Sum returns the digest of the bytes added so far.
func (d *Digest) Sum() uint64 {
	if d.n <= MaxDigestLen {
		return d.h
	}
	var l [8]byte
	for i := range l {
		l[i] = byte(d.n >> (8 * i))
	}
	return FNV(d.h, l[:])
}

// FNV continues the FNV-1a 64 hash h over b; FNV(FNVOffset, b) is the hash
// of b.
func FNV(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// FNVOffset is the FNV-1a 64 offset basis, the hash of no bytes.
const FNVOffset = fnvOffset

// AppendHex appends v as 16 lower-case hex digits.
func AppendHex(dst []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for s := 60; s >= 0; s -= 4 {
		dst = append(dst, digits[v>>uint(s)&0xf])
	}
	return dst
}

// AppendHandoffName appends a destination name (a topic, subject, key) as
// a hand-off link value shows it: whole when it has at most max bytes,
// else its first max-17 bytes, "~" and the hex digest of the whole name,
// so that names sharing a long prefix stay apart. max is at least 18.
func AppendHandoffName(dst, name []byte, max int) []byte {
	if len(name) <= max {
		return append(dst, name...)
	}
	dst = append(dst, name[:max-17]...)
	dst = append(dst, '~')
	return AppendHex(dst, FNV(fnvOffset, name))
}

// HandoffLink returns the link "<kind>:<name>:<id>" under key (see
// LinkHandoffSend): the name as AppendHandoffName shows it with max, and
// id, or the hex digest dig when id is empty.
func HandoffLink(key, kind string, name []byte, max int, id string, dig uint64) Attr {
	var buf [512]byte
	b := append(buf[:0], kind...)
	b = append(b, ':')
	b = AppendHandoffName(b, name, max)
	b = append(b, ':')
	if id != "" {
		b = append(b, id...)
	} else {
		b = AppendHex(b, dig)
	}
	return String(key, string(b))
}

// Len returns the number of payload bytes added or skipped.
func (d *Digest) Len() int64 { return d.n }

// Skip counts n payload bytes that were lost (a gap) without hashing
// them: the length stays right, the digest no longer names the payload.
func (d *Digest) Skip(n int64) { d.n += n }
