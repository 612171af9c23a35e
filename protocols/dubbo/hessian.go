package dubbo

import "encoding/binary"

// Limits of the Hessian 2 decoder.
const (
	// MaxDepth bounds the nesting of lists, maps and objects skipped.
	MaxDepth = 32
	// MaxClasses bounds the class definitions remembered in one body; an
	// object of a class beyond it ends the body decoding.
	MaxClasses = 64
	// MaxValues bounds the values read or skipped in one body.
	MaxValues = 1 << 16
)

// classDef is a Hessian class definition: where its name is in the body
// and how many fields its instances have.
type classDef struct {
	name   []byte
	fields int
}

// hessian reads the subset of Hessian 2.0 a Dubbo body needs: strings
// and integers, and skipping any value. It never allocates: strings are
// returned as sub-slices of the body (the first chunk of a chunked
// string), class names likewise. Any malformed or unsupported input sets
// bad; every method then returns zero values.
type hessian struct {
	b       []byte
	off     int
	bad     bool
	values  int
	classes [MaxClasses]classDef
	nclass  int
}

func (h *hessian) reset(b []byte) {
	h.b, h.off, h.bad, h.values, h.nclass = b, 0, false, 0, 0
}

func (h *hessian) fail() bool { h.bad = true; return false }

// need reports whether n more bytes are there.
func (h *hessian) need(n int) bool {
	if h.bad || n < 0 || len(h.b)-h.off < n {
		return h.fail()
	}
	return true
}

func (h *hessian) peek() (byte, bool) {
	if !h.need(1) {
		return 0, false
	}
	return h.b[h.off], true
}

func (h *hessian) count() bool {
	h.values++
	if h.values > MaxValues {
		return h.fail()
	}
	return true
}

// utf8Len returns the byte length of n characters of Hessian's UTF-8
// starting at off: a character is one UTF-16 unit, so a 4-byte sequence
// counts as two.
func (h *hessian) utf8Len(n int) (int, bool) {
	i := h.off
	for n > 0 {
		if i >= len(h.b) {
			return 0, h.fail()
		}
		c := h.b[i]
		switch {
		case c < 0x80:
			i++
		case c&0xe0 == 0xc0:
			i += 2
		case c&0xf0 == 0xe0:
			i += 3
		case c&0xf8 == 0xf0:
			i += 4
			n--
		default:
			return 0, h.fail()
		}
		n--
	}
	if i > len(h.b) {
		return 0, h.fail()
	}
	return i - h.off, true
}

// string reads a string (or null, as ""); ok is false when the next value
// is not a string. A chunked string returns its first chunk; the rest is
// skipped.
func (h *hessian) string() (s []byte, ok bool) {
	c, ok := h.peek()
	if !ok || !h.count() {
		return nil, false
	}
	if c == 'N' {
		h.off++
		return nil, true
	}
	var first []byte
	for chunk := 0; ; chunk++ {
		c, ok := h.peek()
		if !ok {
			return nil, false
		}
		var n int
		final := true
		switch {
		case c <= 0x1f:
			n, h.off = int(c), h.off+1
		case c >= 0x30 && c <= 0x33:
			if !h.need(2) {
				return nil, false
			}
			n, h.off = int(c-0x30)<<8|int(h.b[h.off+1]), h.off+2
		case c == 'S' || c == 'R':
			if !h.need(3) {
				return nil, false
			}
			n, h.off = int(binary.BigEndian.Uint16(h.b[h.off+1:])), h.off+3
			final = c == 'S'
		default:
			if chunk == 0 {
				return nil, false // not a string; bad is not set
			}
			return nil, h.fail()
		}
		l, ok := h.utf8Len(n)
		if !ok {
			return nil, false
		}
		if chunk == 0 {
			first = h.b[h.off : h.off+l]
		}
		h.off += l
		if final {
			return first, true
		}
	}
}

