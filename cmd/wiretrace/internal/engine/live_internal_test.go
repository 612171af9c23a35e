package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/jsonl"
)

type nopCloser struct{ *bytes.Buffer }

func (nopCloser) Close() error { return nil }

// splitSource is one worker's share of a capture, as a fanout socket would
// get it: it returns its packets at once, then times out (an idle socket)
// until every share is read, then io.EOF (the capture stopped).
type splitSource struct {
	pkts    []capture.Packet
	i       int
	pending *atomic.Int32 // shares not read to their end
	counted bool
	idle    int
}

func (s *splitSource) ReadPacket(p *capture.Packet) error {
	if s.i < len(s.pkts) {
		*p = s.pkts[s.i]
		s.i++
		return nil
	}
	if !s.counted {
		s.counted = true
		s.pending.Add(-1)
	}
	if s.pending.Load() > 0 {
		s.idle++
		time.Sleep(time.Millisecond)
		return fmt.Errorf("split: %w", os.ErrDeadlineExceeded)
	}
	return io.EOF
}

func (s *splitSource) SetReadDeadline(time.Time) error { return nil }
func (s *splitSource) Close() error                    { return nil }

// readAll reads a capture file into memory.
func readAll(t *testing.T, path string) []capture.Packet {
	t.Helper()
	src, err := capture.OpenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var out []capture.Packet
	for {
		var p capture.Packet
		err := src.ReadPacket(&p)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Data = bytes.Clone(p.Data)
		out = append(out, p)
	}
}

// liveOf runs the packets through Live with n workers, split by the same
// symmetric flow hash Parallel uses (both directions of a connection on one
// worker, as PACKET_FANOUT_HASH does), and returns the JSON Lines.
func liveOf(t *testing.T, pkts []capture.Packet, n int, lc *LiveConfig) (string, *Live) {
	t.Helper()
	var pending atomic.Int32
	pending.Store(int32(n))
	shares := make([]*splitSource, n)
	for i := range shares {
		shares[i] = &splitSource{pending: &pending}
	}
	for _, p := range pkts {
		h, _ := shard(p.LinkType, p.Data)
		s := shares[h%uint32(n)]
		s.pkts = append(s.pkts, p)
	}
	srcs := make([]LiveSource, n)
	for i, s := range shares {
		srcs[i] = s
	}
	var out bytes.Buffer
	sink := jsonl.New(nopCloser{&out})
	c := LiveConfig{}
	if lc != nil {
		c = *lc
	}
	if c.Now == nil {
		// Idle workers promise the capture's last packet time, as a
		// real clock just after the capture would.
		last := pkts[len(pkts)-1].Timestamp
		c.Now = func() time.Time { return time.Unix(0, last).Add(DefaultLiveLag) }
	}
	l := NewLive(nil, sink, srcs, &c)
	if err := l.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String(), l
}

func engineOf(t *testing.T, pkts []capture.Packet) string {
	var out bytes.Buffer
	sink := jsonl.New(nopCloser{&out})
	e := New(nil, sink)
	for i := range pkts {
		e.Packet(&pkts[i])
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	sink.Close()
	return out.String()
}

// TestLiveSameOutput: the live workers, fed the packets of a capture split
// as fanout splits them, give the spans and traces one engine gives.
func TestLiveSameOutput(t *testing.T) {
	td := filepath.Join("..", "..", "..", "..", "testdata")
	for _, name := range []string{"demo.pcap", "scenario.pcap", "kafka_headers.pcap", "redis_queue.pcap", "grpc_traceparent.pcap"} {
		t.Run(name, func(t *testing.T) {
			pkts := readAll(t, filepath.Join(td, name))
			want := engineOf(t, pkts)
			for _, n := range []int{1, 2, 3} {
				got, l := liveOf(t, pkts, n, nil)
				if got != want {
					// Span ids come from a sequence: compare what
					// does not depend on creation order first.
					if d := diffSpans(t, want, got); d != "" {
						t.Errorf("%d workers: spans differ from one engine:\n%s", n, d)
					} else {
						t.Logf("%d workers: same spans, in another order or with other ids", n)
					}
				}
				if l.late.Load() != 0 {
					t.Errorf("%d workers: %d late events", n, l.late.Load())
				}
			}
		})
	}
}

// diffSpans compares two JSONL outputs as sets of spans named by their
// connection, start and name, with parent and root named the same way.
func diffSpans(t *testing.T, want, got string) string {
	w, g := spanSet(t, want), spanSet(t, got)
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var x, y string
		if i < len(w) {
			x = w[i]
		}
		if i < len(g) {
			y = g[i]
		}
		if x != y {
			fmt.Fprintf(&b, "- %s\n+ %s\n", x, y)
		}
	}
	return b.String()
}

