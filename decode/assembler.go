package decode

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/wiretrace/wiretrace/capture"
)

// AssemblerConfig configures an [Assembler]. A nil *AssemblerConfig means
// all defaults; each field's zero value means its default.
type AssemblerConfig struct {
	// IdleTimeout closes a connection (CloseIdle, or CloseFIN when one
	// side has already sent FIN) after this much packet time without a
	// packet. Default 2 minutes.
	IdleTimeout time.Duration
	// CloseTimeout is how long, in packet time, a connection closed by FIN
	// or RST is remembered so that late retransmissions and the last ACK
	// do not open a new connection. A SYN always opens a new one. Default
	// 5 seconds.
	CloseTimeout time.Duration
	// MaxBufferedPerConn bounds the out-of-order bytes held for one
	// connection (both directions). Default 1 MiB.
	MaxBufferedPerConn int
	// MaxBufferedTotal bounds the out-of-order bytes held for all
	// connections. Default 256 MiB.
	MaxBufferedTotal int
	// MaxConns bounds the connections tracked, closed ones still
	// remembered included; the least recently seen is evicted
	// (CloseEvicted) to make room. Default 1<<20.
	MaxConns int
}

// Assembler defaults used for zero AssemblerConfig fields.
const (
	DefaultIdleTimeout        = 2 * time.Minute
	DefaultCloseTimeout       = 5 * time.Second
	DefaultMaxBufferedPerConn = 1 << 20
	DefaultMaxBufferedTotal   = 256 << 20
	DefaultMaxConns           = 1 << 20
)

// advanceEvery is how much packet time passes between the evictions Add
// runs by itself.
const advanceEvery = int64(time.Second)

func (c *AssemblerConfig) withDefaults() AssemblerConfig {
	var out AssemblerConfig
	if c != nil {
		out = *c
	}
	if out.IdleTimeout <= 0 {
		out.IdleTimeout = DefaultIdleTimeout
	}
	if out.CloseTimeout <= 0 {
		out.CloseTimeout = DefaultCloseTimeout
	}
	if out.MaxBufferedPerConn <= 0 {
		out.MaxBufferedPerConn = DefaultMaxBufferedPerConn
	}
	if out.MaxBufferedTotal <= 0 {
		out.MaxBufferedTotal = DefaultMaxBufferedTotal
	}
	if out.MaxConns <= 0 {
		out.MaxConns = DefaultMaxConns
	}
	return out
}

// AssemblerStats counts what an Assembler has done. For every direction of
// every connection, the sequence space from its first byte to its last is
// accounted once: as delivered bytes or as gap bytes.
type AssemblerStats struct {
	// Packets counts TCP packets passed to Add.
	Packets uint64
	// Ignored counts non-TCP packets passed to Add.
	Ignored uint64
	// Conns counts connections opened.
	Conns uint64
	// Active is the number of connections open now (a gauge).
	Active uint64
	// ClosedFIN, ClosedRST, EvictedIdle, EvictedLimit and Flushed count
	// connections by the way they ended.
	ClosedFIN, ClosedRST, EvictedIdle, EvictedLimit, Flushed uint64
	// Segments counts Stream.Segment calls.
	Segments uint64
	// BytesDelivered counts payload bytes delivered to Streams.
	BytesDelivered uint64
	// GapBytes counts bytes reported as gaps: lost in the capture, cut by
	// the snapshot length, or skipped because of buffer limits.
	GapBytes uint64
	// RetransBytes counts retransmitted or overlapping bytes trimmed
	// because they had already been delivered.
	RetransBytes uint64
	// OOOBytes counts bytes copied into out-of-order buffers.
	OOOBytes uint64
	// LimitGapBytes counts the part of GapBytes caused by the buffer limits:
	// holes given up early rather than waited for.
	LimitGapBytes uint64
	// Buffered is the number of out-of-order bytes held now (a gauge).
	Buffered uint64
	// LatePackets counts packets that arrived for a closed connection, or
	// for a direction after its FIN; their bytes are not delivered.
	LatePackets uint64
	// LateBytes counts the payload bytes of LatePackets.
	LateBytes uint64
	// RSTNoConn counts RST packets for connections not tracked, which do
	// not open one.
	RSTNoConn uint64
}

