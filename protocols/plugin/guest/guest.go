// Package guest is the plugin side of the wiretrace plugin ABI (see
// package protocols/plugin): it decodes the host's input and encodes the
// records a plugin returns, for plugins written in Go and built with
// GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. The exported
// functions themselves (wt_abi_version, wt_alloc, wt_info, wt_inspect,
// wt_sniff, wt_parse) must be declared with //go:wasmexport in the
// plugin's main package; they call into this package:
//
//	//go:wasmexport wt_alloc
//	func alloc(size uint32) uint32 { return guest.Alloc(size) }
//
//	//go:wasmexport wt_inspect
//	func inspect(n uint32) uint64 {
//		m, ok := guest.Decode(guest.Input(n))
//		if !ok {
//			return 0
//		}
//		var out guest.Output
//		... out.Link("txn_serial", v) ...
//		return out.Result()
//	}
//
// The package keeps the input buffer and the last output in package
// variables, as the ABI wants (one call at a time per instance). It builds
// for any GOOS so that its encoding can be tested natively, but its
// addresses mean something only in a 32-bit WebAssembly memory.
package guest

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"unsafe"
)

// ABIVersion is the ABI version this package speaks; wt_abi_version
// returns it.
const ABIVersion = 1

// Directions and kinds of the input header.
const (
	DirUnknown = 0
	ToServer   = 1
	ToClient   = 2

	KindUnknown  = 0
	KindRequest  = 1
	KindResponse = 2
)

// Flags of the input header.
const (
	FlagPartial = 1 // the message lost bytes
	FlagGap     = 2 // bytes were lost before these (parse)
)

const headerLen = 56

var (
	input []byte // the buffer the host writes into
	last  []byte // the last output, kept alive until the next call
)

// Alloc allocates the input buffer of size bytes, keeps it, and returns its
// address: the body of wt_alloc.
func Alloc(size uint32) uint32 {
	input = make([]byte, size)
	if size == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&input[0])))
}

// Input returns the first n bytes of the input buffer: the argument of a
// call.
func Input(n uint32) []byte {
	if int(n) > len(input) {
		return nil
	}
	return input[:n]
}

// Message is the decoded input of a call. Its byte slices alias the input
// buffer: they are valid until the call returns.
type Message struct {
	Dir, Kind, Transport, Flags byte
	Client, Server              netip.AddrPort
	FlowID                      uint64
	Protocol, Name, Payload     []byte
}

// Decode decodes an input; ok is false when b is not a well-formed one.
func Decode(b []byte) (m Message, ok bool) {
	if len(b) < headerLen {
		return m, false
	}
	m.Dir, m.Kind, m.Transport, m.Flags = b[0], b[1], b[2], b[3]
	m.Client = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[4:20])).Unmap(), binary.LittleEndian.Uint16(b[36:]))
	m.Server = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[20:36])).Unmap(), binary.LittleEndian.Uint16(b[38:]))
	m.FlowID = binary.LittleEndian.Uint64(b[40:])
	p, n, l := int(binary.LittleEndian.Uint16(b[48:])), int(binary.LittleEndian.Uint16(b[50:])), int(binary.LittleEndian.Uint32(b[52:]))
	rest := b[headerLen:]
	if l < 0 || p+n+l != len(rest) {
		return m, false
	}
	m.Protocol, m.Name, m.Payload = rest[:p], rest[p:p+n], rest[p+n:]
	return m, true
}

// Output accumulates the records a call returns. The zero value is empty
// and ready; Result hands the records to the host.
type Output struct {
	b []byte
}

// Record appends a record: a tag byte, the key and the value.
func (o *Output) Record(tag byte, key, value string) {
	o.b = append(o.b, tag, byte(len(key)), byte(len(key)>>8))
	o.b = binary.LittleEndian.AppendUint32(o.b, uint32(len(value)))
	o.b = append(o.b, key...)
	o.b = append(o.b, value...)
}

// RecordBytes is Record with the value as bytes (no conversion, no
// allocation).
func (o *Output) RecordBytes(tag byte, key string, value []byte) {
	o.b = append(o.b, tag, byte(len(key)), byte(len(key)>>8))
	o.b = binary.LittleEndian.AppendUint32(o.b, uint32(len(value)))
	o.b = append(o.b, key...)
	o.b = append(o.b, value...)
}

// Link adds a link key: spans with the same key and value are linked.
func (o *Output) Link(key, value string) { o.Record('L', key, value) }

// Attr adds a string attribute.
func (o *Output) Attr(key, value string) { o.Record('A', key, value) }

// Int adds an integer attribute.
func (o *Output) Int(key string, v int64) { o.Record('I', key, strconv.FormatInt(v, 10)) }

// Field adds a message field ('M' record): wt_parse's consumed, kind,
// name, id, status, no_response and error, and wt_info's name, protocol,
// ports and id_link.
func (o *Output) Field(key, value string) { o.Record('M', key, value) }

// Reset empties o, keeping its storage (a plugin may keep one Output in a
// package variable and Reset it at the start of each call).
func (o *Output) Reset() { o.b = o.b[:0] }

// Bytes returns the records encoded so far.
func (o *Output) Bytes() []byte { return o.b }

// Result keeps the records alive until the next call and returns their
// address and length as the ABI wants them ((address << 32) | length), or
// 0 when there are none.
func (o *Output) Result() uint64 {
	last = o.b
	if len(last) == 0 {
		return 0
	}
	return uint64(uint32(uintptr(unsafe.Pointer(&last[0]))))<<32 | uint64(len(last))
}
