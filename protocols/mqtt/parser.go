package mqtt

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"unicode/utf8"

	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name in span output.
const Name = "mqtt"

// Limits.
const (
	// MaxTopicAliases bounds the topic aliases remembered per direction.
	MaxTopicAliases = 1024
	// maxHeaderLinks bounds the trace links read from one PUBLISH.
	maxHeaderLinks = 16
	// maxConversationID bounds the correlation data shown.
	maxConversationID = 64
	// topicCacheLen is the number of topic strings remembered.
	topicCacheLen = 16
)

// Attribute keys (OpenTelemetry semantic conventions v1.37.0).
const (
	attrSystem       = string(semconv.MessagingSystemKey)
	attrOpName       = string(semconv.MessagingOperationNameKey)
	attrOpType       = string(semconv.MessagingOperationTypeKey)
	attrDest         = string(semconv.MessagingDestinationNameKey)
	attrBodySize     = string(semconv.MessagingMessageBodySizeKey)
	attrClientID     = string(semconv.MessagingClientIDKey)
	attrConversation = string(semconv.MessagingMessageConversationIDKey)
	attrErrorType    = string(semconv.ErrorTypeKey)
	attrVersion      = string(semconv.NetworkProtocolVersionKey)
	attrUser         = "user.name"
	// Not semantic conventions.
	attrQoS           = "mqtt.qos"
	attrRetain        = "mqtt.retain"
	attrResponseTopic = "mqtt.response_topic"
	attrSubCount      = "mqtt.subscribe.count"
	attrPacketID      = "mqtt.packet_id"
)

// Control packet types (section 2.2.1).
const (
	typeConnect     = 1
	typeConnack     = 2
	typePublish     = 3
	typePuback      = 4
	typePubrec      = 5
	typePubrel      = 6
	typePubcomp     = 7
	typeSubscribe   = 8
	typeSuback      = 9
	typeUnsubscribe = 10
	typeUnsuback    = 11
	typePingreq     = 12
	typePingresp    = 13
	typeDisconnect  = 14
	typeAuth        = 15
)

// ID spaces: packet ids are 16 bits; the other exchanges get ids above.
const (
	idSubscribe   = 1 << 16
	idUnsubscribe = 2 << 16
	idConnect     = 3 << 16
	idPing        = 1 << 32
)

// Protocol describes MQTT for a protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "MQTT 3.1/3.1.1/5: CONNECT client id and user (password never read), PUBLISH topics with QoS 1/2 acknowledgements, SUBSCRIBE, v5 user-property trace headers, payload hand-off and response-topic links",
	Ports:   []uint16{1883},
	Sniff:   Sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

var (
	_ protocols.Parser = (*Parser)(nil)
	_ protocols.Idler  = (*Parser)(nil)
)

type state uint8

const (
	stHeader  state = iota // expecting a fixed header
	stPayload              // streaming a PUBLISH payload of payLeft bytes
	stSkip                 // skipping a packet over the limit
	stResync               // after a gap: looking for a packet start
)

// publish is a PUBLISH whose header has been read.
type publish struct {
	topic    []byte
	qos      byte
	retain   bool
	pid      uint16
	body     int
	links    []protocols.Attr
	respT    []byte
	corr     []byte
	hasCorr  bool
	aliasBad bool
}

type half struct {
	st       state
	size     int
	payLeft  int
	skipLeft int
	partial  bool
	emit     bool
	pub      publish
	dig      protocols.Digest
	aliases  map[uint16]string
}

// Parser parses one MQTT connection. Create it with New.
type Parser struct {
	cfg       *protocols.Config
	reqIDs    []string
	level     byte
	dirs      [2]half
	pings     [2]uint64 // PINGREQs sent, PINGRESPs received
	topics    [topicCacheLen]string
	topicNext int
	pubNames  [topicCacheLen]string // "PUBLISH <topic>", beside topics
}

// New returns a parser for one connection. cfg may be nil.
func New(cfg *protocols.Config) *Parser {
	return &Parser{cfg: cfg, reqIDs: cfg.RequestIDHeaders(), level: 4}
}

func (p *Parser) half(dir protocols.Direction) *half {
	if dir == protocols.ToClient {
		return &p.dirs[1]
	}
	return &p.dirs[0]
}

// Idle implements protocols.Idler.
func (p *Parser) Idle(dir protocols.Direction) bool {
	h := p.half(dir)
	return h.st == stHeader && !h.emit || h.st == stResync
}

