package tree_test

import (
	"os"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/tree"
)

// ExampleNew prints a two-span trace as a tree.
func ExampleNew() {
	root := &correlate.Span{SpanID: "a", Protocol: "http", Name: "GET /buy", Side: "network", StartNS: 0, EndNS: 2_000_000,
		Client: correlate.Endpoint{IP: "10.0.0.1", Port: 40000}, Server: correlate.Endpoint{IP: "10.0.0.2", Port: 80},
		Capture: "gw.pcap", Status: "ok", Attributes: map[string]any{}, Links: map[string]string{}}
	child := &correlate.Span{SpanID: "b", Protocol: "mysql", Name: "SELECT", Side: "network", StartNS: 500_000, EndNS: 1_200_000,
		Client: correlate.Endpoint{IP: "10.0.0.2", Port: 41000}, Server: correlate.Endpoint{IP: "10.0.0.3", Port: 3306},
		Capture: "gw.pcap", Status: "ok", Attributes: map[string]any{}, Links: map[string]string{},
		Parent: root, LinkReason: "sql_comment"}
	w := tree.New(os.Stdout)
	w.WriteTrace(&correlate.Trace{ID: "4bf92f3577b34da6a3ce929d0e0e4736", Spans: []*correlate.Span{root, child}})
	w.Close()
	// Output:
	// trace 4bf92f3577b34da6a3ce929d0e0e4736  2 spans  2.00ms  1970-01-01T00:00:00.000000Z
	// └─ http GET /buy  10.0.0.1:40000 → 10.0.0.2:80  2.00ms  ok  [network gw.pcap]
	//    └─ mysql SELECT  10.0.0.2:41000 → 10.0.0.3:3306  700µs  ok  [network gw.pcap]  ← sql_comment
}
