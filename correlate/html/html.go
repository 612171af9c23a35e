// Package html writes traces as one self-contained HTML report: a service
// map, a list of traces (slowest and failing first) with filters, and a
// waterfall per trace. The report is written when the sink is closed; it
// fetches nothing from the network (its CSS and script are embedded in the
// page, and the traces are a JSON document in a <script> element), so it
// can be mailed or attached to a ticket as it is.
//
// Memory is bounded: at most Config.MaxTraces traces, and at most
// Config.MaxSpansPerTrace spans of each, are kept; the service map keeps
// counters and a bounded latency sample per edge for every span seen. The
// page says how many traces and spans were left out.
//
// A Writer is not safe for concurrent use. Its output is a pure function of
// the traces written to it.
package html

import (
	"cmp"
	"container/heap"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/internal/output"
)

// Defaults for Config's zero fields.
const (
	DefaultMaxTraces        = 500
	DefaultMaxSpansPerTrace = 2000
	DefaultTitle            = "wiretrace report"
)

// Internal bounds of the service map.
const (
	maxEdges       = 10000 // distinct (client, server) pairs; more spans are counted as left out
	maxEdgeSamples = 4096  // latencies kept per edge (reservoir)
	maxMapNodes    = 100   // services drawn; the rest are listed as left out
)

// Config configures a Writer. The zero value (or nil) means defaults.
type Config struct {
	// Title is the page title (default "wiretrace report").
	Title string
	// MaxTraces is how many traces the page holds (default 500). Traces
	// with errors come first, then the slowest.
	MaxTraces int
	// MaxSpansPerTrace bounds the spans kept of one trace (default 2000);
	// the earliest are kept.
	MaxSpansPerTrace int
	// ServiceNames maps addresses ("IP" or "IP:PORT") to service names
	// for the map and the filters; see Namer.
	ServiceNames map[string]string
}

// Writer is a correlate.Sink that collects traces and writes the HTML
// report on Close.
type Writer struct {
	w      *output.Writer
	cfg    Config
	namer  *Namer
	kept   traceHeap
	seen   int // traces written
	spans  int // spans written
	start  int64
	end    int64
	edges  map[edgeKey]*edgeStats
	nodes  map[string]*nodeStats
	edgeLO int // spans left out of the map (edge limit)
	rnd    uint64
	closed bool
}

var _ correlate.Sink = (*Writer)(nil)

type edgeKey struct{ from, to string }

type edgeStats struct {
	edgeKey
	count, errors uint64
	protocols     []string
	samples       []int64
}

type nodeStats struct {
	served, errors, calls uint64
	protocols             []string
}

// New returns a Writer on w. If w is an io.Closer, Close closes it.
func New(w io.Writer, cfg *Config) *Writer {
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Title == "" {
		c.Title = DefaultTitle
	}
	if c.MaxTraces <= 0 {
		c.MaxTraces = DefaultMaxTraces
	}
	if c.MaxSpansPerTrace <= 0 {
		c.MaxSpansPerTrace = DefaultMaxSpansPerTrace
	}
	return &Writer{
		w: output.New(w, "html"), cfg: c, namer: NewNamer(c.ServiceNames),
		edges: map[edgeKey]*edgeStats{}, nodes: map[string]*nodeStats{},
		rnd: 0x9e3779b97f4a7c15,
	}
}

// WriteTrace adds a trace to the map and, if it is among the slowest or
// failing ones, keeps it for the list.
func (w *Writer) WriteTrace(t *correlate.Trace) error {
	if len(t.Spans) == 0 {
		return nil
	}
	w.seen++
	w.spans += len(t.Spans)
	start, end := t.Spans[0].StartNS, t.Spans[0].EndNS
	errs := 0
	for _, s := range t.Spans {
		start, end = min(start, s.StartNS), max(end, s.EndNS)
		if s.Status != correlate.StatusOK {
			errs++
		}
		w.addEdge(s)
	}
	if w.seen == 1 || start < w.start {
		w.start = start
	}
	w.end = max(w.end, end)
	k := rank{errors: errs > 0, dur: end - start, id: t.ID}
	if len(w.kept) >= w.cfg.MaxTraces {
		if !w.kept[0].rank.less(k) {
			return nil
		}
		heap.Pop(&w.kept)
	}
	heap.Push(&w.kept, w.convert(t, k, start))
	return nil
}

