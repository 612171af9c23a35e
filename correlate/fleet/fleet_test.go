package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/fleet"
	"github.com/wiretrace/wiretrace/correlate/jsonl"
)

// captures are the repository's captures: two capture points of one run
// (gateway and backend hosts: tcp_seq and X-Request-ID joins across them),
// the scenario bridge (timing, SQL comments), a Redis queue (queue
// handoffs), Kafka with headers and gRPC with traceparent.
var captures = []string{
	"two_points_gateway.pcap",
	"two_points_backend.pcap",
	"scenario.pcap",
	"redis_queue.pcap",
	"kafka_headers.pcap",
	"grpc_traceparent.pcap",
}

func capturePath(name string) string { return filepath.Join("..", "..", "testdata", name) }

// collect is a sink keeping every span as its JSON line.
type collect struct {
	mu    sync.Mutex
	spans map[string]string
	dups  int
}

func newCollect() *collect { return &collect{spans: map[string]string{}} }

func (c *collect) WriteTrace(t *correlate.Trace) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range t.Spans {
		b, err := jsonLine(s)
		if err != nil {
			return err
		}
		if _, ok := c.spans[s.SpanID]; ok {
			c.dups++
		}
		c.spans[s.SpanID] = b
	}
	return nil
}

func (c *collect) Close() error { return nil }

func jsonLine(s *correlate.Span) (string, error) {
	var buf sliceWriter
	w := jsonl.New(&buf)
	if err := w.WriteTrace(&correlate.Trace{ID: s.TraceID, Spans: []*correlate.Span{s}}); err != nil {
		return "", err
	}
	w.Close()
	return string(buf), nil
}

type sliceWriter []byte

func (w *sliceWriter) Write(b []byte) (int, error) { *w = append(*w, b...); return len(b), nil }

// replayAll is what one process gives on every capture together.
func replayAll(t *testing.T, files []string) map[string]string {
	t.Helper()
	var srcs []capture.Source
	for _, f := range files {
		src, err := capture.OpenFile(capturePath(f), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		srcs = append(srcs, src)
	}
	c := newCollect()
	p, err := wiretrace.New(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background(), capture.Merge(srcs...)); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return c.spans
}

// memBroker is an in-memory broker: a queue per partition, each partition
// owned by one of the assemblers.
type memBroker struct {
	mu     sync.Mutex
	queues [][]fleet.Message
	down   bool
}

func (b *memBroker) Publish(_ context.Context, msgs []fleet.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return fmt.Errorf("broker down")
	}
	for _, m := range msgs {
		b.queues[m.Partition] = append(b.queues[m.Partition], fleet.Message{Partition: m.Partition, Data: slices.Clone(m.Data)})
	}
	return nil
}

func (b *memBroker) take(p int) []fleet.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[p]
	b.queues[p] = nil
	return q
}

// owner is one assembler's view of the broker.
type owner struct {
	*memBroker
	owns func(int) bool
}

func (o owner) Owns(p int) bool { return o.owns(p) }

// agentRun replays one capture through an agent into pub.
func agentRun(t *testing.T, file string, pub fleet.Publisher, parts int) {
	t.Helper()
	sp, err := fleet.OpenSpool(nil, pub)
	if err != nil {
		t.Fatal(err)
	}
	ag, err := fleet.NewAgent(&fleet.AgentConfig{Name: file, Partitions: parts}, sp)
	if err != nil {
		t.Fatal(err)
	}
	p, err := wiretrace.New(nil, ag)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenFile(capturePath(file), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := p.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sp.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// diff compares span for span: the whole JSON line of each span id.
func diff(t *testing.T, want, got map[string]string) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("fleet output differs from one replay of every capture (-want +got):\n%s", d)
	}
}

// TestEquivalenceInProcess: agents on each capture, N assemblers sharing
// the partitions, give exactly the spans one replay of every capture gives.
func TestEquivalenceInProcess(t *testing.T) {
	want := replayAll(t, captures)
	if len(want) < 100 {
		t.Fatalf("reference replay gave %d spans, want the captures' 100+", len(want))
	}
	for _, tc := range []struct{ parts, asms int }{{1, 1}, {16, 1}, {16, 2}, {16, 3}, {5, 2}} {
		t.Run(fmt.Sprintf("partitions=%d/assemblers=%d", tc.parts, tc.asms), func(t *testing.T) {
			b := &memBroker{queues: make([][]fleet.Message, tc.parts)}
			for _, f := range captures {
				agentRun(t, f, b, tc.parts)
			}
			out := newCollect()
			var asms []*fleet.Assembler
			for i := 0; i < tc.asms; i++ {
				i := i
				a, err := fleet.New(&fleet.Config{Partitions: tc.parts}, owner{b, func(p int) bool { return p%tc.asms == i }}, out)
				if err != nil {
					t.Fatal(err)
				}
				asms = append(asms, a)
			}
			ctx := context.Background()
			now := time.Unix(0, 0)
			for moved := true; moved; {
				moved = false
				for p := 0; p < tc.parts; p++ {
					for _, m := range b.take(p) {
						moved = true
						asms[p%tc.asms].Deliver(ctx, fleet.Delivery{Partition: p, Data: m.Data}, now)
					}
				}
			}
			for _, a := range asms {
				if err := a.Flush(); err != nil {
					t.Fatal(err)
				}
				st := a.Stats()
				t.Logf("assembler stats: %+v relinker: %+v", st, a.RelinkerStats())
				if st.Malformed+st.Foreign != 0 {
					t.Errorf("bad records: %+v", st)
				}
			}
			diff(t, want, out.spans)
			if out.dups != 0 {
				t.Errorf("%d spans emitted twice", out.dups)
			}
		})
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var _ = json.Marshal
