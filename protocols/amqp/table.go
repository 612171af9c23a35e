package amqp

import "encoding/binary"

// reader reads AMQP 0-9-1 argument types from a method or header payload.
// A read past the end sets bad and returns zero values, so decoders check
// once at the end; a payload cut short (a frame larger than MaxFrame,
// decoded from its prefix) reads as far as it goes.
type reader struct {
	b   []byte
	off int
	bad bool
}

func (r *reader) need(n int) bool {
	if r.bad || n < 0 || len(r.b)-r.off < n {
		r.bad = true
		return false
	}
	return true
}

func (r *reader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *reader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return v
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v
}

func (r *reader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v
}

func (r *reader) bytes(n int) []byte {
	if !r.need(n) {
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

// shortstr reads a short string (one length octet).
func (r *reader) shortstr() []byte { return r.bytes(int(r.u8())) }

// longstr reads a long string (four length octets), without copying.
func (r *reader) longstr() []byte {
	n := r.u32()
	if n > uint32(len(r.b)) {
		r.bad = true
		return nil
	}
	return r.bytes(int(n))
}

// skipLongstr skips a long string unread (credentials).
func (r *reader) skipLongstr() {
	n := r.u32()
	if n > uint32(len(r.b)) {
		r.bad = true
		return
	}
	if r.need(int(n)) {
		r.off += int(n)
	}
}

// MaxTableDepth bounds the nesting of field tables and arrays.
const MaxTableDepth = 16

// fieldFunc receives a field of a table: its name (nil inside arrays), its
// type octet and, for string-like types ('S', 'x'), its value.
type fieldFunc func(name []byte, typ byte, val []byte)

// table reads a field table (RabbitMQ's type octets, which the 0-9-1
// errata follows: 's' is a signed 16-bit integer, not a short string) and
// calls f for each top-level field. Nested tables and arrays are decoded
// fully, to find their ends, to depth MaxTableDepth.
func (r *reader) table(f fieldFunc) {
	b := r.longstr()
	if r.bad {
		return
	}
	t := reader{b: b}
	t.fields(f, 0)
	if t.bad {
		r.bad = true
	}
}

// fields reads the name-value pairs of a table body.
func (r *reader) fields(f fieldFunc, depth int) {
	for !r.bad && r.off < len(r.b) {
		name := r.shortstr()
		typ := r.u8()
		val := r.value(typ, depth)
		if r.bad {
			return
		}
		if f != nil {
			f(name, typ, val)
		}
	}
}

// value reads one field value of type typ; it returns the bytes of string
// types and nil for others.
func (r *reader) value(typ byte, depth int) []byte {
	switch typ {
	case 't', 'b', 'B':
		r.u8()
	case 's', 'u', 'U':
		r.u16()
	case 'I', 'i', 'f':
		r.u32()
	case 'l', 'L', 'd', 'T':
		r.u64()
	case 'D':
		r.u8()
		r.u32()
	case 'S', 'x':
		return r.longstr()
	case 'V':
	case 'F', 'A':
		if depth >= MaxTableDepth {
			r.bad = true
			return nil
		}
		b := r.longstr()
		if r.bad {
			return nil
		}
		in := reader{b: b}
		if typ == 'F' {
			in.fields(nil, depth+1)
		} else {
			for !in.bad && in.off < len(in.b) {
				in.value(in.u8(), depth+1)
			}
		}
		if in.bad {
			r.bad = true
		}
	default:
		r.bad = true
	}
	return nil
}

// equalFold reports whether b equals the lower-case s, ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// printable returns v as a string when it is printable ASCII of at most
// maxValue bytes, else "".
func printable(v []byte) string {
	if len(v) == 0 || len(v) > maxValue {
		return ""
	}
	for _, c := range v {
		if c < ' ' || c > '~' {
			return ""
		}
	}
	return string(v)
}
