package protocols

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/decode"
)

// Flow describes a connection as the protocol layer sees it: Client is the
// end that sends requests, whatever the handshake said.
type Flow struct {
	// ID is the decode connection id.
	ID uint64
	// Client sends requests; Server answers them.
	Client, Server netip.AddrPort
	// Capture names the capture point.
	Capture string
	// Protocol is the recognised protocol's name.
	Protocol string
	// IDLink is the protocol's Protocol.IDLink.
	IDLink string
	// Tunnel is the encapsulation the flow arrived in (Kind TunnelNone if
	// none), oriented so that Tunnel.OuterSrc is on Client's side.
	Tunnel decode.Tunnel
	// Datagram is set for UDP flows: their messages have no TCP sequence
	// number (Message.Seq is 0).
	Datagram bool
}

// Handler receives the driver's output. The Message is valid only during
// the call.
type Handler interface {
	// Message is called for each complete message of a flow, in order per
	// direction.
	Message(f *Flow, m *Message)
	// FlowEnd is called once when a recognised flow ends, at packet time ts.
	FlowEnd(f *Flow, ts int64)
}

// Inspector looks at each complete message with the bytes it was made of
// and may add correlation keys and attributes the parser does not know (a
// WebAssembly plugin host implements it, see protocols/plugin). A Driver
// with no Inspector keeps no message bytes and makes no call.
type Inspector interface {
	// Inspect is called for each message before the Handler gets it. raw
	// holds the bytes the parser consumed for the message as they crossed
	// the wire (for HTTP/1 the header block and the body, chunk framing
	// included), at most DriverConfig.MaxInspectBytes of them: the first
	// bytes of a longer message. raw and m are valid only during the call;
	// Inspect may append to m.Links and m.Attrs (copying what it keeps).
	// It returns false to be called no more for this flow (the inspector
	// failed on it); the flow's messages still reach the Handler.
	Inspect(f *Flow, dir Direction, raw []byte, m *Message) bool
}

// DriverConfig configures a Driver. The zero value of each field is its
// default.
type DriverConfig struct {
	// Registry lists the protocols to recognise. Required.
	Registry *Registry
	// Parser is passed to every parser.
	Parser *Config
	// MaxBuffer bounds the unconsumed bytes kept per direction while a
	// parser needs more data; 0 means 256 KiB. Beyond it the bytes are
	// dropped, counted and reported to the parser as a gap.
	MaxBuffer int
	// SniffLimit is how many bytes per direction may be looked at before a
	// connection is declared unrecognised; 0 means 4096.
	SniffLimit int
	// PortProtocols forces a protocol by server port (like tshark's
	// decode-as): the port's protocol is used without sniffing.
	PortProtocols map[uint16]string
	// DatagramIdle ends a UDP flow after this much packet time without a
	// datagram; its unanswered requests become timeouts. 0 means 30s.
	DatagramIdle time.Duration
	// MaxDatagramFlows bounds the UDP flows tracked; datagrams of new flows
	// beyond it are counted and dropped. 0 means 65536.
	MaxDatagramFlows int
	// Inspector, when set, is shown every message with its bytes. It is
	// shared by every flow of the driver; drivers that run side by side
	// may share one Inspector only if it is safe for concurrent use.
	Inspector Inspector
	// MaxInspectBytes bounds the bytes of one message kept for the
	// Inspector, per flow and direction while the message is read; 0
	// means 16 KiB.
	MaxInspectBytes int
}

// DriverStats counts what the driver did and dropped.
type DriverStats struct {
	Flows             uint64 // connections offered
	FlowsRecognised   uint64 // connections whose protocol was recognised
	FlowsUnrecognised uint64 // connections with data but no protocol
	Messages          uint64 // messages delivered
	ParseErrors       uint64 // TCP flows stopped, or UDP datagrams dropped, by a parse error
	BytesUnparsed     uint64 // bytes of unrecognised or stopped flows
	BufferDropBytes   uint64 // bytes dropped because MaxBuffer was reached
	GapBytes          uint64 // gap bytes passed to parsers

	DatagramFlowsDropped uint64 // UDP datagrams dropped because MaxDatagramFlows flows were tracked
}