// Parse implements protocols.Parser.
func (p *Parser) Parse(dir protocols.Direction, data []byte, m *protocols.Message) (int, bool, error) {
	if dir != protocols.ToServer && dir != protocols.ToClient {
		return 0, false, parseErr(0, ErrDirection)
	}
	h := p.half(dir)
	if h.emit {
		h.emit = false
		st := h.st
		p.finishPublish(dir, h, m)
		h.st = st
		return 0, true, nil
	}
	switch h.st {
	case stPayload:
		n := min(len(data), h.payLeft)
		h.dig.Add(data[:n])
		h.payLeft -= n
		h.size += n
		if h.payLeft > 0 {
			return n, false, nil
		}
		p.finishPublish(dir, h, m)
		return n, true, nil
	case stSkip:
		n := min(len(data), h.skipLeft)
		h.skipLeft -= n
		if h.skipLeft == 0 {
			h.st = stHeader
		}
		return n, false, nil
	case stResync:
		n := p.resync(h, data)
		if h.st != stHeader || n > 0 {
			return n, false, nil
		}
	}
	n, done, err := p.packet(dir, h, data, m)
	if err != nil {
		return 0, false, parseErr(0, err)
	}
	return n, done, nil
}

// header decodes a fixed header: the packet type and flags, the remaining
// length and the header's size. n == 0 means more bytes are needed.
func header(data []byte) (typ, flags byte, rl, n int, err error) {
	if len(data) < 2 {
		return 0, 0, 0, 0, nil
	}
	typ, flags = data[0]>>4, data[0]&0x0f
	rl, vn := uvarint(data[1:])
	switch {
	case vn == 0:
		return 0, 0, 0, 0, nil
	case vn < 0:
		return 0, 0, 0, 0, ErrLength
	}
	if !flagsOK(typ, flags) {
		return 0, 0, 0, 0, ErrPacketType
	}
	return typ, flags, rl, 1 + vn, nil
}

// flagsOK checks the fixed header flags (section 2.2.2); MQTT 3.1 clients
// set the QoS bits of SUBSCRIBE, UNSUBSCRIBE and PUBREL to 1, as 3.1.1
// requires.
func flagsOK(typ, flags byte) bool {
	switch typ {
	case 0:
		return false
	case typePublish:
		return flags&0x6 != 0x6
	case typePubrel, typeSubscribe, typeUnsubscribe:
		return flags == 2
	}
	return flags == 0
}

// packet reads the packet starting data.
func (p *Parser) packet(dir protocols.Direction, h *half, data []byte, m *protocols.Message) (int, bool, error) {
	typ, flags, rl, hl, err := header(data)
	if err != nil || hl == 0 {
		return 0, false, err
	}
	limit := p.cfg.HeaderLimit()
	if typ == typePublish {
		end := min(len(data), hl+rl)
		vl, ok, err := p.publishHeader(dir, h, flags, data[hl:end], end == hl+rl)
		if err != nil {
			return 0, false, err
		}
		if !ok {
			if end-hl >= limit {
				// A header over the limit: skip the packet.
				return p.skip(h, data, hl+rl), false, nil
			}
			return 0, false, nil
		}
		h.size = hl + vl
		h.payLeft = rl - vl
		h.pub.body = h.payLeft
		h.dig.Reset()
		h.partial = false
		if h.payLeft == 0 {
			p.finishPublish(dir, h, m)
			return hl + vl, true, nil
		}
		h.st = stPayload
		return hl + vl, false, nil
	}
	if rl > limit {
		return p.skip(h, data, hl+rl), false, nil
	}
	if len(data) < hl+rl {
		return 0, false, nil
	}
	done, err := p.control(dir, typ, data[hl:hl+rl], m)
	if err != nil {
		return 0, false, err
	}
	if done {
		m.Size = hl + rl
	}
	return hl + rl, done, nil
}

// skip starts skipping a packet of size bytes at the start of data.
func (p *Parser) skip(h *half, data []byte, size int) int {
	n := min(len(data), size)
	h.skipLeft = size - n
	if h.skipLeft > 0 {
		h.st = stSkip
	}
	return n
}

