package capture

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// DefaultMaxRecord is the default [FileConfig.MaxRecord]: libpcap's
// MAXIMUM_SNAPLEN, the largest snapshot length tcpdump and Wireshark write.
const DefaultMaxRecord = 256 << 10

// maxOptions bounds the option bytes of one pcapng block beyond its packet
// data, and the size of any block the reader must buffer (section and
// interface headers).
const maxOptions = 64 << 10

// maxInterfaces bounds the interfaces of one pcapng section.
const maxInterfaces = 1 << 16

// readBufferSize is the size of the buffer between the file (or the gzip
// decompressor) and the record parser.
const readBufferSize = 64 << 10

// FileConfig configures [OpenFile] and [NewReader]. A nil *FileConfig means
// defaults; the zero value of each field is its default.
type FileConfig struct {
	// Name names the capture in Packet.Capture and in errors. Default: the
	// base name of the path, or the name given to NewReader.
	Name string
	// MaxRecord is the largest captured length accepted for one packet; a
	// longer record is an ErrFormat error, never an allocation of that size.
	// Default: DefaultMaxRecord (256 KiB).
	MaxRecord int
}

// Format is the container format of a capture file.
type Format uint8

// Formats. The zero value means unknown.
const (
	FormatUnknown Format = iota
	FormatPcap           // libpcap savefile, microsecond or nanosecond
	FormatPcapng         // pcapng, any number of sections and interfaces
)

// String returns "unknown", "pcap" or "pcapng".
func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapng:
		return "pcapng"
	}
	return "unknown"
}

// Magic numbers, as read in little-endian order.
const (
	magicPcapMicro   = 0xa1b2c3d4 // pcap, microsecond timestamps, LE
	magicPcapMicroBE = 0xd4c3b2a1 // the same written big-endian
	magicPcapNano    = 0xa1b23c4d // pcap, nanosecond timestamps, LE
	magicPcapNanoBE  = 0x4d3cb2a1 // the same written big-endian
	magicPcapng      = 0x0a0d0d0a // pcapng section header block type
)

// File reads a pcap or pcapng capture, optionally gzip-compressed. It
// implements [Source]. A File is not safe for concurrent use.
//
// Reading a packet does not allocate: Packet.Data points into a buffer the
// File reuses, valid until the next ReadPacket call.
type File struct {
	name      string
	maxRecord int
	format    Format

	closer io.Closer     // the os.File, nil for NewReader
	gz     *gzip.Reader  // non-nil for compressed input
	br     *bufio.Reader // decompressed stream
	off    int64         // offset of the next byte of br
	n      int64         // packets delivered
	ready  bool          // the file header has been read
	done   bool          // an error or io.EOF was returned; only io.EOF follows
	closed bool

	hdr [24]byte
	buf []byte // packet data or a whole pcapng block

	// pcap
	bigEndian bool // also used for the current pcapng section
	nsPerTick int64
	snaplen   int
	link      LinkType

	// pcapng
	ifaces []ngInterface
}

var _ Source = (*File)(nil)

// OpenFile opens the capture file at path, detects gzip compression and the
// pcap or pcapng format from the magic bytes (the file name does not
// matter), and reads the file header. The error for a file that is not a
// capture wraps [ErrFormat]; for one that ends inside its header it wraps
// [ErrTruncated].
func OpenFile(path string, cfg *FileConfig) (*File, error) {
	name := filepath.Base(path)
	if cfg != nil && cfg.Name != "" {
		name = cfg.Name
	}
	osf, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	f, err := newFile(osf, name, cfg)
	if err != nil {
		osf.Close()
		return nil, err
	}
	f.closer = osf
	return f, nil
}

// NewReader reads a capture from r like [OpenFile]; name names it in
// packets and errors unless cfg.Name is set. Close does not close r.
func NewReader(r io.Reader, name string, cfg *FileConfig) (*File, error) {
	if cfg != nil && cfg.Name != "" {
		name = cfg.Name
	}
	return newFile(r, name, cfg)
}

func newFile(r io.Reader, name string, cfg *FileConfig) (*File, error) {
	f := &File{name: name, maxRecord: DefaultMaxRecord}
	if cfg != nil && cfg.MaxRecord > 0 {
		f.maxRecord = cfg.MaxRecord
	}
	f.br = bufio.NewReaderSize(r, readBufferSize)
	magic, err := f.br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(f.br)
		if err != nil {
			return nil, f.ioError(0, "gzip header", 0, 10, err)
		}
		f.gz = gz
		f.br = bufio.NewReaderSize(gz, readBufferSize)
		magic, err = f.br.Peek(4)
		if err != nil && err != io.EOF {
			return nil, f.ioError(0, "file header", int64(len(magic)), 4, err)
		}
	} else if err != nil && err != io.EOF {
		return nil, f.ioError(0, "file header", int64(len(magic)), 4, err)
	}
	if len(magic) < 4 {
		if len(magic) == 0 {
			return nil, f.errorf(0, 0, ErrTruncated, "empty file (no file header)")
		}
		if isMagicPrefix(magic) {
			return nil, f.errorf(0, 0, ErrTruncated, "truncated file header (%d bytes)", len(magic))
		}
		return nil, f.notCapture(magic)
	}
	switch m := binary.LittleEndian.Uint32(magic); m {
	case magicPcapMicro, magicPcapMicroBE, magicPcapNano, magicPcapNanoBE:
		f.format = FormatPcap
		err = f.readPcapHeader()
	case magicPcapng:
		f.format = FormatPcapng
		err = f.readFirstSection()
	default:
		return nil, f.notCapture(magic)
	}
	if err != nil {
		return nil, err
	}
	f.ready = true
	return f, nil
}

