package postgresql_test

import (
	"encoding/binary"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/postgresql"
)

// frame frames a PostgreSQL message: type byte, 4-byte big-endian length
// (counting itself), body.
func frame(typ byte, body string) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(4+len(body)))
	return append(b, body...)
}

// ExampleParser parses a simple query and the server's answer, joining
// the stream after the startup exchange as a capture often does.
func ExampleParser() {
	p := postgresql.New(nil)
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
				fmt.Printf("%v %q %v\n", m.Kind, m.Name, m.Status)
				for _, a := range m.Attrs {
					fmt.Printf("  %s=%s\n", a.Key, a.Value())
				}
			}
		}
	}
	feed(protocols.ToServer, frame('Q', "UPDATE stock SET n = n - 1 WHERE sku = 'w-7'\x00"))
	var reply []byte
	reply = append(reply, frame('C', "UPDATE 1\x00")...)
	reply = append(reply, frame('Z', "I")...)
	feed(protocols.ToClient, reply)
	// Output:
	// request "UPDATE" unknown
	//   db.system.name=postgresql
	//   db.operation.name=UPDATE
	//   db.query.text=UPDATE stock SET n = n - 1 WHERE sku = 'w-7'
	// response "" ok
}