// publishHeader reads a PUBLISH variable header (topic, packet id, v5
// properties) from b, the packet's bytes after the fixed header so far
// (whole when the packet is complete). It returns the header's length, or
// ok false when more bytes are needed.
func (p *Parser) publishHeader(dir protocols.Direction, h *half, flags byte, b []byte, whole bool) (int, bool, error) {
	r := reader{b: b}
	pub := &h.pub
	pub.qos, pub.retain = flags>>1&3, flags&1 != 0
	topic := r.str()
	pub.pid = 0
	if pub.qos > 0 {
		pub.pid = r.u16()
	}
	pub.links = pub.links[:0]
	pub.respT, pub.corr, pub.hasCorr, pub.aliasBad = pub.respT[:0], pub.corr[:0], false, false
	var alias uint16
	if p.level >= 5 && !r.failed() {
		ok := r.properties(func(id int, k, v []byte, n int) {
			switch id {
			case propTopicAlias:
				alias = uint16(n)
			case propResponseTopic:
				pub.respT = append(pub.respT[:0], v...)
			case propCorrelationData:
				pub.corr = append(pub.corr[:0], v...)
				pub.hasCorr = true
			case propUserProperty:
				if key := p.linkKey(k); key != "" && len(pub.links) < maxHeaderLinks {
					pub.links = append(pub.links, protocols.String(key, string(v)))
				}
			}
		})
		if !ok && r.bad {
			return 0, false, ErrPacket
		}
	}
	if r.short {
		if whole {
			return 0, false, ErrPacket
		}
		return 0, false, nil
	}
	if r.bad {
		return 0, false, ErrPacket
	}
	pub.topic = append(pub.topic[:0], topic...)
	if alias != 0 {
		if h.aliases == nil {
			h.aliases = make(map[uint16]string)
		}
		if len(topic) > 0 {
			if _, ok := h.aliases[alias]; ok || len(h.aliases) < MaxTopicAliases {
				h.aliases[alias] = string(topic)
			}
		} else if t, ok := h.aliases[alias]; ok {
			pub.topic = append(pub.topic[:0], t...)
		} else {
			pub.aliasBad = true
		}
	}
	return r.off, true, nil
}

