package store_test

import (
	"fmt"
	"time"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/store"
)

// ExampleStore keeps traces as a sink and answers the queries the Jaeger
// API and Trace Completion serve: services (a client-side span belongs to
// its client's service), dependencies, a search.
func ExampleStore() {
	s := store.New(&store.Config{Names: store.Names{"10.0.0.2": "gateway", "10.0.0.3:6379": "cache"}})
	defer s.Close()
	const t0 = 1_700_000_000_000_000_000
	for i, slow := range []bool{false, true} {
		root := &correlate.Span{
			TraceID: fmt.Sprintf("%032x", i+1), SpanID: fmt.Sprintf("%016x", 10*i+1),
			Protocol: "http", Name: "GET /api/orders", Side: "server", Status: "ok",
			StartNS: t0 + int64(i)*1e9, EndNS: t0 + int64(i)*1e9 + 2e6,
			Client: correlate.Endpoint{IP: "10.0.0.1", Port: 40000 + i}, Server: correlate.Endpoint{IP: "10.0.0.2", Port: 80},
		}
		if slow {
			root.EndNS += 300e6
		}
		child := &correlate.Span{
			TraceID: root.TraceID, SpanID: fmt.Sprintf("%016x", 10*i+2), ParentSpanID: root.SpanID,
			Protocol: "redis", Name: "GET", Side: "client", Status: "ok", LinkReason: "timing",
			StartNS: root.StartNS + 5e5, EndNS: root.StartNS + 7e5,
			Client: correlate.Endpoint{IP: "10.0.0.2", Port: 50000 + i}, Server: correlate.Endpoint{IP: "10.0.0.3", Port: 6379},
		}
		s.WriteTrace(&correlate.Trace{ID: root.TraceID, Spans: []*correlate.Span{root, child}})
	}
	fmt.Println("services:", s.Services())
	for _, d := range s.Dependencies(0, 0) {
		fmt.Printf("%s -> %s: %d calls\n", d.Parent, d.Child, d.CallCount)
	}
	for _, t := range s.Find(&store.Query{Service: "gateway", MinDuration: 100 * time.Millisecond}) {
		fmt.Println("slow trace:", t.ID, len(t.Spans), "spans")
	}
	// Output:
	// services: [gateway]
	// 10.0.0.1 -> gateway: 2 calls
	// gateway -> cache: 2 calls
	// slow trace: 00000000000000000000000000000002 2 spans
}
