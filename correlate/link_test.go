package correlate_test

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
)

const ms = int64(time.Millisecond)

// shapeC is shape with the timing confidence.
func shapeC(t *correlate.Trace) []string {
	out := shape(t)
	for i, s := range t.Spans {
		if c, ok := s.Attributes[correlate.AttrLinkConfidence]; ok {
			out[i] += fmt.Sprintf(" conf=%v", c)
		}
	}
	return out
}

func run(t *testing.T, cfg *correlate.Config, exs []exchange) ([][]string, correlate.Stats) {
	t.Helper()
	s := &sink{}
	b := correlate.NewBuilder(cfg, s)
	feed(b, exs...)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, tr := range s.traces {
		got = append(got, shapeC(tr))
	}
	return got, b.Stats()
}

func kflow(id uint64, client, server string) protocols.Flow {
	return protocols.Flow{ID: id, Client: ap(client), Server: ap(server), Capture: "k", Protocol: "kafka"}
}

func links(kv ...string) []protocols.Attr {
	var out []protocols.Attr
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, protocols.String(kv[i], kv[i+1]))
	}
	return out
}

func kafkaAttrs(op string, count int64) []protocols.Attr {
	a := []protocols.Attr{protocols.String("messaging.system", "kafka"), protocols.String("messaging.operation.type", op)}
	if count > 0 {
		a = append(a, protocols.Int("messaging.batch.message_count", count))
	}
	return a
}

