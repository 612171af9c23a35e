package api

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/store"
)

// The types below are the JSON of Jaeger's HTTP query API (the one the
// Jaeger UI and Grafana's Jaeger data source use: jaeger's model/json and
// cmd/query/app/http_handler.go).

// Response is the envelope of every Jaeger query API answer.
type Response struct {
	Data   any     `json:"data"`
	Total  int     `json:"total"`
	Limit  int     `json:"limit"`
	Offset int     `json:"offset"`
	Errors []Error `json:"errors"`
}

// Error is one error of a Response.
type Error struct {
	Code    int    `json:"code,omitempty"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID,omitempty"`
}

// Trace is a Jaeger trace.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
	Warnings  []string           `json:"warnings"`
}

// Span is a Jaeger span; times are in microseconds.
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	Flags         uint32      `json:"flags,omitempty"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	StartTime     int64       `json:"startTime"`
	Duration      int64       `json:"duration"`
	Tags          []KeyValue  `json:"tags"`
	Logs          []Log       `json:"logs"`
	ProcessID     string      `json:"processID"`
	Warnings      []string    `json:"warnings"`
}

// Reference links a span to its parent.
type Reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// Process is the service a span belongs to.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

// KeyValue is a typed tag: Type is string, bool, int64, float64 or binary.
type KeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Log is a span log; wiretrace spans have none.
type Log struct {
	Timestamp int64      `json:"timestamp"`
	Fields    []KeyValue `json:"fields"`
}

// Operation is one entry of /api/operations.
type Operation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

// Dependency is one entry of /api/dependencies.
type Dependency struct {
	Parent    string `json:"parent"`
	Child     string `json:"child"`
	CallCount uint64 `json:"callCount"`
}

func tag(k string, v any) KeyValue {
	switch v := v.(type) {
	case string:
		return KeyValue{k, "string", v}
	case bool:
		return KeyValue{k, "bool", v}
	case int:
		return KeyValue{k, "int64", int64(v)}
	case int64:
		return KeyValue{k, "int64", v}
	case int32:
		return KeyValue{k, "int64", int64(v)}
	case uint64:
		return KeyValue{k, "int64", int64(v)}
	case uint32:
		return KeyValue{k, "int64", int64(v)}
	case float64:
		return KeyValue{k, "float64", v}
	}
	return KeyValue{k, "string", fmt.Sprint(v)}
}

// procKey identifies a process for deduplication.
type procKey struct{ svc, tags string }

// builder assembles one Jaeger trace, numbering processes p1, p2, ... in
// order of first use.
type builder struct {
	t     Trace
	procs map[procKey]string
}

func newBuilder(id string) *builder {
	return &builder{t: Trace{TraceID: id, Processes: map[string]Process{}}, procs: map[procKey]string{}}
}

func (b *builder) process(p Process) string {
	var ks strings.Builder
	for _, kv := range p.Tags {
		fmt.Fprintf(&ks, "%s=%v;", kv.Key, kv.Value)
	}
	k := procKey{p.ServiceName, ks.String()}
	if id, ok := b.procs[k]; ok {
		return id
	}
	id := fmt.Sprintf("p%d", len(b.procs)+1)
	b.procs[k] = id
	if p.Tags == nil {
		p.Tags = []KeyValue{}
	}
	b.t.Processes[id] = p
	return id
}

// addNetwork adds a wiretrace span; parent, when not "", overrides its
// parent.
func (b *builder) addNetwork(traceID string, sp *correlate.Span, names store.Names, parent string) {
	if parent == "" {
		parent = sp.ParentSpanID
	}
	refs := []Reference{}
	if parent != "" {
		refs = append(refs, Reference{RefType: "CHILD_OF", TraceID: traceID, SpanID: parent})
	}
	tags := []KeyValue{tag("span.kind", store.SpanKind(sp))}
	keys := make([]string, 0, len(sp.Attributes))
	for k := range sp.Attributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		tags = append(tags, tag(k, sp.Attributes[k]))
	}
	tags = append(tags,
		tag("client.address", sp.Client.IP), tag("client.port", sp.Client.Port),
		tag("network.peer.address", sp.Server.IP), tag("network.peer.port", sp.Server.Port),
		tag("wiretrace.protocol", sp.Protocol), tag("wiretrace.side", sp.Side),
		tag("wiretrace.status", sp.Status), tag("wiretrace.capture", sp.Capture))
	if sp.LinkReason != "" {
		tags = append(tags, tag("wiretrace.link_reason", sp.LinkReason))
	}
	lk := make([]string, 0, len(sp.Links))
	for k := range sp.Links {
		lk = append(lk, k)
	}
	slices.Sort(lk)
	for _, k := range lk {
		tags = append(tags, tag("wiretrace.link."+k, sp.Links[k]))
	}
	if sp.Status == correlate.StatusError {
		tags = append(tags, tag("error", true))
	}
	pid := b.process(Process{ServiceName: names.Service(sp), Tags: []KeyValue{tag("wiretrace.source", "network")}})
	b.t.Spans = append(b.t.Spans, Span{
		TraceID:       traceID,
		SpanID:        sp.SpanID,
		OperationName: sp.Name,
		References:    refs,
		StartTime:     sp.StartNS / 1000,
		Duration:      sp.Duration() / 1000,
		Tags:          tags,
		Logs:          []Log{},
		ProcessID:     pid,
	})
}

// addForeign adds a span of another Jaeger trace (an APM's), with its
// process.
func (b *builder) addForeign(sp Span, p Process) {
	sp.ProcessID = b.process(p)
	if sp.References == nil {
		sp.References = []Reference{}
	}
	if sp.Tags == nil {
		sp.Tags = []KeyValue{}
	}
	if sp.Logs == nil {
		sp.Logs = []Log{}
	}
	b.t.Spans = append(b.t.Spans, sp)
}

func (b *builder) done() Trace {
	slices.SortStableFunc(b.t.Spans, func(x, y Span) int {
		return cmp.Or(cmp.Compare(x.StartTime, y.StartTime), cmp.Compare(x.SpanID, y.SpanID))
	})
	if b.t.Spans == nil {
		b.t.Spans = []Span{}
	}
	return b.t
}

// toJaeger converts a wiretrace trace.
func toJaeger(t *correlate.Trace, names store.Names) Trace {
	b := newBuilder(t.ID)
	for _, sp := range t.Spans {
		b.addNetwork(t.ID, sp, names, "")
	}
	return b.done()
}
