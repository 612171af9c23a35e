package mongodb_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/crc32"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// doc builds a BSON document.
func doc() *bsoncore.DocumentBuilder { return bsoncore.NewDocumentBuilder() }

// header prepends a message header to body.
func header(reqID, respTo, op int32, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(16+len(body)))
	b = binary.LittleEndian.AppendUint32(b, uint32(reqID))
	b = binary.LittleEndian.AppendUint32(b, uint32(respTo))
	b = binary.LittleEndian.AppendUint32(b, uint32(op))
	return append(b, body...)
}

// opMsg encodes an OP_MSG with a body section and, when seq is not nil, a
// kind-1 "documents" section; checksum adds a CRC-32C.
func opMsg(reqID, respTo int32, flags uint32, body []byte, seq [][]byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, flags)
	b = append(b, 0)
	b = append(b, body...)
	if seq != nil {
		s := []byte("documents\x00")
		for _, d := range seq {
			s = append(s, d...)
		}
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint32(b, uint32(4+len(s)))
		b = append(b, s...)
	}
	if flags&1 != 0 {
		m := header(reqID, respTo, 2013, append(b, 0, 0, 0, 0))
		sum := crc32.Checksum(m[:len(m)-4], crc32.MakeTable(crc32.Castagnoli))
		binary.LittleEndian.PutUint32(m[len(m)-4:], sum)
		return m
	}
	return header(reqID, respTo, 2013, b)
}

// opQuery encodes an OP_QUERY.
func opQuery(reqID int32, ns string, query []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0)
	b = append(append(b, ns...), 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(0xffffffff))
	return header(reqID, 0, 2004, append(b, query...))
}

// opReply encodes an OP_REPLY with one document.
func opReply(respTo int32, flags uint32, d []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, flags)
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 1)
	return header(1000+respTo, respTo, 1, append(b, d...))
}

// compress wraps a message in OP_COMPRESSED with the given compressor.
func compress(m []byte, id byte) []byte {
	orig := m[16:]
	var c []byte
	switch id {
	case 1:
		c = snappy.Encode(nil, orig)
	case 2:
		var w bytes.Buffer
		z := zlib.NewWriter(&w)
		z.Write(orig)
		z.Close()
		c = w.Bytes()
	case 3:
		e, _ := zstd.NewWriter(nil)
		c = e.EncodeAll(orig, nil)
	default:
		c = orig
	}
	b := append([]byte(nil), m[12:16]...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(orig)))
	b = append(b, id)
	b = append(b, c...)
	return header(int32(binary.LittleEndian.Uint32(m[4:])), int32(binary.LittleEndian.Uint32(m[8:])), 2012, b)
}

// bsoncoreArray builds a BSON array of documents.
func bsoncoreArray(docs ...[]byte) []byte {
	a := bsoncore.NewArrayBuilder()
	for _, d := range docs {
		a.AppendDocument(d)
	}
	return a.Build()
}
