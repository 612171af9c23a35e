package decode

// maxDatagram is the largest IP payload a fragment table slot holds.
const maxDatagram = 1 << 16

// fragKey identifies one IP datagram being reassembled (RFC 791 section
// 2.3: source, destination, protocol and identification; RFC 8200 section
// 4.5 for IPv6).
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	v6       bool
	network  uint64 // Tunnel.Network of the fragments' encapsulation
}

// span is a half-open byte range [start, end).
type span struct{ start, end int }

// fragSlot holds the fragments of one datagram.
type fragSlot struct {
	used  bool
	key   fragKey
	buf   []byte // maxDatagram bytes, allocated on first use and kept
	have  []span // sorted, merged ranges received
	total int    // datagram payload length, -1 until the last fragment
	last  int64  // packet time of the latest fragment
}

// fragTable is a bounded IP reassembly table. Slots are searched linearly:
// fragments are rare and the table is small.
type fragTable struct {
	slots   []fragSlot
	timeout int64
	now     int64
	dropped uint64
}

func (t *fragTable) init(max int, timeout int64) {
	t.slots = make([]fragSlot, max)
	t.timeout = timeout
}

// add stores one fragment: data holds the captured bytes at offset off,
// wire is the fragment's length on the wire (more than len(data) when the
// capture cut it). It returns the datagram's payload when complete; the
// slice is valid until the next call.
func (t *fragTable) add(k fragKey, off int, more bool, data []byte, wire int, ts int64) ([]byte, bool) {
	if ts > t.now {
		t.now = ts
	}
	free, oldest := -1, -1
	var s *fragSlot
	for i := range t.slots {
		c := &t.slots[i]
		if c.used && t.now-c.last > t.timeout {
			c.used = false
			t.dropped++
		}
		if !c.used {
			if free < 0 {
				free = i
			}
			continue
		}
		if c.key == k {
			s = c
			break
		}
		if oldest < 0 || c.last < t.slots[oldest].last {
			oldest = i
		}
	}
	if s == nil {
		if free < 0 {
			free = oldest
			t.dropped++
		}
		s = &t.slots[free]
		s.used, s.key, s.have, s.total = true, k, s.have[:0], -1
		if s.buf == nil {
			s.buf = make([]byte, maxDatagram)
		}
	}
	s.last = t.now

	end := off + wire
	if wire < len(data) {
		data = data[:wire]
	}
	if off < 0 || end > maxDatagram || (!more && s.total >= 0 && s.total != end) ||
		(s.total >= 0 && end > s.total) {
		// Contradicting or oversized: give up the datagram as a receiver
		// would.
		s.used = false
		t.dropped++
		return nil, false
	}
	if !more {
		s.total = end
	}
	copy(s.buf[off:], data)
	s.have = addSpan(s.have, span{off, off + len(data)})
	if s.total >= 0 && len(s.have) == 1 && s.have[0].start == 0 && s.have[0].end >= s.total {
		s.used = false
		return s.buf[:s.total], true
	}
	return nil, false
}

// addSpan inserts r into the sorted, merged list l.
func addSpan(l []span, r span) []span {
	if r.end <= r.start {
		return l
	}
	l = append(l, r)
	for i := len(l) - 1; i > 0 && l[i-1].start > l[i].start; i-- {
		l[i-1], l[i] = l[i], l[i-1]
	}
	out := l[:1]
	for _, c := range l[1:] {
		last := &out[len(out)-1]
		if c.start <= last.end {
			last.end = max(last.end, c.end)
		} else {
			out = append(out, c)
		}
	}
	return out
}