// addEdge counts a span on its (client service, server service) edge. A
// span linked by tcp_seq is a second view of its parent's exchange and is
// not counted again.
func (w *Writer) addEdge(s *correlate.Span) {
	if s.LinkReason == correlate.ReasonTCPSeq {
		return
	}
	k := edgeKey{w.namer.Client(s), w.namer.Server(s)}
	e := w.edges[k]
	if e == nil {
		if len(w.edges) >= maxEdges {
			w.edgeLO++
			return
		}
		e = &edgeStats{edgeKey: k}
		w.edges[k] = e
	}
	e.count++
	isErr := s.Status == correlate.StatusError || s.Status == correlate.StatusTimeout
	if isErr {
		e.errors++
	}
	if !slices.Contains(e.protocols, s.Protocol) && len(e.protocols) < 8 {
		e.protocols = append(e.protocols, s.Protocol)
	}
	srv := w.node(k.to)
	srv.served++
	if isErr {
		srv.errors++
	}
	if !slices.Contains(srv.protocols, s.Protocol) && len(srv.protocols) < 8 {
		srv.protocols = append(srv.protocols, s.Protocol)
	}
	w.node(k.from).calls++
	if s.Status == correlate.StatusTimeout || !s.HasResponse && s.EndNS == s.StartNS {
		return
	}
	if len(e.samples) < maxEdgeSamples {
		e.samples = append(e.samples, s.Duration())
		return
	}
	// xorshift reservoir sampling; deterministic.
	w.rnd ^= w.rnd << 13
	w.rnd ^= w.rnd >> 7
	w.rnd ^= w.rnd << 17
	if j := w.rnd % e.count; j < maxEdgeSamples {
		e.samples[j] = s.Duration()
	}
}

func (w *Writer) node(name string) *nodeStats {
	n := w.nodes[name]
	if n == nil {
		n = &nodeStats{}
		w.nodes[name] = n
	}
	return n
}

// rank orders traces for keeping: failing before clean, then slower, then
// by id so the choice is deterministic.
type rank struct {
	errors bool
	dur    int64
	id     string
}

func (a rank) less(b rank) bool {
	if a.errors != b.errors {
		return !a.errors
	}
	if a.dur != b.dur {
		return a.dur < b.dur
	}
	return a.id > b.id
}

type traceHeap []*jTrace