// Each calls f with every counter, in a fixed order, named in snake_case.
func (s AssemblerStats) Each(f func(name string, value uint64)) {
	f("tcp_packets_assembled", s.Packets)
	f("tcp_non_tcp_ignored", s.Ignored)
	f("tcp_conns", s.Conns)
	f("tcp_conns_active", s.Active)
	f("tcp_conns_closed_fin", s.ClosedFIN)
	f("tcp_conns_closed_rst", s.ClosedRST)
	f("tcp_conns_evicted_idle", s.EvictedIdle)
	f("tcp_conns_evicted_limit", s.EvictedLimit)
	f("tcp_conns_flushed", s.Flushed)
	f("tcp_segments", s.Segments)
	f("tcp_bytes_delivered", s.BytesDelivered)
	f("tcp_gap_bytes", s.GapBytes)
	f("tcp_retrans_bytes", s.RetransBytes)
	f("tcp_ooo_bytes", s.OOOBytes)
	f("tcp_ooo_limit_gap_bytes", s.LimitGapBytes)
	f("tcp_buffered_bytes", s.Buffered)
	f("tcp_late_packets", s.LatePackets)
	f("tcp_late_bytes", s.LateBytes)
	f("tcp_rst_without_conn", s.RSTNoConn)
}

// endpoint is a pointer-free address and port.
type endpoint struct {
	ip   [16]byte
	port uint16
}

func (e endpoint) less(o endpoint) bool {
	if e.ip != o.ip {
		return string(e.ip[:]) < string(o.ip[:])
	}
	return e.port < o.port
}

// connKey is the flow table key: the two endpoints in canonical order,
// the VLAN id and the tunnel's virtual network (Tunnel.Network), so that
// equal inner addresses in two VNIs stay apart.
type connKey struct {
	lo, hi  endpoint
	vlan    uint16
	network uint64
	// capture keeps the views of one connection at several capture points
	// (several files replayed together) apart: each is its own stream.
	capture string
}

// keyOf returns p's key and whether p's source is key.lo.
func keyOf(p *Packet) (connKey, bool) {
	src := endpoint{p.Src.As16(), p.SrcPort}
	dst := endpoint{p.Dst.As16(), p.DstPort}
	if dst.less(src) {
		return connKey{lo: dst, hi: src, vlan: p.VLAN, network: p.Tunnel.Network(), capture: p.Capture}, false
	}
	return connKey{lo: src, hi: dst, vlan: p.VLAN, network: p.Tunnel.Network(), capture: p.Capture}, true
}

// oooSeg is out-of-order data waiting for the bytes before it.
type oooSeg struct {
	seq     uint32
	data    []byte // copied
	missing int    // bytes after data the capture cut
	ts      int64
	dir     capture.Direction
}

// half is one direction of a connection.
type half struct {
	started bool   // next is valid
	next    uint32 // next sequence number to deliver
	synSeen bool
	isn     uint32
	fin     bool // a FIN was seen at finSeq
	finSeq  uint32
	ended   bool // End was called
	gap     int  // known-size gap to report before the next data
	acked   bool // ackTo is valid
	ackTo   uint32
	ooo     []oooSeg // sorted by sequence, all after next
	oooLen  int      // bytes held in ooo
}

// conn is one tracked connection.
type conn struct {
	key        connKey
	info       Conn
	stream     Stream
	clientIsLo bool
	half       [2]half
	lastSeen   int64
	closed     bool  // Close was called; kept until closeAt as a tombstone
	closeAt    int64 // packet time when a tombstone is forgotten
	prev, next *conn // in Assembler.open or Assembler.closed
}

// connList is an intrusive doubly linked list, oldest first.
type connList struct{ head, tail *conn }

func (l *connList) pushBack(c *conn) {
	c.prev, c.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = c
	} else {
		l.head = c
	}
	l.tail = c
}

func (l *connList) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next = nil, nil
}

func (l *connList) moveToBack(c *conn) {
	if l.tail == c {
		return
	}
	l.remove(c)
	l.pushBack(c)
}

