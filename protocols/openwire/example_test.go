package openwire_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/openwire"
)

// ExampleParser parses the WireFormatInfo exchange and a text message sent
// with the tight encoding: the message's JMSMessageID becomes the
// producer's hand-off link.
func ExampleParser() {
	p := openwire.New(nil)
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
			switch {
			case done && m.Kind == protocols.Request:
				fmt.Println("request", m.Name, m.ID, m.Link(protocols.LinkHandoffSend))
			case done:
				fmt.Println("response", m.ID, m.Status == protocols.StatusOK)
			}
		}
	}
	feed(protocols.ToClient, wfi(true, true, false))
	feed(protocols.ToServer, wfi(true, true, true))
	feed(protocols.ToServer, sendWith(true, 5, message{seq: 1}))
	feed(protocols.ToClient, response(true, 5))
	// Output:
	// request ActiveMQTextMessage queue://orders 5 activemq:ID:h-1-2-1:1:1:1:1
	// response 5 true
}
