package kafka

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"strings"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Record batch layout (magic 2), https://kafka.apache.org/documentation/#recordbatch.
const (
	batchHeaderLen   = 61 // base offset .. records count
	batchMagicAt     = 16
	batchAttrsAt     = 21
	batchLastDeltaAt = 23
	batchCountAt     = 57
	attrCompression  = 0x07
	attrControl      = 0x20
	legacyHeaderLen  = 12 // offset, message_size of a magic 0/1 message set entry
)

// Compression codecs of the batch attributes.
const (
	codecNone = iota
	codecGzip
	codecSnappy
	codecLZ4
	codecZstd
)

// records scans a RECORDS field: record batches (magic 2) or legacy message
// sets (magic 0 and 1). It counts records, notes the first and last offsets
// and reads the headers of magic 2 records for trace links. cut is set
// when the field was cut short by the parser (a message prefix or a
// salvaged tail): then a batch whose header is there is counted even
// though its records are not all there. Otherwise a trailing partial
// batch, which brokers may send at the end of a Fetch response and
// consumers discard, is not counted.
func (p *Parser) records(b []byte, cut bool, a *acc) {
	for len(b) >= batchMagicAt+1 {
		base := int64(binary.BigEndian.Uint64(b))
		length := int(int32(binary.BigEndian.Uint32(b[8:])))
		if length < 0 {
			return
		}
		end := 12 + length
		whole := end <= len(b)
		if !whole && !cut {
			return
		}
		batch := b[:min(end, len(b))]
		switch b[batchMagicAt] {
		case 2:
			if len(batch) < batchHeaderLen {
				return
			}
			attrs := binary.BigEndian.Uint16(batch[batchAttrsAt:])
			if attrs&attrControl == 0 {
				count := int32(binary.BigEndian.Uint32(batch[batchCountAt:]))
				last := base + int64(int32(binary.BigEndian.Uint32(batch[batchLastDeltaAt:])))
				a.addRecords(int64(max(count, 0)), base, last)
				p.recordHeaders(batch[batchHeaderLen:], int(attrs&attrCompression), whole, count, a)
			}
		case 0, 1:
			// A compressed wrapper message counts as one: its inner
			// messages are not decompressed.
			a.addRecords(1, base, base)
		default:
			return
		}
		if !whole {
			return
		}
		b = b[end:]
	}
}

func (a *acc) addRecords(n, first, last int64) {
	a.records += n
	a.counted = true
	if !a.hasRange {
		a.first, a.hasRange = first, true
	}
	a.last = last
}

// recordHeaders reads the headers of the records of one batch, after
// decompressing them when whole.
func (p *Parser) recordHeaders(b []byte, codec int, whole bool, count int32, a *acc) {
	if a.allLinks() {
		return
	}
	if codec != codecNone {
		if !whole {
			return
		}
		var err error
		b, err = p.dec.decompress(codec, b)
		if err != nil && len(b) == 0 {
			a.decompressErrors++
			return
		}
	}
	r := reader{b: b}
	for i := int32(0); i < count && !r.failed() && !a.allLinks(); i++ {
		n := r.varint()
		if n < 0 || r.failed() {
			return
		}
		rec := reader{b: r.take(int(min(n, 1<<31)))}
		rec.i8()                            // attributes
		rec.varint()                        // timestamp delta
		rec.varint()                        // offset delta
		rec.skip(int(max(rec.varint(), 0))) // key
		rec.skip(int(max(rec.varint(), 0))) // value
		nh := rec.varint()
		for j := int64(0); j < nh && !rec.failed(); j++ {
			kl := rec.varint()
			if kl < 0 || kl > 1<<16 {
				break
			}
			k := rec.take(int(kl))
			vl := rec.varint()
			if rec.failed() {
				break
			}
			var v []byte
			if vl >= 0 {
				v = rec.take(int(min(vl, 1<<31)))
				if rec.short {
					break
				}
			}
			p.header(k, v, a)
		}
	}
}

