package http2_test

import (
	"bytes"
	"fmt"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/wiretrace/wiretrace/protocols"
	wh2 "github.com/wiretrace/wiretrace/protocols/http2"
)

// headers encodes one HEADERS frame (END_HEADERS, END_STREAM) on stream 1.
func headers(fields ...string) []byte {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for i := 0; i+1 < len(fields); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	var out bytes.Buffer
	http2.NewFramer(&out, nil).WriteHeaders(http2.HeadersFrameParam{
		StreamID: 1, BlockFragment: block.Bytes(), EndHeaders: true, EndStream: true,
	})
	return out.Bytes()
}

// ExampleParser parses an h2c request and its response; the stream id
// pairs them, the traceparent header becomes a link key, and a 4xx
// status is the server's success (only 5xx are errors).
func ExampleParser() {
	req := append([]byte(http2.ClientPreface), headers(
		":method", "GET", ":scheme", "http", ":authority", "shop:8080", ":path", "/api/orders/42",
		"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")...)
	resp := headers(":status", "404")

	p := wh2.New(nil)
	var m protocols.Message
	feed := func(dir protocols.Direction, b []byte) {
		for len(b) > 0 {
			m.Reset()
			n, done, err := p.Parse(dir, b, &m)
			if err != nil || n == 0 && !done {
				return
			}
			b = b[n:]
			if done {
				fmt.Printf("%v %q stream=%d %v\n", m.Kind, m.Name, m.ID, m.Status)
				for _, a := range m.Attrs {
					fmt.Printf("  %s=%s\n", a.Key, a.Value())
				}
				for _, a := range m.Links {
					fmt.Printf("  link %s=%s\n", a.Key, a.Value())
				}
			}
		}
	}
	feed(protocols.ToServer, req)
	feed(protocols.ToClient, resp)
	// Output:
	// request "GET /api/orders/42" stream=1 unknown
	//   http.request.method=GET
	//   url.path=/api/orders/42
	//   url.scheme=http
	//   server.address=shop
	//   server.port=8080
	//   network.protocol.version=2
	//   http.request.body.size=0
	//   link traceparent=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	// response "" stream=1 ok
	//   http.response.status_code=404
	//   network.protocol.version=2
	//   http.response.body.size=0
}
