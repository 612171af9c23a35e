package amqp_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/amqp"
)

// ExampleParser parses a basic.publish whose content header carries a
// message id and a traceparent header: one NoResponse request, with the
// trace header and the producer's hand-off link.
func ExampleParser() {
	p := amqp.New(nil)
	data := []byte(protoHeader + publish(1, "", "orders") +
		header(1, 5, props{msg: "order-1", headers: table(field{"traceparent", 'S', lstr(traceparent)})}) +
		body(1, "hello"))
	var m protocols.Message
	for len(data) > 0 {
		m.Reset()
		n, done, err := p.Parse(protocols.ToServer, data, &m)
		if err != nil || n == 0 && !done {
			return
		}
		data = data[n:]
		if done {
			fmt.Println(m.Name, "no response:", m.NoResponse, "body:", m.BodySize)
			for _, l := range m.Links {
				fmt.Println(l.Key, l.Str)
			}
		}
	}
	// Output:
	// basic.publish orders no response: true body: 5
	// traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
	// handoff_send amqp:order-1
}
