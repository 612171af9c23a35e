package jsonl_test

import (
	"os"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/jsonl"
)

// ExampleNew writes a one-span trace as a JSON line.
func ExampleNew() {
	w := jsonl.New(os.Stdout)
	w.WriteTrace(&correlate.Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736", Spans: []*correlate.Span{{
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Protocol: "http",
		Name: "GET /", Side: "network", StartNS: 1, EndNS: 2, Capture: "demo.pcap", Status: "ok",
		Client:     correlate.Endpoint{IP: "10.0.0.1", Port: 40000},
		Server:     correlate.Endpoint{IP: "10.0.0.2", Port: 80},
		Attributes: map[string]any{"http.response.status_code": int64(200)},
		Links:      map[string]string{},
	}}})
	w.Close()
	// Output:
	// {"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","parent_span_id":"","protocol":"http","name":"GET /","side":"network","start_ns":1,"end_ns":2,"client":{"ip":"10.0.0.1","port":40000},"server":{"ip":"10.0.0.2","port":80},"capture":"demo.pcap","status":"ok","attributes":{"http.response.status_code":200},"links":{},"link_reason":""}
}
