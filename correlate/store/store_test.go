package store_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/store"
)

const ms = int64(time.Millisecond)

// span returns a network span from client to server, [start, end] in ms.
func span(id, client, server, name string, start, end int64) *correlate.Span {
	c, s := netip.MustParseAddrPort(client), netip.MustParseAddrPort(server)
	return &correlate.Span{
		SpanID: id, Name: name, Protocol: "http", Side: correlate.SideNetwork, Status: correlate.StatusOK,
		StartNS: start * ms, EndNS: end * ms,
		Client: correlate.Endpoint{IP: c.Addr().String(), Port: int(c.Port())}, ClientAddr: c,
		Server: correlate.Endpoint{IP: s.Addr().String(), Port: int(s.Port())}, ServerAddr: s,
		Attributes: map[string]any{"http.response.status_code": int64(200)},
		Links:      map[string]string{},
	}
}

func trace(id string, spans ...*correlate.Span) *correlate.Trace {
	for _, s := range spans {
		s.TraceID = id
	}
	return &correlate.Trace{ID: id, Spans: spans}
}

func tid(n int) string { return fmt.Sprintf("%032x", n) }

func ids(ts []*correlate.Trace) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// fixture: three traces through a gateway (10.0.0.2:80) and a backend
// (10.0.0.3:8080), the backend named "orders".
func fixture(t *testing.T, cfg *store.Config) *store.Store {
	t.Helper()
	s := store.New(cfg)
	for i, tr := range []*correlate.Trace{
		trace(tid(1), span("a1", "10.0.0.1:1000", "10.0.0.2:80", "GET /a", 1000, 1010), span("a2", "10.0.0.2:2000", "10.0.0.3:8080", "GET /a", 1002, 1008)),
		trace(tid(2), span("b1", "10.0.0.1:1001", "10.0.0.2:80", "POST /b", 2000, 2100)),
		trace(tid(3), span("c1", "10.0.0.1:1002", "10.0.0.2:80", "GET /a", 3000, 3001), span("c2", "10.0.0.2:2001", "10.0.0.3:8080", "GET /c", 3000, 3001)),
	} {
		if i == 2 {
			tr.Spans[1].Status = correlate.StatusError
		}
		if err := s.WriteTrace(tr); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestFind(t *testing.T) {
	names := store.Names{"10.0.0.3:8080": "orders"}
	s := fixture(t, &store.Config{Names: names})
	tests := []struct {
		name string
		q    store.Query
		want []string
	}{
		{"all newest first", store.Query{}, []string{tid(3), tid(2), tid(1)}},
		{"limit", store.Query{Limit: 2}, []string{tid(3), tid(2)}},
		{"service by name", store.Query{Service: "orders"}, []string{tid(3), tid(1)}},
		{"service by address", store.Query{Service: "10.0.0.2:80"}, []string{tid(3), tid(2), tid(1)}},
		{"unnamed address of a named service", store.Query{Service: "10.0.0.3:8080"}, nil},
		{"operation", store.Query{Service: "orders", Operation: "GET /c"}, []string{tid(3)}},
		{"operation of another service", store.Query{Service: "10.0.0.2:80", Operation: "GET /c"}, nil},
		{"start", store.Query{Start: 1500 * ms}, []string{tid(3), tid(2)}},
		{"end", store.Query{End: 2500 * ms}, []string{tid(2), tid(1)}},
		{"window", store.Query{Start: 1500 * ms, End: 2500 * ms}, []string{tid(2)}},
		{"span inside a trace started before start", store.Query{Start: 1001 * ms, End: 1500 * ms}, []string{tid(1)}},
		{"min duration", store.Query{MinDuration: 50 * time.Millisecond}, []string{tid(2)}},
		{"max duration", store.Query{MaxDuration: 2 * time.Millisecond}, []string{tid(3)}},
		{"error tag", store.Query{Tags: map[string]string{"error": "true"}}, []string{tid(3)}},
		{"attribute tag", store.Query{Tags: map[string]string{"http.response.status_code": "200"}}, []string{tid(3), tid(2), tid(1)}},
		{"missing tag", store.Query{Tags: map[string]string{"nope": "x"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, ids(s.Find(&tt.q))); diff != "" {
				t.Errorf("Find(%+v) (-want +got):\n%s", tt.q, diff)
			}
		})
	}
}

func TestTraceAndIndexes(t *testing.T) {
	s := fixture(t, &store.Config{Names: store.Names{"10.0.0.3": "orders"}})
	tr, ok := s.Trace(fmt.Sprintf("%X", 3)) // short, upper case
	if !ok || len(tr.Spans) != 2 || tr.ID != tid(3) {
		t.Fatalf("Trace(3) = %+v, %v", tr, ok)
	}
	if _, ok := s.Trace(tid(9)); ok {
		t.Error("Trace(9) found")
	}
	if diff := cmp.Diff([]string{"10.0.0.2:80", "orders"}, s.Services()); diff != "" {
		t.Errorf("Services (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GET /a", "GET /c"}, s.Operations("orders")); diff != "" {
		t.Errorf("Operations (-want +got):\n%s", diff)
	}
	want := []store.Dependency{
		{Parent: "10.0.0.1", Child: "10.0.0.2:80", CallCount: 3},
		{Parent: "10.0.0.2:80", Child: "orders", CallCount: 2}, // the client is named after what it serves
	}
	if diff := cmp.Diff(want, s.Dependencies(0, 0)); diff != "" {
		t.Errorf("Dependencies (-want +got):\n%s", diff)
	}
	if got := s.Newest(); got != 3001*ms {
		t.Errorf("Newest = %d", got)
	}
}

func TestMergeSameID(t *testing.T) {
	s := store.New(nil)
	s.WriteTrace(trace(tid(1), span("a2", "10.0.0.2:2000", "10.0.0.3:8080", "GET /a", 1002, 1008)))
	s.WriteTrace(trace(tid(1), span("a1", "10.0.0.1:1000", "10.0.0.2:80", "GET /a", 1000, 1010)))
	tr, _ := s.Trace(tid(1))
	var got []string
	for _, sp := range tr.Spans {
		got = append(got, sp.SpanID)
	}
	if diff := cmp.Diff([]string{"a1", "a2"}, got); diff != "" {
		t.Errorf("merged spans (-want +got):\n%s", diff)
	}
	if got := ids(s.Find(&store.Query{Start: 999 * ms, End: 1000 * ms})); len(got) != 1 {
		t.Errorf("time index not updated by the merge: %v", got)
	}
	st := s.Stats()
	if st.Traces != 1 || st.Spans != 2 || st.TracesWritten != 2 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestRetention(t *testing.T) {
	s := store.New(&store.Config{Retention: 1500 * time.Millisecond})
	s.WriteTrace(trace(tid(1), span("a", "10.0.0.1:1", "10.0.0.2:80", "A", 1000, 1010)))
	s.WriteTrace(trace(tid(2), span("b", "10.0.0.1:2", "10.0.0.2:80", "B", 2000, 2010)))
	// A long trace that started first but ended late stays.
	s.WriteTrace(trace(tid(3), span("c", "10.0.0.1:3", "10.0.0.2:80", "C", 500, 2400)))
	if got := ids(s.Find(&store.Query{})); len(got) != 3 {
		t.Fatalf("before eviction: %v", got)
	}
	// Newest span end 2600 ms: cutoff 1100 ms evicts trace 1 (ended 1010).
	s.WriteTrace(trace(tid(4), span("d", "10.0.0.1:4", "10.0.0.2:80", "D", 2500, 2600)))
	if diff := cmp.Diff([]string{tid(4), tid(2), tid(3)}, ids(s.Find(&store.Query{}))); diff != "" {
		t.Errorf("after eviction (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"B", "C", "D"}, s.Operations("10.0.0.2:80")); diff != "" {
		t.Errorf("operations after eviction (-want +got):\n%s", diff)
	}
	want := store.Stats{Traces: 3, Spans: 3, TracesWritten: 4, EvictedRetention: 1, EvictedSpans: 1}
	if diff := cmp.Diff(want, s.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestMaxSpans(t *testing.T) {
	s := store.New(&store.Config{MaxSpans: 3})
	for i := 1; i <= 4; i++ {
		st := int64(i * 1000)
		s.WriteTrace(trace(tid(i),
			span(fmt.Sprint("x", i), "10.0.0.1:1", "10.0.0.2:80", "X", st, st+1),
			span(fmt.Sprint("y", i), "10.0.0.1:1", "10.0.0.2:80", "Y", st, st+1)))
	}
	// Each write of 2 spans over a bound of 3 leaves only the newest trace.
	if diff := cmp.Diff([]string{tid(4)}, ids(s.Find(&store.Query{}))); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	want := store.Stats{Traces: 1, Spans: 2, TracesWritten: 4, EvictedLimit: 3, EvictedSpans: 6}
	if diff := cmp.Diff(want, s.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	var names []string
	s.Stats().Each(func(n string, _ uint64) { names = append(names, n) })
	if len(names) != 6 {
		t.Errorf("Each names %v", names)
	}
}

func TestNames(t *testing.T) {
	n := store.Names{"10.0.0.2:80": "gw", "10.0.0.1": "curl"}
	sp := span("a", "10.0.0.1:1000", "10.0.0.2:80", "A", 0, 1)
	other := span("b", "10.0.0.9:1000", "10.0.0.8:81", "B", 0, 1)
	cl := span("c", "10.0.0.1:1000", "10.0.0.8:81", "C", 0, 1)
	cl.Side = correlate.SideClient
	got := []string{n.Server(sp), n.Client(sp), n.Service(sp), n.Server(other), n.Client(other), n.Service(other), n.Service(cl)}
	want := []string{"gw", "curl", "gw", "10.0.0.8:81", "10.0.0.9", "10.0.0.8:81", "curl"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func BenchmarkWriteTrace(b *testing.B) {
	s := store.New(&store.Config{MaxSpans: 10000})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		st := int64(i)
		s.WriteTrace(trace(tid(i), span("a", "10.0.0.1:1000", "10.0.0.2:80", "GET /a", st, st+1)))
	}
}

func TestConcurrentReaders(t *testing.T) {
	s := store.New(&store.Config{MaxSpans: 50})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			st := int64(i)
			s.WriteTrace(trace(tid(i), span("a", "10.0.0.1:1000", "10.0.0.2:80", "GET /a", st, st+1)))
		}
	}()
	for i := 0; i < 200; i++ {
		s.Find(&store.Query{Service: "10.0.0.2:80"})
		s.Services()
		s.Trace(tid(i))
		s.Stats()
	}
	<-done
	if st := s.Stats(); st.Spans != 50 || st.EvictedLimit != 150 {
		t.Errorf("Stats = %+v", st)
	}
}

func TestOperationKinds(t *testing.T) {
	s := store.New(&store.Config{Names: store.Names{"10.0.0.1": "app"}})
	out := span("a", "10.0.0.1:1000", "10.0.0.2:80", "GET /x", 0, 1)
	out.Side = correlate.SideClient
	in := span("b", "10.0.0.9:1000", "10.0.0.1:8080", "GET /y", 0, 1)
	in.Side = correlate.SideServer
	s.WriteTrace(trace(tid(1), out, in))
	want := []store.Operation{{Name: "GET /x", Kind: "client"}, {Name: "GET /y", Kind: "server"}}
	if diff := cmp.Diff(want, s.OperationKinds("app")); diff != "" {
		t.Errorf("OperationKinds (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GET /x", "GET /y"}, s.Operations("app")); diff != "" {
		t.Errorf("Operations (-want +got):\n%s", diff)
	}
}
