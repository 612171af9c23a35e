package nats_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/nats"
)

// ExampleParser parses a publish and its delivery; both carry the same
// hand-off link, made from the subject and a digest of the payload.
func ExampleParser() {
	p := nats.New(nil)
	var m protocols.Message
	feed := func(dir protocols.Direction, data string) {
		b := []byte(data)
		for len(b) > 0 {
			m.Reset()
			n, done, err := p.Parse(dir, b, &m)
			if err != nil || n == 0 && !done {
				return
			}
			b = b[n:]
			if done {
				fmt.Println(m.Name, m.Links[0].Key, m.Links[0].Str)
			}
		}
	}
	feed(protocols.ToServer, "PUB orders 5\r\nhello\r\n")
	feed(protocols.ToClient, "MSG orders 1 5\r\nhello\r\n")
	// Output:
	// PUB orders handoff_send nats:orders:a430d84680aabd0b
	// MSG orders handoff_recv nats:orders:a430d84680aabd0b
}
