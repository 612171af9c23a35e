package capture

import (
	"encoding/binary"
	"math/bits"
)

// The pcapng format (draft-ietf-opsawg-pcapng): a sequence of blocks
// (type, total length, body, total length again), grouped in sections. Each
// section starts with a Section Header Block, which sets the byte order, and
// declares its interfaces with Interface Description Blocks; packets name
// their interface by its index in the section.

// Block types.
const (
	ngBlockIDB = 0x00000001 // Interface Description Block
	ngBlockPB  = 0x00000002 // Packet Block (obsolete)
	ngBlockSPB = 0x00000003 // Simple Packet Block
	ngBlockEPB = 0x00000006 // Enhanced Packet Block
	ngBlockSHB = 0x0a0d0d0a // Section Header Block
)

// Option codes.
const (
	ngOptEnd      = 0
	ngOptTsResol  = 9  // if_tsresol
	ngOptTsOffset = 14 // if_tsoffset
	ngOptFlags    = 2  // epb_flags, pack_flags
)

const ngByteOrderMagic = 0x1a2b3c4d

// ngInterface is what packets need from their Interface Description Block.
type ngInterface struct {
	link     LinkType
	snaplen  uint32
	perSec   uint64 // timestamp units per second (if_tsresol)
	offsetNs int64  // if_tsoffset in nanoseconds
}

// ns converts a timestamp in the interface's units to Unix nanoseconds.
func (i *ngInterface) ns(ts uint64) int64 {
	if i.perSec == 1e6 {
		return int64(ts)*1000 + i.offsetNs
	}
	if i.perSec == 1e9 {
		return int64(ts) + i.offsetNs
	}
	sec, rem := ts/i.perSec, ts%i.perSec
	hi, lo := bits.Mul64(rem, 1e9)
	frac, _ := bits.Div64(hi, lo, i.perSec) // hi < perSec as rem < perSec
	return int64(sec)*1e9 + int64(frac) + i.offsetNs
}

// readFirstSection reads the Section Header Block that starts the file;
// readPcapng reads the interfaces that follow.
func (f *File) readFirstSection() error {
	if err := f.read(f.hdr[:12], 0, false, "section header"); err != nil {
		return err
	}
	return f.readSection(0)
}

// readSection reads the rest of a Section Header Block whose type, length
// and byte-order magic are in f.hdr[:12].
func (f *File) readSection(start int64) error {
	h := f.hdr[:12]
	switch {
	case binary.LittleEndian.Uint32(h[8:12]) == ngByteOrderMagic:
		f.bigEndian = false
	case binary.BigEndian.Uint32(h[8:12]) == ngByteOrderMagic:
		f.bigEndian = true
	default:
		return f.errorf(f.next(), start, ErrFormat, "pcapng section header: bad byte-order magic %#08x", binary.BigEndian.Uint32(h[8:12]))
	}
	length := f.u32(h[4:8])
	if length < 28 || length%4 != 0 || length > maxOptions {
		return f.errorf(f.next(), start, ErrFormat, "pcapng section header: bad block length %d", length)
	}
	body := f.grow(int(length) - 12) // after the byte-order magic, with the trailer
	if err := f.read(body, start, false, "section header"); err != nil {
		return err
	}
	if t := f.u32(body[len(body)-4:]); t != length {
		return f.errorf(f.next(), start, ErrFormat, "pcapng section header: trailing length %d != %d", t, length)
	}
	if major := f.u16(body[0:2]); major != 1 {
		return f.errorf(f.next(), start, ErrFormat, "unsupported pcapng version %d.%d", major, f.u16(body[2:4]))
	}
	f.ifaces = f.ifaces[:0]
	return nil
}

// readPcapng reads blocks until a packet block, which it puts in p.
func (f *File) readPcapng(p *Packet) error {
	for {
		start := f.off
		h := f.hdr[:8]
		if err := f.read(h, start, true, "block header"); err != nil {
			return err
		}
		typ := f.u32(h[0:4])
		if typ == ngBlockSHB {
			if err := f.read(f.hdr[8:12], start, false, "section header"); err != nil {
				return err
			}
			if err := f.readSection(start); err != nil {
				return err
			}
			continue
		}
		length := f.u32(h[4:8])
		if length < 12 || length%4 != 0 {
			return f.errorf(f.next(), start, ErrFormat, "pcapng block type %#x: bad block length %d", typ, length)
		}
		switch typ {
		case ngBlockIDB, ngBlockEPB, ngBlockPB, ngBlockSPB:
		default:
			// Statistics, name resolution, decryption secrets, custom
			// blocks: skip, but check the trailing length.
			if err := f.discard(int64(length)-12, start, "block"); err != nil {
				return err
			}
			if err := f.read(f.hdr[8:12], start, false, "block"); err != nil {
				return err
			}
			if t := f.u32(f.hdr[8:12]); t != length {
				return f.errorf(f.next(), start, ErrFormat, "pcapng block type %#x: trailing length %d != %d", typ, t, length)
			}
			continue
		}
		if int64(length) > int64(f.maxRecord)+maxOptions {
			return f.errorf(f.next(), start, ErrFormat, "pcapng block type %#x: length %d exceeds limit %d", typ, length, f.maxRecord+maxOptions)
		}
		block := f.grow(int(length) - 8) // body and trailer
		what := "packet block"
		if typ == ngBlockIDB {
			what = "interface block"
		}
		if err := f.read(block, start, false, what); err != nil {
			return err
		}
		body := block[:len(block)-4]
		if t := f.u32(block[len(body):]); t != length {
			return f.errorf(f.next(), start, ErrFormat, "pcapng block type %#x: trailing length %d != %d", typ, t, length)
		}
		if typ == ngBlockIDB {
			if err := f.readInterface(body, start); err != nil {
				return err
			}
			continue
		}
		return f.readNgPacket(typ, body, start, p)
	}
}

