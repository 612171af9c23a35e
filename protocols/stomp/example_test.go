package stomp_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/stomp"
)

// ExampleParser parses a SEND with a receipt and its RECEIPT: the passcode
// of the CONNECT frame is never read.
func ExampleParser() {
	p := stomp.New(nil)
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
				fmt.Println(m.Kind, m.Name, m.ID, m.NoResponse)
			}
		}
	}
	feed(protocols.ToServer, "CONNECT\nlogin:app\npasscode:secret\n\n\x00")
	feed(protocols.ToClient, "CONNECTED\nversion:1.2\n\n\x00\n")
	feed(protocols.ToServer, "SEND\ndestination:/queue/orders\nreceipt:77\n\norder 1\x00")
	feed(protocols.ToServer, "ACK\nid:1\n\n\x00")
	feed(protocols.ToClient, "RECEIPT\nreceipt-id:77\n\n\x00")
	// Output:
	// request CONNECT 1 false
	// response  1 false
	// request SEND /queue/orders 2 false
	// request ACK 0 true
	// response  2 false
}
