package otlp_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/otlp"
)

// exampleTrace is a gateway span and the backend call it made.
func exampleTrace() *correlate.Trace {
	root := &correlate.Span{
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
		Protocol: "http", Name: "GET /api/orders/42", Side: "server", Status: "ok",
		StartNS: 1_700_000_000_000_000_000, EndNS: 1_700_000_000_002_000_000,
		Client: correlate.Endpoint{IP: "10.0.0.1", Port: 40000}, Server: correlate.Endpoint{IP: "10.0.0.2", Port: 80},
		Attributes: map[string]any{"http.response.status_code": 200},
	}
	child := &correlate.Span{
		TraceID: root.TraceID, SpanID: "b7ad6b7169203331", ParentSpanID: root.SpanID,
		Protocol: "redis", Name: "GET", Side: "client", Status: "ok", LinkReason: "timing",
		StartNS: root.StartNS + 500_000, EndNS: root.StartNS + 700_000,
		Client: correlate.Endpoint{IP: "10.0.0.2", Port: 50000}, Server: correlate.Endpoint{IP: "10.0.0.3", Port: 6379},
	}
	return &correlate.Trace{ID: root.TraceID, Spans: []*correlate.Span{root, child}}
}

// ExampleOpen sends a trace to an OTLP/HTTP receiver (here a test server
// that prints what it gets) with a service named by address: a server
// span belongs to its server, a client span to its client.
func ExampleOpen() {
	got := make(chan *coltracepb.ExportTraceServiceRequest, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := new(coltracepb.ExportTraceServiceRequest)
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(nil)
		got <- req
	}))
	defer srv.Close()

	exp, err := otlp.Open(&otlp.Config{
		Endpoint:     srv.URL, // http://127.0.0.1:PORT/v1/traces
		ServiceNames: map[string]string{"10.0.0.2": "gateway"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	exp.WriteTrace(exampleTrace())
	exp.Close() // flushes
	req := <-got
	var lines []string
	for _, rs := range req.ResourceSpans {
		service := ""
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == "service.name" {
				service = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				lines = append(lines, fmt.Sprintf("%s: %s %v parent=%x", service, s.Name, s.Kind, s.ParentSpanId))
			}
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	fmt.Println("sent:", exp.Stats().SpansSent)
	// Output:
	// gateway: GET /api/orders/42 SPAN_KIND_SERVER parent=
	// gateway: GET SPAN_KIND_CLIENT parent=00f067aa0ba902b7
	// sent: 2
}

// ExampleSpan converts one span to its OTLP protobuf form.
func ExampleSpan() {
	s, err := otlp.Span(exampleTrace().Spans[1])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s %v trace=%x span=%x parent=%x %dns\n", s.Name, s.Kind, s.TraceId, s.SpanId, s.ParentSpanId, s.EndTimeUnixNano-s.StartTimeUnixNano)
	// Output:
	// GET SPAN_KIND_CLIENT trace=4bf92f3577b34da6a3ce929d0e0e4736 span=b7ad6b7169203331 parent=00f067aa0ba902b7 200000ns
}
