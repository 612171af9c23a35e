package correlate

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"
)

// FNV-1a, 64 bits, as hash/fnv computes it, without its allocations.
const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime64
	}
	return h
}

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

func fnvUint64(h, v uint64) uint64 {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return fnvBytes(h, b[:])
}

// spanID derives a span id from what identifies the exchange on the wire,
// so that ids are a pure function of the traffic.
func spanID(seed uint64, capture string, client, server netip.AddrPort, seq uint32, start int64, index int) string {
	h := fnvUint64(fnvOffset64, seed)
	h = fnvString(h, capture)
	h = fnvBytes(h, []byte{0})
	var buf [64]byte
	b, _ := client.AppendBinary(buf[:0])
	h = fnvBytes(h, b)
	b, _ = server.AppendBinary(buf[:0])
	h = fnvBytes(h, b)
	h = fnvUint64(h, uint64(seq)<<32|uint64(uint32(index)))
	v := fnvUint64(h, uint64(start))
	if v == 0 {
		v = 1
	}
	var out [8]byte
	binary.BigEndian.PutUint64(out[:], v)
	return hex.EncodeToString(out[:])
}

// traceIDFrom derives a 32-hex trace id from a string (a root span id, or a
// free-text trace id such as SkyWalking's).
func traceIDFrom(seed uint64, s string) string {
	var out [16]byte
	for i := 0; i < 2; i++ {
		h := fnvUint64(fnvOffset64, seed+uint64(i)*0x9e3779b97f4a7c15)
		binary.BigEndian.PutUint64(out[i*8:], fnvString(h, s))
	}
	return hex.EncodeToString(out[:])
}
