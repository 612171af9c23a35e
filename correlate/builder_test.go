package correlate_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
)

type sink struct{ traces []*correlate.Trace }

func (s *sink) WriteTrace(t *correlate.Trace) error { s.traces = append(s.traces, t); return nil }
func (s *sink) Close() error                        { return nil }

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// exchange is one request/response on a flow.
type exchange struct {
	flow       protocols.Flow
	name       string
	start, end int64
	seq        uint32
	reqLinks   []protocols.Attr
	respLinks  []protocols.Attr
	reqAttrs   []protocols.Attr
	respAttrs  []protocols.Attr
	status     protocols.Status
	noResponse bool
}

func feed(b *correlate.Builder, exs ...exchange) {
	// Requests and responses in time order, as the driver would.
	type ev struct {
		t    int64
		resp bool
		ex   *exchange
	}
	var evs []ev
	for i := range exs {
		evs = append(evs, ev{exs[i].start, false, &exs[i]})
		if !exs[i].noResponse {
			evs = append(evs, ev{exs[i].end, true, &exs[i]})
		}
	}
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].t < evs[j-1].t; j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
	for _, e := range evs {
		m := &protocols.Message{Start: e.t, End: e.t}
		if e.resp {
			m.Kind, m.Status, m.Links, m.Attrs = protocols.Response, e.ex.status, e.ex.respLinks, e.ex.respAttrs
			if m.Status == protocols.StatusUnknown {
				m.Status = protocols.StatusOK
			}
		} else {
			m.Kind, m.Name, m.Seq, m.Links, m.Attrs = protocols.Request, e.ex.name, e.ex.seq, e.ex.reqLinks, e.ex.reqAttrs
			m.NoResponse = e.ex.noResponse
		}
		f := e.ex.flow
		b.Message(&f, m)
	}
}

func flow(id uint64, capture, client, server string) protocols.Flow {
	return protocols.Flow{ID: id, Client: ap(client), Server: ap(server), Capture: capture, Protocol: "http"}
}

func xrid(v string) []protocols.Attr {
	return []protocols.Attr{protocols.String(protocols.LinkXRequestID, v)}
}

func custom(k, v string) []protocols.Attr {
	return []protocols.Attr{protocols.String(k, v)}
}

// shape summarises a trace as "name<-parent name (reason)" lines.
func shape(t *correlate.Trace) []string {
	var out []string
	for _, s := range t.Spans {
		line := s.Name + " [" + s.Capture + "] " + s.Status
		if s.Parent != nil {
			line += " <- " + s.Parent.Name + " [" + s.Parent.Capture + "] (" + s.LinkReason + ")"
		}
		out = append(out, line)
	}
	return out
}