// Each calls f for each counter, in a fixed order.
func (s *DriverStats) Each(f func(name string, v uint64)) {
	f("flows_l7", s.FlowsRecognised)
	f("flows_unrecognised", s.FlowsUnrecognised)
	f("messages", s.Messages)
	f("parse_errors", s.ParseErrors)
	f("bytes_unparsed", s.BytesUnparsed)
	f("buffer_drop_bytes", s.BufferDropBytes)
	f("gap_bytes", s.GapBytes)
	f("udp_flows_dropped", s.DatagramFlowsDropped)
}

// EachParseError calls f with the parse errors counted for each protocol
// that had any, in name order. The sum is Stats().ParseErrors.
func (d *Driver) EachParseError(f func(protocol string, v uint64)) {
	names := make([]string, 0, len(d.parseErrs))
	for n := range d.parseErrs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f(n, d.parseErrs[n])
	}
}

// countParseError counts a parse error of protocol name (bounded by the
// registry's protocols).
func (d *Driver) countParseError(name string) {
	if d.parseErrs == nil {
		d.parseErrs = make(map[string]uint64)
	}
	d.parseErrs[name]++
}

// Driver turns decode streams into protocol messages. It implements
// decode.StreamFactory. It is not safe for concurrent use; one driver serves
// one Assembler.
type Driver struct {
	cfg   DriverConfig
	h     Handler
	stats DriverStats
	msg   Message

	udp        map[udpKey]*udpFlow
	parseErrs  map[string]uint64 // ParseErrors by protocol name
	udpSeq     uint64
	udpNow     int64
	udpScanned int64
}

var _ decode.StreamFactory = (*Driver)(nil)

// NewDriver returns a driver that sends messages to h.
func NewDriver(cfg *DriverConfig, h Handler) *Driver {
	d := &Driver{h: h, udp: make(map[udpKey]*udpFlow)}
	if cfg != nil {
		d.cfg = *cfg
	}
	if d.cfg.MaxBuffer <= 0 {
		d.cfg.MaxBuffer = 256 << 10
	}
	if d.cfg.SniffLimit <= 0 {
		d.cfg.SniffLimit = 4096
	}
	if d.cfg.Registry == nil {
		d.cfg.Registry = NewRegistry()
	}
	if d.cfg.DatagramIdle <= 0 {
		d.cfg.DatagramIdle = defaultDatagramIdle
	}
	if d.cfg.MaxDatagramFlows <= 0 {
		d.cfg.MaxDatagramFlows = defaultDatagramFlows
	}
	if d.cfg.MaxInspectBytes <= 0 {
		d.cfg.MaxInspectBytes = 16 << 10
	}
	return d
}

// Stats returns the counters so far.
func (d *Driver) Stats() DriverStats { return d.stats }

// NewStream implements decode.StreamFactory.
func (d *Driver) NewStream(c *decode.Conn) decode.Stream {
	d.stats.Flows++
	s := &stream{d: d, conn: c}
	if name, ok := d.cfg.PortProtocols[c.Server.Port()]; ok {
		s.forced, s.forcedReq = d.cfg.Registry.Lookup(name), decode.FromClient
	} else if name, ok := d.cfg.PortProtocols[c.Client.Port()]; ok {
		s.forced, s.forcedReq = d.cfg.Registry.Lookup(name), decode.FromServer
	}
	if s.forced != nil && s.forced.New == nil {
		s.forced = nil // a UDP-only protocol: sniff as usual
	}
	return s
}

type streamState uint8

const (
	stateSniffing streamState = iota
	stateParsing
	stateDead
)

// dirState is the per-direction state of a stream.
type dirState struct {
	tail     []byte // unconsumed bytes
	tailTS   int64  // capture time of tail[0]
	tailOut  capture.Direction
	nextSeq  uint32 // sequence number after the last byte received
	active   bool   // a message has started
	msgStart int64
	msgSeq   uint32
	msgDir   capture.Direction
	lastTS   int64 // capture time of the last byte received
	ended    bool
	raw      []byte // bytes of the message in progress, for the Inspector
}