// Assembler reassembles TCP connections from decoded packets and feeds each
// direction's bytes, in sequence order, to a Stream per connection. It is
// not safe for concurrent use. Its clock is the packets' timestamps, never
// moved backwards; memory is bounded by its config.
type Assembler struct {
	cfg         AssemblerConfig
	factory     StreamFactory
	conns       map[connKey]*conn
	open        connList // by last packet time
	closed      connList // tombstones by close time
	nextID      uint64
	now         int64
	lastAdvance int64
	buffered    int
	seg         Segment
	stats       AssemblerStats
}

// NewAssembler returns an Assembler configured by cfg (nil for defaults)
// that makes a Stream with f for each new connection.
func NewAssembler(cfg *AssemblerConfig, f StreamFactory) *Assembler {
	return &Assembler{
		cfg:     cfg.withDefaults(),
		factory: f,
		conns:   make(map[connKey]*conn),
	}
}

// Stats returns the counters so far.
func (a *Assembler) Stats() AssemblerStats {
	s := a.stats
	s.Buffered = uint64(a.buffered)
	return s
}

// Add feeds one decoded packet. Packets other than TCP are ignored. The
// packet's Payload is delivered in place when it is in order and copied
// when it must wait, so the caller may reuse it once Add returns.
func (a *Assembler) Add(p *Packet) {
	if p.Proto != ProtoTCP {
		a.stats.Ignored++
		return
	}
	a.stats.Packets++
	if p.Timestamp > a.now {
		a.now = p.Timestamp
	}
	if a.now-a.lastAdvance >= advanceEvery {
		a.Advance(a.now)
	}
	key, srcLo := keyOf(p)
	c := a.conns[key]
	syn := p.Flags&(FlagSYN|FlagACK) == FlagSYN
	if c != nil && !c.closed && syn {
		// Port reuse: a new SYN after the old connection ended.
		d := a.dirOf(c, srcLo)
		if h := &c.half[d]; (c.half[0].ended || c.half[1].ended) && (!h.synSeen || h.isn != p.Seq) {
			a.closeConn(c, CloseFIN, false)
		}
	}
	if c != nil && c.closed {
		if !syn {
			a.stats.LatePackets++
			a.stats.LateBytes += uint64(len(p.Payload))
			return
		}
		a.forget(c)
		c = nil
	}
	if c == nil {
		if p.Flags&FlagRST != 0 {
			a.stats.RSTNoConn++
			return
		}
		c = a.newConn(key, srcLo, p)
	}
	c.lastSeen = a.now
	a.open.moveToBack(c)
	a.packet(c, a.dirOf(c, srcLo), p)
}

func (a *Assembler) dirOf(c *conn, srcLo bool) Dir {
	if srcLo == c.clientIsLo {
		return FromClient
	}
	return FromServer
}

// newConn starts tracking a connection whose first packet is p.
func (a *Assembler) newConn(key connKey, srcLo bool, p *Packet) *conn {
	for len(a.conns) >= a.cfg.MaxConns {
		if old := a.closed.head; old != nil {
			a.forget(old)
			continue
		}
		old := a.open.head
		a.stats.EvictedLimit++
		a.closeConn(old, CloseEvicted, true)
		a.forget(old)
	}
	c := &conn{key: key}
	src := netip.AddrPortFrom(p.Src, p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst, p.DstPort)
	c.clientIsLo = srcLo
	c.info.Tunnel = p.Tunnel
	switch p.Flags & (FlagSYN | FlagACK) {
	case FlagSYN:
		c.info.HandshakeSeen = true
	case FlagSYN | FlagACK:
		c.info.HandshakeSeen = true
		c.clientIsLo = !srcLo
		src, dst = dst, src
		c.info.Tunnel = p.Tunnel.Reverse()
	}
	a.nextID++
	c.info.ID = a.nextID
	c.info.Client, c.info.Server = src, dst
	c.info.Capture = p.Capture
	c.info.VLAN = p.VLAN
	c.info.Start = p.Timestamp
	c.stream = a.factory.NewStream(&c.info)
	a.conns[key] = c
	a.open.pushBack(c)
	a.stats.Conns++
	a.stats.Active++
	return c
}

