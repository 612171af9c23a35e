//go:build wasip1

// Command hostile is a wiretrace test plugin that misbehaves on demand:
// it inspects every message and, when the message's bytes contain
// HOSTILE-LOOP, loops forever; HOSTILE-TRAP, dereferences nil (a trap);
// HOSTILE-ALLOC, allocates without bound (1 GiB at a time); HOSTILE-EXIT,
// exits (proc_exit 3); HOSTILE-BADOUT, returns output outside its memory.
// Other messages get the attribute hostile.seen = 1. The host must stop,
// count and survive each.
package main

import (
	"bytes"
	"os"

	"github.com/wiretrace/wiretrace/protocols/plugin/guest"
)

func main() {}

var (
	out  guest.Output
	sink [][]byte
	spin uint64
	nilp *int
)

//go:wasmexport wt_abi_version
func abiVersion() int32 { return guest.ABIVersion }

//go:wasmexport wt_alloc
func alloc(size uint32) uint32 { return guest.Alloc(size) }

//go:wasmexport wt_info
func info() uint64 {
	out.Reset()
	out.Field("name", "hostile")
	return out.Result()
}

//go:wasmexport wt_inspect
func inspect(n uint32) uint64 {
	out.Reset()
	m, ok := guest.Decode(guest.Input(n))
	if !ok {
		return 0
	}
	switch {
	case bytes.Contains(m.Payload, []byte("HOSTILE-LOOP")):
		for {
			spin++
		}
	case bytes.Contains(m.Payload, []byte("HOSTILE-TRAP")):
		*nilp = 1
	case bytes.Contains(m.Payload, []byte("HOSTILE-ALLOC")):
		for {
			sink = append(sink, make([]byte, 1<<30))
		}
	case bytes.Contains(m.Payload, []byte("HOSTILE-EXIT")):
		os.Exit(3)
	case bytes.Contains(m.Payload, []byte("HOSTILE-BADOUT")):
		return 0xfffffff0<<32 | 100
	}
	out.Attr("hostile.seen", "1")
	return out.Result()
}
