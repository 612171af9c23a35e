package dns_test

import (
	"encoding/hex"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dns"
)

// ExampleNewDatagram parses a query datagram and its answer, as the driver
// does for each UDP payload: the id pairs them.
func ExampleNewDatagram() {
	query, _ := hex.DecodeString("1234" + "0100" + "0001000000000000" +
		"076578616d706c6503636f6d00" + "00010001") // example.com A IN
	answer, _ := hex.DecodeString("1234" + "8180" + "0001000100000000" +
		"076578616d706c6503636f6d00" + "00010001" +
		"c00c" + "00010001" + "0000003c" + "0004" + "5db8d822") // 93.184.216.34
	p := dns.NewDatagram(nil)
	var m protocols.Message
	for _, d := range []struct {
		dir  protocols.Direction
		data []byte
	}{{protocols.ToServer, query}, {protocols.ToClient, answer}} {
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
	// request "QUERY A example.com" id=4660 unknown
	//   dns.question.name=example.com
	//   dns.question.type=A
	//   network.transport=udp
	// response "QUERY A example.com" id=4660 ok
	//   dns.question.name=example.com
	//   dns.question.type=A
	//   dns.response.code=NOERROR
	//   dns.response.answer_count=1
	//   dns.answers=93.184.216.34
}
