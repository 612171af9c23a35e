package http_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/http"
)

// ExampleParser feeds one request and its response to a parser, as the
// driver does with each direction's bytes.
func ExampleParser() {
	p := http.New(&protocols.Config{})
	var m protocols.Message
	for _, in := range []struct {
		dir  protocols.Direction
		data string
	}{
		{protocols.ToServer, "GET /orders/42?x=1 HTTP/1.1\r\nHost: shop\r\nX-Request-ID: r-1\r\n\r\n"},
		{protocols.ToClient, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"},
	} {
		m.Reset()
		if _, done, err := p.Parse(in.dir, []byte(in.data), &m); err != nil || !done {
			fmt.Println(done, err)
			continue
		}
		if m.Kind == protocols.Request {
			fmt.Println("request", m.Name, "x-request-id", m.Link(protocols.LinkXRequestID))
			continue
		}
		for _, a := range m.Attrs {
			if a.Key == "http.response.status_code" {
				fmt.Println("response", a.Int, "error:", m.Status == protocols.StatusError)
			}
		}
	}
	// Output:
	// request GET /orders/42 x-request-id r-1
	// response 503 error: true
}
