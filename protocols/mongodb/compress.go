package mongodb

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

// Compressor ids of OP_COMPRESSED.
const (
	compNoop   = 0
	compSnappy = 1
	compZlib   = 2
	compZstd   = 3
)

func compressorName(id byte) string {
	switch id {
	case compNoop:
		return "noop"
	case compSnappy:
		return "snappy"
	case compZlib:
		return "zlib"
	case compZstd:
		return "zstd"
	}
	return "unknown"
}

// decompressor decompresses OP_COMPRESSED payloads into a reused buffer,
// at most MaxDecompressed bytes. Codec state is created on first use and
// reused.
type decompressor struct {
	buf  []byte
	src  bytes.Reader
	zl   io.ReadCloser
	zstd *zstd.Decoder
}

// decompress returns the first min(size, MaxDecompressed) bytes of the
// decompressed src (valid until the next call), and whether that many
// were had.
func (d *decompressor) decompress(id byte, src []byte, size int) ([]byte, bool) {
	want := min(size, MaxDecompressed)
	if cap(d.buf) < want {
		d.buf = make([]byte, want)
	}
	buf := d.buf[:want]
	d.src.Reset(src)
	var rd io.Reader
	switch id {
	case compNoop:
		return src[:min(len(src), want)], len(src) >= want
	case compSnappy:
		n, err := snappy.DecodedLen(src)
		if err != nil || n != size || n > MaxDecompressed {
			// A larger block cannot be decoded in part.
			return nil, false
		}
		out, err := snappy.Decode(buf, src)
		return out, err == nil && len(out) == size
	case compZlib:
		var err error
		if d.zl == nil {
			d.zl, err = zlib.NewReader(&d.src)
		} else {
			err = d.zl.(zlib.Resetter).Reset(&d.src, nil)
		}
		if err != nil {
			return nil, false
		}
		rd = d.zl
	case compZstd:
		if d.zstd == nil {
			z, err := zstd.NewReader(&d.src, zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(MaxDecompressed))
			if err != nil {
				return nil, false
			}
			d.zstd = z
		} else if err := d.zstd.Reset(&d.src); err != nil {
			return nil, false
		}
		rd = d.zstd
	default:
		return nil, false
	}
	n, err := io.ReadFull(rd, buf)
	return buf[:n], err == nil || errors.Is(err, io.ErrUnexpectedEOF) && n == want
}