// packet applies one packet sent in direction d.
func (a *Assembler) packet(c *conn, d Dir, p *Packet) {
	if p.Flags&FlagRST != 0 {
		a.closeConn(c, CloseRST, false)
		return
	}
	h := &c.half[d]
	seq := p.Seq
	if p.Flags&FlagSYN != 0 {
		if !h.started {
			h.started, h.next = true, seq+1
		}
		if !h.synSeen {
			h.synSeen, h.isn = true, seq
		}
		seq++
	}
	n := len(p.Payload) + p.Missing
	if n > 0 || p.Flags&FlagFIN != 0 {
		if h.ended {
			if n > 0 {
				a.stats.LatePackets++
				a.stats.LateBytes += uint64(len(p.Payload))
			}
		} else {
			if !h.started {
				h.started, h.next = true, seq
			}
			if p.Flags&FlagFIN != 0 && !h.fin {
				h.fin, h.finSeq = true, seq+uint32(n)
			}
			a.data(c, d, seq, p.Payload, p.Missing, p.Timestamp, p.Direction)
			if c.closed {
				return
			}
		}
	}
	if p.Flags&FlagACK != 0 {
		a.ack(c, d.Reverse(), p.Ack, p.Timestamp)
	}
}

// data handles bytes [seq, seq+len(payload)+missing) of direction d.
func (a *Assembler) data(c *conn, d Dir, seq uint32, payload []byte, missing int, ts int64, cd capture.Direction) {
	h := &c.half[d]
	if n := len(payload) + missing; n > 0 && int32(seq-h.next) > 0 {
		if h.acked && int32(h.ackTo-seq) >= 0 {
			// The peer already acknowledged beyond the hole: it is lost.
			h.gap += int(seq - h.next)
			h.next = seq
		} else {
			a.buffer(c, d, seq, payload, missing, ts, cd)
			a.checkFin(c, d, ts)
			return
		}
	}
	if int32(seq-h.next) <= 0 {
		a.deliver(c, d, seq, payload, missing, ts, cd)
		a.drain(c, d)
	}
	a.checkFin(c, d, ts)
}

// deliver hands over the part of [seq, ...) not yet delivered; seq must not
// be after h.next.
func (a *Assembler) deliver(c *conn, d Dir, seq uint32, payload []byte, missing int, ts int64, cd capture.Direction) {
	h := &c.half[d]
	skip := int64(h.next - seq)
	total := int64(len(payload) + missing)
	a.stats.RetransBytes += uint64(min(skip, total))
	if skip >= total {
		return
	}
	if skip < int64(len(payload)) {
		data := payload[skip:]
		gap := h.gap
		h.gap = 0
		h.next += uint32(len(data))
		a.emit(c, d, h.next-uint32(len(data)), gap, data, ts, cd)
		skip = 0
	} else {
		skip -= int64(len(payload))
	}
	if m := int64(missing) - skip; m > 0 {
		h.gap += int(m)
		h.next += uint32(m)
	}
}

// emit calls Stream.Segment.
func (a *Assembler) emit(c *conn, d Dir, seq uint32, gap int, data []byte, ts int64, cd capture.Direction) {
	a.seg = Segment{Dir: d, Timestamp: ts, Seq: seq, Gap: gap, Data: data, Direction: cd}
	a.stats.Segments++
	a.stats.BytesDelivered += uint64(len(data))
	a.stats.GapBytes += uint64(gap)
	c.stream.Segment(&a.seg)
}

// drain delivers buffered segments that are now in order.
func (a *Assembler) drain(c *conn, d Dir) {
	h := &c.half[d]
	i := 0
	for ; i < len(h.ooo) && int32(h.ooo[i].seq-h.next) <= 0; i++ {
		s := h.ooo[i]
		h.ooo[i] = oooSeg{}
		h.oooLen -= len(s.data)
		a.buffered -= len(s.data)
		a.deliver(c, d, s.seq, s.data, s.missing, s.ts, s.dir)
	}
	if i > 0 {
		n := copy(h.ooo, h.ooo[i:])
		clear(h.ooo[n:])
		h.ooo = h.ooo[:n]
	}
}

// skipHole gives up the hole before the first buffered segment and
// delivers what follows it. It returns the size of the hole.
func (a *Assembler) skipHole(c *conn, d Dir) int {
	h := &c.half[d]
	if len(h.ooo) == 0 {
		return 0
	}
	hole := 0
	if diff := int32(h.ooo[0].seq - h.next); diff > 0 {
		hole = int(diff)
		h.gap += hole
		h.next = h.ooo[0].seq
	}
	a.drain(c, d)
	return hole
}

