package correlate

import (
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"net/netip"
)

// spanID derives a span id from what identifies the exchange on the wire,
// so that ids are a pure function of the traffic.
func spanID(seed uint64, capture string, client, server netip.AddrPort, seq uint32, start int64, index int) string {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(capture))
	h.Write([]byte{0})
	cb, _ := client.MarshalBinary()
	h.Write(cb)
	sb, _ := server.MarshalBinary()
	h.Write(sb)
	binary.BigEndian.PutUint64(b[:], uint64(seq)<<32|uint64(uint32(index)))
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], uint64(start))
	h.Write(b[:])
	v := h.Sum64()
	if v == 0 {
		v = 1
	}
	binary.BigEndian.PutUint64(b[:], v)
	return hex.EncodeToString(b[:])
}

// traceIDFrom derives a 32-hex trace id from a string (a root span id, or a
// free-text trace id such as SkyWalking's).
func traceIDFrom(seed uint64, s string) string {
	var out [16]byte
	for i := 0; i < 2; i++ {
		h := fnv.New64a()
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], seed+uint64(i)*0x9e3779b97f4a7c15)
		h.Write(b[:])
		h.Write([]byte(s))
		binary.BigEndian.PutUint64(out[i*8:], h.Sum64())
	}
	return hex.EncodeToString(out[:])
}
