package protocols_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/http"
	"github.com/wiretrace/wiretrace/protocols/redis"
)

// A registry lists protocols in sniffing priority; Sniff finds the one a
// connection's first bytes belong to.
func ExampleRegistry() {
	reg := protocols.NewRegistry(http.Protocol, redis.Protocol)
	p, dir := reg.Sniff([]byte("GET / HTTP/1.1\r\n"), 40000, 8080)
	fmt.Println(p.Name, dir)
	fmt.Println(reg.Lookup("redis") != nil, reg.Lookup("kafka") != nil)
	// Output:
	// http to_server
	// true false
}
