package html_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/html"
)

// ExampleNew writes a report of one trace into a buffer: one
// self-contained page with the traces embedded as JSON.
func ExampleNew() {
	var page bytes.Buffer
	w := html.New(&page, &html.Config{
		Title:        "checkout incident",
		ServiceNames: map[string]string{"10.0.0.2": "gateway", "10.0.0.3:5432": "orders-db"},
	})
	root := &correlate.Span{
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
		Protocol: "http", Name: "POST /api/checkout", Side: "server", Status: "error",
		StartNS: 1_700_000_000_000_000_000, EndNS: 1_700_000_000_040_000_000,
		Client: correlate.Endpoint{IP: "10.0.0.1", Port: 40000}, Server: correlate.Endpoint{IP: "10.0.0.2", Port: 80},
	}
	query := &correlate.Span{
		TraceID: root.TraceID, SpanID: "b7ad6b7169203331", ParentSpanID: root.SpanID,
		Protocol: "postgresql", Name: "INSERT", Side: "client", Status: "error", LinkReason: "timing",
		StartNS: root.StartNS + 1e6, EndNS: root.StartNS + 38e6,
		Client: correlate.Endpoint{IP: "10.0.0.2", Port: 50000}, Server: correlate.Endpoint{IP: "10.0.0.3", Port: 5432},
	}
	w.WriteTrace(&correlate.Trace{ID: root.TraceID, Spans: []*correlate.Span{root, query}})
	if err := w.Close(); err != nil { // the page is written here
		fmt.Println(err)
		return
	}
	s := page.String()
	fmt.Println("html page:", strings.HasPrefix(s, "<!DOCTYPE html>"))
	fmt.Println("titled:", strings.Contains(s, "<title>checkout incident</title>"))
	fmt.Println("has the trace:", strings.Contains(s, root.TraceID))
	fmt.Println("names the database:", strings.Contains(s, "orders-db"))
	fmt.Println("fetches nothing:", !strings.Contains(s, "src=\"http"))
	// Output:
	// html page: true
	// titled: true
	// has the trace: true
	// names the database: true
	// fetches nothing: true
}

// ExampleNamer names the ends of a span as the report, the OTLP exporter
// and the watch view do.
func ExampleNamer() {
	n := html.NewNamer(map[string]string{"10.0.0.3:5432": "orders-db", "10.0.0.2": "gateway"})
	for _, s := range []*correlate.Span{
		{Client: correlate.Endpoint{IP: "10.0.0.2", Port: 50000}, Server: correlate.Endpoint{IP: "10.0.0.3", Port: 5432}},
		{Client: correlate.Endpoint{IP: "10.0.0.1", Port: 40000}, Server: correlate.Endpoint{IP: "10.0.0.2", Port: 80}},
		{Client: correlate.Endpoint{IP: "10.0.0.3", Port: 41000}, Server: correlate.Endpoint{IP: "10.0.0.4", Port: 6379}},
	} {
		fmt.Println(n.Client(s), "->", n.Server(s))
	}
	// Output:
	// gateway -> orders-db
	// 10.0.0.1 -> gateway
	// orders-db -> 10.0.0.4
}