// linkKey returns the link key of a trace header name, or "".
func (p *Parser) linkKey(k []byte) string {
	if len(k) > 64 {
		return ""
	}
	var lb [64]byte
	low := lb[:len(k)]
	for i, c := range k {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	switch string(low) {
	case "traceparent":
		return protocols.LinkTraceparent
	case "tracestate":
		return protocols.LinkTracestate
	case "b3":
		return protocols.LinkB3
	case "x-b3-traceid":
		return protocols.LinkB3TraceID
	case "x-b3-spanid":
		return protocols.LinkB3SpanID
	case "x-b3-parentspanid":
		return protocols.LinkB3ParentID
	case "uber-trace-id":
		return protocols.LinkUberTraceID
	case "sw8":
		return protocols.LinkSW8
	}
	for _, r := range p.reqIDs {
		if r == string(low) {
			return protocols.LinkXRequestID
		}
	}
	return ""
}

// finishPublish fills m with the PUBLISH in progress.
func (p *Parser) finishPublish(dir protocols.Direction, h *half, m *protocols.Message) {
	pub := &h.pub
	topic, i := p.internAt(pub.topic)
	if n := p.pubNames[i]; len(n) == len("PUBLISH ")+len(topic) && n[len("PUBLISH "):] == topic {
		m.Name = n
	} else {
		m.Name = "PUBLISH " + topic
		p.pubNames[i] = m.Name
	}
	m.Attrs = append(m.Attrs, protocols.String(attrSystem, Name),
		protocols.String(attrOpName, "PUBLISH"))
	if dir == protocols.ToServer {
		m.Kind = protocols.Request
		m.Attrs = append(m.Attrs, protocols.String(attrOpType, "send"))
		switch pub.qos {
		case 0:
			m.NoResponse = true
		default:
			m.ID, m.HasID = uint64(pub.pid), true
		}
	} else {
		m.Kind = protocols.Response
		m.Unsolicited = true
		m.Status = protocols.StatusOK
		m.Attrs = append(m.Attrs, protocols.String(attrOpType, "receive"))
	}
	m.Attrs = append(m.Attrs, protocols.String(attrDest, topic),
		protocols.Int(attrBodySize, int64(pub.body)),
		protocols.Int(attrQoS, int64(pub.qos)))
	if pub.qos > 0 {
		m.Attrs = append(m.Attrs, protocols.Int(attrPacketID, int64(pub.pid)))
	}
	if pub.retain {
		m.Attrs = append(m.Attrs, protocols.String(attrRetain, "true"))
	}
	if len(pub.respT) > 0 {
		m.Attrs = append(m.Attrs, protocols.String(attrResponseTopic, string(pub.respT)))
	}
	if pub.hasCorr {
		m.Attrs = append(m.Attrs, protocols.String(attrConversation, showBinary(pub.corr)))
	}
	m.BodySize = pub.body
	m.Partial = h.partial
	m.Links = append(m.Links, pub.links...)
	if !h.partial && !pub.aliasBad && len(pub.topic) > 0 {
		key := protocols.LinkHandoffSend
		if dir == protocols.ToClient {
			key = protocols.LinkHandoffRecv
		}
		m.Links = append(m.Links, link(key, kindMsg, pub.topic, "", h.dig.Sum()))
	}
	if pub.hasCorr {
		var d protocols.Digest
		d.Reset()
		d.Add(pub.corr)
		switch {
		case dir == protocols.ToClient && len(pub.respT) > 0:
			m.Links = append(m.Links, link(protocols.LinkHandoffSend, kindReply, pub.respT, "", d.Sum()))
		case dir == protocols.ToServer && len(pub.respT) == 0 && len(pub.topic) > 0:
			m.Links = append(m.Links, link(protocols.LinkHandoffRecv, kindReply, pub.topic, "", d.Sum()))
		}
	}
	m.Size = h.size
	h.size = 0
	h.partial = false
	h.st = stHeader
}

// showBinary returns correlation data as text when it is printable UTF-8,
// else as hex, at most maxConversationID bytes of it.
func showBinary(b []byte) string {
	b = b[:min(len(b), maxConversationID)]
	if utf8.Valid(b) {
		printable := true
		for _, c := range b {
			if c < ' ' || c == 0x7f {
				printable = false
				break
			}
		}
		if printable {
			return string(b)
		}
	}
	return hex.EncodeToString(b)
}

// intern returns s as a string, from a small cache when it was seen lately.
func (p *Parser) intern(s []byte) string {
	str, _ := p.internAt(s)
	return str
}

// internAt is intern that also returns the cache slot.
func (p *Parser) internAt(s []byte) (string, int) {
	for i, c := range p.topics {
		if c == string(s) {
			return c, i
		}
	}
	str := string(s)
	i := p.topicNext
	p.topics[i] = str
	p.topicNext = (p.topicNext + 1) % topicCacheLen
	return str, i
}

// control handles a complete packet other than PUBLISH; body is its
// variable header and payload.
func (p *Parser) control(dir protocols.Direction, typ byte, body []byte, m *protocols.Message) (bool, error) {
	r := reader{b: body}
	v5 := p.level >= 5
	toServer := dir == protocols.ToServer
	base := func(kind protocols.Kind, name string) {
		m.Kind = kind
		m.Name = name
		if kind == protocols.Request {
			m.Attrs = append(m.Attrs, protocols.String(attrSystem, Name), protocols.String(attrOpName, name))
		} else {
			m.Status = protocols.StatusOK
		}
	}
	switch {
	case toServer && typ == typeConnect:
		return p.connect(&r, m)
	case !toServer && typ == typeConnack:
		r.u8() // acknowledge flags
		rc := r.u8()
		if r.failed() {
			return false, ErrPacket
		}
		base(protocols.Response, "")
		m.ID, m.HasID = idConnect, true
		if rc != 0 {
			m.Status = protocols.StatusError
			m.Attrs = append(m.Attrs, protocols.String(attrErrorType, p.connackName(rc)))
		}
		return true, nil
	case typ == typePuback || typ == typePubrec || typ == typePubcomp || typ == typePubrel:
		pid := r.u16()
		if r.failed() {
			return false, ErrPacket
		}
		var rc byte
		if v5 && r.left() > 0 {
			rc = r.u8()
		}
		if toServer || typ == typePubrel {
			return false, nil // acknowledging a delivery, or QoS 2's middle step
		}
		if typ == typePubrec && rc < 0x80 {
			return false, nil // QoS 2 goes on: PUBREL, PUBCOMP
		}
		base(protocols.Response, "")
		m.ID, m.HasID = uint64(pid), true
		if rc >= 0x80 {
			m.Status = protocols.StatusError
			m.Attrs = append(m.Attrs, protocols.String(attrErrorType, reasonName(rc)))
		}
		return true, nil
	case toServer && (typ == typeSubscribe || typ == typeUnsubscribe):
		pid := r.u16()
		if v5 && !r.properties(nil) {
			return false, ErrPacket
		}
		var first []byte
		n := 0
		for r.left() > 0 && !r.failed() {
			f := r.str()
			if typ == typeSubscribe {
				r.u8() // options
			}
			if n == 0 {
				first = f
			}
			n++
		}
		if r.failed() || n == 0 {
			return false, ErrPacket
		}
		name, id := "SUBSCRIBE", uint64(idSubscribe)
		if typ == typeUnsubscribe {
			name, id = "UNSUBSCRIBE", idUnsubscribe
		}
		base(protocols.Request, name)
		topic := p.intern(first)
		m.Name = name + " " + topic
		m.ID, m.HasID = id|uint64(pid), true
		m.Attrs = append(m.Attrs, protocols.String(attrOpType, "receive"),
			protocols.String(attrDest, topic), protocols.Int(attrSubCount, int64(n)),
			protocols.Int(attrPacketID, int64(pid)))
		return true, nil
	case !toServer && (typ == typeSuback || typ == typeUnsuback):
		pid := r.u16()
		if v5 && r.left() > 0 && !r.properties(nil) {
			return false, ErrPacket
		}
		if r.failed() {
			return false, ErrPacket
		}
		id := uint64(idSubscribe)
		if typ == typeUnsuback {
			id = idUnsubscribe
		}
		base(protocols.Response, "")
		m.ID, m.HasID = id|uint64(pid), true
		codes := r.b[r.off:]
		bad := 0
		for _, c := range codes {
			if c >= 0x80 {
				bad++
			}
		}
		if len(codes) > 0 && bad == len(codes) {
			m.Status = protocols.StatusError
			m.Attrs = append(m.Attrs, protocols.String(attrErrorType, reasonName(codes[0])))
		}
		return true, nil
	case toServer && typ == typePingreq:
		base(protocols.Request, "PINGREQ")
		p.pings[0]++
		m.ID, m.HasID = idPing+p.pings[0], true
		return true, nil
	case !toServer && typ == typePingresp:
		base(protocols.Response, "")
		p.pings[1]++
		m.ID, m.HasID = idPing+p.pings[1], true
		return true, nil
	case typ == typeDisconnect || typ == typeAuth:
		name := "DISCONNECT"
		if typ == typeAuth {
			name = "AUTH"
		}
		var rc byte
		if r.left() > 0 {
			rc = r.u8()
		}
		if toServer {
			base(protocols.Request, name)
			m.NoResponse = true
			return true, nil
		}
		base(protocols.Response, name)
		m.Unsolicited = true
		m.Attrs = append(m.Attrs, protocols.String(attrSystem, Name), protocols.String(attrOpName, name))
		if rc >= 0x80 {
			m.Status = protocols.StatusError
			m.Attrs = append(m.Attrs, protocols.String(attrErrorType, reasonName(rc)))
		}
		return true, nil
	}
	return false, ErrPacketType
}

// connect reads a CONNECT packet: protocol name and level, flags, client
// id and user name. The will and the password are skipped unread.
func (p *Parser) connect(r *reader, m *protocols.Message) (bool, error) {
	proto := r.str()
	level := r.u8()
	flags := r.u8()
	r.u16() // keep alive
	if r.failed() || !(string(proto) == "MQTT" || string(proto) == "MQIsdp") {
		return false, ErrPacket
	}
	p.level = level
	if level >= 5 && !r.properties(nil) {
		return false, ErrPacket
	}
	clientID := r.str()
	if flags&0x04 != 0 { // will
		if level >= 5 && !r.properties(nil) {
			return false, ErrPacket
		}
		r.str() // will topic
		r.str() // will payload
	}
	var user []byte
	if flags&0x80 != 0 {
		user = r.str()
	}
	if r.failed() {
		return false, ErrPacket
	}
	m.Kind = protocols.Request
	m.Name = "CONNECT"
	m.ID, m.HasID = idConnect, true
	m.Attrs = append(m.Attrs, protocols.String(attrSystem, Name), protocols.String(attrOpName, "CONNECT"),
		protocols.String(attrVersion, versionName(level)))
	if len(clientID) > 0 {
		m.Attrs = append(m.Attrs, protocols.String(attrClientID, string(clientID[:min(len(clientID), 128)])))
	}
	if len(user) > 0 {
		m.Attrs = append(m.Attrs, protocols.String(attrUser, string(user[:min(len(user), 128)])))
	}
	return true, nil
}

func versionName(level byte) string {
	switch level {
	case 3:
		return "3.1"
	case 4:
		return "3.1.1"
	case 5:
		return "5.0"
	}
	return strconv.Itoa(int(level))
}

// connackName names a CONNACK code: a 3.1.1 return code, or a 5.0 reason
// code.
func (p *Parser) connackName(rc byte) string {
	if p.level < 5 {
		switch rc {
		case 1:
			return "unacceptable protocol version"
		case 2:
			return "identifier rejected"
		case 3:
			return "server unavailable"
		case 4:
			return "bad user name or password"
		case 5:
			return "not authorized"
		}
		return "0x" + strconv.FormatUint(uint64(rc), 16)
	}
	return reasonName(rc)
}

// reasonNames are the MQTT 5.0 reason codes of 0x80 and above (section
// 2.4); never modified.
var reasonNames = map[byte]string{
	0x80: "unspecified error", 0x81: "malformed packet", 0x82: "protocol error",
	0x83: "implementation specific error", 0x84: "unsupported protocol version",
	0x85: "client identifier not valid", 0x86: "bad user name or password",
	0x87: "not authorized", 0x88: "server unavailable", 0x89: "server busy", 0x8A: "banned",
	0x8B: "server shutting down", 0x8C: "bad authentication method", 0x8D: "keep alive timeout",
	0x8E: "session taken over", 0x8F: "topic filter invalid", 0x90: "topic name invalid",
	0x91: "packet identifier in use", 0x92: "packet identifier not found",
	0x93: "receive maximum exceeded", 0x94: "topic alias invalid", 0x95: "packet too large",
	0x96: "message rate too high", 0x97: "quota exceeded", 0x98: "administrative action",
	0x99: "payload format invalid", 0x9A: "retain not supported", 0x9B: "qos not supported",
	0x9C: "use another server", 0x9D: "server moved", 0x9E: "shared subscriptions not supported",
	0x9F: "connection rate exceeded", 0xA0: "maximum connect time",
	0xA1: "subscription identifiers not supported", 0xA2: "wildcard subscriptions not supported",
}

// reasonName names an MQTT 5.0 reason code (section 2.4), or the 3.1.1
// SUBACK failure 0x80.
func reasonName(rc byte) string {
	if n, ok := reasonNames[rc]; ok {
		return n
	}
	return "0x" + strconv.FormatUint(uint64(rc), 16)
}

// Gap implements protocols.Parser.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	if dir != protocols.ToServer && dir != protocols.ToClient || size <= 0 {
		return
	}
	h := p.half(dir)
	switch h.st {
	case stPayload:
		h.partial = true
		if size < h.payLeft {
			h.payLeft -= size
			h.size += size
			return
		}
		exact := size == h.payLeft
		h.size += h.payLeft
		h.payLeft = 0
		h.emit = true
		h.st = stResync
		if exact {
			h.st = stHeader
		}
	case stSkip:
		if size < h.skipLeft {
			h.skipLeft -= size
			return
		}
		h.st = stResync
		if size == h.skipLeft {
			h.st = stHeader
		}
		h.skipLeft = 0
	default:
		h.st = stResync
	}
}

