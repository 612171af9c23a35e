package ebpf

import (
	"container/list"
	"net/netip"
)

// Index defaults.
const (
	// DefaultMaxConns is the connections an Index keeps by default.
	DefaultMaxConns = 8192
	// DefaultMaxRanges is the byte ranges an Index keeps per connection
	// and direction by default: about a second of a busy connection's
	// calls, since a capture may read packets that long after the calls.
	DefaultMaxRanges = 4096
	// DefaultMaxTotal is the byte ranges an Index keeps in all by default
	// (32 bytes each): beyond it the least recently used connections are
	// forgotten.
	DefaultMaxTotal = 1 << 19
	// maxClosed is how many closed connections are kept (their spans may
	// complete after the close is seen) before the oldest is forgotten.
	maxClosed = 1024
)

// Hit is the task that moved a byte, as an Index found it.
type Hit struct {
	// PID and TID are the process (tgid) and thread ids.
	PID, TID uint32
	// Comm is the thread's name, NUL-padded (see CommString).
	Comm [16]byte
}

// CommString returns Comm up to its first NUL.
func (h *Hit) CommString() string { return commString(&h.Comm) }

// IndexStats counts what an Index was given and asked.
type IndexStats struct {
	Sends, Recvs, Closes uint64 // events added
	Evicted              uint64 // connections forgotten to respect MaxConns
	Lookups, Hits        uint64
}

// Each calls f for each counter, in a fixed order.
func (s *IndexStats) Each(f func(name string, v uint64)) {
	f("ebpf_sends", s.Sends)
	f("ebpf_recvs", s.Recvs)
	f("ebpf_closes", s.Closes)
	f("ebpf_conns_evicted", s.Evicted)
	f("ebpf_lookups", s.Lookups)
	f("ebpf_hits", s.Hits)
}

// connKey names a socket by its local and remote ends.
type connKey struct{ local, remote netip.AddrPort }

// span is a byte range and the task that moved it.
type span struct {
	seq, len uint32
	Hit
}

// ring holds the latest ranges of one direction, oldest overwritten.
type ring struct {
	r    []span
	next int
}

// add records s and returns 1 when the ring grew.
func (g *ring) add(s span, max int) int {
	if n := len(g.r); n > 0 {
		// Contiguous bytes of the same thread extend its last range
		// (a response written in pieces).
		last := &g.r[(g.next-1+n)%n]
		if last.TID == s.TID && last.PID == s.PID && last.seq+last.len == s.seq && last.len+s.len >= last.len {
			last.len += s.len
			return 0
		}
	}
	if len(g.r) < max {
		g.r = append(g.r, s)
		g.next = len(g.r) % max
		return 1
	}
	g.r[g.next] = s
	g.next = (g.next + 1) % max
	return 0
}

// find returns the newest range that holds seq.
func (g *ring) find(seq uint32) (*span, bool) {
	n := len(g.r)
	for i := 1; i <= n; i++ {
		s := &g.r[(g.next-i+n)%n]
		if seq-s.seq < s.len {
			return s, true
		}
	}
	return nil, false
}

type conn struct {
	key        connKey
	sent, recv ring
	elem       *list.Element // in Index.lru
	closed     bool
}

// Index keeps, per TCP connection, the latest byte ranges each direction
// was written or read in and by which task. It is bounded: at most
// maxConns connections and maxTotal ranges in all (beyond either the least
// recently used connection is forgotten, counted), and maxRanges ranges
// per direction (the oldest is overwritten). It is not safe for concurrent
// use.
type Index struct {
	maxConns, maxRanges, maxTotal int
	total                         int // ranges held
	conns                         map[connKey]*conn
	lru                           *list.List // front: most recently used
	closed                        []connKey  // FIFO of closed connections
	stats                         IndexStats
}

// NewIndex returns an empty Index keeping at most maxConns connections and
// maxRanges ranges per direction, DefaultMaxTotal ranges in all; 0 means
// DefaultMaxConns and DefaultMaxRanges.
func NewIndex(maxConns, maxRanges int) *Index {
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	if maxRanges <= 0 {
		maxRanges = DefaultMaxRanges
	}
	return &Index{maxConns: maxConns, maxRanges: maxRanges, maxTotal: DefaultMaxTotal,
		conns: make(map[connKey]*conn), lru: list.New()}
}

// Stats returns the counters so far.
func (x *Index) Stats() IndexStats { return x.stats }

// Len returns the connections held.
func (x *Index) Len() int { return len(x.conns) }

// Add records an event. Events with no bytes are ignored.
func (x *Index) Add(e *Event) {
	k := connKey{e.Local, e.Remote}
	switch e.Kind {
	case KindClose:
		x.stats.Closes++
		if c := x.conns[k]; c != nil && !c.closed {
			c.closed = true
			if len(x.closed) >= maxClosed {
				old := x.closed[0]
				x.closed = append(x.closed[:0], x.closed[1:]...)
				if oc := x.conns[old]; oc != nil && oc.closed {
					x.remove(oc)
				}
			}
			x.closed = append(x.closed, k)
		}
		return
	case KindSend:
		x.stats.Sends++
	case KindRecv:
		x.stats.Recvs++
	default:
		return
	}
	if e.Len == 0 {
		return
	}
	c := x.conns[k]
	if c != nil && c.closed {
		// Records of different CPUs are read in no particular order, so
		// the close may come before the last bytes; or the 4-tuple was
		// reused by a new connection, whose random initial sequence number
		// keeps its ranges apart from the old ones. Either way the ranges
		// stay.
		c.closed = false
	}
	if c == nil {
		for len(x.conns) >= x.maxConns {
			x.remove(x.lru.Back().Value.(*conn))
			x.stats.Evicted++
		}
		c = &conn{key: k}
		c.elem = x.lru.PushFront(c)
		x.conns[k] = c
	} else {
		x.lru.MoveToFront(c.elem)
	}
	s := span{seq: e.Seq, len: e.Len, Hit: Hit{PID: e.PID, TID: e.TID, Comm: e.Comm}}
	if e.Kind == KindSend {
		x.total += c.sent.add(s, x.maxRanges)
	} else {
		x.total += c.recv.add(s, x.maxRanges)
	}
	for x.total > x.maxTotal && x.lru.Len() > 1 {
		x.remove(x.lru.Back().Value.(*conn))
		x.stats.Evicted++
	}
}

func (x *Index) remove(c *conn) {
	x.lru.Remove(c.elem)
	delete(x.conns, c.key)
	x.total -= len(c.sent.r) + len(c.recv.r)
}

// Lookup returns the task that wrote (sent) or read (!sent) the byte at
// seq of the stream from→to. known reports whether the connection of that
// end is in the index at all.
func (x *Index) Lookup(from, to netip.AddrPort, seq uint32, sent bool) (h Hit, known, ok bool) {
	x.stats.Lookups++
	from, to = unmap(from), unmap(to)
	k := connKey{from, to}
	if !sent {
		k = connKey{to, from}
	}
	c := x.conns[k]
	if c == nil {
		return Hit{}, false, false
	}
	g := &c.recv
	if sent {
		g = &c.sent
	}
	s, ok := g.find(seq)
	if !ok {
		return Hit{}, true, false
	}
	x.stats.Hits++
	return s.Hit, true, true
}

func unmap(a netip.AddrPort) netip.AddrPort {
	if a.Addr().Is4In6() {
		return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	}
	return a
}
