package kafka_test

import (
	"encoding/binary"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/kafka"
)

// sized prefixes b with its 4-byte big-endian size, as Kafka frames every
// message.
func sized(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// ExampleParser parses a Metadata v1 request and a response that pairs
// with it by correlation id.
func ExampleParser() {
	// Request header v1: api_key 3 (Metadata), api_version 1,
	// correlation_id 42, client_id "shop"; body: topics ["orders"].
	req := []byte{0, 3, 0, 1, 0, 0, 0, 42, 0, 4, 's', 'h', 'o', 'p',
		0, 0, 0, 1, 0, 6, 'o', 'r', 'd', 'e', 'r', 's'}
	// Response header v0: correlation_id 42; body: no brokers,
	// controller_id -1, no topics.
	resp := []byte{0, 0, 0, 42, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}

	p := kafka.New(nil)
	var m protocols.Message
	for _, d := range []struct {
		dir  protocols.Direction
		data []byte
	}{{protocols.ToServer, sized(req)}, {protocols.ToClient, sized(resp)}} {
		m.Reset()
		if _, done, err := p.Parse(d.dir, d.data, &m); err != nil || !done {
			fmt.Println("not parsed:", err)
			continue
		}
		fmt.Printf("%v %q id=%d %v\n", m.Kind, m.Name, m.ID, m.Status)
		for _, a := range m.Attrs {
			fmt.Printf("  %s=%s\n", a.Key, a.Value())
		}
	}
	// Output:
	// request "Metadata" id=42 unknown
	//   messaging.system=kafka
	//   messaging.operation.name=Metadata
	//   messaging.client.id=shop
	//   kafka.api_version=1
	//   kafka.correlation_id=42
	// response "Metadata" id=42 ok
}
