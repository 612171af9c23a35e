package correlate_test

import (
	"fmt"
	"net/netip"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
)

// printSink is a custom correlate.Sink: it prints each trace's spans.
type printSink struct{}

func (printSink) WriteTrace(t *correlate.Trace) error {
	for _, s := range t.Spans {
		parent := "root"
		if s.Parent != nil {
			parent = "child of " + s.Parent.Name + " by " + s.LinkReason
		}
		fmt.Println(s.Name, s.Status, parent)
	}
	return nil
}

func (printSink) Close() error { return nil }

// ExampleNewBuilder feeds messages as a protocol driver would: an inbound
// request at a gateway and its outbound call carrying the same
// X-Request-ID become parent and child.
func ExampleNewBuilder() {
	b := correlate.NewBuilder(nil, printSink{})
	in := protocols.Flow{ID: 1, Protocol: "http", Capture: "gw",
		Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:80")}
	out := protocols.Flow{ID: 2, Protocol: "http", Capture: "gw",
		Client: netip.MustParseAddrPort("10.0.0.2:41000"), Server: netip.MustParseAddrPort("10.0.0.3:8080")}
	rid := []protocols.Attr{protocols.String(protocols.LinkXRequestID, "req-42")}
	b.Message(&in, &protocols.Message{Kind: protocols.Request, Name: "GET /buy", Start: 1, End: 1, Links: rid})
	b.Message(&out, &protocols.Message{Kind: protocols.Request, Name: "GET /stock", Start: 2, End: 2, Links: rid})
	b.Message(&out, &protocols.Message{Kind: protocols.Response, Start: 3, End: 3, Status: protocols.StatusOK})
	b.Message(&in, &protocols.Message{Kind: protocols.Response, Start: 4, End: 4, Status: protocols.StatusOK})
	b.Flush()
	// Output:
	// GET /buy ok root
	// GET /stock ok child of GET /buy by x_request_id
}
