package redis_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/redis"
)

// ExampleParser parses a pipelined pair of commands and their replies; the
// argument values are never kept.
func ExampleParser() {
	p := redis.New(nil)
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
				if m.Kind == protocols.Request {
					fmt.Println("command", m.Name)
				} else {
					fmt.Println("reply, error:", m.Status == protocols.StatusError)
				}
			}
		}
	}
	feed(protocols.ToServer, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nsecret\r\n*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n")
	feed(protocols.ToClient, "+OK\r\n-ERR value is not an integer or out of range\r\n")
	// Output:
	// command SET
	// command INCR
	// reply, error: false
	// reply, error: true
}
