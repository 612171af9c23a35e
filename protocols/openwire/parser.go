package openwire

import (
	"bytes"
	"encoding/binary"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name in span output.
const Name = "openwire"

// Limits.
const (
	// MaxCommand bounds the command bytes decoded: a larger command
	// (a big message) is decoded from its first MaxCommand bytes and the
	// rest is skipped as it arrives.
	MaxCommand = 64 << 10
	// MaxFrame bounds a command's declared size (ActiveMQ's default
	// maxFrameSize is 100 MiB).
	MaxFrame = 256 << 20
	// MaxCacheSize bounds the negotiated object cache per direction.
	MaxCacheSize = 1024
	// maxValue bounds a string copied into an attribute or link.
	maxValue = 255
)

// magic opens a WireFormatInfo.
var magic = []byte("ActiveMQ")

// Protocol describes OpenWire for the registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "ActiveMQ OpenWire (tight and loose encoding, object cache): commands with command/correlation ids, messages with destination, JMSMessageID, JMSCorrelationID; trace properties; producer → consumer hand-off",
	Ports:   []uint16{61616},
	Sniff:   Sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

// Link value prefixes (see the package documentation, Linking).
const (
	handoffMessage     = "activemq:"
	handoffCorrelation = "activemq-corr:"
)

// Trace properties, matched case-insensitively (after Jaeger's and
// Camel's "_$dash$_" for "-" is undone).
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

// half is one direction's state.
type half struct {
	skip  int  // bytes of an oversized command left to skip
	wfi   bool // a WireFormatInfo was seen
	pref  format
	cache []*obj
}

// Parser is the OpenWire parser of one connection. Create it with New.
type Parser struct {
	rid    []string
	halves [2]half
	f      format // in effect: loose until both WireFormatInfos are seen
	noWFI  bool   // a command came before any WireFormatInfo: defaults assumed
	names  [8]string
	nameN  int
}

// New returns a parser for one connection; a nil cfg means defaults.
func New(cfg *protocols.Config) *Parser {
	return &Parser{rid: cfg.RequestIDHeaders(), f: format{stackTrace: true, cacheSize: MaxCacheSize}}
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

// Sniff reports the direction of a WireFormatInfo (the client's carries a
// Host property, the broker's none), or of a complete command only one end
// sends (messages and acks to the server; dispatches and responses to the
// client).
func Sniff(data []byte) protocols.Direction {
	if len(data) < 5 {
		return protocols.DirUnknown
	}
	size := binary.BigEndian.Uint32(data)
	if size < 1 || size > MaxFrame {
		return protocols.DirUnknown
	}
	t := data[4]
	if t == typeWireFormatInfo {
		if len(data) < 13 || !bytes.Equal(data[5:13], magic) || len(data) < int(size)+4 {
			return protocols.DirUnknown
		}
		if bytes.Contains(data[13:4+size], []byte("\x00\x04Host")) {
			return protocols.ToServer
		}
		return protocols.ToClient
	}
	if len(data) < int(size)+4 || size < 6 || size > MaxCommand {
		return protocols.DirUnknown
	}
	dir := protocols.DirUnknown
	switch {
	case isMessage(t), t == typeMessageAck, t == typeProducerInfo, t == typeConsumerInfo:
		dir = protocols.ToServer
	case t == typeMessageDispatch, t == typeResponse, t == typeExceptionResponse:
		dir = protocols.ToClient
	default:
		return protocols.DirUnknown
	}
	// Mid-stream, only a command that decodes whole in ActiveMQ's default
	// format (tight, cached) and names a destination (or is a response)
	// is taken: a length-prefixed binary protocol often matches the size.
	p := New(nil)
	var m protocols.Message
	done, err := p.command(dir, p.half(dir), data[4:4+size], false, &m)
	if err != nil || !done || m.Partial {
		return protocols.DirUnknown
	}
	if m.Kind == protocols.Request && target(m.Attrs) == "" {
		return protocols.DirUnknown
	}
	return dir
}

// Parse implements protocols.Parser: one command per call.
func (p *Parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	h := p.half(dir)
	if h == nil {
		return 0, false, parseErr(0, ErrDirection)
	}
	if h.skip < 0 {
		return 0, false, parseErr(0, ErrDesync)
	}
	if h.skip > 0 {
		n := min(h.skip, len(data))
		h.skip -= n
		return n, false, nil
	}
	if len(data) < 4 {
		return 0, false, nil
	}
	size := binary.BigEndian.Uint32(data)
	if size == 0 || size > MaxFrame {
		return 0, false, parseErr(0, ErrSize)
	}
	n := int(size) + 4
	cmd := data[4:min(len(data), n)]
	cut := false
	if int(size) > MaxCommand {
		if len(data) < 4+MaxCommand {
			return 0, false, nil
		}
		cmd, cut = data[4:4+MaxCommand], true
	} else if len(data) < n {
		return 0, false, nil
	}
	done, err := p.command(dir, h, cmd, cut, msg)
	if err != nil {
		return 0, false, err
	}
	consumed := len(cmd) + 4
	if cut {
		h.skip = n - consumed
	}
	if done {
		msg.Size = n
		msg.Partial = msg.Partial || cut
	}
	return consumed, done, nil
}

// command handles one command (type octet and body).
func (p *Parser) command(dir protocols.Direction, h *half, cmd []byte, cut bool, msg *protocols.Message) (bool, error) {
	t := cmd[0]
	if t == typeWireFormatInfo {
		return false, p.wireFormat(h, cmd[1:])
	}
	name := commandName(t)
	if name == "" {
		return false, parseErr(4, ErrType)
	}
	if !h.wfi && !p.halves[0].wfi && !p.halves[1].wfi && !p.noWFI {
		// The capture started after the handshake: ActiveMQ's defaults.
		p.noWFI = true
		p.f = format{tight: true, cache: true, stackTrace: true, cacheSize: MaxCacheSize}
	}
	d := dec{b: cmd, off: 1, f: &p.f, cache: &h.cache}
	if p.f.tight {
		d.boolStream()
	}
	id, respReq := d.baseCommand()
	if d.bad {
		return false, parseErr(5, ErrCommand)
	}
	sys := protocols.String("messaging.system", "activemq")
	switch t {
	case typeKeepAliveInfo, typeWireFormatInfo, typeBrokerInfo, typeConnectionControl, typeConsumerControl, typeProducerAck, typeFlushCommand:
		// Connection housekeeping: no message. ProducerAck's and
		// BrokerInfo's cached objects are not needed later.
		return false, nil
	case typeResponse, typeDataResponse, typeDataArrayResponse, typeIntegerResponse, typeExceptionResponse:
		corr := d.u32()
		if d.bad {
			return false, parseErr(5, ErrCommand)
		}
		msg.Kind, msg.Status, msg.ID, msg.HasID = protocols.Response, protocols.StatusOK, uint64(corr), true
		if t == typeExceptionResponse {
			msg.Status = protocols.StatusError
			if d.flag() {
				class := d.str()
				text := d.str()
				if s := p.value(class); s != "" {
					msg.Attrs = append(msg.Attrs, protocols.String("error.type", s))
				}
				if s := printable(text); s != "" {
					msg.Attrs = append(msg.Attrs, protocols.String("openwire.exception.message", s))
				}
			}
		}
		return true, nil
	case typeMessageDispatch:
		consumer := d.cached()
		dest := d.cached()
		_ = consumer
		if d.flag() { // the message, nested
			mt := d.u8()
			if isMessage(mt) {
				// Tight encoding: a flag for a cached marshalled form
				// (size, type and a stream of its own); loose has none.
				if p.f.tight && d.flag() {
					d.u32()
					d.u8()
					d.boolStream()
				}
				d.baseCommand()
				p.message(&d, msg, dest, false, mt)
			} else {
				d.bad = true
			}
		} else {
			return false, nil // end of a browse: no message
		}
		msg.Kind, msg.Status, msg.Unsolicited = protocols.Response, protocols.StatusOK, true
		msg.Name = "MessageDispatch" + target(msg.Attrs)
		msg.Attrs = append(msg.Attrs, sys, protocols.String("messaging.operation.name", "MessageDispatch"),
			protocols.String("messaging.operation.type", "process"))
		msg.Partial = msg.Partial || d.bad
		return true, nil
	}
	// Client commands (and the rare server command) are requests.
	msg.Kind = protocols.Request
	msg.ID, msg.HasID = uint64(id), true
	msg.NoResponse = !respReq
	msg.Attrs = append(msg.Attrs, sys, protocols.String("messaging.operation.name", name))
	switch {
	case isMessage(t):
		p.message(&d, msg, nil, true, t)
		msg.Attrs = append(msg.Attrs, protocols.String("messaging.operation.type", "send"))
	case t == typeProducerInfo:
		d.cached()
		p.destAttr(msg, d.cached())
	case t == typeConsumerInfo:
		d.cached()
		d.flag() // browser
		p.destAttr(msg, d.cached())
	case t == typeSessionInfo, t == typeRemoveInfo:
		d.cached()
	case t == typeConnectionInfo:
		d.cached()
		// clientId, password, userName: skipped unread (credentials).
	case t == typeDestinationInfo:
		d.cached()
		p.destAttr(msg, d.cached())
	case t == typeMessageAck:
		p.destAttr(msg, d.cached())
		msg.Attrs = append(msg.Attrs, protocols.String("messaging.operation.type", "settle"))
	}
	msg.Name = name + target(msg.Attrs)
	if d.bad && !cut {
		msg.Partial = true
	}
	return true, nil
}

// destAttr adds the destination attribute of o, if it is one.
func (p *Parser) destAttr(msg *protocols.Message, o *obj) {
	if s := o.destString(); s != "" {
		msg.Attrs = append(msg.Attrs, protocols.String("messaging.destination.name", p.intern(s)))
	}
}

// target returns " <destination>" from the attributes, or "".
func target(attrs []protocols.Attr) string {
	for _, a := range attrs {
		if a.Key == "messaging.destination.name" {
			return " " + a.Str
		}
	}
	return ""
}

// message decodes the Message fields after BaseCommand: destination, ids,
// correlation id, reply-to, content size and properties. dest, when set,
// is the dispatch's destination. send is set for a producer's message.
func (p *Parser) message(d *dec, msg *protocols.Message, dest *obj, send bool, mt byte) {
	d.cached() // producer id
	if md := d.cached(); md != nil {
		dest = md
	}
	d.cached() // transaction id
	d.cached() // original destination
	mid := d.nested()
	d.cached() // original transaction id
	d.str()    // group id
	d.u32()    // group sequence
	corr := d.str()
	d.flag() // persistent
	d.long() // expiration
	d.u8()   // priority
	replyTo := d.nested()
	d.long() // timestamp
	d.str()  // type
	content := d.byteSeq()
	props := d.byteSeq()
	p.destAttr(msg, dest)
	if d.bad {
		msg.Partial = true
	}
	digest := false
	if !d.bad && !send {
		d.nested() // data structure
		d.cached() // target consumer id
		compressed := d.flag()
		digest = !d.bad && !compressed
	}
	if !d.bad || content != nil {
		msg.BodySize = len(content)
		msg.Attrs = append(msg.Attrs, protocols.Int("messaging.message.body.size", int64(len(content))))
	}
	id := messageID(mid)
	if id != "" && len(id) <= maxValue {
		msg.Attrs = append(msg.Attrs, protocols.String("messaging.message.id", id))
		key := protocols.LinkHandoffRecv
		if send {
			key = protocols.LinkHandoffSend
		}
		msg.Links = append(msg.Links, protocols.String(key, handoffMessage+id))
	}
	if c := printable(corr); c != "" {
		msg.Attrs = append(msg.Attrs, protocols.String("messaging.message.conversation_id", c))
		v := handoffCorrelation + c
		if send {
			if replyTo == nil {
				msg.Links = append(msg.Links, protocols.String(protocols.LinkHandoffRecv, v))
			}
			msg.Links = append(msg.Links, protocols.String(protocols.LinkHandoffSend, v))
		} else {
			msg.Links = append(msg.Links, protocols.String(protocols.LinkHandoffRecv, v))
			if replyTo != nil {
				msg.Links = append(msg.Links, protocols.String(protocols.LinkHandoffSend, v))
			}
		}
	}
	if s := replyTo.destString(); s != "" {
		msg.Attrs = append(msg.Attrs, protocols.String("openwire.reply_to", p.intern(s)))
	}
	if props != nil {
		primitiveMap(props, func(name, val []byte) {
			msg.Links = p.traceLink(msg.Links, name, val)
		})
	}
	if digest {
		// Last: the linker tries a message's ids in order, exact ones first.
		msg.Links = stompLink(msg.Links, dest, mt, content)
	}
}

// traceLink appends the link a message property names, if it is a trace
// or request-id property.
func (p *Parser) traceLink(links []protocols.Attr, name, val []byte) []protocols.Attr {
	var nb [64]byte
	n := bytes.ReplaceAll(name, []byte("_$dash$_"), []byte("-"))
	if len(n) > len(nb) {
		return links
	}
	n = append(nb[:0], n...)
	for _, l := range linkHeaders {
		if equalFold(n, l.name) {
			if s := printable(val); s != "" {
				links = append(links, protocols.String(l.key, s))
			}
			return links
		}
	}
	for _, h := range p.rid {
		if equalFold(n, h) {
			if s := printable(val); s != "" {
				links = append(links, protocols.String(protocols.LinkXRequestID, s))
			}
			return links
		}
	}
	return links
}

// wireFormat reads a WireFormatInfo (loose encoding: the magic, the
// version, the marshalled properties) and, when both ends' are seen,
// switches to the negotiated format.
func (p *Parser) wireFormat(h *half, b []byte) error {
	d := dec{b: b, f: &format{}}
	if !bytes.Equal(d.bytes(len(magic)), magic) {
		return parseErr(5, ErrMagic)
	}
	d.u32() // version
	props := d.byteSeq()
	pref := format{stackTrace: true, cacheSize: MaxCacheSize}
	if props != nil {
		pr := dec{b: props, f: &format{}}
		n := int32(pr.u32())
		for i := int32(0); i < n && !pr.bad; i++ {
			name := pr.bytes(int(pr.u16()))
			at := pr.off
			t := pr.u8()
			pr.off = at
			var bv bool
			var iv int64
			switch t {
			case ptBoolean:
				pr.u8()
				bv = pr.u8() != 0
			case ptInt:
				pr.u8()
				iv = int64(int32(pr.u32()))
			default:
				pr.primitive(0)
			}
			switch string(name) {
			case "TightEncodingEnabled":
				pref.tight = bv
			case "CacheEnabled":
				pref.cache = bv
			case "StackTraceEnabled":
				pref.stackTrace = bv
			case "CacheSize":
				pref.cacheSize = int(min(max(iv, 0), MaxCacheSize))
			case "SizePrefixDisabled":
				pref.noPrefix = bv
			}
		}
	}
	h.wfi, h.pref = true, pref
	a, b2 := p.halves[0], p.halves[1]
	if a.wfi && b2.wfi {
		if a.pref.noPrefix && b2.pref.noPrefix {
			return parseErr(0, ErrNoSizePrefix)
		}
		p.f = format{
			tight:      a.pref.tight && b2.pref.tight,
			cache:      a.pref.cache && b2.pref.cache,
			stackTrace: a.pref.stackTrace && b2.pref.stackTrace,
			cacheSize:  min(a.pref.cacheSize, b2.pref.cacheSize),
		}
		p.halves[0].cache, p.halves[1].cache = p.halves[0].cache[:0], p.halves[1].cache[:0]
	}
	return nil
}

// Gap implements protocols.Parser: a gap inside an oversized command is
// skipped; elsewhere the command boundary is lost and so is the object
// cache: the flow stops being parsed (OpenWire has no marker to
// resynchronise on).
func (p *Parser) Gap(dir protocols.Direction, size int) {
	h := p.half(dir)
	if h == nil {
		return
	}
	if h.skip >= size {
		h.skip -= size
		return
	}
	h.skip = -1
}

// End implements protocols.Parser.
func (p *Parser) End(dir protocols.Direction, msg *protocols.Message) bool { return false }

// Idle implements protocols.Idler.
func (p *Parser) Idle(dir protocols.Direction) bool {
	h := p.half(dir)
	return h != nil && h.skip == 0
}

// intern returns s from a small cache of recent names.
func (p *Parser) intern(s string) string {
	for _, x := range p.names {
		if x == s {
			return x
		}
	}
	p.names[p.nameN] = s
	p.nameN = (p.nameN + 1) % len(p.names)
	return s
}

// value returns a printable string of at most maxValue bytes, or "".
func (p *Parser) value(b []byte) string { return printable(b) }

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

// stompLink returns links with the Recv value ActiveMQ's STOMP producers'
// SEND frames carry (see protocols/stomp): "stomp:/queue/<name>:<digest>"
// of a text message's text or a bytes message's bytes, for a queue or topic.
func stompLink(links []protocols.Attr, dest *obj, mt byte, content []byte) []protocols.Attr {
	if dest == nil || content == nil {
		return links
	}
	var kind string
	switch dest.typ {
	case typeQueue:
		kind = "/queue/"
	case typeTopic:
		kind = "/topic/"
	default:
		return links
	}
	body := content
	switch mt {
	case typeTextMessage:
		if len(content) < 4 {
			return links
		}
		n := binary.BigEndian.Uint32(content)
		if uint64(n) != uint64(len(content)-4) {
			return links
		}
		body = content[4:]
	case typeBytesMessage:
	default:
		return links
	}
	var d protocols.Digest
	d.Reset()
	d.Add(body)
	v := make([]byte, 0, len(handoffSTOMP)+len(kind)+len(dest.s)+17)
	v = append(v, handoffSTOMP...)
	v = append(v, kind...)
	v = append(v, dest.s...)
	v = append(v, ':')
	v = protocols.AppendHex(v, d.Sum())
	return append(links, protocols.String(protocols.LinkHandoffRecv, string(v)))
}

// handoffSTOMP starts the body-digest link value protocols/stomp gives a
// SEND (its digest is protocols.Digest's).
const handoffSTOMP = "stomp:"
