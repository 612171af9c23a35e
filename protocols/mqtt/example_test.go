package mqtt_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mqtt"
)

// ExampleParser parses a QoS 1 publish and its acknowledgement, which pair
// by packet id.
func ExampleParser() {
	p := mqtt.New(nil)
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
			if done && m.Kind == protocols.Request {
				fmt.Println(m.Name, "packet id", m.ID, m.Links[0].Str)
			} else if done {
				fmt.Println("acknowledged packet id", m.ID)
			}
		}
	}
	// PUBLISH QoS 1, topic "a/b", packet id 7, payload "hello".
	feed(protocols.ToServer, "\x32\x0c\x00\x03a/b\x00\x07hello")
	// PUBACK packet id 7.
	feed(protocols.ToClient, "\x40\x02\x00\x07")
	// Output:
	// PUBLISH a/b packet id 7 mqtt:a/b:a430d84680aabd0b
	// acknowledged packet id 7
}
