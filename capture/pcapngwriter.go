package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// ngOptIfName is the if_name option; the other codes are in pcapng.go.
const ngOptIfName = 2

// PcapngWriter writes packets to a pcapng stream: one Section Header Block,
// an Interface Description Block for each capture interface the first time
// one of its packets is written (if_name from Packet.Capture, nanosecond
// if_tsresol), and one Enhanced Packet Block per packet with epb_flags
// carrying the direction. Writing a packet does not allocate. It is not
// safe for concurrent use.
type PcapngWriter struct {
	w       *bufio.Writer
	snaplen int
	ids     []int32 // pcapng interface id by Packet.Interface; -1 if none yet
	next    int32
	hdr     [28]byte
	tail    [20]byte
}

// NewPcapngWriter writes the section header to w and returns a writer that
// records snaplen in each interface block. Call Flush when done.
func NewPcapngWriter(w io.Writer, snaplen int) (*PcapngWriter, error) {
	pw := &PcapngWriter{w: bufio.NewWriterSize(w, 64<<10), snaplen: snaplen}
	le := binary.LittleEndian
	h := pw.hdr[:28]
	le.PutUint32(h[0:], magicPcapng)
	le.PutUint32(h[4:], 28)
	le.PutUint32(h[8:], ngByteOrderMagic)
	le.PutUint16(h[12:], 1) // major
	le.PutUint16(h[14:], 0) // minor
	le.PutUint64(h[16:], ^uint64(0))
	le.PutUint32(h[24:], 28)
	if _, err := pw.w.Write(h); err != nil {
		return nil, fmt.Errorf("pcapng: write section header: %w", err)
	}
	return pw, nil
}

func pad4(n int) int { return (n + 3) &^ 3 }

// interfaceID returns the pcapng interface id for p, writing its
// Interface Description Block first if needed.
func (pw *PcapngWriter) interfaceID(p *Packet) (int32, error) {
	if p.Interface < 0 || p.Interface >= maxInterfaces {
		return 0, fmt.Errorf("pcapng: packet %d: interface %d out of range", p.Number, p.Interface)
	}
	for len(pw.ids) <= p.Interface {
		pw.ids = append(pw.ids, -1)
	}
	if id := pw.ids[p.Interface]; id >= 0 {
		return id, nil
	}
	name := p.Capture
	if len(name) > 0xffff-1 {
		name = name[:0xffff-1]
	}
	le := binary.LittleEndian
	optLen := 4 + 4 + 4 // if_tsresol, end
	if name != "" {
		optLen += 4 + pad4(len(name))
	}
	total := 16 + optLen + 4
	h := pw.hdr[:16]
	le.PutUint32(h[0:], ngBlockIDB)
	le.PutUint32(h[4:], uint32(total))
	le.PutUint16(h[8:], uint16(p.LinkType))
	le.PutUint16(h[10:], 0)
	le.PutUint32(h[12:], uint32(pw.snaplen))
	pw.w.Write(h)
	if name != "" {
		le.PutUint16(h[0:], ngOptIfName)
		le.PutUint16(h[2:], uint16(len(name)))
		pw.w.Write(h[:4])
		pw.w.WriteString(name)
		pw.w.Write(make([]byte, pad4(len(name))-len(name)))
	}
	le.PutUint16(h[0:], ngOptTsResol)
	le.PutUint16(h[2:], 1)
	h[4], h[5], h[6], h[7] = 9, 0, 0, 0 // 10^-9 s
	le.PutUint32(h[8:], ngOptEnd)
	le.PutUint32(h[12:], uint32(total))
	if _, err := pw.w.Write(h[:16]); err != nil {
		return 0, fmt.Errorf("pcapng: write interface block: %w", err)
	}
	id := pw.next
	pw.next++
	pw.ids[p.Interface] = id
	return id, nil
}

// WritePacket appends p as an Enhanced Packet Block.
func (pw *PcapngWriter) WritePacket(p *Packet) error {
	id, err := pw.interfaceID(p)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	n := len(p.Data)
	var flags uint32
	switch p.Direction {
	case DirectionInbound:
		flags = 1
	case DirectionOutbound:
		flags = 2
	}
	opt := 0
	if flags != 0 {
		opt = 8 + 4 // epb_flags, end
	}
	total := 28 + pad4(n) + opt + 4
	h := pw.hdr[:28]
	ts := uint64(p.Timestamp)
	le.PutUint32(h[0:], ngBlockEPB)
	le.PutUint32(h[4:], uint32(total))
	le.PutUint32(h[8:], uint32(id))
	le.PutUint32(h[12:], uint32(ts>>32))
	le.PutUint32(h[16:], uint32(ts))
	le.PutUint32(h[20:], uint32(n))
	le.PutUint32(h[24:], uint32(max(p.Length, n)))
	pw.w.Write(h)
	pw.w.Write(p.Data)
	tail := pw.tail[:]
	t := tail[:pad4(n)-n]
	if flags != 0 {
		o := tail[len(t):]
		le.PutUint16(o[0:], ngOptFlags)
		le.PutUint16(o[2:], 4)
		le.PutUint32(o[4:], flags)
		le.PutUint32(o[8:], ngOptEnd)
		t = tail[:len(t)+12]
	}
	le.PutUint32(tail[len(t):], uint32(total))
	t = tail[:len(t)+4]
	if _, err := pw.w.Write(t); err != nil {
		return fmt.Errorf("pcapng: write packet %d: %w", p.Number, err)
	}
	return nil
}

// Flush writes buffered blocks to the underlying writer.
func (pw *PcapngWriter) Flush() error {
	if err := pw.w.Flush(); err != nil {
		return fmt.Errorf("pcapng: %w", err)
	}
	return nil
}
