package dubbo_test

import (
	"encoding/binary"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dubbo"
)

// ExampleParser parses a Dubbo request whose attachments carry a W3C
// traceparent, and its response; the argument is skipped, never kept.
func ExampleParser() {
	str := func(b []byte, s string) []byte { return append(append(b, byte(len(s))), s...) }
	var body []byte
	for _, s := range []string{"2.0.2", "shop.OrderService", "1.0.0", "get", "Ljava/lang/String;", "secret-arg"} {
		body = str(body, s)
	}
	body = append(body, 'H')
	body = str(body, "traceparent")
	body = append(body, 0x30, 55) // a string of 55 characters
	body = append(body, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"...)
	body = append(body, 'Z')
	frame := func(flag, status byte, body []byte) []byte {
		b := append([]byte{0xda, 0xbb, flag, status}, 0, 0, 0, 0, 0, 0, 0, 42)
		return append(binary.BigEndian.AppendUint32(b, uint32(len(body))), body...)
	}

	p := dubbo.New(nil)
	var m protocols.Message
	if _, done, err := p.Parse(protocols.ToServer, frame(0xc2, 0, body), &m); done && err == nil {
		fmt.Println(m.Name, m.ID, m.Link(protocols.LinkTraceparent))
	}
	m.Reset()
	if _, done, err := p.Parse(protocols.ToClient, frame(0x02, 20, []byte{0x92}), &m); done && err == nil {
		fmt.Println("response", m.ID, m.Status == protocols.StatusOK)
	}
	// Output:
	// shop.OrderService/get 42 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	// response 42 true
}
