package mysql_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mysql"
)

// packet frames a MySQL packet: 3-byte little-endian length, sequence id.
func packet(seq byte, payload string) []byte {
	n := len(payload)
	return append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...)
}

// ExampleParser parses a COM_QUERY and the error the server answers with.
func ExampleParser() {
	p := mysql.New(nil)
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
	feed(protocols.ToServer, packet(0, "\x03SELECT name FROM shop.items WHERE id = 7"))
	feed(protocols.ToClient, packet(1, "\xff\x7a\x04#42S02Table 'shop.items' doesn't exist"))
	// Output:
	// request "SELECT" unknown
	//   db.system.name=mysql
	//   db.operation.name=SELECT
	//   db.query.text=SELECT name FROM shop.items WHERE id = 7
	// response "" error
	//   db.response.status_code=1146
	//   error.type=1146
}