// next returns the number of the packet being read, 0 while reading the
// file header.
func (f *File) next() int64 {
	if !f.ready {
		return 0
	}
	return f.n + 1
}

func (f *File) notCapture(magic []byte) error {
	var m uint64
	for _, b := range magic {
		m = m<<8 | uint64(b)
	}
	gz := ""
	if f.gz != nil {
		gz = ", gzip-compressed"
	}
	return f.errorf(0, 0, ErrFormat, "not a pcap or pcapng file (magic %#0*x%s)", 2*len(magic), m, gz)
}

// isMagicPrefix reports whether b, shorter than 4 bytes, starts a magic.
func isMagicPrefix(b []byte) bool {
	for _, m := range []uint32{magicPcapMicro, magicPcapMicroBE, magicPcapNano, magicPcapNanoBE, magicPcapng, 0x8b1f} {
		var full [4]byte
		binary.LittleEndian.PutUint32(full[:], m)
		if string(full[:len(b)]) == string(b) {
			return true
		}
	}
	return false
}

// ReadPacket fills p with the next packet and returns nil, or returns
// io.EOF after the last packet. Other errors are *[Error] values naming the
// file, the packet number and the byte offset; every complete packet before
// the damage has been delivered. After any error, ReadPacket returns io.EOF,
// so a loop that reports errors and continues ends.
func (f *File) ReadPacket(p *Packet) error {
	if f.done {
		return io.EOF
	}
	if f.closed {
		f.done = true
		return f.errorf(f.next(), -1, os.ErrClosed, "read after close")
	}
	var err error
	if f.format == FormatPcap {
		err = f.readPcap(p)
	} else {
		err = f.readPcapng(p)
	}
	if err != nil {
		f.done = true
		return err
	}
	f.n++
	p.Number = f.n
	p.Capture = f.name
	return nil
}

// Close releases the file. It is idempotent; it does not close the reader
// given to NewReader.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if f.gz != nil {
		err = f.gz.Close()
	}
	if f.closer != nil {
		if cerr := f.closer.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("capture: %s: close: %w", f.name, err)
	}
	return nil
}

// Name returns the capture's name as used in Packet.Capture.
func (f *File) Name() string { return f.name }

// Format returns the container format.
func (f *File) Format() Format { return f.format }

// Packets returns the number of packets delivered so far.
func (f *File) Packets() int64 { return f.n }

// read fills b from the stream. It returns io.EOF only when no byte was
// available and eofOK is set; a short read is an ErrTruncated error.
func (f *File) read(b []byte, start int64, eofOK bool, what string) error {
	n, err := io.ReadFull(f.br, b)
	f.off += int64(n)
	if err == nil {
		return nil
	}
	if err == io.EOF && eofOK {
		return io.EOF
	}
	return f.ioError(start, what, int64(n), int64(len(b)), err)
}

// discard skips n bytes of the stream, in chunks so that a length from
// the file never overflows int.
func (f *File) discard(n int64, start int64, what string) error {
	for done := int64(0); done < n; {
		m, err := f.br.Discard(int(min(n-done, 1<<20)))
		f.off += int64(m)
		done += int64(m)
		if err != nil {
			return f.ioError(start, what, done, n, err)
		}
	}
	return nil
}

// ioError classifies an error from the underlying reader or the gzip
// decompressor met after reading got of want bytes of a record.
func (f *File) ioError(start int64, what string, got, want int64, err error) error {
	e := &Error{Capture: f.name, Packet: f.next(), Offset: start, Err: err, Msg: "reading " + what}
	var corrupt flate.CorruptInputError
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		e.Err = ErrTruncated
		e.Msg = fmt.Sprintf("truncated %s (file ends mid-record: %d of %d bytes)", what, got, want)
		if f.gz != nil {
			e.Msg = fmt.Sprintf("truncated %s (compressed stream ends mid-record: %d of %d bytes)", what, got, want)
		}
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		e.Err, e.Cause = ErrFormat, err
		e.Msg = "corrupt gzip stream in " + what
	}
	return e
}

func (f *File) errorf(packet, offset int64, sentinel error, format string, args ...any) error {
	return &Error{Capture: f.name, Packet: packet, Offset: offset, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

// grow returns f.buf resized to n bytes, reallocating only when it is too
// small.
func (f *File) grow(n int) []byte {
	if cap(f.buf) < n {
		c := 2 * cap(f.buf)
		if c < n {
			c = n
		}
		if c < 2048 {
			c = 2048
		}
		f.buf = make([]byte, c)
	}
	return f.buf[:n]
}

func (f *File) u16(b []byte) uint16 {
	if f.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (f *File) u32(b []byte) uint32 {
	if f.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (f *File) u64(b []byte) uint64 {
	if f.bigEndian {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}