func spanSet(t *testing.T, s string) []string {
	type ep struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	}
	type span struct {
		TraceID, SpanID, ParentSpanID string
		Name, Status, LinkReason      string
		StartNS                       int64
		Client, Server                ep
	}
	var spans []span
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var m struct {
			TraceID      string `json:"trace_id"`
			SpanID       string `json:"span_id"`
			ParentSpanID string `json:"parent_span_id"`
			Name         string `json:"name"`
			Status       string `json:"status"`
			LinkReason   string `json:"link_reason"`
			StartNS      int64  `json:"start_ns"`
			Client       ep     `json:"client"`
			Server       ep     `json:"server"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		spans = append(spans, span{m.TraceID, m.SpanID, m.ParentSpanID, m.Name, m.Status, m.LinkReason, m.StartNS, m.Client, m.Server})
	}
	key := map[string]string{}
	for _, s := range spans {
		key[s.SpanID] = fmt.Sprintf("%s:%d>%s:%d@%d %s", s.Client.IP, s.Client.Port, s.Server.IP, s.Server.Port, s.StartNS, s.Name)
	}
	byID := map[string]span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	var out []string
	for _, s := range spans {
		r := s
		for n := 0; r.ParentSpanID != "" && n < 64; n++ {
			r = byID[r.ParentSpanID]
		}
		out = append(out, fmt.Sprintf("%s status=%s parent=%q reason=%s root=%q", key[s.SpanID], s.Status, key[s.ParentSpanID], s.LinkReason, key[r.SpanID]))
	}
	slices.Sort(out)
	return out
}

// slowSource delays each read, so that its worker lags behind the others.
type slowSource struct {
	*splitSource
	mu    sync.Mutex
	delay time.Duration
}

func (s *slowSource) ReadPacket(p *capture.Packet) error {
	s.mu.Lock()
	d := s.delay
	s.mu.Unlock()
	time.Sleep(d)
	return s.splitSource.ReadPacket(p)
}

// TestLiveMergeOrder feeds hand-made streams and checks the order in which
// the correlate stage takes them: by packet time across workers, waiting
// for a worker that has not promised enough, and each worker's own order.
func TestLiveMergeOrder(t *testing.T) {
	td := filepath.Join("..", "..", "..", "..", "testdata")
	pkts := readAll(t, filepath.Join(td, "demo.pcap"))
	want := engineOf(t, pkts)
	// One worker slowed down: the other must wait for its promises, and
	// the output must not change.
	var pending atomic.Int32
	pending.Store(2)
	a, b := &splitSource{pending: &pending}, &splitSource{pending: &pending}
	for _, p := range pkts {
		h, _ := shard(p.LinkType, p.Data)
		if h%2 == 0 {
			a.pkts = append(a.pkts, p)
		} else {
			b.pkts = append(b.pkts, p)
		}
	}
	if len(a.pkts) == 0 || len(b.pkts) == 0 {
		t.Fatalf("split %d/%d: want packets on both", len(a.pkts), len(b.pkts))
	}
	slow := &slowSource{splitSource: b, delay: 200 * time.Microsecond}
	var out bytes.Buffer
	sink := jsonl.New(nopCloser{&out})
	last := pkts[len(pkts)-1].Timestamp
	l := NewLive(nil, sink, []LiveSource{a, slow}, &LiveConfig{Now: func() time.Time { return time.Unix(0, last).Add(DefaultLiveLag) }})
	if err := l.Wait(); err != nil {
		t.Fatal(err)
	}
	sink.Close()
	if d := diffSpans(t, want, out.String()); d != "" {
		t.Errorf("slow worker: spans differ from one engine:\n%s", d)
	}
	if l.late.Load() != 0 {
		t.Errorf("%d late events", l.late.Load())
	}
	if !strings.Contains(l.StatsLine(), "live_merge_late=0") {
		t.Errorf("stats line: %s", l.StatsLine())
	}
}

// BenchmarkLive runs a capture through Live with 1 and 2 workers, split as
// fanout splits it, against one Engine; one op is the whole capture.
func BenchmarkLive(b *testing.B) {
	path := filepath.Join("..", "..", "..", "..", "testdata", "scenario.pcap")
	t := &testing.T{}
	pkts := readAll(t, path)
	if len(pkts) == 0 {
		b.Fatalf("%s: no packets", path)
	}
	last := pkts[len(pkts)-1].Timestamp
	now := func() time.Time { return time.Unix(0, last).Add(DefaultLiveLag) }
	b.Run("engine", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e := New(nil, discardSink{})
			for i := range pkts {
				e.Packet(&pkts[i])
			}
			e.Close()
		}
		b.ReportMetric(float64(len(pkts)*b.N)/b.Elapsed().Seconds(), "pkts/s")
	})
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var pending atomic.Int32
				pending.Store(int32(n))
				srcs := make([]LiveSource, n)
				shares := make([]*splitSource, n)
				for i := range shares {
					shares[i] = &splitSource{pending: &pending}
					srcs[i] = shares[i]
				}
				for _, p := range pkts {
					h, _ := shard(p.LinkType, p.Data)
					s := shares[h%uint32(n)]
					s.pkts = append(s.pkts, p)
				}
				l := NewLive(nil, discardSink{}, srcs, &LiveConfig{Now: now})
				if err := l.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(pkts)*b.N)/b.Elapsed().Seconds(), "pkts/s")
		})
	}
}

// discardSink drops traces.
type discardSink struct{}

func (discardSink) WriteTrace(*correlate.Trace) error { return nil }
func (discardSink) Close() error                      { return nil }