// buffer copies an out-of-order segment, first making room if the limits
// require it.
func (a *Assembler) buffer(c *conn, d Dir, seq uint32, payload []byte, missing int, ts int64, cd capture.Direction) {
	h := &c.half[d]
	n := len(payload)
	over := func() bool {
		return c.half[0].oooLen+c.half[1].oooLen+n > a.cfg.MaxBufferedPerConn || a.buffered+n > a.cfg.MaxBufferedTotal
	}
	if over() {
		for len(h.ooo) > 0 {
			a.stats.LimitGapBytes += uint64(a.skipHole(c, d))
		}
		if o := &c.half[d.Reverse()]; over() && len(o.ooo) > 0 {
			for len(o.ooo) > 0 {
				a.stats.LimitGapBytes += uint64(a.skipHole(c, d.Reverse()))
			}
			a.checkFin(c, d.Reverse(), ts)
			if c.closed {
				return
			}
		}
		if int32(seq-h.next) <= 0 {
			a.deliver(c, d, seq, payload, missing, ts, cd)
			a.drain(c, d)
			return
		}
		if over() {
			hole := int(seq - h.next)
			a.stats.LimitGapBytes += uint64(hole)
			h.gap += hole
			h.next = seq
			a.deliver(c, d, seq, payload, missing, ts, cd)
			a.drain(c, d)
			return
		}
	}
	// Keep the list sorted by distance from next; drop exact repeats.
	rel := seq - h.next
	i := sort.Search(len(h.ooo), func(i int) bool { return h.ooo[i].seq-h.next >= rel })
	if i < len(h.ooo) && h.ooo[i].seq == seq && len(h.ooo[i].data)+h.ooo[i].missing >= n+missing {
		a.stats.RetransBytes += uint64(n + missing)
		return
	}
	if i > 0 {
		prev := &h.ooo[i-1]
		if end := prev.seq + uint32(len(prev.data)+prev.missing); int32(end-(seq+uint32(n+missing))) >= 0 {
			a.stats.RetransBytes += uint64(n + missing)
			return
		}
	}
	data := make([]byte, n)
	copy(data, payload)
	h.ooo = slices.Insert(h.ooo, i, oooSeg{seq: seq, data: data, missing: missing, ts: ts, dir: cd})
	h.oooLen += n
	a.buffered += n
	a.stats.OOOBytes += uint64(n)
}

// ack applies an acknowledgement of direction d's bytes up to ack.
func (a *Assembler) ack(c *conn, d Dir, ack uint32, ts int64) {
	h := &c.half[d]
	if !h.started || h.ended {
		return
	}
	if !h.acked || int32(ack-h.ackTo) > 0 {
		h.acked, h.ackTo = true, ack
	}
	if int32(ack-h.next) <= 0 {
		return
	}
	// The receiver has bytes the capture never showed: holes before
	// what it acknowledged are lost.
	for len(h.ooo) > 0 && int32(ack-h.ooo[0].seq) > 0 {
		a.skipHole(c, d)
	}
	if h.fin && int32(h.finSeq-h.next) > 0 && int32(ack-h.finSeq) > 0 {
		h.gap += int(h.finSeq - h.next)
		h.next = h.finSeq
	}
	a.checkFin(c, d, ts)
}

// flushGap reports a pending gap with no data after it.
func (a *Assembler) flushGap(c *conn, d Dir, ts int64) {
	h := &c.half[d]
	if h.gap > 0 {
		gap := h.gap
		h.gap = 0
		a.emit(c, d, h.next, gap, nil, ts, capture.DirectionUnknown)
	}
}

// checkFin ends direction d once everything before its FIN is delivered,
// and closes the connection when both directions ended.
func (a *Assembler) checkFin(c *conn, d Dir, ts int64) {
	h := &c.half[d]
	if c.closed || !h.fin || h.ended || int32(h.next-h.finSeq) < 0 {
		return
	}
	a.flushGap(c, d, ts)
	h.ended = true
	h.next = h.finSeq + 1
	a.dropOOO(h)
	c.stream.End(d, a.now)
	if c.half[d.Reverse()].ended {
		a.finish(c, CloseFIN, false)
	}
}

