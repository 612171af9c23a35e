// Package fleettest holds what the fleet tests share: the captures, the
// reference replay, agents replaying a capture, and a span collector.
package fleettest

import (
	"context"
	"path/filepath"
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
// Captures are the captures of the equivalence tests.
var Captures = []string{
	"two_points_gateway.pcap",
	"two_points_backend.pcap",
	"scenario.pcap",
	"redis_queue.pcap",
	"kafka_headers.pcap",
	"grpc_traceparent.pcap",
}

// Root is the repository root relative to the test's package; set it
// before use (e.g. "../../..").
var Root = filepath.Join("..", "..")

// CapturePath returns the path of a capture in testdata/.
func CapturePath(name string) string { return filepath.Join(Root, "testdata", name) }

// Collect is a sink keeping every span as its JSON line.
type Collect struct {
	mu sync.Mutex
	// Spans maps span ids to their JSON lines.
	Spans map[string]string
	// Dups counts spans written twice.
	Dups int
}

// NewCollect returns an empty Collect.
func NewCollect() *Collect { return &Collect{Spans: map[string]string{}} }

// WriteTrace implements correlate.Sink.
func (c *Collect) WriteTrace(t *correlate.Trace) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range t.Spans {
		b, err := jsonLine(s)
		if err != nil {
			return err
		}
		if _, ok := c.Spans[s.SpanID]; ok {
			c.Dups++
		}
		c.Spans[s.SpanID] = b
	}
	return nil
}

// Close implements correlate.Sink.
func (c *Collect) Close() error { return nil }

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

// ReplayAll is what one process gives on every capture together.
func ReplayAll(t *testing.T, files []string) map[string]string {
	t.Helper()
	var srcs []capture.Source
	for _, f := range files {
		src, err := capture.OpenFile(CapturePath(f), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		srcs = append(srcs, src)
	}
	c := NewCollect()
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
	return c.Spans
}

// AgentRun replays one capture through an agent into pub.
func AgentRun(t *testing.T, file string, pub fleet.Publisher, parts int) {
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
	src, err := capture.OpenFile(CapturePath(file), nil)
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

// Diff compares span for span: the whole JSON line of each span id.
func Diff(t *testing.T, want, got map[string]string) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("fleet output differs from one replay of every capture (-want +got):\n%s", d)
	}
}
