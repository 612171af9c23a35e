package sqlcomment_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/sqlcomment"
)

// ExampleExtract reads the trace keys a sqlcommenter comment carries.
func ExampleExtract() {
	q := "SELECT * FROM orders /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',x_request_id='r-7'*/"
	for _, l := range sqlcomment.Extract(q, &protocols.Config{}, nil) {
		fmt.Println(l.Key, l.Str)
	}
	// Output:
	// traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	// x_request_id r-7
}

// ExamplePairs reads the trace keys of a comment carried outside SQL text,
// such as a MongoDB command's comment field.
func ExamplePairs() {
	for _, l := range sqlcomment.Pairs("traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'", nil, nil) {
		fmt.Println(l.Key, l.Str)
	}
	// Output:
	// traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
}