func (h traceHeap) Len() int           { return len(h) }
func (h traceHeap) Less(i, j int) bool { return h[i].rank.less(h[j].rank) }
func (h traceHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *traceHeap) Push(x any)        { *h = append(*h, x.(*jTrace)) }
func (h *traceHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

// jTrace is a trace as the page's script reads it.
type jTrace struct {
	rank         rank
	ID           string   `json:"id"`
	Start        string   `json:"start"`
	Dur          int64    `json:"dur"`
	Root         string   `json:"root"`
	Status       string   `json:"status"`
	Errors       int      `json:"errors"`
	Services     []string `json:"services"`
	Protocols    []string `json:"protocols"`
	Captures     []string `json:"captures"`
	SpanCount    int      `json:"span_count"`
	SpansOmitted int      `json:"spans_omitted"`
	Spans        []jSpan  `json:"spans"`
}

// jSpan is a span as the page's script reads it; times are nanoseconds
// from the trace's start (absolute Unix nanoseconds do not fit a
// JavaScript number exactly).
type jSpan struct {
	ID         string            `json:"id"`
	Parent     string            `json:"parent"`
	Protocol   string            `json:"protocol"`
	Name       string            `json:"name"`
	Side       string            `json:"side"`
	Start      int64             `json:"start"`
	Dur        int64             `json:"dur"`
	Client     string            `json:"client"`
	Server     string            `json:"server"`
	ClientSvc  string            `json:"client_svc"`
	ServerSvc  string            `json:"server_svc"`
	Capture    string            `json:"capture"`
	Status     string            `json:"status"`
	LinkReason string            `json:"link_reason"`
	Attributes map[string]any    `json:"attributes"`
	Links      map[string]string `json:"links"`
}

var statusOrder = map[string]int{correlate.StatusOK: 0, correlate.StatusPartial: 1, correlate.StatusTimeout: 2, correlate.StatusError: 3}

func (w *Writer) convert(t *correlate.Trace, k rank, start int64) *jTrace {
	jt := &jTrace{rank: k, ID: t.ID, Dur: k.dur, SpanCount: len(t.Spans), Status: correlate.StatusOK,
		Start: time.Unix(0, start).UTC().Format("2006-01-02T15:04:05.000000Z")}
	spans := t.Spans
	if len(spans) > w.cfg.MaxSpansPerTrace {
		jt.SpansOmitted = len(spans) - w.cfg.MaxSpansPerTrace
		spans = spans[:w.cfg.MaxSpansPerTrace]
	}
	var root *correlate.Span
	for _, s := range t.Spans {
		if s.Parent == nil && (root == nil || s.StartNS < root.StartNS) {
			root = s
		}
		if s.Status != correlate.StatusOK {
			jt.Errors++
		}
		if statusOrder[s.Status] > statusOrder[jt.Status] {
			jt.Status = s.Status
		}
	}
	if root == nil {
		root = t.Spans[0]
	}
	jt.Root = root.Name
	jt.Spans = make([]jSpan, 0, len(spans))
	for _, s := range spans {
		cs, ss := w.namer.Client(s), w.namer.Server(s)
		jt.Services = addUnique(jt.Services, cs, ss)
		jt.Protocols = addUnique(jt.Protocols, s.Protocol)
		jt.Captures = addUnique(jt.Captures, s.Capture)
		jt.Spans = append(jt.Spans, jSpan{
			ID: s.SpanID, Parent: s.ParentSpanID, Protocol: s.Protocol, Name: s.Name, Side: s.Side,
			Start: s.StartNS - start, Dur: s.Duration(),
			Client: hostPort(s.Client), Server: hostPort(s.Server), ClientSvc: cs, ServerSvc: ss,
			Capture: s.Capture, Status: s.Status, LinkReason: s.LinkReason,
			Attributes: s.Attributes, Links: s.Links,
		})
	}
	slices.Sort(jt.Services)
	slices.Sort(jt.Protocols)
	slices.Sort(jt.Captures)
	return jt
}

func addUnique(list []string, vs ...string) []string {
	for _, v := range vs {
		if !slices.Contains(list, v) {
			list = append(list, v)
		}
	}
	return list
}

// jReport is the page's JSON document.
type jReport struct {
	Title         string    `json:"title"`
	Start         string    `json:"start"`
	End           string    `json:"end"`
	TracesSeen    int       `json:"traces_seen"`
	TracesOmitted int       `json:"traces_omitted"`
	MaxTraces     int       `json:"max_traces"`
	SpansSeen     int       `json:"spans_seen"`
	Services      []jNode   `json:"services"`
	ServicesLeft  int       `json:"services_omitted"`
	Edges         []jEdge   `json:"edges"`
	EdgeSpansLeft int       `json:"edge_spans_omitted"`
	Traces        []*jTrace `json:"traces"`
}

type jNode struct {
	Name      string   `json:"name"`
	Served    uint64   `json:"served"`
	Calls     uint64   `json:"calls"`
	Errors    uint64   `json:"errors"`
	Protocols []string `json:"protocols"`
	X         int      `json:"x"`
	Y         int      `json:"y"`
	Layer     int      `json:"layer"`
}

type jEdge struct {
	From      string   `json:"from"`
	To        string   `json:"to"`
	Count     uint64   `json:"count"`
	Errors    uint64   `json:"errors"`
	ErrorRate float64  `json:"error_rate"`
	P50       int64    `json:"p50"`
	P99       int64    `json:"p99"`
	Protocols []string `json:"protocols"`
}

//go:embed assets/report.css
var reportCSS string

//go:embed assets/report.js
var reportJS string

//go:embed assets/report.html
var reportHTML string

var page = template.Must(template.New("report").Parse(reportHTML))

// Close writes the report and closes the output when it is a Closer. Later
// calls do nothing.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	rep := w.report()
	data, err := json.Marshal(rep)
	if err != nil {
		w.w.Close()
		return fmt.Errorf("html: %w", err)
	}
	err = page.Execute(w.w, struct {
		Title  string
		Report *jReport
		CSS    template.CSS
		JS     template.JS
		Data   template.JS
		SVG    template.HTML
	}{
		Title: w.cfg.Title, Report: rep, CSS: template.CSS(reportCSS), JS: template.JS(reportJS),
		// json.Marshal escapes <, > and &, so the document cannot end
		// the script element early.
		Data: template.JS(data), SVG: template.HTML(renderMap(rep.Services, rep.Edges)),
	})
	cerr := w.w.Close()
	if err != nil {
		return fmt.Errorf("html: %w", err)
	}
	return cerr
}

