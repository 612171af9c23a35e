//go:build wasip1

// Command privrpc is a wiretrace plugin (see protocols/plugin) that parses
// a private length-prefixed RPC protocol, "privrpc", over TCP. A frame is
//
//	off  size  field (big-endian)
//	0    4     length of the rest of the frame, 12 to 1 MiB
//	4    2     magic "PR"
//	6    1     type: 1 request, 2 response
//	7    1     status (responses): 0 ok, otherwise an error code
//	8    4     call id; a response carries its request's
//	12   1     length of the method name M (0 in responses)
//	13   M     method name, e.g. "Accounts.Debit"
//	13+M 1     header count H, then H times: 1-byte key length, key,
//	           2-byte value length, value
//	...        body
//
// Calls on one connection may be answered in any order (by call id). The
// header "txn_serial" becomes the link key txn_serial. Build:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o privrpc.wasm ./testdata/plugins/privrpc
package main

import (
	"encoding/binary"
	"strconv"

	"github.com/wiretrace/wiretrace/protocols/plugin/guest"
)

func main() {}

var out guest.Output

const maxFrame = 1 << 20

//go:wasmexport wt_abi_version
func abiVersion() int32 { return guest.ABIVersion }

//go:wasmexport wt_alloc
func alloc(size uint32) uint32 { return guest.Alloc(size) }

//go:wasmexport wt_info
func info() uint64 {
	out.Reset()
	out.Field("name", "privrpc")
	out.Field("protocol", "privrpc")
	out.Field("ports", "7070")
	out.Field("id_link", "privrpc_call_id")
	return out.Result()
}

// header checks the fixed part of a frame; it returns the frame type.
func header(b []byte) (typ byte, ok bool) {
	if len(b) < 8 {
		return 0, false
	}
	n := binary.BigEndian.Uint32(b)
	if n < 9 || n > maxFrame || b[4] != 'P' || b[5] != 'R' || (b[6] != 1 && b[6] != 2) {
		return 0, false
	}
	return b[6], true
}

//go:wasmexport wt_sniff
func sniff(n uint32) int32 {
	m, ok := guest.Decode(guest.Input(n))
	if !ok {
		return 0
	}
	typ, ok := header(m.Payload)
	if !ok {
		return 0
	}
	return int32(typ) // 1: to the server, 2: to the client
}

//go:wasmexport wt_parse
func parse(n uint32) uint64 {
	out.Reset()
	m, ok := guest.Decode(guest.Input(n))
	if !ok {
		out.Field("error", "bad input")
		return out.Result()
	}
	b := m.Payload
	if len(b) < 8 {
		out.Field("consumed", "0")
		return out.Result()
	}
	typ, ok := header(b)
	if !ok {
		out.Field("error", "not a privrpc frame")
		return out.Result()
	}
	size := 4 + int(binary.BigEndian.Uint32(b))
	if len(b) < size {
		out.Field("consumed", "0") // need more
		return out.Result()
	}
	f := b[8:size]
	if len(f) < 5 {
		out.Field("error", "short frame")
		return out.Result()
	}
	id := binary.BigEndian.Uint32(f)
	ml := int(f[4])
	f = f[5:]
	if len(f) < ml+1 {
		out.Field("error", "method name past the frame")
		return out.Result()
	}
	method := f[:ml]
	f = f[ml:]
	out.Field("consumed", strconv.Itoa(size))
	out.Field("id", strconv.FormatUint(uint64(id), 10))
	if typ == 1 {
		out.Field("kind", "request")
		out.Field("name", string(method))
		out.Attr("rpc.system", "privrpc")
		out.Attr("rpc.method", string(method))
		out.Int("server.port", int64(m.Server.Port())) // the host passes the flow
	} else {
		out.Field("kind", "response")
		if b[7] == 0 {
			out.Field("status", "ok")
		} else {
			out.Field("status", "error")
			out.Int("rpc.privrpc.status_code", int64(b[7]))
		}
	}
	hc := int(f[0])
	f = f[1:]
	for i := 0; i < hc; i++ {
		if len(f) < 1 {
			break
		}
		kl := int(f[0])
		if len(f) < 1+kl+2 {
			break
		}
		k := f[1 : 1+kl]
		vl := int(binary.BigEndian.Uint16(f[1+kl:]))
		if len(f) < 3+kl+vl {
			break
		}
		v := f[3+kl : 3+kl+vl]
		f = f[3+kl+vl:]
		if string(k) == "txn_serial" {
			out.Link("txn_serial", string(v))
		}
	}
	return out.Result()
}
