package decode_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/decode"
)

// recorder is a Stream that writes down what it is told.
type recorder struct {
	conn   decode.Conn
	events []string
	closes int
	// per direction: sequence number after the last byte seen, to check
	// that delivered bytes and gaps tile the sequence space.
	end     [2]uint32
	started [2]bool
	ended   [2]bool
	data    uint64 // bytes delivered
	gaps    uint64 // gap bytes reported
	t       testing.TB
}

func (r *recorder) Segment(s *decode.Segment) {
	r.events = append(r.events, fmt.Sprintf("%s %d+%d %q", s.Dir, s.Seq, s.Gap, s.Data))
	if r.started[s.Dir] && r.end[s.Dir]+uint32(s.Gap) != s.Seq {
		r.t.Errorf("conn %d %s: segment at %d with gap %d does not follow %d", r.conn.ID, s.Dir, s.Seq, s.Gap, r.end[s.Dir])
	}
	if r.closes > 0 || r.ended[s.Dir] {
		r.t.Errorf("conn %d %s: segment after end or close", r.conn.ID, s.Dir)
	}
	if s.Gap < 0 || (s.Gap == 0 && len(s.Data) == 0) {
		r.t.Errorf("conn %d %s: empty segment or negative gap %d", r.conn.ID, s.Dir, s.Gap)
	}
	r.data += uint64(len(s.Data))
	r.gaps += uint64(s.Gap)
	r.started[s.Dir] = true
	r.end[s.Dir] = s.Seq + uint32(len(s.Data))
}

func (r *recorder) End(d decode.Dir, _ int64) {
	r.events = append(r.events, "end "+d.String())
	if r.ended[d] || r.closes > 0 {
		r.t.Errorf("conn %d %s: End twice or after close", r.conn.ID, d)
	}
	r.ended[d] = true
}

func (r *recorder) Close(_ int64, reason decode.CloseReason) {
	r.events = append(r.events, "close "+reason.String())
	r.closes++
	if r.closes > 1 {
		r.t.Errorf("conn %d closed %d times", r.conn.ID, r.closes)
	}
}

type recFactory struct {
	t       testing.TB
	streams []*recorder
}

func (f *recFactory) NewStream(c *decode.Conn) decode.Stream {
	r := &recorder{conn: *c, t: f.t}
	f.streams = append(f.streams, r)
	return r
}

func (f *recFactory) events() [][]string {
	var out [][]string
	for _, s := range f.streams {
		out = append(out, s.events)
	}
	return out
}

func (f *recFactory) checkClosedOnce(t testing.TB) {
	t.Helper()
	for _, s := range f.streams {
		if s.closes != 1 {
			t.Errorf("conn %d closed %d times, want 1", s.conn.ID, s.closes)
		}
	}
}

var (
	cliEP = netip.MustParseAddrPort("10.0.0.1:40000")
	srvEP = netip.MustParseAddrPort("10.0.0.2:80")
)

const (
	syn = decode.FlagSYN
	ack = decode.FlagACK
	fin = decode.FlagFIN | decode.FlagACK
	rst = decode.FlagRST
	psh = decode.FlagPSH | decode.FlagACK
)

// seg builds a TCP packet from the client ("c") or server ("s").
func seg(from string, ts int64, flags uint8, seq, ackn uint32, payload string) *decode.Packet {
	p := &decode.Packet{Timestamp: ts, Proto: decode.ProtoTCP, Flags: flags, Seq: seq, Ack: ackn, Payload: []byte(payload)}
	src, dst := cliEP, srvEP
	if from == "s" {
		src, dst = dst, src
	}
	p.Src, p.SrcPort, p.Dst, p.DstPort = src.Addr(), src.Port(), dst.Addr(), dst.Port()
	return p
}

func missing(p *decode.Packet, n int) *decode.Packet { p.Missing = n; return p }

// handshake is a complete three-way handshake with ISNs 100 and 500.
func handshake() []*decode.Packet {
	return []*decode.Packet{
		seg("c", 1, syn, 100, 0, ""),
		seg("s", 2, syn|ack, 500, 101, ""),
		seg("c", 3, ack, 101, 501, ""),
	}
}

func cat(ps ...any) []*decode.Packet {
	var out []*decode.Packet
	for _, p := range ps {
		switch v := p.(type) {
		case *decode.Packet:
			out = append(out, v)
		case []*decode.Packet:
			out = append(out, v...)
		}
	}
	return out
}