// keepRaw appends bytes consumed for the message in progress to ds.raw,
// bounded by MaxInspectBytes.
func (s *stream) keepRaw(ds *dirState, b []byte) {
	room := s.d.cfg.MaxInspectBytes - len(ds.raw)
	if room <= 0 {
		return
	}
	if len(b) > room {
		b = b[:room]
	}
	ds.raw = append(ds.raw, b...)
}

// inspect shows m and the bytes it was made of to the Inspector.
func (s *stream) inspect(ds *dirState, m *Message) {
	in := s.d.cfg.Inspector
	if in == nil {
		return
	}
	if !s.noInspect {
		pd := ToServer
		if ds != &s.dirs[s.reqDir] {
			pd = ToClient
		}
		if !in.Inspect(&s.flow, pd, ds.raw, m) {
			s.noInspect = true
		}
	}
	if cap(ds.raw) > 4096 {
		ds.raw = nil // keep no large buffer per idle flow
	} else {
		ds.raw = ds.raw[:0]
	}
}

type stream struct {
	d      *Driver
	conn   *decode.Conn
	state  streamState
	proto  *Protocol
	parser Parser
	reqDir decode.Dir // the decode direction that carries requests
	flow   Flow
	dirs   [2]dirState
	// forced is the protocol PortProtocols names for this connection; its
	// Sniff still decides the direction when it can, else forcedReq does.
	forced    *Protocol
	forcedReq decode.Dir
	// noInspect is set when the Inspector gave up on this flow.
	noInspect bool
}

func (s *stream) start(p *Protocol, reqDir decode.Dir) {
	s.state = stateParsing
	s.proto = p
	s.reqDir = reqDir
	s.parser = p.New(s.d.cfg.Parser)
	s.flow = Flow{ID: s.conn.ID, Capture: s.conn.Capture, Protocol: p.Name, IDLink: p.IDLink}
	if reqDir == decode.FromClient {
		s.flow.Client, s.flow.Server = s.conn.Client, s.conn.Server
		s.flow.Tunnel = s.conn.Tunnel
	} else {
		s.flow.Client, s.flow.Server = s.conn.Server, s.conn.Client
		s.flow.Tunnel = s.conn.Tunnel.Reverse()
	}
	if fr, ok := s.parser.(FlowReceiver); ok {
		fr.SetFlow(&s.flow)
	}
	s.d.stats.FlowsRecognised++
}

func (s *stream) pdir(d decode.Dir) Direction {
	if d == s.reqDir {
		return ToServer
	}
	return ToClient
}

// Segment implements decode.Stream.
func (s *stream) Segment(seg *decode.Segment) {
	ds := &s.dirs[seg.Dir]
	switch s.state {
	case stateDead:
		s.d.stats.BytesUnparsed += uint64(len(seg.Data))
		return
	case stateSniffing:
		if len(seg.Data) == 0 {
			return
		}
		if seg.Gap > 0 && len(ds.tail) > 0 {
			// The sniff buffer is no longer contiguous; start over.
			s.d.stats.BytesUnparsed += uint64(len(ds.tail))
			ds.tail = ds.tail[:0]
		}
		s.keep(ds, seg.Data, seg.Timestamp, seg.Direction, seg.Seq)
		var p *Protocol
		var pd Direction
		if s.forced != nil {
			p, pd = s.forced, s.forced.Sniff(ds.tail)
			if pd == DirUnknown {
				pd = ToClient
				if seg.Dir == s.forcedReq {
					pd = ToServer
				}
			}
		} else {
			p, pd = s.d.cfg.Registry.Sniff(ds.tail, s.portOf(seg.Dir, true), s.portOf(seg.Dir, false))
		}
		if p == nil {
			if len(s.dirs[0].tail)+len(s.dirs[1].tail) >= s.d.cfg.SniffLimit || len(ds.tail) >= s.d.cfg.SniffLimit/2 {
				s.state = stateDead
				s.d.stats.FlowsUnrecognised++
				s.d.stats.BytesUnparsed += uint64(len(s.dirs[0].tail) + len(s.dirs[1].tail))
				s.dirs[0].tail, s.dirs[1].tail = nil, nil
			}
			return
		}
		req := seg.Dir
		if pd == ToClient {
			req = seg.Dir.Reverse()
		}
		s.start(p, req)
		// Replay what was kept: requests first, so that parsers which
		// pair responses with requests see them in order.
		for _, d := range [2]decode.Dir{req, req.Reverse()} {
			st := &s.dirs[d]
			if len(st.tail) == 0 {
				continue
			}
			buf := st.tail
			st.tail = nil
			s.feed(d, buf, st.tailTS, st.tailOut, st.nextSeq-uint32(len(buf)), true)
			if s.state == stateDead {
				return
			}
		}
		return
	}
	if seg.Gap > 0 {
		lost := seg.Gap
		if !s.salvage(ds, s.pdir(seg.Dir)) {
			lost += len(ds.tail)
		}
		s.d.stats.GapBytes += uint64(seg.Gap)
		ds.tail = ds.tail[:0]
		s.parser.Gap(s.pdir(seg.Dir), lost)
	}
	if len(seg.Data) > 0 {
		s.turn(seg.Dir.Reverse())
		s.feed(seg.Dir, seg.Data, seg.Timestamp, seg.Direction, seg.Seq, false)
	}
}

