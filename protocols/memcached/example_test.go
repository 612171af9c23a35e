package memcached_test

import (
	"fmt"
	"strings"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/memcached"
)

// ExampleParser parses a set and a get with their replies: the keys are
// shown, the values never read.
func ExampleParser() {
	p := memcached.New(nil)
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
				var out []string
				for _, a := range m.Attrs {
					if a.Key == "db.query.text" || a.Key == "db.response.status_code" || a.Key == "db.response.returned_rows" {
						out = append(out, a.Key+"="+a.Value())
					}
				}
				fmt.Println(strings.Join(out, " "))
			}
		}
	}
	feed(protocols.ToServer, "set session:9 0 60 6\r\nsecret\r\nget session:9\r\n")
	feed(protocols.ToClient, "STORED\r\nVALUE session:9 0 6\r\nsecret\r\nEND\r\n")
	// Output:
	// db.query.text=set session:9
	// db.query.text=get session:9
	// db.response.status_code=STORED
	// db.response.returned_rows=1
}