// int reads an int or long; ok is false when the next value is neither.
func (h *hessian) int() (v int64, ok bool) {
	c, ok := h.peek()
	if !ok {
		return 0, false
	}
	b := h.b
	o := h.off
	switch {
	case c >= 0x80 && c <= 0xbf:
		v, h.off = int64(c)-0x90, o+1
	case c >= 0xc0 && c <= 0xcf:
		if !h.need(2) {
			return 0, false
		}
		v, h.off = (int64(c)-0xc8)<<8|int64(b[o+1]), o+2
	case c >= 0xd0 && c <= 0xd7:
		if !h.need(3) {
			return 0, false
		}
		v, h.off = (int64(c)-0xd4)<<16|int64(b[o+1])<<8|int64(b[o+2]), o+3
	case c == 'I' || c == 'Y':
		if !h.need(5) {
			return 0, false
		}
		v, h.off = int64(int32(binary.BigEndian.Uint32(b[o+1:]))), o+5
	case c >= 0xd8 && c <= 0xef:
		v, h.off = int64(c)-0xe0, o+1
	case c >= 0xf0:
		if !h.need(2) {
			return 0, false
		}
		v, h.off = (int64(c)-0xf8)<<8|int64(b[o+1]), o+2
	case c >= 0x38 && c <= 0x3f:
		if !h.need(3) {
			return 0, false
		}
		v, h.off = (int64(c)-0x3c)<<16|int64(b[o+1])<<8|int64(b[o+2]), o+3
	case c == 'L':
		if !h.need(9) {
			return 0, false
		}
		v, h.off = int64(binary.BigEndian.Uint64(b[o+1:])), o+9
	default:
		return 0, false
	}
	return v, true
}

// length reads a non-negative int used as a length or reference, bounded
// by the body size (every element takes at least one byte).
func (h *hessian) length() (int, bool) {
	v, ok := h.int()
	if !ok || v < 0 || v > int64(len(h.b)) {
		return 0, h.fail()
	}
	return int(v), true
}

// typ skips a list or map type: a type name string or a type reference.
func (h *hessian) typ() bool {
	if _, ok := h.string(); ok {
		return true
	}
	if h.bad {
		return false
	}
	_, ok := h.length()
	return ok
}

// classDef reads a class definition ('C' already consumed) and returns its
// index.
func (h *hessian) classDef() (int, bool) {
	name, ok := h.string()
	if !ok {
		return 0, h.fail()
	}
	n, ok := h.length()
	if !ok {
		return 0, false
	}
	for i := 0; i < n; i++ {
		if _, ok := h.string(); !ok {
			return 0, h.fail()
		}
	}
	if h.nclass >= MaxClasses {
		return 0, h.fail()
	}
	h.classes[h.nclass] = classDef{name: name, fields: n}
	h.nclass++
	return h.nclass - 1, true
}

