package guest_test

import (
	"bytes"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols/plugin/guest"
)

// ExampleOutput is the work of an inspect plugin, natively: find a
// transaction serial in a message's payload and return it as a link key
// and an attribute. In a plugin, the payload comes from
// guest.Decode(guest.Input(n)) and the function returns out.Result().
func ExampleOutput() {
	payload := []byte(`{"amount":120,"txn_serial":"TX-2026-0042"}`)
	var out guest.Output
	const field = `"txn_serial":"`
	if i := bytes.Index(payload, []byte(field)); i >= 0 {
		rest := payload[i+len(field):]
		if j := bytes.IndexByte(rest, '"'); j > 0 {
			out.Link("txn_serial", string(rest[:j]))
			out.Attr("bank.txn.serial", string(rest[:j]))
		}
	}
	fmt.Printf("%d bytes of records for the host\n", len(out.Bytes()))
	// Output:
	// 63 bytes of records for the host
}
