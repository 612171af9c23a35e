package jsonl

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/correlate"
)

// reference encodes spans as the encoding/json encoder the Writer replaces.
func reference(t *testing.T, spans []*correlate.Span) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, s := range spans {
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

func encode(t *testing.T, spans []*correlate.Span) string {
	t.Helper()
	var buf bytes.Buffer
	w := New(&buf)
	if err := w.WriteTrace(&correlate.Trace{Spans: spans}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		span *correlate.Span
	}{
		{"empty", &correlate.Span{}},
		{"typical", &correlate.Span{
			TraceID: "0123456789abcdef0123456789abcdef", SpanID: "0123456789abcdef", Protocol: "http",
			Name: "GET /orders", Side: "network", StartNS: 1767225600000194000, EndNS: -5,
			Client: correlate.Endpoint{IP: "10.0.0.1", Port: 33000}, Server: correlate.Endpoint{IP: "::1", Port: 80},
			Capture: "a.pcap", Status: "ok",
			Attributes: map[string]any{"url.path": "/orders", "http.response.status_code": int64(200), "z": 3, "b": true, "f": 1.5, "u": uint64(7), "nil": nil},
			Links:      map[string]string{"x_request_id": "abc", "req_tcp_seq": "1"},
			LinkReason: "x_request_id",
		}},
		{"escapes", &correlate.Span{
			Name:       "q\"\\\b\f\n\r\t\x00\x1f\x7f<>&\u2028\u2029é\xff\xc3",
			Attributes: map[string]any{"db.query.text": "SELECT '\x01' -- \u2028"},
			Links:      map[string]string{"k\n": "v\xfe"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spans := []*correlate.Span{tt.span}
			if diff := cmp.Diff(reference(t, spans), encode(t, spans)); diff != "" {
				t.Errorf("-encoding/json +Writer:\n%s", diff)
			}
		})
	}
}

func TestRandomStrings(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		b := make([]byte, r.IntN(20))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		s := &correlate.Span{Name: string(b), Attributes: map[string]any{string(b): string(b)}}
		spans := []*correlate.Span{s}
		if want, got := reference(t, spans), encode(t, spans); want != got {
			t.Fatalf("%q: want %s got %s", b, want, got)
		}
	}
}

func BenchmarkWriteTrace(b *testing.B) {
	s := &correlate.Span{
		TraceID: "0123456789abcdef0123456789abcdef", SpanID: "0123456789abcdef", Protocol: "http",
		Name: "GET /orders", Side: "network", StartNS: 1767225600000194000, EndNS: 1767225600000194000,
		Client: correlate.Endpoint{IP: "10.0.0.1", Port: 33000}, Server: correlate.Endpoint{IP: "10.0.0.2", Port: 80},
		Capture: "a.pcap", Status: "ok",
		Attributes: map[string]any{"url.path": "/orders", "http.response.status_code": int64(200), "http.request.method": "GET"},
		Links:      map[string]string{"x_request_id": "abc", "req_tcp_seq": "1", "resp_tcp_seq": "2"},
	}
	w := New(discard{})
	tr := &correlate.Trace{Spans: []*correlate.Span{s}}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.WriteTrace(tr); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
