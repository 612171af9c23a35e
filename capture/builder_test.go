package capture_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"testing"
)

// This file builds small capture files byte by byte, so tests can write the
// cases the gopacket writers cannot: big-endian files, pcapng timestamp
// resolutions other than nanoseconds, several sections, broken records.

// byteOrder is what binary.LittleEndian and binary.BigEndian provide.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// rec is one pcap record.
type rec struct {
	sec, frac uint32
	data      []byte
	orig      uint32 // 0 means len(data)
}

// pcapFile returns a pcap file in byte order bo, with nanosecond timestamps
// if nano, holding recs.
func pcapFile(bo byteOrder, nano bool, link uint32, recs ...rec) []byte {
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	b := bo.AppendUint32(nil, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)     // thiszone
	b = bo.AppendUint32(b, 0)     // sigfigs
	b = bo.AppendUint32(b, 65535) // snaplen
	b = bo.AppendUint32(b, link)
	for _, r := range recs {
		orig := r.orig
		if orig == 0 {
			orig = uint32(len(r.data))
		}
		b = bo.AppendUint32(b, r.sec)
		b = bo.AppendUint32(b, r.frac)
		b = bo.AppendUint32(b, uint32(len(r.data)))
		b = bo.AppendUint32(b, orig)
		b = append(b, r.data...)
	}
	return b
}

// ngFile builds a pcapng file block by block.
type ngFile struct {
	bo byteOrder
	b  []byte
}

// opt is one pcapng option.
type opt struct {
	code uint16
	val  []byte
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func (n *ngFile) options(b []byte, opts []opt) []byte {
	if len(opts) == 0 {
		return b
	}
	for _, o := range opts {
		b = n.bo.AppendUint16(b, o.code)
		b = n.bo.AppendUint16(b, uint16(len(o.val)))
		b = pad4(append(b, o.val...))
	}
	return append(b, 0, 0, 0, 0) // opt_endofopt
}

// block appends a block of type typ with the given body (padded to 4).
func (n *ngFile) block(typ uint32, body []byte) *ngFile {
	body = pad4(body)
	length := uint32(12 + len(body))
	n.b = n.bo.AppendUint32(n.b, typ)
	n.b = n.bo.AppendUint32(n.b, length)
	n.b = append(n.b, body...)
	n.b = n.bo.AppendUint32(n.b, length)
	return n
}

// shb starts a section in byte order bo.
func (n *ngFile) shb(bo byteOrder) *ngFile {
	n.bo = bo
	body := bo.AppendUint32(nil, 0x1a2b3c4d)
	body = bo.AppendUint16(body, 1)
	body = bo.AppendUint16(body, 0)
	body = bo.AppendUint64(body, ^uint64(0)) // section length unknown
	body = n.options(body, []opt{{code: 4, val: []byte("wiretrace test")}})
	return n.block(0x0a0d0d0a, body)
}

// idb declares an interface; tsresol 0 leaves the option out (µs).
func (n *ngFile) idb(link uint16, snaplen uint32, tsresol byte, tsoffset int64) *ngFile {
	body := n.bo.AppendUint16(nil, link)
	body = n.bo.AppendUint16(body, 0)
	body = n.bo.AppendUint32(body, snaplen)
	var opts []opt
	opts = append(opts, opt{code: 2, val: []byte("eth0")})
	if tsresol != 0 {
		opts = append(opts, opt{code: 9, val: []byte{tsresol}})
	}
	if tsoffset != 0 {
		opts = append(opts, opt{code: 14, val: n.bo.AppendUint64(nil, uint64(tsoffset))})
	}
	return n.block(1, n.options(body, opts))
}

// epb appends an Enhanced Packet Block; flags 0 leaves epb_flags out.
func (n *ngFile) epb(ifc uint32, ts uint64, data []byte, orig uint32, flags uint32) *ngFile {
	if orig == 0 {
		orig = uint32(len(data))
	}
	body := n.bo.AppendUint32(nil, ifc)
	body = n.bo.AppendUint32(body, uint32(ts>>32))
	body = n.bo.AppendUint32(body, uint32(ts))
	body = n.bo.AppendUint32(body, uint32(len(data)))
	body = n.bo.AppendUint32(body, orig)
	body = pad4(append(body, data...))
	var opts []opt
	opts = append(opts, opt{code: 1, val: []byte("a comment")})
	if flags != 0 {
		opts = append(opts, opt{code: 2, val: n.bo.AppendUint32(nil, flags)})
	}
	return n.block(6, n.options(body, opts))
}

// spb appends a Simple Packet Block.
func (n *ngFile) spb(data []byte, orig uint32) *ngFile {
	body := n.bo.AppendUint32(nil, orig)
	return n.block(3, append(body, data...))
}

// isb appends an Interface Statistics Block, which readers skip.
func (n *ngFile) isb(ifc uint32) *ngFile {
	body := n.bo.AppendUint32(nil, ifc)
	body = n.bo.AppendUint64(body, 0)
	return n.block(5, body)
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// frame returns n recognisable bytes.
func frame(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}
