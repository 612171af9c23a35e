package kafka

import "encoding/binary"

// reader decodes Kafka primitive types from a byte slice that may have been
// cut short (a message prefix, a salvaged tail). Reading past the end sets
// short and yields zero values; later reads yield zero values too, so
// decoders check short (or bad) once where it matters.
type reader struct {
	b     []byte
	off   int
	short bool // the data ended before a field
	bad   bool // a length or count was invalid
}

func (r *reader) failed() bool { return r.short || r.bad }

func (r *reader) need(n int) bool {
	if r.failed() {
		return false
	}
	if n < 0 || len(r.b)-r.off < n {
		r.short = true
		return false
	}
	return true
}

func (r *reader) i8() int8 {
	if !r.need(1) {
		return 0
	}
	v := r.b[r.off]
	r.off++
	return int8(v)
}

func (r *reader) i16() int16 {
	if !r.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b[r.off:])
	r.off += 2
	return int16(v)
}

func (r *reader) i32() int32 {
	if !r.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.off:])
	r.off += 4
	return int32(v)
}

func (r *reader) i64() int64 {
	if !r.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.b[r.off:])
	r.off += 8
	return int64(v)
}

// uvarint reads an unsigned varint (compact lengths, tagged fields).
func (r *reader) uvarint() uint64 {
	if r.failed() {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	switch {
	case n == 0:
		r.short = true
		return 0
	case n < 0:
		r.bad = true
		return 0
	}
	r.off += n
	return v
}

// varint reads a zig-zag varint (record fields).
func (r *reader) varint() int64 {
	if r.failed() {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	switch {
	case n == 0:
		r.short = true
		return 0
	case n < 0:
		r.bad = true
		return 0
	}
	r.off += n
	return v
}

// take returns the next n bytes, or what is left (setting short) when the
// data ends first.
func (r *reader) take(n int) []byte {
	if r.failed() {
		return nil
	}
	if n < 0 {
		r.bad = true
		return nil
	}
	if len(r.b)-r.off < n {
		v := r.b[r.off:]
		r.off = len(r.b)
		r.short = true
		return v
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *reader) skip(n int) { r.take(n) }

// str reads a STRING or NULLABLE_STRING (int16 length), or a COMPACT one
// (uvarint length + 1) when compact is set. A cut string yields nil.
func (r *reader) str(compact bool) []byte {
	var n int
	if compact {
		u := r.uvarint()
		if u == 0 || u > 1<<31 {
			return nil
		}
		n = int(u - 1)
	} else {
		n = int(r.i16())
		if n < 0 {
			return nil
		}
	}
	v := r.take(n)
	if r.short {
		return nil
	}
	return v
}

// bytes reads BYTES, NULLABLE_BYTES or RECORDS (int32 length), or their
// COMPACT forms. A cut value yields what is there.
func (r *reader) bytes(compact bool) []byte {
	var n int
	if compact {
		u := r.uvarint()
		if u == 0 || u > 1<<31 {
			return nil
		}
		n = int(u - 1)
	} else {
		n = int(r.i32())
		if n < 0 {
			return nil
		}
	}
	return r.take(n)
}

// array reads an ARRAY length (int32) or a COMPACT_ARRAY one; null arrays
// are empty. Counts larger than the bytes left could hold are bad.
func (r *reader) array(compact bool) int {
	var n int
	if compact {
		u := r.uvarint()
		if u == 0 {
			return 0
		}
		if u > 1<<31 {
			r.bad = true
			return 0
		}
		n = int(u - 1)
	} else {
		n = int(r.i32())
		if n < 0 {
			return 0
		}
	}
	if n > len(r.b)-r.off {
		// Every element takes at least one byte; a cut message may still
		// hold fewer elements than announced, so only absurd counts fail.
		if !r.short && n > maxArray {
			r.bad = true
			return 0
		}
	}
	return n
}

// maxArray bounds the element count of an array whose bytes are all
// present; real messages hold far fewer.
const maxArray = 1 << 20

// tags skips a tagged-field section (flexible versions only).
func (r *reader) tags(flex bool) {
	if !flex {
		return
	}
	n := r.uvarint()
	for i := uint64(0); i < n && !r.failed(); i++ {
		r.uvarint() // tag
		r.skip(int(min(r.uvarint(), 1<<31)))
	}
}

// uuid reads a 16-byte UUID.
func (r *reader) uuid() []byte { return r.take(16) }
