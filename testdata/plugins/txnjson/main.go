//go:build wasip1

// Command txnjson is a wiretrace plugin (see protocols/plugin): it reads
// the "txn_serial" field of the JSON body of HTTP/1 requests and returns it
// as the link key txn_serial (span link key_txn_serial), so that two
// services that carry a bank's transaction serial in their request bodies,
// and nothing else, are linked into one trace. Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o txnjson.wasm ./testdata/plugins/txnjson
package main

import (
	"bytes"

	"github.com/wiretrace/wiretrace/protocols/plugin/guest"
)

func main() {}

var out guest.Output

//go:wasmexport wt_abi_version
func abiVersion() int32 { return guest.ABIVersion }

//go:wasmexport wt_alloc
func alloc(size uint32) uint32 { return guest.Alloc(size) }

//go:wasmexport wt_info
func info() uint64 {
	out.Reset()
	out.Field("name", "txnjson")
	return out.Result()
}

//go:wasmexport wt_inspect
func inspect(n uint32) uint64 {
	out.Reset()
	m, ok := guest.Decode(guest.Input(n))
	if !ok || string(m.Protocol) != "http" || m.Kind != guest.KindRequest {
		return 0
	}
	i := bytes.Index(m.Payload, []byte("\r\n\r\n"))
	if i < 0 {
		return 0
	}
	if v := jsonString(m.Payload[i+4:], "txn_serial"); v != nil {
		out.RecordBytes('L', "txn_serial", v)
		out.RecordBytes('A', "bank.txn_serial", v)
	}
	return out.Result()
}

// jsonString returns the value of the first string member named key in
// the JSON text b (at any depth), or nil. It does not unescape: a serial
// is plain ASCII.
func jsonString(b []byte, key string) []byte {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '"')
		if i < 0 {
			return nil
		}
		b = b[i+1:]
		j := bytes.IndexByte(b, '"')
		if j < 0 {
			return nil
		}
		name := b[:j]
		b = b[j+1:]
		rest := bytes.TrimLeft(b, " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			continue // a string value, not a member name
		}
		rest = bytes.TrimLeft(rest[1:], " \t\r\n")
		if string(name) != key {
			b = rest
			continue
		}
		if len(rest) == 0 || rest[0] != '"' {
			return nil
		}
		rest = rest[1:]
		k := bytes.IndexByte(rest, '"')
		if k < 0 {
			return nil
		}
		return rest[:k]
	}
	return nil
}