func tparent(span string) []protocols.Attr {
	return links(protocols.LinkTraceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-"+span+"-01")
}

// TestTraceHeaderHop checks that one hop seen through NAT at two capture
// points (different addresses and sequence numbers) is linked by its
// identical trace header, and that the callee's own calls, which carry
// its span id, hang under its inbound span.
func TestTraceHeaderHop(t *testing.T) {
	aOut := flow(1, "a", "10.0.0.1:5000", "10.0.9.9:80")    // A → VIP, at A
	bIn := flow(2, "b", "10.0.9.50:40000", "10.0.0.2:8080") // NAT → B, at B
	bOut := flow(3, "b", "10.0.0.2:6000", "10.0.0.3:9090")  // B → C, at B
	other := flow(4, "b", "10.0.9.50:40001", "10.0.0.2:8080")
	tests := []struct {
		name string
		exs  []exchange
		want [][]string
	}{
		{
			name: "NAT'd hop",
			exs: []exchange{
				{flow: aOut, name: "GET /a", start: 0, end: 10 * ms, seq: 100, reqLinks: tparent("00f067aa0ba902b7")},
				{flow: bIn, name: "GET /a", start: 1 * ms, end: 9 * ms, seq: 900, reqLinks: tparent("00f067aa0ba902b7")},
				{flow: bOut, name: "GET /c", start: 2 * ms, end: 8 * ms, seq: 5, reqLinks: tparent("b7ad6b7169203331")},
			},
			want: [][]string{{
				"GET /a [a] ok",
				"GET /a [b] ok <- GET /a [a] (trace_header)",
				"GET /c [b] ok <- GET /a [b] (trace_header)",
			}},
		},
		{
			name: "same header, different operation: not one hop",
			exs: []exchange{
				{flow: aOut, name: "GET /a", start: 0, end: 10 * ms, seq: 100, reqLinks: tparent("00f067aa0ba902b7")},
				{flow: other, name: "GET /other", start: 1 * ms, end: 9 * ms, seq: 900, reqLinks: tparent("00f067aa0ba902b7")},
			},
			want: [][]string{{"GET /a [a] ok", "GET /other [b] ok"}},
		},
		{
			name: "not enclosed: not one hop",
			exs: []exchange{
				{flow: aOut, name: "GET /a", start: 0, end: 5 * ms, seq: 100, reqLinks: tparent("00f067aa0ba902b7")},
				{flow: bIn, name: "GET /a", start: 6 * ms, end: 9 * ms, seq: 900, reqLinks: tparent("00f067aa0ba902b7")},
			},
			want: [][]string{{"GET /a [a] ok", "GET /a [b] ok"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := run(t, nil, tc.exs)
			if diff := gocmp.Diff(tc.want, got); diff != "" {
				t.Errorf("traces (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKafka checks producer → consumer links by offsets and by record
// headers.
func TestKafka(t *testing.T) {
	prod := kflow(1, "10.0.1.1:5000", "10.0.1.9:9092")
	cons := kflow(2, "10.0.1.2:5000", "10.0.1.9:9092")
	tp, off := protocols.LinkKafkaTopicPartition, protocols.LinkKafkaOffset
	produce := func(start int64, count int64, resp ...string) exchange {
		return exchange{flow: prod, name: "Produce orders", start: start, end: start + ms, seq: uint32(start),
			reqLinks: links(tp, "orders/3"), reqAttrs: kafkaAttrs("send", count), respLinks: links(resp...)}
	}
	fetch := func(start, end int64, resp ...string) exchange {
		return exchange{flow: cons, name: "Fetch orders", start: start, end: end, seq: uint32(start),
			reqLinks: links(tp, "orders/3"), reqAttrs: kafkaAttrs("receive", 0), respLinks: links(resp...)}
	}
	tests := []struct {
		name string
		exs  []exchange
		want [][]string
	}{
		{
			name: "fetch started before the produce, range contains its records",
			exs: []exchange{
				fetch(0, 50*ms, tp, "orders/3", off, "44..46"),
				produce(10*ms, 3, tp, "orders/3", off, "42"), // records 42..44
			},
			want: [][]string{{"Fetch orders [k] ok <- Produce orders [k] (kafka_correlation)", "Produce orders [k] ok"}},
		},
		{
			name: "offsets outside the fetched range",
			exs: []exchange{
				produce(0, 1, tp, "orders/3", off, "42"),
				fetch(10*ms, 20*ms, tp, "orders/3", off, "43..50"),
			},
			want: [][]string{{"Produce orders [k] ok"}, {"Fetch orders [k] ok"}},
		},
		{
			name: "other partition",
			exs: []exchange{
				produce(0, 1, tp, "orders/2", off, "42"),
				fetch(10*ms, 20*ms, tp, "orders/3", off, "40..50"),
			},
			want: [][]string{{"Produce orders [k] ok"}, {"Fetch orders [k] ok"}},
		},
		{
			name: "the partition matched is not the first of the message",
			exs: []exchange{
				produce(0, 2, tp, "orders/1", off, "7", tp, "orders/3", off, "42"),
				fetch(10*ms, 20*ms, tp, "orders/0", off, "1..2", tp, "orders/3", off, "42..42"),
			},
			want: [][]string{{"Produce orders [k] ok", "Fetch orders [k] ok <- Produce orders [k] (kafka_correlation)"}},
		},
		{
			name: "record headers",
			exs: []exchange{
				{flow: prod, name: "Produce orders", start: 0, end: ms, seq: 1, reqAttrs: kafkaAttrs("send", 1),
					reqLinks: append(links(tp, "orders/3"), tparent("00f067aa0ba902b7")...)},
				{flow: cons, name: "Fetch orders", start: 10 * ms, end: 20 * ms, seq: 2, reqAttrs: kafkaAttrs("receive", 0),
					respLinks: tparent("00f067aa0ba902b7")},
			},
			want: [][]string{{"Produce orders [k] ok", "Fetch orders [k] ok <- Produce orders [k] (trace_header)"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := run(t, nil, tc.exs)
			if diff := gocmp.Diff(tc.want, got); diff != "" {
				t.Errorf("traces (-want +got):\n%s", diff)
			}
		})
	}
}

// TestQueueHandoff checks queue handoffs with no id on the wire: stream
// ids, list values, batches.
func TestQueueHandoff(t *testing.T) {
	rflow := func(id uint64, client string) protocols.Flow {
		return protocols.Flow{ID: id, Client: ap(client), Server: ap("10.0.2.9:6379"), Capture: "r", Protocol: "redis"}
	}
	p1, p2, c := rflow(1, "10.0.2.1:5000"), rflow(2, "10.0.2.3:5000"), rflow(3, "10.0.2.2:5000")
	send, recv := protocols.LinkHandoffSend, protocols.LinkHandoffRecv
	tests := []struct {
		name string
		exs  []exchange
		want [][]string
	}{
		{
			name: "stream batch read after two adds",
			exs: []exchange{
				{flow: p1, name: "XADD", start: 0, end: ms, seq: 1, respLinks: links(send, "redis-stream:orders:1-0")},
				{flow: p2, name: "XADD", start: 2 * ms, end: 3 * ms, seq: 1, respLinks: links(send, "redis-stream:orders:1-1")},
				{flow: c, name: "XREAD", start: 4 * ms, end: 5 * ms, seq: 1,
					respLinks: links(recv, "redis-stream:orders:1-0", recv, "redis-stream:orders:1-1")},
			},
			want: [][]string{{"XADD [r] ok", "XREAD [r] ok <- XADD [r] (queue_handoff)"}, {"XADD [r] ok"}},
		},
		{
			name: "blocking pop started before the push",
			exs: []exchange{
				{flow: c, name: "BRPOP", start: 0, end: 10 * ms, seq: 1, respLinks: links(recv, "redis-list:jobs:ab12")},
				{flow: p1, name: "LPUSH", start: 5 * ms, end: 6 * ms, seq: 1, reqLinks: links(send, "redis-list:jobs:ab12")},
			},
			want: [][]string{{"BRPOP [r] ok <- LPUSH [r] (queue_handoff)", "LPUSH [r] ok"}},
		},
		{
			name: "pop that ended before the push",
			exs: []exchange{
				{flow: c, name: "BRPOP", start: 0, end: 4 * ms, seq: 1, respLinks: links(recv, "redis-list:jobs:ab12")},
				{flow: p1, name: "LPUSH", start: 5 * ms, end: 6 * ms, seq: 1, reqLinks: links(send, "redis-list:jobs:ab12")},
			},
			want: [][]string{{"BRPOP [r] ok"}, {"LPUSH [r] ok"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := run(t, nil, tc.exs)
			if diff := gocmp.Diff(tc.want, got); diff != "" {
				t.Errorf("traces (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTiming checks links by timing alone.
func TestTiming(t *testing.T) {
	in1 := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
	in2 := flow(2, "a", "10.0.0.1:5001", "10.0.0.2:80")
	in3 := flow(3, "a", "10.0.0.1:5002", "10.0.0.2:80")
	out := flow(4, "a", "10.0.0.2:6000", "10.0.0.3:3306")
	out2 := flow(5, "a", "10.0.0.2:6001", "10.0.0.3:3306")
	tests := []struct {
		name         string
		cfg          *correlate.Config
		exs          []exchange
		want         [][]string
		wantRejected uint64
	}{
		{
			name: "one enclosing request",
			exs: []exchange{
				{flow: in1, name: "GET /a", start: 0, end: 10 * ms, seq: 1},
				{flow: out, name: "SELECT", start: 2 * ms, end: 4 * ms, seq: 1},
				{flow: out, name: "UPDATE", start: 5 * ms, end: 6 * ms, seq: 2},
			},
			want: [][]string{{
				"GET /a [a] ok",
				"SELECT [a] ok <- GET /a [a] (timing) conf=0.95",
				"UPDATE [a] ok <- GET /a [a] (timing) conf=0.95",
			}},
		},
		{
			name: "fire-and-forget after the response is not attached",
			exs: []exchange{
				{flow: in1, name: "GET /a", start: 0, end: 10 * ms, seq: 1},
				{flow: out, name: "SELECT", start: 11 * ms, end: 12 * ms, seq: 1},
			},
			want: [][]string{{"GET /a [a] ok"}, {"SELECT [a] ok"}},
		},
		{
			name: "outliving the response is not attached",
			exs: []exchange{
				{flow: in1, name: "GET /a", start: 0, end: 10 * ms, seq: 1},
				{flow: out, name: "SELECT", start: 9 * ms, end: 12 * ms, seq: 1},
			},
			want: [][]string{{"GET /a [a] ok"}, {"SELECT [a] ok"}},
		},
		{
			name: "two concurrent requests: the latest arrival, low confidence",
			exs: []exchange{
				{flow: in1, name: "GET /1", start: 0, end: 10 * ms, seq: 1},
				{flow: in2, name: "GET /2", start: 1 * ms, end: 11 * ms, seq: 1},
				{flow: out, name: "SELECT", start: 2 * ms, end: 4 * ms, seq: 1},
			},
			want: [][]string{{"GET /1 [a] ok"}, {"GET /2 [a] ok", "SELECT [a] ok <- GET /2 [a] (timing) conf=0.57"}},
		},
		{
			name: "two concurrent requests under a stricter threshold: root",
			cfg:  &correlate.Config{TimingMinConfidence: 0.6},
			exs: []exchange{
				{flow: in1, name: "GET /1", start: 0, end: 10 * ms, seq: 1},
				{flow: in2, name: "GET /2", start: 1 * ms, end: 11 * ms, seq: 1},
				{flow: out, name: "SELECT", start: 2 * ms, end: 4 * ms, seq: 1},
			},
			want:         [][]string{{"GET /1 [a] ok"}, {"GET /2 [a] ok"}, {"SELECT [a] ok"}},
			wantRejected: 1,
		},
		{
			name: "three concurrent requests: ambiguous, root",
			exs: []exchange{
				{flow: in1, name: "GET /1", start: 0, end: 10 * ms, seq: 1},
				{flow: in2, name: "GET /2", start: 1 * ms, end: 11 * ms, seq: 1},
				{flow: in3, name: "GET /3", start: 1500 * 1000, end: 12 * ms, seq: 1},
				{flow: out, name: "SELECT", start: 2 * ms, end: 4 * ms, seq: 1},
			},
			want:         [][]string{{"GET /1 [a] ok"}, {"GET /2 [a] ok"}, {"GET /3 [a] ok"}, {"SELECT [a] ok"}},
			wantRejected: 1,
		},
		{
			name: "the previous call on the connection was linked by id",
			exs: []exchange{
				{flow: in1, name: "GET /1", start: 0, end: 10 * ms, seq: 1, reqLinks: xrid("req-1")},
				{flow: in2, name: "GET /2", start: 1 * ms, end: 11 * ms, seq: 1, reqLinks: xrid("req-2")},
				{flow: out, name: "GET /x", start: 2 * ms, end: 3 * ms, seq: 1, reqLinks: xrid("req-1")},
				{flow: out, name: "SELECT", start: 4 * ms, end: 5 * ms, seq: 2},
			},
			want: [][]string{
				{"GET /1 [a] ok", "GET /x [a] ok <- GET /1 [a] (x_request_id)", "SELECT [a] ok <- GET /1 [a] (timing) conf=0.69"},
				{"GET /2 [a] ok"},
			},
		},
		{
			name: "a key on the wire wins over timing",
			exs: []exchange{
				{flow: in1, name: "GET /1", start: 0, end: 10 * ms, seq: 1, reqLinks: xrid("req-1")},
				{flow: in2, name: "GET /2", start: 1 * ms, end: 11 * ms, seq: 1, reqLinks: xrid("req-2")},
				{flow: out2, name: "GET /x", start: 2 * ms, end: 3 * ms, seq: 1, reqLinks: xrid("req-1")},
			},
			want: [][]string{{"GET /1 [a] ok", "GET /x [a] ok <- GET /1 [a] (x_request_id)"}, {"GET /2 [a] ok"}},
		},
		{
			name: "timing off",
			cfg:  &correlate.Config{NoTimingLinks: true},
			exs: []exchange{
				{flow: in1, name: "GET /a", start: 0, end: 10 * ms, seq: 1},
				{flow: out, name: "SELECT", start: 2 * ms, end: 4 * ms, seq: 1},
			},
			want: [][]string{{"GET /a [a] ok"}, {"SELECT [a] ok"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, st := run(t, tc.cfg, tc.exs)
			if diff := gocmp.Diff(tc.want, got); diff != "" {
				t.Errorf("traces (-want +got):\n%s", diff)
			}
			if st.TimingRejected != tc.wantRejected {
				t.Errorf("timing rejected %d, want %d", st.TimingRejected, tc.wantRejected)
			}
		})
	}
}

// TestLateSpans checks that a span still waiting when its trace is
// emitted early is output once, complete, in a trace of its own.
func TestLateSpans(t *testing.T) {
	s := &sink{}
	b := correlate.NewBuilder(&correlate.Config{MaxPendingSpans: 4, NoTimingLinks: true}, s)
	slow := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
	fast := flow(2, "a", "10.0.0.1:5001", "10.0.0.3:80")
	b.Message(&slow, &protocols.Message{Kind: protocols.Request, Name: "GET /slow", Start: 0, End: 0, Links: xrid("req-1")})
	for i := int64(1); i <= 20; i++ {
		b.Message(&fast, &protocols.Message{Kind: protocols.Request, Name: "GET /fast", Start: i, End: i, Seq: uint32(i), Links: xrid("req-1")})
		b.Message(&fast, &protocols.Message{Kind: protocols.Response, Start: i, End: i, Status: protocols.StatusOK})
	}
	b.Message(&slow, &protocols.Message{Kind: protocols.Response, Start: 30, End: 30, Status: protocols.StatusOK})
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, tr := range s.traces {
		for _, sp := range tr.Spans {
			count[sp.Name+" "+sp.Status]++
		}
	}
	if diff := gocmp.Diff(map[string]int{"GET /slow ok": 1, "GET /fast ok": 20}, count); diff != "" {
		t.Errorf("spans output (-want +got):\n%s", diff)
	}
	if st := b.Stats(); st.LateSpans == 0 || st.Spans != 21 || st.WindowForced == 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestDeterminism runs the same input twice and compares the output.
func TestDeterminism(t *testing.T) {
	dump := func() string {
		s := &sink{}
		b := correlate.NewBuilder(&correlate.Config{Window: 50 * time.Millisecond}, s)
		for _, m := range synth(200, 5, 400) {
			b.Message(m.f, m.m)
		}
		b.Flush()
		var sb strings.Builder
		for _, tr := range s.traces {
			fmt.Fprintln(&sb, tr.ID)
			for _, sp := range tr.Spans {
				fmt.Fprintln(&sb, sp.SpanID, sp.ParentSpanID, sp.LinkReason, sp.Name, sp.Attributes[correlate.AttrLinkConfidence])
			}
		}
		return sb.String()
	}
	// Every keyless call hangs under its own trace's inbound request.
	s := &sink{}
	bl := correlate.NewBuilder(&correlate.Config{Window: 50 * time.Millisecond}, s)
	for _, m := range synth(200, 5, 400) {
		bl.Message(m.f, m.m)
	}
	bl.Flush()
	for _, tr := range s.traces {
		for _, sp := range tr.Spans {
			if sp.Name == "GET key" && (sp.Parent == nil || sp.Parent.Name != "GET /in" || sp.Parent.Links["x_request_id"] != tr.Spans[0].Links["x_request_id"]) {
				t.Errorf("keyless call %s linked to %v", sp.SpanID, sp.Parent)
			}
		}
	}
	if len(s.traces) != 200 {
		t.Errorf("%d traces, want 200", len(s.traces))
	}

	a, b := dump(), dump()
	if a != b {
		t.Fatal("two runs differ")
	}
	if !strings.Contains(a, "timing") || !strings.Contains(a, "x_request_id") {
		t.Errorf("synthetic input links neither by timing nor by id:\n%.2000s", a)
	}
}

type msg struct {
	f *protocols.Flow
	m *protocols.Message
}

// synth builds, in time order, traces of spansPer spans (a gateway
// request, its upstream call and a cache call carrying the request id, and
// calls from the upstream with the id) plus keyless calls from the gateway
// that only timing can link, on the cache call's connection; traces
// overlap in time (about 3 in flight).
func synth(traces, spansPer, keyless int) []msg {
	type ex struct {
		f          *protocols.Flow
		name       string
		start, end int64
		links      []protocols.Attr
	}
	var exs []ex
	var id uint64
	newFlow := func(c, s string) *protocols.Flow {
		id++
		return &protocols.Flow{ID: id, Client: ap(c), Server: ap(s), Capture: "a", Protocol: "http"}
	}
	conns := make([]*protocols.Flow, traces)
	for i := 0; i < traces; i++ {
		t0 := int64(i) * 3 * ms
		rid := xrid(fmt.Sprintf("req-%06d", i))
		exs = append(exs, ex{newFlow(fmt.Sprintf("10.1.%d.%d:%d", i/250, i%250+1, 40000+i%20000), "10.0.0.2:80"), "GET /in", t0, t0 + 10*ms, rid})
		up := fmt.Sprintf("10.0.1.%d:8080", i%8+1)
		exs = append(exs, ex{newFlow(fmt.Sprintf("10.0.0.2:%d", 30000+i), up), "GET /up", t0 + ms, t0 + 9*ms, rid})
		// A connection whose first call carries the id, then keyless
		// calls: the sibling evidence timing uses.
		conns[i] = newFlow(fmt.Sprintf("10.0.0.2:%d", 50000+i), "10.0.4.1:6379")
		exs = append(exs, ex{conns[i], "GET /cache", t0 + 1500*1000, t0 + 1800*1000, rid})
		for j := 3; j < spansPer; j++ {
			exs = append(exs, ex{newFlow(fmt.Sprintf("%s:%d", up[:len(up)-5], 20000+i*8+j), "10.0.3.1:3306"),
				"SELECT", t0 + int64(j)*ms, t0 + int64(j)*ms + 500*1000, rid})
		}
	}
	for k := 0; k < keyless; k++ {
		i := k % traces
		t0 := int64(i)*3*ms + 2*ms + int64(k/traces)*300*1000
		exs = append(exs, ex{conns[i], "GET key", t0, t0 + 200*1000, nil})
	}
	type ev struct {
		t    int64
		resp bool
		e    *ex
	}
	var evs []ev
	for i := range exs {
		evs = append(evs, ev{exs[i].start, false, &exs[i]}, ev{exs[i].end, true, &exs[i]})
	}
	slices.SortStableFunc(evs, func(a, b ev) int {
		if a.t != b.t {
			return cmp.Compare(a.t, b.t)
		}
		return cmp.Compare(b2i(a.resp), b2i(b.resp))
	})
	out := make([]msg, 0, len(evs))
	for i, e := range evs {
		m := &protocols.Message{Start: e.t, End: e.t, Seq: uint32(i)}
		if e.resp {
			m.Kind, m.Status = protocols.Response, protocols.StatusOK
		} else {
			m.Kind, m.Name, m.Links = protocols.Request, e.e.name, e.e.links
		}
		out = append(out, msg{e.e.f, m})
	}
	return out
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// BenchmarkLinker feeds 10k spans in 1k traces linked by request id,
// plus 2k keyless calls that only timing links, and flushes.
func BenchmarkLinker(b *testing.B) {
	msgs := synth(1000, 10, 2000)
	for _, bc := range []struct {
		name string
		cfg  correlate.Config
	}{
		{"timing", correlate.Config{Window: 50 * time.Millisecond}},
		{"no-timing", correlate.Config{Window: 50 * time.Millisecond, NoTimingLinks: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s := &countSink{}
				bl := correlate.NewBuilder(&bc.cfg, s)
				for _, m := range msgs {
					bl.Message(m.f, m.m)
				}
				bl.Flush()
				if s.spans != 12000 {
					b.Fatalf("%d spans", s.spans)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/12000, "ns/span")
		})
	}
}

type countSink struct{ spans int }

func (s *countSink) WriteTrace(t *correlate.Trace) error { s.spans += len(t.Spans); return nil }
func (s *countSink) Close() error                        { return nil }
