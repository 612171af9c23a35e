package kafka

// Exported for the external tests: a small encoder of Kafka messages, so
// that fixtures are built from fields rather than hex blobs.

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Enc appends Kafka primitive types.
type Enc struct{ B []byte }

func (e *Enc) I8(v int8) *Enc   { e.B = append(e.B, byte(v)); return e }
func (e *Enc) I16(v int16) *Enc { e.B = binary.BigEndian.AppendUint16(e.B, uint16(v)); return e }
func (e *Enc) I32(v int32) *Enc { e.B = binary.BigEndian.AppendUint32(e.B, uint32(v)); return e }
func (e *Enc) I64(v int64) *Enc { e.B = binary.BigEndian.AppendUint64(e.B, uint64(v)); return e }
func (e *Enc) Uvarint(v uint64) *Enc {
	e.B = binary.AppendUvarint(e.B, v)
	return e
}
func (e *Enc) Varint(v int64) *Enc { e.B = binary.AppendVarint(e.B, v); return e }
func (e *Enc) Raw(b []byte) *Enc   { e.B = append(e.B, b...); return e }

// Str appends a STRING, or a COMPACT_STRING when flex.
func (e *Enc) Str(s string, flex bool) *Enc {
	if flex {
		e.Uvarint(uint64(len(s) + 1))
	} else {
		e.I16(int16(len(s)))
	}
	e.B = append(e.B, s...)
	return e
}

// Bytes appends BYTES/RECORDS, or their COMPACT form when flex.
func (e *Enc) Bytes(b []byte, flex bool) *Enc {
	if flex {
		e.Uvarint(uint64(len(b) + 1))
	} else {
		e.I32(int32(len(b)))
	}
	e.B = append(e.B, b...)
	return e
}

// Arr appends an array length.
func (e *Enc) Arr(n int, flex bool) *Enc {
	if flex {
		return e.Uvarint(uint64(n + 1))
	}
	return e.I32(int32(n))
}

// Tags appends an empty tagged-field section when flex.
func (e *Enc) Tags(flex bool) *Enc {
	if flex {
		e.B = append(e.B, 0)
	}
	return e
}

// Flexible reports whether version v of key is flexible.
func Flexible(key, v int16) bool { return flexible(key, v) }

// Request frames a request with the header version the key and version use.
func Request(key, ver int16, corr int32, clientID string, body []byte) []byte {
	e := &Enc{}
	e.I16(key).I16(ver).I32(corr)
	hv := requestHeaderVersion(key, ver)
	if hv >= 1 {
		e.Str(clientID, false)
	}
	e.Tags(hv == 2)
	e.Raw(body)
	return frame(e.B)
}

// Response frames a response to version ver of key.
func Response(key, ver int16, corr int32, body []byte) []byte {
	e := &Enc{}
	e.I32(corr).Tags(responseHeaderVersion(key, ver) == 1).Raw(body)
	return frame(e.B)
}

func frame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// Rec is a record of a test batch.
type Rec struct {
	Key, Value string
	Headers    [][2]string
}

// Codecs, for Batch.
const (
	CodecNone   = codecNone
	CodecGzip   = codecGzip
	CodecSnappy = codecSnappy
	CodecLZ4    = codecLZ4
	CodecZstd   = codecZstd
	// CodecXerial is snappy in snappy-java's framing.
	CodecXerial = 100
)

// Batch encodes a record batch (magic 2).
func Batch(base int64, codec int, recs []Rec) []byte {
	var p Enc
	for i, r := range recs {
		var b Enc
		b.I8(0).Varint(0).Varint(int64(i))
		b.Varint(int64(len(r.Key))).Raw([]byte(r.Key))
		b.Varint(int64(len(r.Value))).Raw([]byte(r.Value))
		b.Varint(int64(len(r.Headers)))
		for _, h := range r.Headers {
			b.Varint(int64(len(h[0]))).Raw([]byte(h[0]))
			b.Varint(int64(len(h[1]))).Raw([]byte(h[1]))
		}
		p.Varint(int64(len(b.B))).Raw(b.B)
	}
	payload := compress(codec, p.B)
	if codec == CodecXerial {
		codec = codecSnappy
	}
	e := &Enc{}
	e.I64(base).I32(int32(49 + len(payload))).I32(0).I8(2).I32(0).I16(int16(codec))
	e.I32(int32(len(recs) - 1)).I64(0).I64(0).I64(-1).I16(-1).I32(-1).I32(int32(len(recs)))
	return e.Raw(payload).B
}

func compress(codec int, b []byte) []byte {
	var w bytes.Buffer
	switch codec {
	case codecGzip:
		z := gzip.NewWriter(&w)
		z.Write(b)
		z.Close()
	case codecSnappy:
		return snappy.Encode(nil, b)
	case CodecXerial:
		w.Write(xerialMagic)
		w.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		blk := snappy.Encode(nil, b)
		w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(blk))))
		w.Write(blk)
	case codecLZ4:
		z := lz4.NewWriter(&w)
		z.Write(b)
		z.Close()
	case codecZstd:
		z, _ := zstd.NewWriter(&w, zstd.WithEncoderConcurrency(1))
		z.Write(b)
		z.Close()
	default:
		return b
	}
	return w.Bytes()
}