// skip skips one value, nested at most MaxDepth deep.
func (h *hessian) skip(depth int) bool {
	c, ok := h.peek()
	if !ok {
		return false
	}
	if depth > MaxDepth || !h.count() {
		return h.fail()
	}
	o := h.off
	fixed := func(n int) bool {
		if !h.need(n) {
			return false
		}
		h.off += n
		return true
	}
	switch {
	case c == 'N' || c == 'T' || c == 'F':
		return fixed(1)
	case c <= 0x1f || c >= 0x30 && c <= 0x33 || c == 'S' || c == 'R':
		h.values-- // string counts itself
		_, ok := h.string()
		return ok
	case c >= 0x80 && c <= 0xbf, c >= 0xd8 && c <= 0xef:
		return fixed(1)
	case c >= 0xc0 && c <= 0xcf, c >= 0xf0:
		return fixed(2)
	case c >= 0xd0 && c <= 0xd7, c >= 0x38 && c <= 0x3f:
		return fixed(3)
	case c == 'I' || c == 'Y' || c == 0x4b || c == 0x5f:
		return fixed(5)
	case c == 'L' || c == 'D' || c == 0x4a:
		return fixed(9)
	case c == 0x5b || c == 0x5c:
		return fixed(1)
	case c == 0x5d:
		return fixed(2)
	case c == 0x5e:
		return fixed(3)
	case c >= 0x20 && c <= 0x2f:
		return fixed(1 + int(c-0x20))
	case c >= 0x34 && c <= 0x37:
		if !h.need(2) {
			return false
		}
		return fixed(2 + (int(c-0x34)<<8 | int(h.b[o+1])))
	case c == 'B' || c == 'A':
		for {
			c, ok := h.peek()
			if !ok {
				return false
			}
			switch {
			case c == 'B' || c == 'A':
				if !h.need(3) {
					return false
				}
				if !fixed(3 + int(binary.BigEndian.Uint16(h.b[h.off+1:]))) {
					return false
				}
				if c == 'B' {
					return true
				}
			case c >= 0x20 && c <= 0x2f:
				return fixed(1 + int(c-0x20))
			case c >= 0x34 && c <= 0x37:
				if !h.need(2) {
					return false
				}
				return fixed(2 + (int(c-0x34)<<8 | int(h.b[h.off+1])))
			default:
				return h.fail()
			}
		}
	case c == 'Q':
		h.off++
		_, ok := h.length()
		return ok
	case c == 'C':
		h.off++
		if _, ok := h.classDef(); !ok {
			return false
		}
		h.values--
		return h.skip(depth) // the definition precedes its instance
	case c == 'O' || c >= 0x60 && c <= 0x6f:
		var ref int
		if c == 'O' {
			h.off++
			if ref, ok = h.length(); !ok {
				return false
			}
		} else {
			ref, h.off = int(c-0x60), h.off+1
		}
		if ref >= h.nclass {
			return h.fail()
		}
		for i := 0; i < h.classes[ref].fields; i++ {
			if !h.skip(depth + 1) {
				return false
			}
		}
		return true
	case c == 'H' || c == 'M':
		h.off++
		if c == 'M' && !h.typ() {
			return false
		}
		for {
			c, ok := h.peek()
			if !ok {
				return false
			}
			if c == 'Z' {
				h.off++
				return true
			}
			if !h.skip(depth+1) || !h.skip(depth+1) {
				return false
			}
		}
	case c == 'U' || c == 'W':
		h.off++
		if c == 'U' && !h.typ() {
			return false
		}
		for {
			c, ok := h.peek()
			if !ok {
				return false
			}
			if c == 'Z' {
				h.off++
				return true
			}
			if !h.skip(depth + 1) {
				return false
			}
		}
	case c == 'V' || c == 'X' || c >= 0x70 && c <= 0x7f:
		h.off++
		if (c == 'V' || c <= 0x77) && !h.typ() {
			return false
		}
		var n int
		switch {
		case c == 'V' || c == 'X':
			if n, ok = h.length(); !ok {
				return false
			}
		case c <= 0x77:
			n = int(c - 0x70)
		default:
			n = int(c - 0x78)
		}
		for i := 0; i < n; i++ {
			if !h.skip(depth + 1) {
				return false
			}
		}
		return true
	}
	return h.fail()
}

// className returns the Java class name of the object that starts at the
// current offset (after its definition, when one precedes it), or nil.
// It does not move the offset.
func (h *hessian) className() []byte {
	save, saveN, saveV := h.off, h.nclass, h.values
	defer func() { h.off, h.nclass, h.values, h.bad = save, saveN, saveV, false }()
	c, ok := h.peek()
	for ok && c == 'C' {
		h.off++
		if _, ok = h.classDef(); !ok {
			return nil
		}
		c, ok = h.peek()
	}
	if !ok {
		return nil
	}
	ref := -1
	switch {
	case c == 'O':
		h.off++
		if r, ok := h.length(); ok {
			ref = r
		}
	case c >= 0x60 && c <= 0x6f:
		ref = int(c - 0x60)
	}
	if ref < 0 || ref >= h.nclass {
		return nil
	}
	return h.classes[ref].name
}
