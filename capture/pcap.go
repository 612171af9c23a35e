package capture

import (
	"encoding/binary"
	"math/bits"
)

// The libpcap savefile format: a 24-byte file header, then records of a
// 16-byte header and the captured bytes. See
// https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html and
// pcap-savefile(5).

// readPcapHeader reads the pcap file header; the magic has been checked.
func (f *File) readPcapHeader() error {
	h := f.hdr[:24]
	if err := f.read(h, 0, false, "file header"); err != nil {
		return err
	}
	switch binary.LittleEndian.Uint32(h) {
	case magicPcapMicro:
		f.bigEndian, f.nsPerTick = false, 1000
	case magicPcapMicroBE:
		f.bigEndian, f.nsPerTick = true, 1000
	case magicPcapNano:
		f.bigEndian, f.nsPerTick = false, 1
	case magicPcapNanoBE:
		f.bigEndian, f.nsPerTick = true, 1
	}
	// Some writers (deepflow's test captures) store the version in the other
	// byte order than the magic; Wireshark reads those, so do we.
	if major := f.u16(h[4:6]); major != 2 && bits.ReverseBytes16(major) != 2 {
		return f.errorf(0, 0, ErrFormat, "unsupported pcap version %d.%d", major, f.u16(h[6:8]))
	}
	f.snaplen = int(f.u32(h[16:20]))
	// LinkType keeps the low 16 bits: the upper ones carry FCS
	// information (pcap-savefile(5)).
	f.link = LinkType(f.u32(h[20:24]))
	return nil
}

// readPcap reads one pcap record into p.
func (f *File) readPcap(p *Packet) error {
	start := f.off
	h := f.hdr[:16]
	if err := f.read(h, start, true, "record header"); err != nil {
		return err
	}
	sec := f.u32(h[0:4])
	frac := f.u32(h[4:8])
	caplen := f.u32(h[8:12])
	origlen := f.u32(h[12:16])
	if int64(caplen) > int64(f.maxRecord) {
		return f.errorf(f.next(), start, ErrFormat, "caplen %d exceeds limit %d (snaplen %d)", caplen, f.maxRecord, f.snaplen)
	}
	if cap(f.buf) < int(caplen) && f.snaplen <= f.maxRecord {
		f.grow(f.snaplen) // size for the largest packet the file declares
	}
	data := f.grow(int(caplen))
	if err := f.read(data, start, false, "record"); err != nil {
		return err
	}
	p.Timestamp = int64(sec)*1e9 + int64(frac)*f.nsPerTick
	p.Data = data
	// Some writers record a wire length shorter than the captured length;
	// keep Length >= len(Data) as Packet documents.
	p.Length = int(origlen)
	if origlen < caplen {
		p.Length = int(caplen)
	}
	p.LinkType = f.link
	p.Interface = 0
	p.Direction = DirectionUnknown
	return nil
}
