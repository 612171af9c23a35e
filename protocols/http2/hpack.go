package http2

import "golang.org/x/net/http2/hpack"

// staticTable is the HPACK static table (RFC 7541 Appendix A), index 1
// first.
var staticTable = [61][2]string{
	{":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"},
	{":path", "/index.html"}, {":scheme", "http"}, {":scheme", "https"},
	{":status", "200"}, {":status", "204"}, {":status", "206"}, {":status", "304"},
	{":status", "400"}, {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
	{"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""},
	{"accept", ""}, {"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""},
	{"authorization", ""}, {"cache-control", ""}, {"content-disposition", ""},
	{"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
	{"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""},
	{"date", ""}, {"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""},
	{"if-match", ""}, {"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""},
	{"if-unmodified-since", ""}, {"last-modified", ""}, {"link", ""}, {"location", ""},
	{"max-forwards", ""}, {"proxy-authenticate", ""}, {"proxy-authorization", ""},
	{"range", ""}, {"referer", ""}, {"refresh", ""}, {"retry-after", ""}, {"server", ""},
	{"set-cookie", ""}, {"strict-transport-security", ""}, {"transfer-encoding", ""},
	{"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""},
}

// entryOverhead is the per-entry size overhead of RFC 7541 section 4.1.
const entryOverhead = 32

// entry is one dynamic table entry of a lenientDecoder. An entry whose name
// came from an unknown entry has known false.
type entry struct {
	name, value string
	known       bool
	size        int
}

// lenientDecoder decodes header blocks when the HPACK state is not known:
// after joining a connection mid-stream or after a gap that may have lost
// header blocks. It tracks the entries inserted since then, newest last;
// older entries are unknown. Indices address entries from the newest, and
// eviction only removes the oldest, so an entry it knows is always the
// right one; references past them are reported as unknown. Sizes of entries
// whose name is unknown are counted without the name, so the decoder keeps
// at least what the real table keeps.
type lenientDecoder struct {
	ents []entry
	size int
	max  int // the table size signalled, bounded by MaxHeaderTableSize
}

// reset forgets every entry: the table holds unknown entries.
func (d *lenientDecoder) reset() {
	clear(d.ents)
	d.ents, d.size = d.ents[:0], 0
	if d.max == 0 {
		d.max = defaultTableSize
	}
}

func (d *lenientDecoder) add(e entry) {
	e.size = len(e.name) + len(e.value) + entryOverhead
	d.ents = append(d.ents, e)
	d.size += e.size
	d.evict()
}

func (d *lenientDecoder) evict() {
	n := 0
	for d.size > d.max && n < len(d.ents) {
		d.size -= d.ents[n].size
		n++
	}
	if n > 0 {
		k := copy(d.ents, d.ents[n:])
		clear(d.ents[k:])
		d.ents = d.ents[:k]
	}
}

// at returns the entry at the 1-based HPACK index i; ok is false when its
// contents are unknown or the index is invalid.
func (d *lenientDecoder) at(i uint64) (name, value string, ok bool) {
	if i == 0 {
		return "", "", false
	}
	if i <= uint64(len(staticTable)) {
		e := staticTable[i-1]
		return e[0], e[1], true
	}
	j := i - uint64(len(staticTable)) - 1
	if j >= uint64(len(d.ents)) {
		return "", "", false
	}
	e := d.ents[len(d.ents)-1-int(j)]
	return e.name, e.value, e.known
}

// decode decodes a whole header block, calling emit for each field it can
// name, and reports whether every field was decoded. A block it cannot
// parse at all (bad integer, bad Huffman code) stops decoding and is
// reported incomplete; the table may then be out of step, so it is reset.
func (d *lenientDecoder) decode(b []byte, emit func(name, value string)) bool {
	complete := true
	for len(b) > 0 {
		c := b[0]
		switch {
		case c&0x80 != 0: // indexed field
			i, rest, ok := varint(7, b)
			if !ok {
				d.reset()
				return false
			}
			b = rest
			if name, value, ok := d.at(i); ok {
				emit(name, value)
			} else {
				complete = false
			}
		case c&0xe0 == 0x20: // dynamic table size update
			v, rest, ok := varint(5, b)
			if !ok {
				d.reset()
				return false
			}
			b = rest
			d.max = int(min(v, MaxHeaderTableSize))
			if v == 0 {
				clear(d.ents)
				d.ents, d.size = d.ents[:0], 0
			}
			d.evict()
		default: // literal: with (01), without (0000) or never (0001) indexing
			prefix, index := byte(4), false
			if c&0xc0 == 0x40 {
				prefix, index = 6, true
			}
			i, rest, ok := varint(prefix, b)
			if !ok {
				d.reset()
				return false
			}
			b = rest
			var name string
			known := true
			if i == 0 {
				name, b, ok = str(b)
				if !ok {
					d.reset()
					return false
				}
			} else {
				name, _, known = d.at(i)
			}
			var value string
			value, b, ok = str(b)
			if !ok {
				d.reset()
				return false
			}
			if known {
				emit(name, value)
			} else {
				complete = false
			}
			if index {
				d.add(entry{name: name, value: value, known: known})
			}
		}
	}
	return complete
}

// varint reads an HPACK integer with an n-bit prefix (RFC 7541 section
// 5.1), bounded to 32 bits of value.
func varint(n byte, b []byte) (uint64, []byte, bool) {
	if len(b) == 0 {
		return 0, b, false
	}
	mask := byte(1<<n - 1)
	v := uint64(b[0] & mask)
	b = b[1:]
	if v < uint64(mask) {
		return v, b, true
	}
	for shift := uint(0); shift < 32; shift += 7 {
		if len(b) == 0 {
			return 0, b, false
		}
		c := b[0]
		b = b[1:]
		v += uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, b, v < 1<<32
		}
	}
	return 0, b, false
}

// str reads an HPACK string literal (RFC 7541 section 5.2).
func str(b []byte) (string, []byte, bool) {
	if len(b) == 0 {
		return "", b, false
	}
	huff := b[0]&0x80 != 0
	n, rest, ok := varint(7, b)
	if !ok || n > uint64(len(rest)) {
		return "", b, false
	}
	raw := rest[:n]
	rest = rest[n:]
	if !huff {
		return string(raw), rest, true
	}
	s, err := hpack.HuffmanDecodeToString(raw)
	if err != nil {
		return "", rest, false
	}
	return s, rest, true
}

// blockDirection tells from the first field of a header block whether it
// is a request (ToServer: :method, :scheme, :path or :authority) or a
// response (ToClient: :status), using only the static table; 0 when the
// block does not say.
func blockDirection(b []byte) int {
	for len(b) > 0 {
		c := b[0]
		var i uint64
		var ok bool
		switch {
		case c&0x80 != 0:
			i, _, ok = varint(7, b)
		case c&0xe0 == 0x20:
			_, b, ok = varint(5, b)
			if !ok {
				return 0
			}
			continue
		case c&0xc0 == 0x40:
			i, _, ok = varint(6, b)
		default:
			i, _, ok = varint(4, b)
		}
		switch {
		case !ok:
			return 0
		case i >= 1 && i <= 7:
			return 1
		case i >= 8 && i <= 14:
			return 2
		}
		return 0
	}
	return 0
}
