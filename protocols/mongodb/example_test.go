package mongodb_test

import (
	"encoding/binary"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mongodb"
)

// ExampleParser parses an OP_MSG find whose comment carries a W3C
// traceparent, and its reply; the filter is never read.
func ExampleParser() {
	cmd := bsoncore.NewDocumentBuilder().
		AppendString("find", "orders").
		AppendDocument("filter", bsoncore.NewDocumentBuilder().AppendString("email", "a@example.com").Build()).
		AppendString("comment", "traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'").
		AppendString("$db", "shop").Build()
	reply := bsoncore.NewDocumentBuilder().AppendDouble("ok", 0).AppendInt32("code", 13).AppendString("codeName", "Unauthorized").Build()

	// An OP_MSG: header (length, requestID, responseTo, opcode 2013),
	// flag bits, then a kind-0 section holding the document.
	opMsg := func(reqID, respTo uint32, d []byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, uint32(16+4+1+len(d)))
		b = binary.LittleEndian.AppendUint32(b, reqID)
		b = binary.LittleEndian.AppendUint32(b, respTo)
		b = binary.LittleEndian.AppendUint32(b, 2013)
		return append(append(b, 0, 0, 0, 0, 0), d...)
	}

	p := mongodb.New(nil)
	var m protocols.Message
	if _, done, err := p.Parse(protocols.ToServer, opMsg(42, 0, cmd), &m); done && err == nil {
		fmt.Println(m.Name, m.ID, m.Link(protocols.LinkTraceparent))
	}
	m.Reset()
	if _, done, err := p.Parse(protocols.ToClient, opMsg(43, 42, reply), &m); done && err == nil {
		fmt.Println("reply to", m.ID, "error:", m.Status == protocols.StatusError)
	}
	// Output:
	// find orders 42 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01
	// reply to 42 error: true
}
