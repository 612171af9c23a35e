package html_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/html"
)

// chain returns a trace of n hops, client 10.0.0.1 → 10.0.0.2 → …, each
// hop lasting dur less 10µs per level; status applies to the last hop.
func chain(id string, n int, start, dur int64, status string) *correlate.Trace {
	t := &correlate.Trace{ID: id}
	var parent *correlate.Span
	for i := 0; i < n; i++ {
		s := &correlate.Span{
			TraceID: id, SpanID: fmt.Sprintf("%s%02d", id, i), Protocol: "http", Name: fmt.Sprintf("GET /hop%d", i),
			StartNS: start + int64(i)*10_000, EndNS: start + dur - int64(i)*10_000,
			Client: correlate.Endpoint{IP: fmt.Sprintf("10.0.0.%d", i+1), Port: 40000},
			Server: correlate.Endpoint{IP: fmt.Sprintf("10.0.0.%d", i+2), Port: 80},
			Status: correlate.StatusOK, HasResponse: true, Capture: "c.pcap", Parent: parent,
		}
		if parent != nil {
			s.ParentSpanID = parent.SpanID
			s.LinkReason = correlate.ReasonXRequestID
		}
		if i == n-1 {
			s.Status = status
		}
		t.Spans = append(t.Spans, s)
		parent = s
	}
	return t
}

type report struct {
	TracesSeen    int `json:"traces_seen"`
	TracesOmitted int `json:"traces_omitted"`
	Services      []struct {
		Name  string `json:"name"`
		Layer int    `json:"layer"`
	} `json:"services"`
	Edges []struct {
		From, To      string
		Count, Errors uint64
		P50, P99      int64
	} `json:"edges"`
	Traces []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"traces"`
}

func render(t *testing.T, cfg *html.Config, traces ...*correlate.Trace) (string, report) {
	t.Helper()
	var b bytes.Buffer
	w := html.New(&b, cfg)
	for _, tr := range traces {
		if err := w.WriteTrace(tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<script type="application/json" id="wiretrace-data">(.*?)</script>`).FindStringSubmatch(b.String())
	if m == nil {
		t.Fatalf("no data element in:\n%s", b.String())
	}
	var r report
	if err := json.Unmarshal([]byte(m[1]), &r); err != nil {
		t.Fatalf("data: %v", err)
	}
	return b.String(), r
}

func TestKeepsFailingThenSlowest(t *testing.T) {
	var traces []*correlate.Trace
	for i := 0; i < 10; i++ {
		traces = append(traces, chain(fmt.Sprintf("t%d", i), 2, int64(i)*1e9, int64(i+1)*1e6, correlate.StatusOK))
	}
	traces = append(traces, chain("fast-error", 2, 20e9, 1e5, correlate.StatusError))
	page, r := render(t, &html.Config{MaxTraces: 3}, traces...)
	var got []string
	for _, tr := range r.Traces {
		got = append(got, tr.ID+":"+tr.Status)
	}
	// Slowest first in the page; the failing one is kept though fast.
	want := []string{"t9:ok", "t8:ok", "fast-error:error"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kept traces (-want +got):\n%s", diff)
	}
	if r.TracesSeen != 11 || r.TracesOmitted != 8 {
		t.Errorf("seen %d omitted %d, want 11 and 8", r.TracesSeen, r.TracesOmitted)
	}
	if !strings.Contains(page, "8 traces left out") {
		t.Error("the page does not say how many traces were left out")
	}
}