// readInterface adds the interface an IDB body describes.
func (f *File) readInterface(body []byte, start int64) error {
	if len(body) < 8 {
		return f.errorf(f.next(), start, ErrFormat, "pcapng interface block: body of %d bytes", len(body))
	}
	if len(f.ifaces) >= maxInterfaces {
		return f.errorf(f.next(), start, ErrFormat, "pcapng section has more than %d interfaces", maxInterfaces)
	}
	i := ngInterface{
		link:    LinkType(f.u16(body[0:2])),
		snaplen: f.u32(body[4:8]),
		perSec:  1e6,
	}
	opts := body[8:]
	for len(opts) >= 4 {
		code, n := f.u16(opts[0:2]), int(f.u16(opts[2:4]))
		if code == ngOptEnd {
			break
		}
		if 4+n > len(opts) {
			return f.errorf(f.next(), start, ErrFormat, "pcapng interface block: option %d of %d bytes overruns block", code, n)
		}
		v := opts[4 : 4+n]
		switch {
		case code == ngOptTsResol && n >= 1:
			exp := uint(v[0] & 0x7f)
			if v[0]&0x80 != 0 {
				if exp > 63 {
					return f.errorf(f.next(), start, ErrFormat, "pcapng interface block: timestamp resolution 2^-%d", exp)
				}
				i.perSec = 1 << exp
			} else {
				if exp > 19 {
					return f.errorf(f.next(), start, ErrFormat, "pcapng interface block: timestamp resolution 10^-%d", exp)
				}
				i.perSec = 1
				for range exp {
					i.perSec *= 10
				}
			}
		case code == ngOptTsOffset && n >= 8:
			i.offsetNs = int64(f.u64(v)) * 1e9
		}
		adv := 4 + (n+3)&^3
		if adv > len(opts) {
			break
		}
		opts = opts[adv:]
	}
	f.ifaces = append(f.ifaces, i)
	return nil
}

// readNgPacket fills p from the body of an EPB, PB or SPB.
func (f *File) readNgPacket(typ uint32, body []byte, start int64, p *Packet) error {
	var (
		ifc          int
		ts           uint64
		caplen, wire uint32
		hasTS        = true
		dataOff      = 20
		short        = len(body) < 20
	)
	switch typ {
	case ngBlockEPB:
		if !short {
			ifc = int(f.u32(body[0:4]))
		}
	case ngBlockPB:
		if !short {
			ifc = int(f.u16(body[0:2]))
		}
	case ngBlockSPB:
		short = len(body) < 4
		hasTS = false
		dataOff = 4
	}
	if short {
		return f.errorf(f.next(), start, ErrFormat, "pcapng packet block: body of %d bytes", len(body))
	}
	if ifc >= len(f.ifaces) {
		return f.errorf(f.next(), start, ErrFormat, "pcapng packet block: interface %d not declared (section has %d)", ifc, len(f.ifaces))
	}
	iface := &f.ifaces[ifc]
	if hasTS {
		ts = uint64(f.u32(body[4:8]))<<32 | uint64(f.u32(body[8:12]))
		caplen = f.u32(body[12:16])
		wire = f.u32(body[16:20])
	} else {
		// A Simple Packet Block holds the original length only; the
		// captured length is what the block and the snaplen allow.
		wire = f.u32(body[0:4])
		caplen = wire
		if iface.snaplen != 0 && caplen > iface.snaplen {
			caplen = iface.snaplen
		}
		if avail := uint32(len(body) - 4); caplen > avail {
			caplen = avail
		}
	}
	if int64(caplen) > int64(f.maxRecord) {
		return f.errorf(f.next(), start, ErrFormat, "caplen %d exceeds limit %d", caplen, f.maxRecord)
	}
	end := dataOff + int(caplen)
	if end > len(body) {
		return f.errorf(f.next(), start, ErrFormat, "pcapng packet block: caplen %d overruns block of %d bytes", caplen, len(body)+12)
	}
	p.Data = body[dataOff:end:end]
	p.Length = int(wire)
	if wire < caplen {
		p.Length = int(caplen)
	}
	p.Timestamp = 0
	if hasTS {
		p.Timestamp = iface.ns(ts)
	}
	p.LinkType = iface.link
	p.Interface = ifc
	p.Direction = DirectionUnknown
	if typ == ngBlockSPB {
		return nil
	}
	// Options: only epb_flags (pack_flags) matters. A malformed option
	// list loses the direction, not the packet.
	padded := dataOff + (int(caplen)+3)&^3
	if padded > len(body) {
		return nil
	}
	opts := body[padded:]
	for len(opts) >= 4 {
		code, n := f.u16(opts[0:2]), int(f.u16(opts[2:4]))
		if code == ngOptEnd || 4+n > len(opts) {
			break
		}
		if code == ngOptFlags && n >= 4 {
			switch f.u32(opts[4:8]) & 3 {
			case 1:
				p.Direction = DirectionInbound
			case 2:
				p.Direction = DirectionOutbound
			}
		}
		adv := 4 + (n+3)&^3
		if adv > len(opts) {
			break
		}
		opts = opts[adv:]
	}
	return nil
}