func (w *Writer) report() *jReport {
	rep := &jReport{Title: w.cfg.Title, TracesSeen: w.seen, SpansSeen: w.spans, MaxTraces: w.cfg.MaxTraces,
		TracesOmitted: w.seen - len(w.kept), EdgeSpansLeft: w.edgeLO, Traces: []*jTrace{},
		Services: []jNode{}, Edges: []jEdge{}}
	if w.seen > 0 {
		rep.Start = time.Unix(0, w.start).UTC().Format(time.RFC3339Nano)
		rep.End = time.Unix(0, w.end).UTC().Format(time.RFC3339Nano)
	}
	rep.Traces = append(rep.Traces, w.kept...)
	slices.SortFunc(rep.Traces, func(a, b *jTrace) int {
		return cmp.Or(cmp.Compare(b.Dur, a.Dur), cmp.Compare(a.ID, b.ID))
	})

	// Services: the busiest maxMapNodes.
	names := make([]string, 0, len(w.nodes))
	for n := range w.nodes {
		names = append(names, n)
	}
	traffic := func(n string) uint64 { return w.nodes[n].served + w.nodes[n].calls }
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(traffic(b), traffic(a)), cmp.Compare(a, b)) })
	if len(names) > maxMapNodes {
		rep.ServicesLeft = len(names) - maxMapNodes
		names = names[:maxMapNodes]
	}
	slices.Sort(names)
	drawn := map[string]bool{}
	for _, n := range names {
		ns := w.nodes[n]
		p := slices.Clone(ns.protocols)
		slices.Sort(p)
		rep.Services = append(rep.Services, jNode{Name: n, Served: ns.served, Calls: ns.calls, Errors: ns.errors, Protocols: p})
		drawn[n] = true
	}
	for _, e := range w.edges {
		if !drawn[e.from] || !drawn[e.to] {
			continue
		}
		slices.Sort(e.samples)
		p := slices.Clone(e.protocols)
		slices.Sort(p)
		rep.Edges = append(rep.Edges, jEdge{From: e.from, To: e.to, Count: e.count, Errors: e.errors,
			ErrorRate: float64(e.errors) / float64(e.count),
			P50:       percentile(e.samples, 0.50), P99: percentile(e.samples, 0.99), Protocols: p})
	}
	slices.SortFunc(rep.Edges, func(a, b jEdge) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
	layout(rep.Services, rep.Edges)
	return rep
}

// percentile returns the nearest-rank p-th percentile of sorted.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
