package summary_test

import (
	"os"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/summary"
)

// ExampleNew aggregates spans and prints the table on Close.
func ExampleNew() {
	w := summary.New(os.Stdout)
	w.WriteTrace(&correlate.Trace{ID: "t1", Spans: []*correlate.Span{
		{Protocol: "http", Name: "GET /a", Status: "ok", StartNS: 0, EndNS: 2_000_000},
		{Protocol: "http", Name: "GET /a", Status: "error", StartNS: 0, EndNS: 5_000_000},
		{Protocol: "redis", Name: "GET", Status: "ok", StartNS: 0, EndNS: 100_000},
	}})
	w.Close()
	// Output:
	// protocol      spans  errors timeouts  partial       p50       p90       p99       max
	// http              2       1        0        0    2.00ms    5.00ms    5.00ms    5.00ms
	// redis             1       0        0        0     100µs     100µs     100µs     100µs
	// traces: 1
	//
	// top http operations:
	//          2  GET /a
	//
	// top redis operations:
	//          1  GET
}