func TestAssembler(t *testing.T) {
	const min3 = int64(3 * time.Minute)
	tests := []struct {
		name      string
		cfg       *decode.AssemblerConfig
		in        []*decode.Packet
		advance   int64 // Advance(advance) after the packets when not 0
		flush     bool
		want      [][]string
		wantStats func(s decode.AssemblerStats) string // "" if fine
	}{
		{
			name: "in order with handshake and FIN both sides",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "hello"),
				seg("s", 5, psh, 501, 106, "world"),
				seg("c", 6, fin, 106, 506, ""),
				seg("s", 7, fin, 506, 107, ""),
				seg("c", 8, ack, 107, 507, ""),
			),
			want: [][]string{{`client 101+0 "hello"`, `server 501+0 "world"`, "end client", "end server", "close fin"}},
			wantStats: func(s decode.AssemblerStats) string {
				if s.ClosedFIN != 1 || s.BytesDelivered != 10 || s.LatePackets != 1 || s.Active != 0 {
					return "want 1 FIN close, 10 bytes, 1 late ack"
				}
				return ""
			},
		},
		{
			name: "out of order",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
				seg("c", 5, psh, 107, 501, "ghi"),
				seg("c", 6, psh, 104, 501, "def"),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "abc"`, `client 104+0 "def"`, `client 107+0 "ghi"`, "close flush"}},
			wantStats: func(s decode.AssemblerStats) string {
				if s.OOOBytes != 3 || s.Buffered != 0 || s.GapBytes != 0 {
					return "want 3 ooo bytes, none left, no gap"
				}
				return ""
			},
		},
		{
			name: "retransmission trimmed",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
				seg("c", 5, psh, 101, 501, "abc"),
				seg("c", 6, psh, 104, 501, "def"),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "abc"`, `client 104+0 "def"`, "close flush"}},
			wantStats: func(s decode.AssemblerStats) string {
				if s.RetransBytes != 3 {
					return "want 3 retrans bytes"
				}
				return ""
			},
		},
		{
			name: "overlap delivered once",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abcd"),
				seg("c", 5, psh, 103, 501, "CDef"),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "abcd"`, `client 105+0 "ef"`, "close flush"}},
			wantStats: func(s decode.AssemblerStats) string {
				if s.RetransBytes != 2 {
					return "want 2 retrans bytes"
				}
				return ""
			},
		},
		{
			name: "lost segment revealed by ACK beyond the hole",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
				seg("c", 5, psh, 107, 501, "ghi"),
				seg("s", 6, ack, 501, 110, ""),
			),
			want: [][]string{{`client 101+0 "abc"`, `client 107+3 "ghi"`}},
			wantStats: func(s decode.AssemblerStats) string {
				if s.GapBytes != 3 || s.Buffered != 0 {
					return "want 3 gap bytes"
				}
				return ""
			},
		},
		{
			name: "lost segment after ACK already seen",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
				seg("s", 5, ack, 501, 110, ""),
				seg("c", 6, psh, 107, 501, "ghi"),
			),
			want: [][]string{{`client 101+0 "abc"`, `client 107+3 "ghi"`}},
		},
		{
			name: "lost segment reported at flush",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
				seg("c", 5, psh, 107, 501, "ghi"),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "abc"`, `client 107+3 "ghi"`, "close flush"}},
		},
		{
			name: "lost tail acknowledged, reported at flush",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
				seg("s", 5, ack, 501, 110, ""),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "abc"`, `client 110+6 ""`, "close flush"}},
		},
		{
			name: "snaplen truncated payload is a gap of known size",
			in: cat(handshake(),
				missing(seg("c", 4, psh, 101, 501, "abc"), 5),
				seg("c", 5, psh, 109, 501, "xyz"),
				missing(seg("c", 6, psh, 112, 501, "q"), 2),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "abc"`, `client 109+5 "xyz"`, `client 112+0 "q"`, `client 115+2 ""`, "close flush"}},
			wantStats: func(s decode.AssemblerStats) string {
				if s.GapBytes != 7 || s.BytesDelivered != 7 {
					return "want 7 gap and 7 delivered bytes"
				}
				return ""
			},
		},
		{
			name: "mid-stream start: first sender is client",
			in: cat(
				seg("s", 10, psh, 9000, 7000, "resp"),
				seg("c", 11, psh, 7000, 9004, "req"),
			),
			flush: true,
			want:  [][]string{{`client 9000+0 "resp"`, `server 7000+0 "req"`, "close flush"}},
		},
		{
			name: "SYN-ACK first: receiver is client",
			in: cat(
				seg("s", 2, syn|ack, 500, 101, ""),
				seg("c", 4, psh, 101, 501, "hi"),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "hi"`, "close flush"}},
		},
		{
			name: "RST delivers buffered data with gaps",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
				seg("c", 5, psh, 107, 501, "ghi"),
				seg("s", 6, rst|ack, 501, 0, ""),
				seg("c", 7, psh, 110, 501, "late"),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "abc"`, `client 107+3 "ghi"`, "close rst"}},
			wantStats: func(s decode.AssemblerStats) string {
				if s.ClosedRST != 1 || s.LateBytes != 4 || s.Conns != 1 {
					return "want 1 RST close, 4 late bytes, 1 conn"
				}
				return ""
			},
		},
		{
			name: "FIN before data arrives waits for the data",
			in: cat(handshake(),
				seg("c", 4, fin, 104, 501, ""),
				seg("c", 5, psh, 101, 501, "abc"),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "abc"`, "end client", "close flush"}},
		},
		{
			name: "FIN with a lost segment, acknowledged",
			in: cat(handshake(),
				seg("c", 4, fin, 104, 501, ""),
				seg("s", 5, fin, 501, 105, ""),
			),
			// The server's FIN ends its side first; its ACK then reveals
			// the client's lost bytes.
			want: [][]string{{"end server", `client 104+3 ""`, "end client", "close fin"}},
		},
		{
			name: "idle eviction by packet time",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
			),
			advance: min3,
			want:    [][]string{{`client 101+0 "abc"`, "close idle"}},
			wantStats: func(s decode.AssemblerStats) string {
				if s.EvictedIdle != 1 || s.Active != 0 {
					return "want 1 idle eviction"
				}
				return ""
			},
		},
		{
			name: "idle eviction by later packets of another connection",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
				&decode.Packet{Timestamp: min3, Proto: decode.ProtoTCP, Flags: syn, Seq: 1,
					Src: cliEP.Addr(), SrcPort: 1, Dst: srvEP.Addr(), DstPort: 2},
			),
			want: [][]string{{`client 101+0 "abc"`, "close idle"}, nil},
		},
		{
			name: "packet after idle timeout opens a new connection",
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
				seg("c", min3, psh, 104, 501, "def"),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "abc"`, "close idle"}, {`client 104+0 "def"`, "close flush"}},
		},
		{
			name: "time never goes backwards",
			in: cat(handshake(),
				seg("c", int64(time.Minute), psh, 101, 501, "abc"),
				seg("s", 5, psh, 501, 104, "late clock"),
			),
			want: [][]string{{`client 101+0 "abc"`, `server 501+0 "late clock"`}},
		},
		{
			name: "buffer limit gives up the hole",
			cfg:  &decode.AssemblerConfig{MaxBufferedPerConn: 4},
			in: cat(handshake(),
				seg("c", 4, psh, 101, 501, "abc"),
				seg("c", 5, psh, 107, 501, "ghi"),
				seg("c", 6, psh, 111, 501, "jklm"),
			),
			flush: true,
			want:  [][]string{{`client 101+0 "abc"`, `client 107+3 "ghi"`, `client 111+1 "jklm"`, "close flush"}},
			wantStats: func(s decode.AssemblerStats) string {
				if s.LimitGapBytes != 3 || s.GapBytes != 4 {
					return "want 3 limit gap bytes of 4"
				}
				return ""
			},
		},
		{
			name: "connection limit evicts the oldest",
			cfg:  &decode.AssemblerConfig{MaxConns: 1},
			in: cat(
				seg("c", 1, psh, 1, 1, "a"),
				seg("s", 2, psh, 1, 2, "b"),
				&decode.Packet{Timestamp: 3, Proto: decode.ProtoTCP, Flags: psh, Seq: 1, Payload: []byte("x"),
					Src: cliEP.Addr(), SrcPort: 1, Dst: srvEP.Addr(), DstPort: 2},
			),
			flush: true,
			want:  [][]string{{`client 1+0 "a"`, `server 1+0 "b"`, "close evicted"}, {`client 1+0 "x"`, "close flush"}},
			wantStats: func(s decode.AssemblerStats) string {
				if s.EvictedLimit != 1 {
					return "want 1 limit eviction"
				}
				return ""
			},
		},
		{
			name: "sequence wraparound",
			in: cat(
				seg("c", 1, syn, 0xfffffffc, 0, ""),
				seg("c", 2, psh, 0xfffffffd, 0, "abcd"),
				seg("c", 3, psh, 3, 0, "gh"),
				seg("c", 4, psh, 1, 0, "ef"),
			),
			flush: true,
			want:  [][]string{{`client 4294967293+0 "abcd"`, `client 1+0 "ef"`, `client 3+0 "gh"`, "close flush"}},
		},
		{
			name: "new SYN after close opens a new connection",
			in: cat(handshake(),
				seg("c", 4, rst, 101, 0, ""),
				seg("c", 5, ack, 101, 501, ""),
				seg("c", 6, syn, 9000, 0, ""),
				seg("c", 7, psh, 9001, 0, "again"),
			),
			flush: true,
			want:  [][]string{{"close rst"}, {`client 9001+0 "again"`, "close flush"}},
		},
		{
			name: "RST without connection opens none",
			in:   cat(seg("c", 1, rst, 5, 0, "")),
			want: nil,
			wantStats: func(s decode.AssemblerStats) string {
				if s.RSTNoConn != 1 || s.Conns != 0 {
					return "want 1 RST without conn"
				}
				return ""
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &recFactory{t: t}
			a := decode.NewAssembler(tt.cfg, f)
			for _, p := range tt.in {
				a.Add(p)
			}
			if tt.advance != 0 {
				a.Advance(tt.advance)
			}
			if tt.flush {
				a.Flush()
				f.checkClosedOnce(t)
			}
			if diff := cmp.Diff(tt.want, f.events()); diff != "" {
				t.Errorf("events mismatch (-want +got):\n%s", diff)
			}
			if tt.wantStats != nil {
				if msg := tt.wantStats(a.Stats()); msg != "" {
					t.Errorf("%s; stats %+v", msg, a.Stats())
				}
			}
		})
	}
}

