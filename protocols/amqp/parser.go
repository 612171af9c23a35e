package amqp

import (
	"bytes"
	"encoding/binary"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name in span output.
const Name = "amqp"

// Limits.
const (
	// MaxFrame bounds the method and content header frame payload decoded;
	// a larger frame is decoded from its first MaxFrame bytes and the rest
	// skipped. RabbitMQ's default frame_max is 131072.
	MaxFrame = 128 << 10
	// MaxBodyFrame bounds a frame's declared payload size; a larger one is
	// not AMQP (RabbitMQ caps frame_max at 128 MiB).
	MaxBodyFrame = 128 << 20
	// MaxChannels bounds the channels with a message in progress per
	// direction, and those with requests in flight; beyond it the oldest
	// is forgotten (its message is not emitted).
	MaxChannels = 64
	// maxValue bounds a string value copied into an attribute or link.
	maxValue = 255
	// resyncWait bounds the declared size of a candidate frame that resync
	// waits for in full before trusting it.
	resyncWait = MaxFrame + frameOverhead
)

// Frame types (amqp0-9-1.xml; RabbitMQ sends heartbeats as 8).
const (
	frameMethod    = 1
	frameHeader    = 2
	frameBody      = 3
	frameHeartbeat = 8
	frameEnd       = 0xCE
	frameOverhead  = 8 // type, channel, size, frame-end
)

// protocolHeader is the 0-9-1 protocol header a client sends first.
var protocolHeader = []byte("AMQP\x00\x00\x09\x01")

// Protocol describes AMQP 0-9-1 for the registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "AMQP 0-9-1 (RabbitMQ): methods by class and id, publish/deliver/get with exchange, routing key, message and correlation ids; trace headers in message headers; producer → consumer hand-off",
	IDLink:  "",
	Ports:   []uint16{5672},
	Sniff:   Sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

// Link slots for trace headers found in the headers table.
var linkHeaders = [...]struct{ name, key string }{
	{"traceparent", protocols.LinkTraceparent},
	{"tracestate", protocols.LinkTracestate},
	{"b3", protocols.LinkB3},
	{"x-b3-traceid", protocols.LinkB3TraceID},
	{"x-b3-spanid", protocols.LinkB3SpanID},
	{"x-b3-parentspanid", protocols.LinkB3ParentID},
	{"uber-trace-id", protocols.LinkUberTraceID},
	{"sw8", protocols.LinkSW8},
}

// Link value prefixes (see the package documentation, Linking).
const (
	handoffMessage     = "amqp:"
	handoffCorrelation = "amqp-corr:"
)

type state uint8

const (
	stFrame  state = iota // at a frame boundary
	stSkip                // inside a frame's payload: skip bytes, then the frame-end octet
	stResync              // lost the frame boundary after a gap
)

// content is a message whose method was seen and whose content header and
// body are being read on one channel.
type content struct {
	ch       uint16
	key      uint32
	name     string
	kind     protocols.Kind
	unsol    bool
	noResp   bool
	status   protocols.Status
	header   bool   // content header seen
	bodySize uint64 // from the content header
	seen     uint64 // body bytes seen
	size     int    // frame bytes seen
	partial  bool
	replyTo  bool // the message has a reply-to (a request of request-reply)
	attrs    []protocols.Attr
	links    []protocols.Attr
}

// half is one direction's parsing state.
type half struct {
	st       state
	skip     int    // stSkip: payload bytes left
	skipCh   uint16 // stSkip: the frame's channel
	skipBody bool   // stSkip: the skipped bytes are body bytes of skipCh's content
	contents []*content
	free     []*content
}

// reverse returns the other direction.
func reverse(d protocols.Direction) protocols.Direction {
	if d == protocols.ToServer {
		return protocols.ToClient
	}
	return protocols.ToServer
}

// Parser is the AMQP 0-9-1 parser of one connection. Create it with New.
type Parser struct {
	rid    []string
	halves [2]half
	// inflight counts the synchronous requests awaiting their -ok per
	// channel (client's and server's: the close handshake can start at
	// either end), at most MaxChannels channels.
	inflight []flight
	vhost    string
	// interned strings: names repeat on a connection.
	names [8]string
	nameN int
}

type flight struct {
	ch   uint16
	dir  protocols.Direction // the request's direction
	n    int
	code uint16 // a close request's reply code, or swallow
}

// swallow marks a server close that answered a request: its close-ok is
// no message.
const swallow = 0xFFFF

// New returns a parser for one connection; a nil cfg means defaults.
func New(cfg *protocols.Config) *Parser {
	return &Parser{rid: cfg.RequestIDHeaders()}
}

func (p *Parser) half(dir protocols.Direction) *half {
	switch dir {
	case protocols.ToServer:
		return &p.halves[0]
	case protocols.ToClient:
		return &p.halves[1]
	}
	return nil
}

// Sniff reports ToServer for the 0-9-1 protocol header, and for a complete
// frame whose method only a client sends; ToClient for connection.start
// and complete frames of methods only a server sends.
func Sniff(data []byte) protocols.Direction {
	if len(data) >= 8 && bytes.Equal(data[:8], protocolHeader) {
		return protocols.ToServer
	}
	typ, _, size, ok := frameHeaderOf(data)
	if !ok || typ != frameMethod || size < 4 || size > MaxFrame || len(data) < int(size)+frameOverhead {
		return protocols.DirUnknown
	}
	if data[7+size] != frameEnd {
		return protocols.DirUnknown
	}
	k := methodKey(binary.BigEndian.Uint16(data[7:]), binary.BigEndian.Uint16(data[9:]))
	switch k {
	case mConnectionStart, mConnectionTune, mConnectionOpenOk, mChannelOpenOk, mBasicDeliver,
		mBasicGetOk, mBasicGetEmpty, mBasicConsumeOk, mQueueDeclareOk, mExchangeDeclareOk,
		mQueueBindOk, mBasicQosOk, mBasicReturn:
		return protocols.ToClient
	case mConnectionStartOk, mConnectionTuneOk, mConnectionOpen, mChannelOpen, mBasicPublish,
		mBasicGet, mBasicConsume, mQueueDeclare, mExchangeDeclare, mQueueBind, mBasicQos:
		return protocols.ToServer
	}
	return protocols.DirUnknown
}

// frameHeaderOf reads a frame header; ok is false with fewer than 7 bytes
// or an unknown frame type.
func frameHeaderOf(b []byte) (typ uint8, ch uint16, size uint32, ok bool) {
	if len(b) < 7 {
		return 0, 0, 0, false
	}
	typ = b[0]
	switch typ {
	case frameMethod, frameHeader, frameBody, frameHeartbeat:
	default:
		return 0, 0, 0, false
	}
	return typ, binary.BigEndian.Uint16(b[1:]), binary.BigEndian.Uint32(b[3:]), true
}

// Parse implements protocols.Parser.
func (p *Parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	h := p.half(dir)
	if h == nil {
		return 0, false, parseErr(0, ErrDirection)
	}
	off := 0
	for off < len(data) {
		switch h.st {
		case stSkip:
			if h.skip > 0 {
				n := min(h.skip, len(data)-off)
				h.skip -= n
				off += n
				if h.skipBody {
					if c := h.find(h.skipCh); c != nil {
						c.seen += uint64(n)
						c.size += n
					}
				}
				continue
			}
			if data[off] != frameEnd {
				return off, false, parseErr(off, ErrFrameEnd)
			}
			off++
			h.st = stFrame
			// The end of a body frame, or of a content header larger
			// than MaxFrame, may complete its message.
			if c := h.find(h.skipCh); c != nil {
				if h.skipBody {
					c.size++
				}
				if c.header && c.seen >= c.bodySize {
					p.emitContent(h, c, msg)
					return off, true, nil
				}
			}
		case stResync:
			n, ok := resync(data[off:])
			off += n
			if !ok {
				return off, false, nil
			}
			h.st = stFrame
		case stFrame:
			n, done, err := p.frame(dir, h, data[off:], msg)
			if err != nil {
				var pe *protocols.ParseError
				if asParseErr(err, &pe) {
					pe.Offset += off
				}
				return off, false, err
			}
			off += n
			if done {
				return off, true, nil
			}
			if n == 0 {
				return off, false, nil
			}
		}
	}
	return off, false, nil
}

func asParseErr(err error, pe **protocols.ParseError) bool {
	e, ok := err.(*protocols.ParseError)
	*pe = e
	return ok
}

// frame reads one frame at the start of b.
func (p *Parser) frame(dir protocols.Direction, h *half, b []byte, msg *protocols.Message) (int, bool, error) {
	if len(b) > 0 && b[0] == 'A' {
		if len(b) < 8 {
			if bytes.HasPrefix(protocolHeader, b) || bytes.HasPrefix([]byte("AMQP"), b[:min(4, len(b))]) {
				return 0, false, nil
			}
			return 0, false, parseErr(0, ErrFrameType)
		}
		if !bytes.Equal(b[:4], []byte("AMQP")) {
			return 0, false, parseErr(0, ErrFrameType)
		}
		if b[4] != 0 || b[5] != 0 || b[6] != 9 {
			return 0, false, parseErr(0, ErrVersion)
		}
		return 8, false, nil
	}
	if len(b) < 7 {
		return 0, false, nil
	}
	typ, ch, size, ok := frameHeaderOf(b)
	if !ok {
		return 0, false, parseErr(0, ErrFrameType)
	}
	if size > MaxBodyFrame {
		return 0, false, parseErr(3, ErrFrameSize)
	}
	switch typ {
	case frameHeartbeat:
		if size != 0 {
			// Heartbeats carry nothing; skip it anyway.
			h.st, h.skip, h.skipCh, h.skipBody = stSkip, int(size), ch, false
			return 7, false, nil
		}
		if len(b) < 8 {
			return 0, false, nil
		}
		if b[7] != frameEnd {
			return 0, false, parseErr(7, ErrFrameEnd)
		}
		return 8, false, nil
	case frameBody:
		c := h.find(ch)
		if c != nil {
			c.size += 7
		}
		h.st, h.skip, h.skipCh, h.skipBody = stSkip, int(size), ch, c != nil
		return 7, false, nil
	}
	// Method and content header frames are decoded whole (or from their
	// first MaxFrame bytes).
	payload := int(size)
	if payload > MaxFrame {
		if len(b) < 7+MaxFrame {
			return 0, false, nil
		}
		h.st, h.skip, h.skipCh, h.skipBody = stSkip, payload-MaxFrame, ch, false
		if c := h.find(ch); c != nil && typ == frameHeader {
			c.size++ // the frame-end octet, read after the skip
		}
		if typ == frameMethod {
			return p.method(dir, h, b[:7+MaxFrame], msg, true)
		}
		p.header(h, ch, b[7:7+MaxFrame], true)
		if c := h.find(ch); c != nil {
			c.size += 7 + MaxFrame
		}
		return 7 + MaxFrame, false, nil
	}
	n := 7 + payload + 1
	if len(b) < n {
		return 0, false, nil
	}
	if b[n-1] != frameEnd {
		return 0, false, parseErr(n-1, ErrFrameEnd)
	}
	if typ == frameMethod {
		return p.method(dir, h, b[:n], msg, false)
	}
	c := p.header(h, ch, b[7:n-1], false)
	if c == nil {
		return n, false, nil
	}
	c.size += n
	if c.seen >= c.bodySize {
		p.emitContent(h, c, msg)
		return n, true, nil
	}
	return n, false, nil
}

// method handles a method frame f (header, payload and, unless cut, the
// frame-end octet). With cut set the frame continues beyond f and the
// half is already set to skip the rest.
func (p *Parser) method(dir protocols.Direction, h *half, f []byte, msg *protocols.Message, cut bool) (int, bool, error) {
	ch := binary.BigEndian.Uint16(f[1:])
	payload := f[7:]
	if !cut {
		payload = payload[:len(payload)-1]
	}
	if len(payload) < 4 {
		return 0, false, parseErr(7, ErrMethod)
	}
	k := methodKey(binary.BigEndian.Uint16(payload), binary.BigEndian.Uint16(payload[2:]))
	m, known := lookupMethod(k)
	if !known {
		return 0, false, parseErr(7, ErrMethod)
	}
	// A method on a channel whose content is incomplete ends that message.
	if c := h.find(ch); c != nil {
		c.partial = true
		if cut {
			// Undo: the method is read again after the emission.
			h.st = stFrame
		}
		p.emitContent(h, c, msg)
		return 0, true, nil
	}
	r := reader{b: payload, off: 4}
	if m.content {
		c := h.alloc(p, ch)
		c.key, c.name, c.size = k, m.name, len(f)
		c.kind, c.unsol, c.noResp = protocols.Request, false, false
		if dir == protocols.ToServer {
			c.noResp = true
		} else {
			c.kind, c.unsol = protocols.Response, k != mBasicGetOk
		}
		c.attrs = append(c.attrs, protocols.String("messaging.system", "rabbitmq"),
			protocols.String("messaging.operation.name", m.name))
		c.attrs = p.args(c.attrs, k, &r, c)
		if p.vhost != "" {
			c.attrs = append(c.attrs, protocols.String("amqp.vhost", p.vhost))
		}
		c.name += targetOf(c.attrs)
		c.partial = cut || r.bad
		if k == mBasicGetOk {
			p.settle(ch, reverse(dir))
		}
		return len(f), false, nil
	}

	// A method without content is a message of its own.
	msg.Size = len(f)
	msg.Partial = cut
	msg.ID, msg.HasID = uint64(ch), true
	msg.Attrs = append(msg.Attrs, protocols.String("messaging.system", "rabbitmq"))
	if m.role != roleResponse && k != mChannelClose && k != mConnectionClose {
		// (A response's attributes are added to its request's span.)
		msg.Attrs = append(msg.Attrs, protocols.String("messaging.operation.name", m.name))
	}
	var tmp content
	msg.Attrs = p.args(msg.Attrs, k, &r, &tmp)
	if r.bad && !cut {
		msg.Partial = true
	}
	if p.vhost != "" && k != mConnectionOpen {
		msg.Attrs = append(msg.Attrs, protocols.String("amqp.vhost", p.vhost))
	}
	target := targetOf(msg.Attrs)
	switch m.role {
	case roleRequest:
		code := uint16(tmp.bodySize) // args stores a close's reply code there
		if (k == mChannelClose || k == mConnectionClose) && dir == protocols.ToClient && p.answers(ch, k) {
			// The server closes the channel (or connection) in answer to
			// the request in flight there: that request failed, and this
			// is its response. The client's close-ok is then consumed
			// with no message of its own.
			msg.Kind, msg.Status = protocols.Response, protocols.StatusError
			if name := replyCodeName(code); name != "" {
				msg.Attrs = append(msg.Attrs, protocols.String("error.type", name))
			}
			p.settle(ch, reverse(dir))
			p.await(ch, dir, swallow)
			return len(f), true, nil
		}
		msg.Kind = protocols.Request
		msg.Name = m.name + target
		if k == mChannelClose || k == mConnectionClose {
			msg.Attrs = append(msg.Attrs, protocols.String("messaging.operation.name", m.name))
		}
		if m.nowait >= 0 && nowaitSet(k, payload, m.nowait) {
			msg.NoResponse = true
		} else {
			if code == 200 {
				code = 0
			}
			p.await(ch, dir, code)
		}
	case roleResponse:
		msg.Kind = protocols.Response
		msg.Status = protocols.StatusOK
		code := p.settle(ch, reverse(dir))
		if code == swallow && (k == mChannelCloseOk || k == mConnectionCloseOk) {
			return len(f), false, nil
		}
		if code != 0 && code != swallow && (k == mChannelCloseOk || k == mConnectionCloseOk) {
			// The close this answers was an error that answered no
			// request: the close handshake shows it.
			msg.Status = protocols.StatusError
			if name := replyCodeName(code); name != "" {
				msg.Attrs = append(msg.Attrs, protocols.String("error.type", name))
			}
		}
	case roleAsync:
		if dir == protocols.ToServer {
			msg.Kind, msg.Name, msg.NoResponse = protocols.Request, m.name+target, true
		} else {
			msg.Kind, msg.Name, msg.Unsolicited, msg.Status = protocols.Response, m.name+target, true, protocols.StatusOK
		}
		msg.ID, msg.HasID = 0, false
	}
	return len(f), true, nil
}

// targetOf returns " <destination>" from the attributes set by args, or "".
func targetOf(attrs []protocols.Attr) string {
	for _, a := range attrs {
		if a.Key == attrDestination && a.Str != "" {
			return " " + a.Str
		}
	}
	for _, a := range attrs {
		if a.Key == attrRoutingKey && a.Str != "" {
			return " " + a.Str
		}
	}
	return ""
}

// nowaitSet reports whether the no-wait bit of a request is set: bit of
// the first octet after the method's leading short strings.
func nowaitSet(k uint32, payload []byte, bit int8) bool {
	r := reader{b: payload, off: 4}
	switch k {
	case mExchangeDeclare:
		r.u16()
		r.shortstr()
		r.shortstr()
	case mExchangeDelete, mQueueDeclare, mQueuePurge, mQueueDelete:
		r.u16()
		r.shortstr()
	case mExchangeBind, mExchangeUnbind, mQueueBind:
		r.u16()
		r.shortstr()
		r.shortstr()
		r.shortstr()
	case mBasicConsume:
		r.u16()
		r.shortstr()
		r.shortstr()
	case mBasicCancel:
		r.shortstr()
	case mConfirmSelect:
	}
	v := r.u8()
	return !r.bad && v&(1<<uint(bit)) != 0
}

// Attribute keys.
const (
	attrDestination = "messaging.destination.name"
	attrRoutingKey  = "messaging.rabbitmq.destination.routing_key"
	attrDeliveryTag = "messaging.rabbitmq.message.delivery_tag"
	attrOpType      = "messaging.operation.type"
)

// args decodes a method's arguments into attributes; c receives what the
// content (or the close handling) needs: the reply code in c.bodySize.
func (p *Parser) args(attrs []protocols.Attr, k uint32, r *reader, c *content) []protocols.Attr {
	str := func(key string, v []byte) {
		if s := p.intern(v); s != "" || key == attrDestination {
			attrs = append(attrs, protocols.String(key, s))
		}
	}
	switch k {
	case mConnectionStartOk:
		r.table(nil)
		if mech := r.shortstr(); len(mech) > 0 {
			str("amqp.sasl.mechanism", mech)
		}
		r.skipLongstr() // the SASL response: credentials, never read
	case mConnectionSecureOk, mConnectionUpdateSecret:
		r.skipLongstr() // credentials
	case mConnectionOpen:
		v := r.shortstr()
		if !r.bad {
			p.vhost = p.intern(v)
			attrs = append(attrs, protocols.String("amqp.vhost", p.vhost))
		}
	case mConnectionClose, mChannelClose:
		code := r.u16()
		text := r.shortstr()
		if !r.bad {
			c.bodySize = uint64(code)
			attrs = append(attrs, protocols.Int("amqp.reply_code", int64(code)))
			if s := printable(text); s != "" {
				attrs = append(attrs, protocols.String("amqp.reply_text", s))
			}
		}
	case mExchangeDeclare, mExchangeDelete:
		r.u16()
		str(attrDestination, r.shortstr())
	case mExchangeBind, mExchangeUnbind:
		r.u16()
		str(attrDestination, r.shortstr())
		str("amqp.source", r.shortstr())
		str(attrRoutingKey, r.shortstr())
	case mQueueDeclare, mQueuePurge, mQueueDelete, mBasicGet:
		r.u16()
		str(attrDestination, r.shortstr())
		if k == mBasicGet {
			attrs = append(attrs, protocols.String(attrOpType, "receive"))
		}
	case mQueueBind, mQueueUnbind:
		r.u16()
		str(attrDestination, r.shortstr())
		str("amqp.exchange", r.shortstr())
		str(attrRoutingKey, r.shortstr())
	case mBasicConsume:
		r.u16()
		str(attrDestination, r.shortstr())
		str("messaging.consumer.group.name", r.shortstr())
	case mBasicPublish:
		r.u16()
		str(attrDestination, r.shortstr())
		str(attrRoutingKey, r.shortstr())
		attrs = append(attrs, protocols.String(attrOpType, "send"))
	case mBasicReturn:
		code := r.u16()
		r.shortstr()
		str(attrDestination, r.shortstr())
		str(attrRoutingKey, r.shortstr())
		if !r.bad {
			c.status = protocols.StatusError
			attrs = append(attrs, protocols.Int("amqp.reply_code", int64(code)))
			if name := replyCodeName(code); name != "" {
				attrs = append(attrs, protocols.String("error.type", name))
			}
		}
	case mBasicDeliver:
		r.shortstr() // consumer tag
		tag := r.u64()
		r.u8()
		str(attrDestination, r.shortstr())
		str(attrRoutingKey, r.shortstr())
		if !r.bad {
			attrs = append(attrs, protocols.Int(attrDeliveryTag, int64(tag)),
				protocols.String(attrOpType, "process"))
		}
	case mBasicGetOk:
		tag := r.u64()
		r.u8()
		str(attrDestination, r.shortstr())
		str(attrRoutingKey, r.shortstr())
		if !r.bad {
			attrs = append(attrs, protocols.Int(attrDeliveryTag, int64(tag)),
				protocols.String(attrOpType, "receive"))
		}
	case mBasicAck, mBasicReject, mBasicNack:
		tag := r.u64()
		if !r.bad {
			attrs = append(attrs, protocols.Int(attrDeliveryTag, int64(tag)),
				protocols.String(attrOpType, "settle"))
		}
	}
	return attrs
}

// header decodes a content header frame's payload for the content in
// progress on ch; it returns that content, or nil when there is none.
func (p *Parser) header(h *half, ch uint16, payload []byte, cut bool) *content {
	c := h.find(ch)
	if c == nil || c.header {
		return nil
	}
	c.header = true
	r := reader{b: payload}
	r.u16() // class id
	r.u16() // weight
	c.bodySize = r.u64()
	if r.bad {
		c.partial = true
		c.bodySize = 0
		return c
	}
	c.attrs = append(c.attrs, protocols.Int("messaging.message.body.size", int64(c.bodySize)))
	var flags []uint16
	var fb [4]uint16
	flags = fb[:0]
	for {
		f := r.u16()
		if r.bad || len(flags) == cap(fb) {
			break
		}
		flags = append(flags, f)
		if f&1 == 0 {
			break
		}
	}
	if len(flags) == 0 {
		c.partial = true
		return c
	}
	f := flags[0]
	var msgID, corrID string
	// Basic class properties, bit 15 first.
	for bit := 15; bit >= 2 && !r.bad; bit-- {
		if f&(1<<uint(bit)) == 0 {
			continue
		}
		switch bit {
		case 13: // headers
			r.table(func(name []byte, typ byte, val []byte) {
				if typ != 'S' && typ != 'x' {
					return
				}
				c.links = p.traceLink(c.links, name, val)
			})
		case 12, 11: // delivery-mode, priority
			r.u8()
		case 6: // timestamp
			r.u64()
		case 10: // correlation-id
			corrID = printable(r.shortstr())
		case 9: // reply-to
			if v := r.shortstr(); len(v) > 0 {
				c.replyTo = true
				if s := printable(v); s != "" {
					c.attrs = append(c.attrs, protocols.String("amqp.reply_to", p.intern(v)))
				}
			}
		case 7: // message-id
			msgID = printable(r.shortstr())
		default: // content-type, content-encoding, expiration, type, user-id, app-id, cluster-id
			r.shortstr()
		}
	}
	if r.bad || cut {
		c.partial = true
	}
	if msgID != "" {
		c.attrs = append(c.attrs, protocols.String("messaging.message.id", msgID))
		key := protocols.LinkHandoffSend
		if c.key != mBasicPublish {
			key = protocols.LinkHandoffRecv
		}
		if c.key != mBasicReturn {
			c.links = append(c.links, protocols.String(key, handoffMessage+msgID))
		}
	}
	if corrID != "" {
		c.attrs = append(c.attrs, protocols.String("messaging.message.conversation_id", corrID))
		v := handoffCorrelation + corrID
		switch c.key {
		case mBasicPublish:
			// A reply (no reply-to) continues the request's chain; every
			// publish hands the id on.
			if !c.replyTo {
				c.links = append(c.links, protocols.String(protocols.LinkHandoffRecv, v))
			}
			c.links = append(c.links, protocols.String(protocols.LinkHandoffSend, v))
		case mBasicDeliver, mBasicGetOk:
			c.links = append(c.links, protocols.String(protocols.LinkHandoffRecv, v))
			if c.replyTo {
				// A request reaches the consumer that will reply.
				c.links = append(c.links, protocols.String(protocols.LinkHandoffSend, v))
			}
		}
	}
	return c
}

// traceLink appends the link a message header names, if it is a trace or
// request-id header.
func (p *Parser) traceLink(links []protocols.Attr, name, val []byte) []protocols.Attr {
	for _, l := range linkHeaders {
		if equalFold(name, l.name) {
			if s := printable(val); s != "" {
				links = append(links, protocols.String(l.key, s))
			}
			return links
		}
	}
	for _, h := range p.rid {
		if equalFold(name, h) {
			if s := printable(val); s != "" {
				links = append(links, protocols.String(protocols.LinkXRequestID, s))
			}
			return links
		}
	}
	return links
}

// emitContent fills msg with the content message c and frees it.
func (p *Parser) emitContent(h *half, c *content, msg *protocols.Message) {
	msg.Kind, msg.Name, msg.Size = c.kind, c.name, c.size
	msg.NoResponse, msg.Unsolicited = c.noResp, c.unsol
	msg.Partial = c.partial || (c.header && c.seen < c.bodySize) || !c.header
	msg.BodySize = int(min(c.seen, 1<<31))
	if c.kind == protocols.Response {
		msg.Status = protocols.StatusOK
		if c.status != protocols.StatusUnknown {
			msg.Status = c.status
		}
	}
	if c.key == mBasicGetOk {
		msg.ID, msg.HasID = uint64(c.ch), true
	}
	msg.Attrs = append(msg.Attrs, c.attrs...)
	msg.Links = append(msg.Links, c.links...)
	h.release(c)
}

// find returns the content in progress on ch, or nil.
func (h *half) find(ch uint16) *content {
	for _, c := range h.contents {
		if c.ch == ch {
			return c
		}
	}
	return nil
}

// alloc starts a content on ch (none is in progress there), dropping the
// oldest when MaxChannels are in progress.
func (h *half) alloc(p *Parser, ch uint16) *content {
	if len(h.contents) >= MaxChannels {
		h.release(h.contents[0])
	}
	var c *content
	if n := len(h.free); n > 0 {
		c, h.free = h.free[n-1], h.free[:n-1]
	} else {
		c = &content{}
	}
	*c = content{ch: ch, attrs: c.attrs[:0], links: c.links[:0]}
	h.contents = append(h.contents, c)
	return c
}

func (h *half) release(c *content) {
	for i, x := range h.contents {
		if x == c {
			h.contents = append(h.contents[:i], h.contents[i+1:]...)
			break
		}
	}
	if len(h.free) < 4 {
		h.free = append(h.free, c)
	}
}

// await counts a synchronous request sent in dir on ch.
func (p *Parser) await(ch uint16, dir protocols.Direction, code uint16) {
	for i := range p.inflight {
		if f := &p.inflight[i]; f.ch == ch && f.dir == dir {
			f.n++
			f.code = code
			return
		}
	}
	if len(p.inflight) >= MaxChannels {
		p.inflight = append(p.inflight[:0], p.inflight[1:]...)
	}
	p.inflight = append(p.inflight, flight{ch, dir, 1, code})
}

// settle counts the answer to a request sent in dir on ch and returns the
// reply code of the close it answers, if any.
func (p *Parser) settle(ch uint16, dir protocols.Direction) uint16 {
	for i := range p.inflight {
		if f := &p.inflight[i]; f.ch == ch && f.dir == dir {
			code := f.code
			if f.n--; f.n <= 0 {
				p.inflight = append(p.inflight[:i], p.inflight[i+1:]...)
			}
			return code
		}
	}
	return 0
}

// answers reports whether a server close (method k) on ch answers a client
// request in flight: on the channel, or any for connection.close.
func (p *Parser) answers(ch uint16, k uint32) bool {
	for _, f := range p.inflight {
		if f.dir == protocols.ToServer && (f.ch == ch || k == mConnectionClose) {
			return true
		}
	}
	return false
}

// intern returns b as a string, from a small cache of recent names.
func (p *Parser) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > maxValue {
		b = b[:maxValue]
	}
	for _, s := range p.names {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	p.names[p.nameN] = s
	p.nameN = (p.nameN + 1) % len(p.names)
	return s
}

// Gap implements protocols.Parser: a gap inside a body frame is skipped
// exactly; elsewhere the messages in progress are marked Partial and the
// parser looks for the next frame.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	h := p.half(dir)
	if h == nil {
		return
	}
	if h.st == stSkip && size <= h.skip {
		h.skip -= size
		if h.skipBody {
			if c := h.find(h.skipCh); c != nil {
				c.seen += uint64(size)
				c.size += size
				c.partial = true
			}
		}
		return
	}
	for _, c := range h.contents {
		c.partial = true
	}
	h.st = stResync
}