// turn lets a Turner parser end the messages of direction d, because bytes
// flow the other way.
func (s *stream) turn(d decode.Dir) {
	t, ok := s.parser.(Turner)
	if !ok {
		return
	}
	ds := &s.dirs[d]
	for i := 0; i < 64; i++ {
		m := &s.d.msg
		m.Reset()
		if !t.Turn(s.pdir(d), m) {
			return
		}
		if !ds.active {
			ds.msgStart, ds.msgSeq, ds.msgDir = ds.lastTS, ds.nextSeq, capture.DirectionUnknown
		}
		s.emit(ds, m, ds.lastTS)
	}
}

func (s *stream) portOf(d decode.Dir, src bool) uint16 {
	if (d == decode.FromClient) == src {
		return s.conn.Client.Port()
	}
	return s.conn.Server.Port()
}

// keep appends data to the direction's tail, bounded by MaxBuffer.
func (s *stream) keep(ds *dirState, data []byte, ts int64, out capture.Direction, seq uint32) {
	if len(ds.tail) == 0 {
		ds.tailTS, ds.tailOut = ts, out
	}
	room := s.d.cfg.MaxBuffer - len(ds.tail)
	if room < 0 {
		room = 0
	}
	if len(data) > room {
		s.d.stats.BufferDropBytes += uint64(len(data) - room)
		data = data[:room]
	}
	ds.tail = append(ds.tail, data...)
	ds.lastTS = ts
	ds.nextSeq = seq + uint32(len(data))
}

// feed parses data (which continues the direction's tail) and keeps what is
// not consumed. replay is set when data is the tail itself.
func (s *stream) feed(d decode.Dir, data []byte, ts int64, out capture.Direction, seq uint32, replay bool) {
	ds := &s.dirs[d]
	pd := s.pdir(d)
	buf := data
	tailLen := 0
	if len(ds.tail) > 0 {
		tailLen = len(ds.tail)
		buf = append(ds.tail, data...)
	} else {
		ds.tailTS, ds.tailOut = ts, out
	}
	bufSeq := seq - uint32(tailLen)
	if !replay {
		ds.lastTS = ts
	}
	ds.nextSeq = seq + uint32(len(data))
	off := 0
	for guard := 0; off < len(buf) && guard < 1<<16; guard++ {
		if !ds.active {
			ds.active = true
			ds.msgSeq = bufSeq + uint32(off)
			if off < tailLen {
				ds.msgStart, ds.msgDir = ds.tailTS, ds.tailOut
			} else {
				ds.msgStart, ds.msgDir = ts, out
			}
		}
		m := &s.d.msg
		m.Reset()
		n, done, err := s.parser.Parse(pd, buf[off:], m)
		if n < 0 || n > len(buf)-off {
			err = &ParseError{Protocol: s.proto.Name, Offset: off, Err: errors.New("parser consumed out of range")}
		}
		if err != nil {
			s.d.stats.ParseErrors++
			s.d.countParseError(s.proto.Name)
			s.d.stats.BytesUnparsed += uint64(len(buf) - off)
			s.kill()
			return
		}
		if s.d.cfg.Inspector != nil && !s.noInspect && n > 0 {
			s.keepRaw(ds, buf[off:off+n])
		}
		off += n
		if done {
			s.emit(ds, m, ts)
			continue
		}
		if n == 0 {
			break
		}
		if idler, ok := s.parser.(Idler); ok && idler.Idle(pd) {
			// The bytes belonged to no message: the next one starts
			// where the following bytes do.
			ds.active = false
			ds.raw = ds.raw[:0]
		}
	}
	rest := buf[off:]
	if len(rest) == 0 {
		if ds.tail != nil {
			ds.tail = ds.tail[:0]
		}
		return
	}
	if off >= tailLen {
		// The tail is consumed; the rest started in this segment.
		ds.tailTS, ds.tailOut = ts, out
	}
	if len(rest) > s.d.cfg.MaxBuffer {
		// The parser cannot make progress within the bound: drop and
		// resynchronise.
		s.d.stats.BufferDropBytes += uint64(len(rest))
		if ds.tail != nil {
			ds.tail = ds.tail[:0]
		}
		s.parser.Gap(pd, len(rest))
		return
	}
	if replay || tailLen > 0 {
		// buf already is (or aliases) our own storage.
		n := copy(buf, rest)
		ds.tail = buf[:n]
		return
	}
	ds.tail = append(ds.tail[:0], rest...)
}