func TestAssemblerConn(t *testing.T) {
	f := &recFactory{t: t}
	a := decode.NewAssembler(nil, f)
	p := seg("s", 2, syn|ack, 500, 101, "")
	p.Capture, p.VLAN = "eth0", 7
	a.Add(p)
	a.Add(seg("c", 9, psh, 9000, 1, "x"))
	a.Flush()
	want := []decode.Conn{
		{ID: 1, Client: cliEP, Server: srvEP, HandshakeSeen: true, Capture: "eth0", VLAN: 7, Start: 2},
		{ID: 2, Client: cliEP, Server: srvEP, Start: 9},
	}
	var got []decode.Conn
	for _, s := range f.streams {
		got = append(got, s.conn)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("conns mismatch (-want +got):\n%s", diff)
	}
}

func TestAssemblerStatsEach(t *testing.T) {
	var names []string
	decode.AssemblerStats{}.Each(func(name string, _ uint64) { names = append(names, name) })
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("duplicate counter %q", n)
		}
		seen[n] = true
	}
	if !seen["tcp_bytes_delivered"] || !seen["tcp_gap_bytes"] || !seen["tcp_conns_evicted_idle"] {
		t.Errorf("names = %v", names)
	}
}

type nopStream struct{ n int }

func (s *nopStream) Segment(seg *decode.Segment)          { s.n += len(seg.Data) }
func (s *nopStream) End(decode.Dir, int64)                {}
func (s *nopStream) Close(int64, decode.CloseReason)      {}
func (s *nopStream) NewStream(*decode.Conn) decode.Stream { return s }