// dropOOO forgets buffered segments (all already delivered or beyond FIN).
func (a *Assembler) dropOOO(h *half) {
	for _, s := range h.ooo {
		a.stats.LateBytes += uint64(len(s.data))
	}
	a.buffered -= h.oooLen
	h.oooLen = 0
	h.ooo = nil
}

// closeConn delivers everything buffered in both directions, with gaps for
// the holes, ends directions that sent FIN, and closes the connection.
// When evicted, the reason is not counted again by finish: the eviction
// counters already count it.
func (a *Assembler) closeConn(c *conn, reason CloseReason, evicted bool) {
	if c.closed {
		return
	}
	for d := FromClient; d <= FromServer; d++ {
		h := &c.half[d]
		if h.ended {
			continue
		}
		for len(h.ooo) > 0 {
			a.skipHole(c, d)
		}
		if h.acked && int32(h.ackTo-h.next) > 0 {
			// Acknowledged but never seen: lost at the end.
			end := h.ackTo
			if h.fin && int32(end-h.finSeq) > 0 {
				end = h.finSeq
			}
			if diff := int32(end - h.next); diff > 0 {
				h.gap += int(diff)
				h.next = end
			}
		}
		if h.fin && int32(h.finSeq-h.next) > 0 {
			h.gap += int(h.finSeq - h.next)
			h.next = h.finSeq
		}
		a.flushGap(c, d, a.now)
		if h.fin {
			h.ended = true
			c.stream.End(d, a.now)
		}
	}
	a.finish(c, reason, evicted)
}

// finish calls Close and turns c into a tombstone.
func (a *Assembler) finish(c *conn, reason CloseReason, evicted bool) {
	if c.closed {
		return
	}
	c.closed = true
	for d := range c.half {
		a.dropOOO(&c.half[d])
	}
	switch {
	case evicted:
	case reason == CloseFIN:
		a.stats.ClosedFIN++
	case reason == CloseRST:
		a.stats.ClosedRST++
	case reason == CloseFlush:
		a.stats.Flushed++
	}
	a.stats.Active--
	s := c.stream
	c.stream = nil
	s.Close(a.now, reason)
	a.open.remove(c)
	c.closeAt = a.now + int64(a.cfg.CloseTimeout)
	a.closed.pushBack(c)
}

// forget removes a tombstone from the table.
func (a *Assembler) forget(c *conn) {
	a.closed.remove(c)
	delete(a.conns, c.key)
}

// Advance moves the clock to now (never backwards) and closes connections
// idle for longer than IdleTimeout. Add calls it by itself as packet time
// passes; call it for quiet periods of a live capture.
func (a *Assembler) Advance(now int64) {
	if now > a.now {
		a.now = now
	}
	a.lastAdvance = a.now
	for c := a.closed.head; c != nil && c.closeAt <= a.now; c = a.closed.head {
		a.forget(c)
	}
	idle := int64(a.cfg.IdleTimeout)
	for c := a.open.head; c != nil && a.now-c.lastSeen > idle; c = a.open.head {
		reason := CloseIdle
		if c.half[0].fin || c.half[1].fin {
			reason = CloseFIN
		}
		a.stats.EvictedIdle++
		a.closeConn(c, reason, true)
		// No tombstone: a packet after the idle timeout opens a new
		// (mid-stream) connection.
		a.forget(c)
	}
}

// SetNow moves the clock to now (never backwards) without closing idle
// connections. A caller that shards one capture over several Assemblers
// sets each one's clock to the latest TCP packet time of the whole capture,
// so that connections close at the times one Assembler would give.
func (a *Assembler) SetNow(now int64) {
	if now > a.now {
		a.now = now
	}
}

// Flush closes every open connection (CloseFlush) in order of ID, after
// delivering what is buffered with gaps for the holes, and forgets all
// connections. Call it when the input ends.
func (a *Assembler) Flush() {
	open := make([]*conn, 0, a.stats.Active)
	for c := a.open.head; c != nil; c = c.next {
		open = append(open, c)
	}
	slices.SortFunc(open, func(x, y *conn) int { return cmp.Compare(x.info.ID, y.info.ID) })
	for _, c := range open {
		a.closeConn(c, CloseFlush, false)
	}
	for c := a.closed.head; c != nil; c = a.closed.head {
		a.forget(c)
	}
}
