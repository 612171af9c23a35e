package mqtt

// reader reads MQTT's data representations (section 1.5 of the 3.1.1 and
// 5.0 specifications) from a byte slice; a read past the end sets short and
// returns zero values.
type reader struct {
	b     []byte
	off   int
	short bool
	bad   bool
}

func (r *reader) failed() bool { return r.short || r.bad }

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) u8() byte {
	if r.left() < 1 {
		r.short = true
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) u16() uint16 {
	if r.left() < 2 {
		r.short = true
		r.off = len(r.b)
		return 0
	}
	v := uint16(r.b[r.off])<<8 | uint16(r.b[r.off+1])
	r.off += 2
	return v
}

func (r *reader) take(n int) []byte {
	if n < 0 || r.left() < n {
		r.short = true
		r.off = len(r.b)
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

// str reads a two-byte-length string or binary data.
func (r *reader) str() []byte { return r.take(int(r.u16())) }

// varint reads a variable byte integer (at most four bytes).
func (r *reader) varint() int {
	v, n := uvarint(r.b[r.off:])
	switch {
	case n == 0:
		r.short = true
		r.off = len(r.b)
		return 0
	case n < 0:
		r.bad = true
		r.off = len(r.b)
		return 0
	}
	r.off += n
	return v
}

// uvarint decodes a variable byte integer: n > 0 bytes read, n == 0 more
// bytes needed, n < 0 more than four bytes.
func uvarint(b []byte) (v, n int) {
	mult := 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0
		}
		v += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
		mult <<= 7
	}
	return 0, -1
}

// Property identifiers (MQTT 5.0 section 2.2.2.2) this parser reads.
const (
	propResponseTopic   = 0x08
	propCorrelationData = 0x09
	propTopicAlias      = 0x23
	propUserProperty    = 0x26
)

// propKind returns how property id is encoded: 1, 2 or 4 for integers of
// that size, 'v' variable byte integer, 's' string or binary, 'p' string
// pair, 0 unknown.
func propKind(id int) byte {
	switch id {
	case 0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A:
		return 1
	case 0x13, 0x21, 0x22, 0x23:
		return 2
	case 0x02, 0x11, 0x18, 0x27:
		return 4
	case 0x0B:
		return 'v'
	case 0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F:
		return 's'
	case 0x26:
		return 'p'
	}
	return 0
}

// properties reads a property block and calls f for each property with
// its value (k is the name of a user property). It reports false on a
// malformed block.
func (r *reader) properties(f func(id int, k, v []byte, n int)) bool {
	l := r.varint()
	block := r.take(l)
	if r.failed() {
		return false
	}
	pr := reader{b: block}
	for pr.left() > 0 {
		id := pr.varint()
		var k, v []byte
		n := 0
		switch propKind(id) {
		case 1:
			n = int(pr.u8())
		case 2:
			n = int(pr.u16())
		case 4:
			b := pr.take(4)
			if b != nil {
				n = int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
			}
		case 'v':
			n = pr.varint()
		case 's':
			v = pr.str()
		case 'p':
			k = pr.str()
			v = pr.str()
		default:
			return false
		}
		if pr.failed() {
			return false
		}
		if f != nil {
			f(id, k, v, n)
		}
	}
	return true
}