// resync returns how many bytes to skip to reach a plausible packet start:
// a complete well-formed packet followed by the end of data or a plausible
// fixed header. It switches back to reading packets when it finds one.
func (p *Parser) resync(h *half, data []byte) int {
	for i := 0; i+2 <= len(data); i++ {
		typ, _, rl, hl, err := header(data[i:])
		if err != nil || hl == 0 || typ == typeConnect {
			continue
		}
		end := i + hl + rl
		if end > len(data) {
			continue
		}
		if end < len(data) {
			if _, _, _, n, err := header(data[end:]); err != nil || n == 0 && len(data)-end >= 2 {
				continue
			}
		}
		if typ == typePublish {
			r := reader{b: data[i+hl : end]}
			t := r.str()
			if r.failed() || !utf8.Valid(t) || bytes.IndexByte(t, 0) >= 0 {
				continue
			}
		}
		h.st = stHeader
		return i
	}
	if len(data) > p.cfg.HeaderLimit() {
		return len(data) - 5
	}
	return 0
}

// End implements protocols.Parser: a PUBLISH cut by the end of the stream
// is emitted, Partial.
func (p *Parser) End(dir protocols.Direction, m *protocols.Message) bool {
	if dir != protocols.ToServer && dir != protocols.ToClient {
		return false
	}
	h := p.half(dir)
	if h.emit || h.st == stPayload {
		h.emit = false
		h.partial = true
		p.finishPublish(dir, h, m)
		return true
	}
	return false
}