// salvage offers the direction's unconsumed tail, about to be followed by a
// gap, to a parser that implements Salvager, and emits the message it makes
// of it. It reports whether the parser took the tail; the caller then drops
// the tail without counting it as lost.
func (s *stream) salvage(ds *dirState, pd Direction) bool {
	sv, ok := s.parser.(Salvager)
	if !ok || len(ds.tail) == 0 {
		return false
	}
	m := &s.d.msg
	m.Reset()
	if !sv.Salvage(pd, ds.tail, m) {
		return false
	}
	if s.d.cfg.Inspector != nil && !s.noInspect {
		s.keepRaw(ds, ds.tail)
	}
	if !ds.active {
		// The message started at the tail's first byte.
		ds.msgStart, ds.msgDir = ds.tailTS, ds.tailOut
		ds.msgSeq = ds.nextSeq - uint32(len(ds.tail))
	}
	s.emit(ds, m, max(ds.lastTS, ds.msgStart))
	return true
}

func (s *stream) emit(ds *dirState, m *Message, ts int64) {
	m.Start, m.End, m.Seq = ds.msgStart, ts, ds.msgSeq
	m.Outbound = ds.msgDir == capture.DirectionOutbound
	m.Inbound = ds.msgDir == capture.DirectionInbound
	if m.End < m.Start {
		m.End = m.Start
	}
	ds.active = false
	s.inspect(ds, m)
	s.d.stats.Messages++
	s.d.h.Message(&s.flow, m)
}

func (s *stream) kill() {
	s.state = stateDead
	s.dirs[0].tail, s.dirs[1].tail = nil, nil
}

// End implements decode.Stream.
func (s *stream) End(d decode.Dir, ts int64) {
	ds := &s.dirs[d]
	if ds.ended {
		return
	}
	ds.ended = true
	if s.state != stateParsing {
		return
	}
	for i := 0; i < 64; i++ {
		m := &s.d.msg
		m.Reset()
		if !s.parser.End(s.pdir(d), m) {
			break
		}
		if !ds.active {
			ds.msgStart, ds.msgSeq, ds.msgDir = ts, ds.nextSeq, capture.DirectionUnknown
		}
		s.emit(ds, m, ts)
	}
	ds.tail = nil
}

// Close implements decode.Stream.
func (s *stream) Close(ts int64, _ decode.CloseReason) {
	if s.state == stateSniffing && (len(s.dirs[0].tail) > 0 || len(s.dirs[1].tail) > 0) {
		s.d.stats.FlowsUnrecognised++
		s.d.stats.BytesUnparsed += uint64(len(s.dirs[0].tail) + len(s.dirs[1].tail))
	}
	if s.state == stateParsing {
		s.End(s.reqDir, ts)
		s.End(s.reqDir.Reverse(), ts)
	}
	if s.proto != nil {
		s.d.h.FlowEnd(&s.flow, ts)
	}
	s.dirs[0].tail, s.dirs[1].tail = nil, nil
}