func TestServiceMap(t *testing.T) {
	_, r := render(t, &html.Config{ServiceNames: map[string]string{"10.0.0.2": "gateway", "10.0.0.3:80": "backend"}},
		chain("a", 3, 0, 4e6, correlate.StatusOK), chain("b", 3, 1e9, 2e6, correlate.StatusError))
	type node struct {
		Name  string
		Layer int
	}
	var nodes []node
	for _, n := range r.Services {
		nodes = append(nodes, node{n.Name, n.Layer})
	}
	// Names: "IP" for both ends, "IP:PORT" for the server end and, being
	// the only name of its host, for the client end too.
	want := []node{{"10.0.0.1", 0}, {"10.0.0.4", 3}, {"backend", 2}, {"gateway", 1}}
	if diff := cmp.Diff(want, nodes); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
	type edge struct {
		From, To      string
		Count, Errors uint64
		P50, P99      int64
	}
	var edges []edge
	for _, e := range r.Edges {
		edges = append(edges, edge(e))
	}
	wantE := []edge{
		{"10.0.0.1", "gateway", 2, 0, 2e6, 4e6},
		{"backend", "10.0.0.4", 2, 1, 1.96e6, 3.96e6},
		{"gateway", "backend", 2, 0, 1.98e6, 3.98e6},
	}
	if diff := cmp.Diff(wantE, edges); diff != "" {
		t.Errorf("edges (-want +got):\n%s", diff)
	}
}

func TestCycleAndSelfCall(t *testing.T) {
	tr := chain("a", 2, 0, 1e6, correlate.StatusOK)
	back := *tr.Spans[1]
	back.SpanID, back.Client, back.Server = "back", tr.Spans[1].Server, tr.Spans[0].Client // 10.0.0.3 → 10.0.0.1
	self := back
	self.SpanID, self.Server = "self", back.Client
	tr.Spans = append(tr.Spans, &back, &self)
	page, r := render(t, nil, tr)
	if len(r.Services) != 3 || len(r.Edges) != 4 {
		t.Errorf("%d services and %d edges, want 3 and 4", len(r.Services), len(r.Edges))
	}
	if !strings.Contains(page, `<svg id="service-map"`) {
		t.Error("no map")
	}
}

func TestDeterministicAndEscaped(t *testing.T) {
	tr := func() *correlate.Trace {
		x := chain("a", 2, 0, 1e6, correlate.StatusOK)
		x.Spans[1].Name = `GET /</script><script>alert(1)</script>`
		x.Spans[1].Attributes = map[string]any{"url.path": "<b>&"}
		return x
	}
	p1, _ := render(t, nil, tr())
	p2, _ := render(t, nil, tr())
	if p1 != p2 {
		t.Error("two renders of the same traces differ")
	}
	if strings.Contains(p1, "<script>alert") || strings.Count(p1, "</script>") != 3 {
		t.Errorf("span text is not escaped inside the page")
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).FindString(p1); m != "" {
		t.Errorf("the page refers to the network: %s", m)
	}
}

func TestEmpty(t *testing.T) {
	page, r := render(t, nil)
	if r.TracesSeen != 0 || !strings.Contains(page, "No services") {
		t.Errorf("empty report: seen %d", r.TracesSeen)
	}
}

func TestNamer(t *testing.T) {
	n := html.NewNamer(map[string]string{"10.0.0.1": "web", "10.0.0.2:5432": "db", "10.0.0.3:1": "a", "10.0.0.3:2": "b", "[fd00::1]:80": "v6"})
	sp := func(c, s string, sport int) *correlate.Span {
		return &correlate.Span{Client: correlate.Endpoint{IP: c, Port: 1234}, Server: correlate.Endpoint{IP: s, Port: sport}}
	}
	for _, tc := range []struct {
		name           string
		in             *correlate.Span
		client, server string
	}{
		{"by host", sp("10.0.0.1", "10.0.0.2", 5432), "web", "db"},
		{"other port", sp("10.0.0.2", "10.0.0.2", 80), "db", "10.0.0.2"},
		{"two names on a host", sp("10.0.0.3", "10.0.0.3", 2), "10.0.0.3", "b"},
		{"ipv6", sp("fd00::1", "fd00::1", 80), "v6", "v6"},
		{"unnamed", sp("10.9.9.9", "10.9.9.8", 1), "10.9.9.9", "10.9.9.8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := [2]string{n.Client(tc.in), n.Server(tc.in)}
			if diff := cmp.Diff([2]string{tc.client, tc.server}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkWriteTrace(b *testing.B) {
	tr := chain("a", 4, 0, 1e6, correlate.StatusOK)
	w := html.New(&bytes.Buffer{}, &html.Config{MaxTraces: 100})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tr.ID = fmt.Sprint(i % 1000)
		w.WriteTrace(tr)
	}
}
