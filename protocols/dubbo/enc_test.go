package dubbo_test

import (
	"encoding/binary"
	"unicode/utf8"
)

// enc is a Hessian 2 encoder of the values the tests need.
type enc struct{ b []byte }

func (e *enc) str(s string) *enc {
	n := utf8.RuneCountInString(s)
	switch {
	case n <= 31:
		e.b = append(e.b, byte(n))
	case n <= 1023:
		e.b = append(e.b, 0x30+byte(n>>8), byte(n))
	default:
		e.b = append(e.b, 'S', byte(n>>8), byte(n))
	}
	e.b = append(e.b, s...)
	return e
}

func (e *enc) int(v int32) *enc {
	switch {
	case v >= -16 && v <= 47:
		e.b = append(e.b, byte(0x90+v))
	case v >= -2048 && v <= 2047:
		e.b = append(e.b, byte(0xc8+(v>>8)), byte(v))
	default:
		e.b = append(e.b, 'I')
		e.b = binary.BigEndian.AppendUint32(e.b, uint32(v))
	}
	return e
}

func (e *enc) raw(b ...byte) *enc { e.b = append(e.b, b...); return e }

// strMap encodes an untyped map of string pairs.
func (e *enc) strMap(kv ...string) *enc {
	e.b = append(e.b, 'H')
	for i := 0; i+1 < len(kv); i += 2 {
		e.str(kv[i]).str(kv[i+1])
	}
	e.b = append(e.b, 'Z')
	return e
}

// object encodes a class definition and one instance whose fields are
// strings.
func (e *enc) object(class string, fields ...string) *enc {
	e.b = append(e.b, 'C')
	e.str(class).int(int32(len(fields)))
	for _, f := range fields {
		e.str(f)
	}
	e.b = append(e.b, 0x60)
	for _, f := range fields {
		e.str(f + "-value")
	}
	return e
}

// frame wraps a body in a Dubbo header.
func frame(flag, status byte, id uint64, body []byte) []byte {
	b := []byte{0xda, 0xbb, flag, status}
	b = binary.BigEndian.AppendUint64(b, id)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

const (
	reqFlag  = 0x80 | 0x40 | 2 // request, two-way, hessian2
	respFlag = 2
)

// request encodes a hessian2 request with the given arguments (already
// encoded) and attachments.
func request(id uint64, service, method, desc string, args []byte, att ...string) []byte {
	e := (&enc{}).str("2.0.2").str(service).str("1.0.0").str(method).str(desc).raw(args...).strMap(att...)
	return frame(reqFlag, 0, id, e.b)
}

// response encodes a hessian2 OK response with a string value.
func response(id uint64, value string) []byte {
	e := (&enc{}).int(1).str(value)
	return frame(respFlag, 20, id, e.b)
}
