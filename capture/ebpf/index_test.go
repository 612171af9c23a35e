package ebpf_test

import (
	"net/netip"
	"testing"

	"github.com/wiretrace/wiretrace/capture/ebpf"
)

var (
	cli = netip.MustParseAddrPort("10.241.7.1:40000")
	srv = netip.MustParseAddrPort("10.241.7.2:8080")
)

func ev(kind ebpf.Kind, local, remote netip.AddrPort, seq, n, tid uint32) *ebpf.Event {
	return &ebpf.Event{Kind: kind, Local: local, Remote: remote, Seq: seq, Len: n, PID: 100, TID: tid, Comm: comm("app")}
}

func TestIndexLookup(t *testing.T) {
	x := ebpf.NewIndex(0, 4)
	// The client writes a request in two pieces on thread 1; the server
	// reads it in one call on thread 7 and answers on thread 8.
	x.Add(ev(ebpf.KindSend, cli, srv, 1000, 10, 1))
	x.Add(ev(ebpf.KindSend, cli, srv, 1010, 5, 1))
	x.Add(ev(ebpf.KindRecv, srv, cli, 1000, 15, 7))
	x.Add(ev(ebpf.KindSend, srv, cli, 0xfffffffe, 4, 8)) // wraps
	mapped := netip.AddrPortFrom(netip.AddrFrom16(cli.Addr().As16()), cli.Port())
	for _, tc := range []struct {
		name     string
		from, to netip.AddrPort
		seq      uint32
		sent     bool
		wantTID  uint32
		wantOK   bool
	}{
		{"request sent, first byte", cli, srv, 1000, true, 1, true},
		{"request sent, merged piece", cli, srv, 1014, true, 1, true},
		{"request sent, past the end", cli, srv, 1015, true, 0, false},
		{"request received", cli, srv, 1005, false, 7, true},
		{"request received, v4-mapped", mapped, srv, 1005, false, 7, true},
		{"response sent across the wrap", srv, cli, 1, true, 8, true},
		{"response received: not traced", srv, cli, 0xfffffffe, false, 0, false},
		{"before the first byte", cli, srv, 999, true, 0, false},
		{"unknown connection", srv, srv, 1000, true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _, ok := x.Lookup(tc.from, tc.to, tc.seq, tc.sent)
			if ok != tc.wantOK || h.TID != tc.wantTID {
				t.Errorf("Lookup = tid %d, %v; want tid %d, %v", h.TID, ok, tc.wantTID, tc.wantOK)
			}
			if ok && (h.PID != 100 || h.CommString() != "app") {
				t.Errorf("hit %+v", h)
			}
		})
	}
}

func TestIndexBounds(t *testing.T) {
	x := ebpf.NewIndex(2, 2)
	// Three ranges of different threads: the oldest is overwritten.
	for i := uint32(0); i < 3; i++ {
		x.Add(ev(ebpf.KindSend, cli, srv, 100*i, 10, i+1))
	}
	if _, _, ok := x.Lookup(cli, srv, 0, true); ok {
		t.Error("the oldest range survived")
	}
	if h, _, ok := x.Lookup(cli, srv, 205, true); !ok || h.TID != 3 {
		t.Errorf("newest range: %+v %v", h, ok)
	}
	// A third connection evicts the least recently used.
	other := netip.MustParseAddrPort("10.241.7.3:1")
	x.Add(ev(ebpf.KindSend, other, srv, 0, 1, 9))
	x.Add(ev(ebpf.KindSend, cli, srv, 300, 1, 9)) // cli is now the most recent
	third := netip.MustParseAddrPort("10.241.7.4:1")
	x.Add(ev(ebpf.KindSend, third, srv, 0, 1, 9))
	if x.Len() != 2 {
		t.Errorf("Len = %d, want 2", x.Len())
	}
	if _, known, _ := x.Lookup(other, srv, 0, true); known {
		t.Error("the least recently used connection was kept")
	}
	if st := x.Stats(); st.Evicted != 1 {
		t.Errorf("Evicted = %d, want 1", st.Evicted)
	}
	// Bytes read after the close (records of another CPU), or a reuse of
	// the 4-tuple: the ranges before and after are kept.
	x.Add(&ebpf.Event{Kind: ebpf.KindClose, Local: cli, Remote: srv})
	x.Add(ev(ebpf.KindSend, cli, srv, 5000, 1, 4))
	if h, _, ok := x.Lookup(cli, srv, 300, true); !ok || h.TID != 9 {
		t.Errorf("range before the close: %+v %v", h, ok)
	}
	if h, _, ok := x.Lookup(cli, srv, 5000, true); !ok || h.TID != 4 {
		t.Errorf("range after the close: %+v %v", h, ok)
	}
	// Closed connections are forgotten only after maxClosed more closes.
	x.Add(&ebpf.Event{Kind: ebpf.KindClose, Local: cli, Remote: srv})
	if _, known, _ := x.Lookup(cli, srv, 5000, true); !known {
		t.Error("a closed connection was forgotten at once")
	}
}

func BenchmarkIndex(b *testing.B) {
	x := ebpf.NewIndex(0, 0)
	e := ev(ebpf.KindSend, cli, srv, 0, 100, 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.Seq = uint32(i) * 200 // never contiguous
		e.TID = uint32(i & 7)
		x.Add(e)
		x.Lookup(cli, srv, e.Seq+50, true)
	}
}