func TestLinking(t *testing.T) {
	const ms = int64(time.Millisecond)
	gwIn := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
	gwOut := flow(2, "a", "10.0.0.2:6000", "10.0.0.3:8080")
	beOut := flow(3, "a", "10.0.0.3:7000", "10.0.0.4:9090")
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name      string
		cfg       *correlate.Config
		exchanges []exchange
		want      [][]string
		wantIDs   []string
	}{
		{
			name: "x-request-id chain, id echoed in the gateway response",
			exchanges: []exchange{
				{flow: gwIn, name: "GET /a", start: 0, end: 10 * ms, seq: 1, respLinks: xrid("req-1")},
				{flow: gwOut, name: "GET /a", start: 1 * ms, end: 9 * ms, seq: 2, reqLinks: xrid("req-1")},
				{flow: beOut, name: "GET /inv", start: 2 * ms, end: 8 * ms, seq: 3, reqLinks: xrid("req-1")},
			},
			want: [][]string{{
				"GET /a [a] ok",
				"GET /a [a] ok <- GET /a [a] (x_request_id)",
				"GET /inv [a] ok <- GET /a [a] (x_request_id)",
			}},
		},
		{
			name: "different ids are different traces",
			exchanges: []exchange{
				{flow: gwOut, name: "GET /1", start: 0, end: 1 * ms, seq: 1, reqLinks: xrid("req-1")},
				{flow: gwOut, name: "GET /2", start: 2 * ms, end: 3 * ms, seq: 2, reqLinks: xrid("req-2")},
			},
			want: [][]string{{"GET /1 [a] ok"}, {"GET /2 [a] ok"}},
		},
		{
			name: "traceparent adopted as trace id",
			exchanges: []exchange{
				{flow: gwOut, name: "GET /t", start: 0, end: 5 * ms, seq: 1, reqLinks: []protocols.Attr{protocols.String(protocols.LinkTraceparent, tp)}},
				{flow: beOut, name: "GET /u", start: 1 * ms, end: 4 * ms, seq: 2, reqLinks: []protocols.Attr{protocols.String(protocols.LinkTraceparent, tp)}},
			},
			want:    [][]string{{"GET /t [a] ok", "GET /u [a] ok <- GET /t [a] (trace_header)"}},
			wantIDs: []string{"4bf92f3577b34da6a3ce929d0e0e4736"},
		},
		{
			name: "same exchange at two capture points",
			exchanges: []exchange{
				{flow: flow(1, "gw", "10.0.0.2:6000", "10.0.0.3:8080"), name: "GET /s", start: 0, end: 5 * ms, seq: 77},
				{flow: flow(1, "be", "10.0.0.2:6000", "10.0.0.3:8080"), name: "GET /s", start: 1 * ms, end: 4 * ms, seq: 77},
			},
			want: [][]string{{"GET /s [gw] ok", "GET /s [be] ok <- GET /s [gw] (tcp_seq)"}},
		},
		{
			// A fire-and-forget call made after the response still
			// carries the request's id: the key names its parent.
			name: "a call after the response is the child of the request with its key",
			exchanges: []exchange{
				{flow: gwIn, name: "GET /a", start: 0, end: 1 * ms, seq: 1, reqLinks: xrid("req-9")},
				{flow: gwOut, name: "GET /late", start: 2 * ms, end: 3 * ms, seq: 2, reqLinks: xrid("req-9")},
			},
			want: [][]string{{"GET /a [a] ok", "GET /late [a] ok <- GET /a [a] (x_request_id)"}},
		},
		{
			name: "custom link key links like an x-request-id",
			exchanges: []exchange{
				{flow: gwIn, name: "POST /pay", start: 0, end: 1 * ms, seq: 1, reqLinks: custom("key_txn", "TX-0001")},
				{flow: gwOut, name: "POST /ledger", start: 2 * ms, end: 3 * ms, seq: 2, reqLinks: custom("key_txn", "TX-0001")},
				{flow: gwOut, name: "POST /other", start: 4 * ms, end: 5 * ms, seq: 3, reqLinks: custom("key_txn", "TX-0002")},
				{flow: beOut, name: "POST /unprefixed", start: 4 * ms, end: 5 * ms, seq: 4, reqLinks: custom("txn", "TX-0001")},
			},
			want: [][]string{
				{"POST /pay [a] ok", "POST /ledger [a] ok <- POST /pay [a] (link_key)"},
				{"POST /other [a] ok"},
				{"POST /unprefixed [a] ok"},
			},
		},
		{
			name: "custom keys of different names do not join",
			exchanges: []exchange{
				{flow: gwIn, name: "POST /pay", start: 0, end: 1 * ms, seq: 1, reqLinks: custom("key_a", "same-value")},
				{flow: gwOut, name: "POST /ledger", start: 2 * ms, end: 3 * ms, seq: 2, reqLinks: custom("key_b", "same-value")},
			},
			want: [][]string{{"POST /pay [a] ok"}, {"POST /ledger [a] ok"}},
		},
		{
			// The same key on a span that started before the request
			// names no parent: the key only looks back in time.
			name: "a call before the request is not its child",
			exchanges: []exchange{
				{flow: gwOut, name: "GET /early", start: 0, end: 1 * ms, seq: 2, reqLinks: xrid("req-8")},
				{flow: gwIn, name: "GET /a", start: 2 * ms, end: 3 * ms, seq: 1, reqLinks: xrid("req-8")},
			},
			want: [][]string{{"GET /early [a] ok", "GET /a [a] ok"}},
		},
		{
			name: "placeholder request ids link nothing",
			cfg:  &correlate.Config{NoTimingLinks: true},
			exchanges: []exchange{
				{flow: gwIn, name: "GET /a", start: 0, end: 10 * ms, seq: 1, reqLinks: xrid("-")},
				{flow: gwOut, name: "GET /b", start: 1 * ms, end: 9 * ms, seq: 2, reqLinks: xrid("-")},
				{flow: gwOut, name: "GET /c", start: 2 * ms, end: 8 * ms, seq: 3, reqLinks: xrid("null")},
			},
			want: [][]string{{"GET /a [a] ok"}, {"GET /b [a] ok"}, {"GET /c [a] ok"}},
		},
		{
			name: "error status",
			exchanges: []exchange{
				{flow: gwIn, name: "GET /e", start: 0, end: 1 * ms, seq: 1, status: protocols.StatusError},
			},
			want: [][]string{{"GET /e [a] error"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{}
			b := correlate.NewBuilder(tc.cfg, s)
			feed(b, tc.exchanges...)
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			var got [][]string
			var ids []string
			for _, tr := range s.traces {
				got = append(got, shape(tr))
				ids = append(ids, tr.ID)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("traces (-want +got):\n%s", diff)
			}
			if tc.wantIDs != nil {
				if diff := cmp.Diff(tc.wantIDs, ids); diff != "" {
					t.Errorf("trace ids (-want +got):\n%s", diff)
				}
			}
			for _, tr := range s.traces {
				if len(tr.ID) != 32 {
					t.Errorf("trace id %q", tr.ID)
				}
				for _, sp := range tr.Spans {
					if len(sp.SpanID) != 16 || sp.TraceID != tr.ID {
						t.Errorf("span %q ids %q %q", sp.Name, sp.SpanID, sp.TraceID)
					}
				}
			}
		})
	}
}

