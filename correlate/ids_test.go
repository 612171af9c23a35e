package correlate

import (
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"net/netip"
	"testing"
)

// spanIDRef and traceIDFromRef are the ids as hash/fnv computes them: the
// allocation-free versions must give the same bytes, or every golden file
// changes.
func spanIDRef(seed uint64, capture string, client, server netip.AddrPort, seq uint32, start int64, index int) string {
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

func traceIDFromRef(seed uint64, s string) string {
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

func TestIDsMatchHashFNV(t *testing.T) {
	addrs := []netip.AddrPort{
		{},
		netip.MustParseAddrPort("10.0.0.1:80"),
		netip.MustParseAddrPort("[::ffff:10.0.0.1]:443"),
		netip.MustParseAddrPort("[2001:db8::1]:5432"),
		netip.MustParseAddrPort("[fe80::1%eth0]:6379"),
	}
	for i, c := range addrs {
		for j, s := range addrs {
			for _, capture := range []string{"", "a", "node-1"} {
				seed, seq, start, index := uint64(i*7+j), uint32(i*1e9), int64(j)*1e18-5, i-j
				if got, want := spanID(seed, capture, c, s, seq, start, index), spanIDRef(seed, capture, c, s, seq, start, index); got != want {
					t.Errorf("spanID(%v, %q, %v, %v) = %s, want %s", seed, capture, c, s, got, want)
				}
			}
		}
	}
	for _, s := range []string{"", "0123456789abcdef", "sw8:some-trace"} {
		for _, seed := range []uint64{0, 1, 1 << 63} {
			if got, want := traceIDFrom(seed, s), traceIDFromRef(seed, s); got != want {
				t.Errorf("traceIDFrom(%d, %q) = %s, want %s", seed, s, got, want)
			}
		}
	}
}

func TestIDsAllocations(t *testing.T) {
	c, s := netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("[2001:db8::1]:5432")
	if n := testing.AllocsPerRun(100, func() { spanID(1, "cap", c, s, 1, 2, 3) }); n > 1 {
		t.Errorf("spanID: %v allocations, want 1 (the result)", n)
	}
	if n := testing.AllocsPerRun(100, func() { traceIDFrom(1, "0123456789abcdef") }); n > 1 {
		t.Errorf("traceIDFrom: %v allocations, want 1 (the result)", n)
	}
	if n := testing.AllocsPerRun(100, func() { toLower("abcdef0123") }); n != 0 {
		t.Errorf("toLower of a lower case string: %v allocations, want 0", n)
	}
}