// header records a record header that carries a trace context or request
// id; the first value of each key in a message wins.
func (p *Parser) header(k, v []byte, a *acc) {
	if len(v) == 0 || len(k) > 64 {
		return
	}
	for i := lnTraceparent; i < numLinks; i++ {
		if a.links[i] == "" && len(k) == len(linkHeaders[i]) && strings.EqualFold(string(k), linkHeaders[i]) {
			a.links[i] = string(v)
			return
		}
	}
	for i, h := range p.ridHeaders {
		if (a.ridRank == 0 || i+1 < a.ridRank) && len(k) == len(h) && strings.EqualFold(string(k), h) {
			a.links[lnXRequestID], a.ridRank = string(v), i+1
			return
		}
	}
}

// allLinks reports whether every trace link slot is filled, so that no
// more headers need reading.
func (a *acc) allLinks() bool {
	for _, v := range a.links {
		if v == "" {
			return false
		}
	}
	return true
}

// decompressor decompresses record batches into a reused buffer, at most
// MaxDecompressed bytes. Codec state is created on first use and reused.
type decompressor struct {
	buf  []byte
	src  bytes.Reader
	gz   *gzip.Reader
	lz   *lz4.Reader
	zstd *zstd.Decoder
}

// errCodec reports an unknown compression codec.
var errCodec = errors.New("kafka: unknown compression codec")

// xerialMagic starts snappy data framed by snappy-java's
// SnappyOutputStream, which the Java client uses.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// decompress returns the decompressed form of src (valid until the next
// call), cut at MaxDecompressed bytes, and the error that stopped it, if
// any; a cut or failed decompression may still return a usable prefix.
func (d *decompressor) decompress(codec int, src []byte) ([]byte, error) {
	d.src.Reset(src)
	var rd io.Reader
	switch codec {
	case codecGzip:
		if d.gz == nil {
			gz, err := gzip.NewReader(&d.src)
			if err != nil {
				return nil, err
			}
			d.gz = gz
		} else if err := d.gz.Reset(&d.src); err != nil {
			return nil, err
		}
		rd = d.gz
	case codecSnappy:
		return d.snappy(src)
	case codecLZ4:
		if d.lz == nil {
			d.lz = lz4.NewReader(&d.src)
		} else {
			d.lz.Reset(&d.src)
		}
		rd = d.lz
	case codecZstd:
		if d.zstd == nil {
			z, err := zstd.NewReader(&d.src, zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(MaxDecompressed))
			if err != nil {
				return nil, err
			}
			d.zstd = z
		} else if err := d.zstd.Reset(&d.src); err != nil {
			return nil, err
		}
		rd = d.zstd
	default:
		return nil, errCodec
	}
	if cap(d.buf) < MaxDecompressed {
		d.buf = make([]byte, MaxDecompressed)
	}
	buf := d.buf[:MaxDecompressed]
	n, err := io.ReadFull(rd, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return buf[:n], err
}

// snappy decodes raw snappy blocks or xerial-framed ones (magic, version,
// compatible version, then blocks each preceded by its int32 length).
func (d *decompressor) snappy(src []byte) ([]byte, error) {
	out := d.buf[:0]
	if !bytes.HasPrefix(src, xerialMagic) || len(src) < 16 {
		return d.snappyBlock(out, src)
	}
	src = src[16:]
	var err error
	for len(src) >= 4 && err == nil {
		n := int(int32(binary.BigEndian.Uint32(src)))
		if n < 0 || 4+n > len(src) {
			break
		}
		out, err = d.snappyBlock(out, src[4:4+n])
		src = src[4+n:]
	}
	return out, err
}

// snappyBlock appends the decoding of one raw snappy block to out, if it
// fits in MaxDecompressed.
func (d *decompressor) snappyBlock(out, block []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return out, err
	}
	if len(out)+n > MaxDecompressed {
		return out, errors.New("kafka: snappy block exceeds MaxDecompressed")
	}
	if cap(d.buf) < MaxDecompressed {
		nb := make([]byte, len(out), MaxDecompressed)
		copy(nb, out)
		out = nb
	}
	dst := out[len(out) : len(out)+n]
	dec, err := snappy.Decode(dst, block)
	if err != nil {
		return out, err
	}
	out = out[:len(out)+len(dec)]
	d.buf = out[:0]
	return out, nil
}
