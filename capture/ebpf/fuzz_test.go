package ebpf_test

import (
	"net/netip"
	"testing"

	"github.com/wiretrace/wiretrace/capture/ebpf"
)

// FuzzEvent decodes arbitrary records and feeds the good ones to an Index:
// no panic, errors only for records that are short or malformed, and a
// decoded event encodes back to the bytes it came from.
func FuzzEvent(f *testing.F) {
	for _, e := range []ebpf.Event{
		{Kind: ebpf.KindSend, PID: 1, TID: 2, Seq: 3, Len: 4, Local: netip.MustParseAddrPort("127.0.0.1:1"), Remote: netip.MustParseAddrPort("127.0.0.1:2")},
		{Kind: ebpf.KindRecv, Len: 1, Local: netip.MustParseAddrPort("[::1]:1"), Remote: netip.MustParseAddrPort("[::1]:2")},
		{Kind: ebpf.KindClose, Local: netip.MustParseAddrPort("10.0.0.1:1"), Remote: netip.MustParseAddrPort("10.0.0.2:2")},
	} {
		b, _ := e.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1, 2, 3})
	x := ebpf.NewIndex(16, 4)
	f.Fuzz(func(t *testing.T, b []byte) {
		var e ebpf.Event
		if err := e.UnmarshalBinary(b); err != nil {
			return
		}
		if len(b) < ebpf.EventSize {
			t.Fatalf("decoded a %d-byte record", len(b))
		}
		x.Add(&e)
		x.Lookup(e.Local, e.Remote, e.Seq, true)
		if x.Len() > 16 {
			t.Fatalf("index holds %d connections, bound 16", x.Len())
		}
		out, _ := e.MarshalBinary()
		var back ebpf.Event
		if err := back.UnmarshalBinary(out); err != nil || back != e {
			t.Fatalf("re-encoding changed the event: %+v -> %+v (%v)", e, back, err)
		}
	})
}