// End implements protocols.Parser: a message whose body was still being
// read is emitted Partial.
func (p *Parser) End(dir protocols.Direction, msg *protocols.Message) bool {
	h := p.half(dir)
	if h == nil || len(h.contents) == 0 {
		return false
	}
	c := h.contents[0]
	c.partial = true
	p.emitContent(h, c, msg)
	return true
}

// Idle implements protocols.Idler: no message is in progress in dir.
func (p *Parser) Idle(dir protocols.Direction) bool {
	h := p.half(dir)
	return h != nil && len(h.contents) == 0 && h.st == stFrame
}

// resync looks for the next frame in b after a gap. It returns the bytes
// to drop and whether a frame starts there; with ok false the caller
// waits for more data after dropping n.
func resync(b []byte) (n int, ok bool) {
	for i := 0; i < len(b); i++ {
		if bytes.HasPrefix(b[i:], protocolHeader) {
			return i, true
		}
		typ, ch, size, hok := frameHeaderOf(b[i:])
		if !hok {
			if len(b)-i < 7 {
				return i, false
			}
			continue
		}
		if typ == frameHeartbeat && (ch != 0 || size != 0) || size > resyncWait && typ != frameBody || size > MaxBodyFrame {
			continue
		}
		end := i + 7 + int(size)
		if end >= len(b) {
			if size > resyncWait {
				continue
			}
			return i, false // wait for the whole candidate frame
		}
		if b[end] != frameEnd {
			continue
		}
		switch typ {
		case frameMethod:
			if size < 4 {
				continue
			}
			if _, known := lookupMethod(methodKey(binary.BigEndian.Uint16(b[i+7:]), binary.BigEndian.Uint16(b[i+9:]))); !known {
				continue
			}
		case frameHeader:
			if size < 14 || binary.BigEndian.Uint16(b[i+7:]) != classBasic {
				continue
			}
		}
		return i, true
	}
	return len(b), false
}