func TestAssemblerInOrderAllocs(t *testing.T) {
	a := decode.NewAssembler(nil, &nopStream{})
	for _, p := range handshake() {
		a.Add(p)
	}
	p := seg("c", 4, psh, 101, 501, "0123456789")
	if n := testing.AllocsPerRun(1000, func() {
		a.Add(p)
		p.Seq += 10
		p.Timestamp += 1000
	}); n != 0 {
		t.Errorf("Add allocates %v times per in-order packet, want 0", n)
	}
}

func BenchmarkAssembler(b *testing.B) {
	payload := string(make([]byte, 1400))
	b.Run("inorder", func(b *testing.B) {
		a := decode.NewAssembler(nil, &nopStream{})
		for _, p := range handshake() {
			a.Add(p)
		}
		p := seg("c", 4, psh, 101, 501, payload)
		b.ReportAllocs()
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			a.Add(p)
			p.Seq += uint32(len(payload))
			p.Timestamp += 1000
		}
	})
	b.Run("ooo", func(b *testing.B) {
		a := decode.NewAssembler(nil, &nopStream{})
		for _, p := range handshake() {
			a.Add(p)
		}
		p1 := seg("c", 4, psh, 101, 501, payload)
		p2 := seg("c", 4, psh, 101+1400, 501, payload)
		b.ReportAllocs()
		b.SetBytes(2 * int64(len(payload)))
		for b.Loop() {
			a.Add(p2) // arrives first: buffered
			a.Add(p1)
			p1.Seq += 2800
			p2.Seq += 2800
		}
	})
}