func TestTimeoutsAndUnmatched(t *testing.T) {
	s := &sink{}
	b := correlate.NewBuilder(nil, s)
	f := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
	b.Message(&f, &protocols.Message{Kind: protocols.Response, Start: 1, End: 2, Status: protocols.StatusOK})
	b.Message(&f, &protocols.Message{Kind: protocols.Request, Name: "GET /x", Start: 3, End: 3})
	b.FlowEnd(&f, 10)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range s.traces {
		got = append(got, shape(tr)...)
	}
	want := []string{"http response [a] partial", "GET /x [a] timeout"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	st := b.Stats()
	if st.Timeouts != 1 || st.UnmatchedResponses != 1 || st.Spans != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestWindow checks that traces are emitted by packet time, not at the end,
// and that the pending-span bound forces early emission.
func TestWindow(t *testing.T) {
	s := &sink{}
	b := correlate.NewBuilder(&correlate.Config{Window: time.Second}, s)
	f := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
	sec := int64(time.Second)
	feed(b, exchange{flow: f, name: "GET /1", start: 0, end: 1, seq: 1})
	b.Advance(3 * sec)
	if len(s.traces) != 1 {
		t.Fatalf("after the window: %d traces emitted, want 1", len(s.traces))
	}
	s2 := &sink{}
	b2 := correlate.NewBuilder(&correlate.Config{MaxPendingSpans: 8}, s2)
	for i := 0; i < 20; i++ {
		feed(b2, exchange{flow: f, name: "GET /n", start: int64(i), end: int64(i), seq: uint32(i)})
	}
	if st := b2.Stats(); st.WindowForced == 0 || len(s2.traces) == 0 {
		t.Errorf("bound not enforced: %+v, %d traces", st, len(s2.traces))
	}
	b2.Flush()
	if len(s2.traces) != 20 {
		t.Errorf("%d traces, want 20", len(s2.traces))
	}
}

func TestTraceHeaderParsing(t *testing.T) {
	tests := []struct {
		key, value string
		want       map[string]string
	}{
		{protocols.LinkTraceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			map[string]string{"traceparent_trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "traceparent_span_id": "00f067aa0ba902b7"}},
		{protocols.LinkTraceparent, "00-00000000000000000000000000000000-00f067aa0ba902b7-01", map[string]string{}},
		{protocols.LinkB3, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
			map[string]string{"b3_trace_id": "80f198ee56343ba864fe8b2a57d3eff7", "b3_span_id": "e457b5a2e4d86bd1", "b3_parent_span_id": "05e3ac9a4f6e3b90"}},
		{protocols.LinkB3TraceID, "64fe8b2a57d3eff7", map[string]string{"b3_trace_id": "000000000000000064fe8b2a57d3eff7"}},
		{protocols.LinkUberTraceID, "5f3c2a1b:abc:0:1", map[string]string{"uber_trace_id": "0000000000000000000000005f3c2a1b", "uber_span_id": "0000000000000abc"}},
		{protocols.LinkSW8, "1-MTIzLmFiYw==-c2VnLjE=-3-c3Zj-aW5zdA==-L2FwaQ==-MTAuMC4wLjE6ODA=",
			map[string]string{"sw8_trace_id": "123.abc", "sw8_segment_id": "seg.1", "sw8_span_id": "3"}},
		{protocols.LinkEagleEyeTraceID, "0ad1348f1403169275002100356696", map[string]string{"eagleeye_trace_id": "0ad1348f1403169275002100356696"}},
		{protocols.LinkEagleEyeTraceID, "short", map[string]string{}},
		{protocols.LinkEagleEyeTraceID, "0ad1348f14031692-75002100356696", map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			s := &sink{}
			b := correlate.NewBuilder(nil, s)
			f := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
			b.Message(&f, &protocols.Message{Kind: protocols.Request, Name: "GET /", NoResponse: true,
				Links: []protocols.Attr{protocols.String(tc.key, tc.value)}})
			b.Flush()
			got := s.traces[0].Spans[0].Links
			delete(got, "req_tcp_seq")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPairByID checks that multiplexed responses pair by id, out of order,
// and that unsolicited server messages are spans of their own.
func TestPairByID(t *testing.T) {
	s := &sink{}
	b := correlate.NewBuilder(nil, s)
	f := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:9092")
	b.Message(&f, &protocols.Message{Kind: protocols.Request, Name: "A", Start: 1, End: 1, ID: 7, HasID: true})
	b.Message(&f, &protocols.Message{Kind: protocols.Request, Name: "B", Start: 2, End: 2, ID: 8, HasID: true})
	b.Message(&f, &protocols.Message{Kind: protocols.Response, Start: 3, End: 3, ID: 8, HasID: true, Status: protocols.StatusError})
	b.Message(&f, &protocols.Message{Kind: protocols.Response, Name: "push", Start: 4, End: 4, Unsolicited: true, Status: protocols.StatusOK})
	b.Message(&f, &protocols.Message{Kind: protocols.Response, Start: 5, End: 5, ID: 7, HasID: true, Status: protocols.StatusOK})
	b.Flush()
	got := map[string]string{}
	for _, tr := range s.traces {
		for _, sp := range tr.Spans {
			got[sp.Name] = sp.Status + " " + tree(sp.StartNS, sp.EndNS)
		}
	}
	want := map[string]string{"A": "ok 1-5", "B": "error 2-3", "push": "ok 4-4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func tree(a, b int64) string { return fmt.Sprintf("%d-%d", a, b) }

// TestSQLCommentLink checks that a query carrying the request id in a SQL
// comment becomes the child of the request its host was serving.
func TestSQLCommentLink(t *testing.T) {
	s := &sink{}
	b := correlate.NewBuilder(nil, s)
	web := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
	db := protocols.Flow{ID: 2, Client: ap("10.0.0.2:6000"), Server: ap("10.0.0.3:3306"), Capture: "a", Protocol: "mysql"}
	b.Message(&web, &protocols.Message{Kind: protocols.Request, Name: "GET /o", Start: 0, End: 0, Links: xrid("req-42")})
	b.Message(&db, &protocols.Message{Kind: protocols.Request, Name: "SELECT", Start: 1, End: 1, Links: xrid("req-42"),
		Attrs: []protocols.Attr{protocols.String("db.query.text", "SELECT 1 /* x-request-id='req-42' */")}})
	b.Message(&db, &protocols.Message{Kind: protocols.Response, Start: 2, End: 2, Status: protocols.StatusOK})
	b.Message(&web, &protocols.Message{Kind: protocols.Response, Start: 3, End: 3, Status: protocols.StatusOK})
	b.Flush()
	var got []string
	for _, tr := range s.traces {
		got = append(got, shape(tr)...)
	}
	want := []string{"GET /o [a] ok", "SELECT [a] ok <- GET /o [a] (sql_comment)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestEagleEyeLink checks that an EagleEye trace id is a trace id as sw8's
// is: a Dubbo call carrying the one of the HTTP request its client host was
// serving becomes that request's child, and both get the hashed id.
func TestEagleEyeLink(t *testing.T) {
	s := &sink{}
	b := correlate.NewBuilder(nil, s)
	web := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
	rpc := protocols.Flow{ID: 2, Client: ap("10.0.0.2:6000"), Server: ap("10.0.0.3:20880"), Capture: "a", Protocol: "dubbo"}
	ee := []protocols.Attr{protocols.String(protocols.LinkEagleEyeTraceID, "0ad1348f1403169275002100356696")}
	b.Message(&web, &protocols.Message{Kind: protocols.Request, Name: "GET /o", Start: 0, End: 0, Links: ee})
	b.Message(&rpc, &protocols.Message{Kind: protocols.Request, Name: "shop.Svc/get", Start: 1, End: 1, ID: 1, HasID: true, Links: ee})
	b.Message(&rpc, &protocols.Message{Kind: protocols.Response, Start: 2, End: 2, ID: 1, HasID: true, Status: protocols.StatusOK})
	b.Message(&web, &protocols.Message{Kind: protocols.Response, Start: 3, End: 3, Status: protocols.StatusOK})
	b.Flush()
	if len(s.traces) != 1 {
		t.Fatalf("%d traces, want 1", len(s.traces))
	}
	want := []string{"GET /o [a] ok", "shop.Svc/get [a] ok <- GET /o [a] (trace_header)"}
	if diff := cmp.Diff(want, shape(s.traces[0])); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if id := s.traces[0].ID; len(id) != 32 || id == s.traces[0].Spans[0].SpanID {
		t.Errorf("trace id %q", id)
	}
}

// TestMongoDBCommentLink checks that a MongoDB command whose comment field
// carries the trace context of the request its host was serving becomes
// that request's child, with the reason sql_comment.
func TestMongoDBCommentLink(t *testing.T) {
	s := &sink{}
	b := correlate.NewBuilder(nil, s)
	web := flow(1, "a", "10.0.0.1:5000", "10.0.0.2:80")
	db := protocols.Flow{ID: 2, Client: ap("10.0.0.2:6000"), Server: ap("10.0.0.3:27017"), Capture: "a", Protocol: "mongodb"}
	tp := []protocols.Attr{protocols.String(protocols.LinkTraceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}
	b.Message(&web, &protocols.Message{Kind: protocols.Request, Name: "GET /o", Start: 0, End: 0,
		Links: []protocols.Attr{protocols.String(protocols.LinkTraceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba90201-01")}})
	b.Message(&db, &protocols.Message{Kind: protocols.Request, Name: "find orders", Start: 1, End: 1, ID: 7, HasID: true, Links: tp,
		Attrs: []protocols.Attr{protocols.String("db.system.name", "mongodb")}})
	b.Message(&db, &protocols.Message{Kind: protocols.Response, Start: 2, End: 2, ID: 7, HasID: true, Status: protocols.StatusOK})
	b.Message(&web, &protocols.Message{Kind: protocols.Response, Start: 3, End: 3, Status: protocols.StatusOK})
	b.Flush()
	var got []string
	for _, tr := range s.traces {
		got = append(got, shape(tr)...)
	}
	want := []string{"GET /o [a] ok", "find orders [a] ok <- GET /o [a] (sql_comment)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
