package dubbo

import (
	"bytes"
	"encoding/binary"
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name used in span output and ParseErrors.
const Name = "dubbo"

// Header layout.
const (
	headerLen = 16
	magicHi   = 0xda
	magicLo   = 0xbb

	flagRequest = 0x80
	flagTwoWay  = 0x40
	flagEvent   = 0x20
	serialMask  = 0x1f

	statusOK = 20
)

// Limits bounding a Parser's state and the input it waits for.
const (
	// MaxMessageSize bounds a body length; larger ones stop the flow. Dubbo's
	// default payload limit is 8 MiB; this allows configured larger ones.
	MaxMessageSize = 64 << 20
	// maxLinkValue bounds an attachment value kept as a link.
	maxLinkValue = 1024
)

// Attribute keys (OpenTelemetry semantic conventions v1.37.0, RPC).
const (
	attrSystem    = string(semconv.RPCSystemKey)
	attrService   = string(semconv.RPCServiceKey)
	attrMethod    = string(semconv.RPCMethodKey)
	attrErrorType = string(semconv.ErrorTypeKey)
	// Not semantic conventions.
	attrRequestID      = "dubbo.request_id"
	attrVersion        = "dubbo.version"
	attrServiceVersion = "dubbo.service.version"
	attrSerialization  = "dubbo.serialization"
	attrGroup          = "dubbo.group"
	attrStatusCode     = "dubbo.status_code"
	systemDubbo        = "apache_dubbo"
)

// Protocol describes Dubbo for a protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "Apache Dubbo 2 (hessian2): service, method, versions, attachments' trace context (sw8, traceparent, b3, uber-trace-id, EagleEye), status and exceptions",
	IDLink:  "dubbo_request_id",
	Ports:   []uint16{20880},
	Sniff:   Sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

var (
	_ protocols.Parser   = (*Parser)(nil)
	_ protocols.Salvager = (*Parser)(nil)
	_ protocols.Idler    = (*Parser)(nil)
)

// Link slots for attachments, in emission order.
const (
	lnXRequestID = iota
	lnTraceparent
	lnTracestate
	lnB3
	lnB3TraceID
	lnB3SpanID
	lnB3ParentID
	lnUberTraceID
	lnSW8
	lnEagleEye
	numLinks
)

var linkKeys = [numLinks]string{
	protocols.LinkXRequestID, protocols.LinkTraceparent, protocols.LinkTracestate,
	protocols.LinkB3, protocols.LinkB3TraceID, protocols.LinkB3SpanID,
	protocols.LinkB3ParentID, protocols.LinkUberTraceID, protocols.LinkSW8,
	protocols.LinkEagleEyeTraceID,
}

// linkNames are the attachment names of the fixed links, matched
// case-insensitively.
var linkNames = [numLinks]string{
	"", "traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid",
	"x-b3-parentspanid", "uber-trace-id", "sw8", "eagleeye-traceid",
}

// serializations names the serialization ids of Dubbo's
// org.apache.dubbo.common.serialize.Constants.
var serializations = [32]string{
	2: "hessian2", 3: "java", 4: "compactedjava", 6: "fastjson", 7: "nativejava",
	8: "kryo", 9: "fst", 10: "native-hessian", 11: "protostuff", 12: "avro",
	21: "protobuf-json", 22: "protobuf", 23: "fastjson2",
}

// statusName names a response status byte (org.apache.dubbo.remoting.exchange.Response).
func statusName(s byte) string {
	switch s {
	case 20:
		return "OK"
	case 30:
		return "CLIENT_TIMEOUT"
	case 31:
		return "SERVER_TIMEOUT"
	case 35:
		return "CHANNEL_INACTIVE"
	case 40:
		return "BAD_REQUEST"
	case 50:
		return "BAD_RESPONSE"
	case 60:
		return "SERVICE_NOT_FOUND"
	case 70:
		return "SERVICE_ERROR"
	case 80:
		return "SERVER_ERROR"
	case 90:
		return "CLIENT_ERROR"
	case 100:
		return "SERVER_THREADPOOL_EXHAUSTED_ERROR"
	}
	return "UNKNOWN"
}

// state is where a direction's stream is.
type state uint8

const (
	stHead   state = iota // at a message boundary
	stSkip                // inside a message, remain bytes left
	stResync              // lost the boundary: scanning for a header
)

// half is one direction's parsing state.
type half struct {
	st      state
	remain  int  // stSkip: bytes left in the message
	pending bool // stSkip: m is emitted when remain reaches 0
	resync  bool // stSkip: resynchronise after the message (a gap overran it)
	m       protocols.Message
}

// Parser is the Dubbo parser of one connection. Create it with New.
type Parser struct {
	ridHeaders []string
	limit      int
	halves     [2]half
	h          hessian
	// Interned strings: a connection repeats its services and methods.
	service, method, name, version, svcVersion, group, exc string
}

// New returns a parser for one connection; a nil cfg means defaults.
func New(cfg *protocols.Config) *Parser {
	return &Parser{ridHeaders: cfg.RequestIDHeaders(), limit: max(cfg.HeaderLimit(), headerLen)}
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

// Sniff reports the direction of data that starts with a Dubbo header:
// ToServer for a request, ToClient for a response.
func Sniff(data []byte) protocols.Direction {
	if len(data) < headerLen || !plausible(data) {
		return protocols.DirUnknown
	}
	if data[2]&flagRequest != 0 {
		return protocols.ToServer
	}
	return protocols.ToClient
}

// plausible reports whether the 16 bytes at data look like a header.
func plausible(data []byte) bool {
	if data[0] != magicHi || data[1] != magicLo {
		return false
	}
	flag, n := data[2], binary.BigEndian.Uint32(data[12:])
	if flag&serialMask == 0 || n > MaxMessageSize {
		return false
	}
	if flag&flagRequest != 0 {
		return data[3] == 0 // requests have no status
	}
	return flag&flagTwoWay == 0 && data[3] != 0
}

// Parse implements protocols.Parser.
func (p *Parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	h := p.half(dir)
	if h == nil {
		return 0, false, parseErr(0, ErrDirection)
	}
	if h.st == stSkip {
		k := min(len(data), h.remain)
		h.remain -= k
		if h.remain > 0 {
			return k, false, nil
		}
		done := h.pending
		if done {
			copyMessage(msg, &h.m)
			h.pending = false
		}
		h.st = stHead
		if h.resync {
			h.st, h.resync = stResync, false
		}
		if done || k > 0 {
			return k, done, nil
		}
	}
	if h.st == stResync {
		i, found := scan(dir, data)
		if !found || i > 0 {
			return i, false, nil
		}
		h.st = stHead
	}
	if len(data) < headerLen {
		if len(data) >= 2 && (data[0] != magicHi || data[1] != magicLo) {
			return 0, false, parseErr(0, ErrMagic)
		}
		return 0, false, nil
	}
	if data[0] != magicHi || data[1] != magicLo {
		return 0, false, parseErr(0, ErrMagic)
	}
	size := binary.BigEndian.Uint32(data[12:])
	if size > MaxMessageSize {
		return 0, false, parseErr(12, ErrTooLarge)
	}
	total := headerLen + int(size)
	if total <= len(data) {
		emit := p.decode(dir, data[:total], total, msg)
		return total, emit, nil
	}
	if total <= p.limit || len(data) < p.limit {
		return 0, false, nil
	}
	// A large message: decode its prefix now, skip the rest as it comes.
	h.m.Reset()
	h.pending = p.decode(dir, data, total, &h.m)
	h.st, h.remain = stSkip, total-len(data)
	return len(data), false, nil
}

// Idle implements protocols.Idler: events are consumed without a message.
func (p *Parser) Idle(dir protocols.Direction) bool {
	h := p.half(dir)
	return h != nil && h.st != stSkip
}

// scan looks for a plausible header in data after a lost boundary. It
// returns the offset of the header, or how many bytes may be dropped.
func scan(dir protocols.Direction, data []byte) (int, bool) {
	for i := 0; i < len(data); i++ {
		if data[i] != magicHi {
			continue
		}
		if len(data)-i < headerLen {
			return i, false
		}
		if plausible(data[i:]) && (data[i+2]&flagRequest != 0) == (dir == protocols.ToServer) {
			return i, true
		}
	}
	return len(data), false
}

// Gap implements protocols.Parser.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	h := p.half(dir)
	if h == nil || size <= 0 {
		return
	}
	switch h.st {
	case stSkip:
		h.m.Partial = true
		if size <= h.remain {
			h.remain -= size
			return
		}
		h.remain = 0
		h.resync = true
	case stHead:
		h.st = stResync
	}
}

// Salvage implements protocols.Salvager: the unconsumed start of a message
// cut by a gap still gives its header and what of the body is there.
func (p *Parser) Salvage(dir protocols.Direction, tail []byte, msg *protocols.Message) bool {
	h := p.half(dir)
	if h == nil || h.st != stHead || len(tail) < headerLen || !plausible(tail) {
		return false
	}
	total := headerLen + int(binary.BigEndian.Uint32(tail[12:]))
	if total <= len(tail) {
		return false
	}
	emit := p.decode(dir, tail, total, msg)
	msg.Partial = true
	h.st, h.remain, h.pending = stSkip, total-len(tail), false
	return emit
}

// End implements protocols.Parser: a large message cut by the end of the
// stream is emitted Partial.
func (p *Parser) End(dir protocols.Direction, msg *protocols.Message) bool {
	h := p.half(dir)
	if h == nil || h.st != stSkip || !h.pending {
		return false
	}
	copyMessage(msg, &h.m)
	msg.Partial = true
	h.pending = false
	h.st = stHead
	return true
}

func copyMessage(dst, src *protocols.Message) {
	attrs := append(dst.Attrs[:0], src.Attrs...)
	links := append(dst.Links[:0], src.Links...)
	*dst = *src
	dst.Attrs, dst.Links = attrs, links
}

// decode fills msg from the message at data (its header and the body
// bytes at hand; total is its whole size). It reports false for events,
// which are not emitted.
func (p *Parser) decode(dir protocols.Direction, data []byte, total int, msg *protocols.Message) bool {
	flag, status := data[2], data[3]
	if flag&flagEvent != 0 {
		return false
	}
	id := binary.BigEndian.Uint64(data[4:])
	body := data[headerLen:min(len(data), total)]
	msg.ID, msg.HasID = id, true
	msg.Size, msg.BodySize = total, total-headerLen
	serial := flag & serialMask
	if flag&flagRequest != 0 {
		msg.Kind = protocols.Request
		msg.NoResponse = flag&flagTwoWay == 0
		if dir != protocols.ToServer {
			msg.Unsolicited = true
		}
		msg.Attrs = append(msg.Attrs, protocols.String(attrSystem, systemDubbo))
		switch serial {
		case 2:
			p.request(body, msg)
		case 8:
			p.kryoRequest(body, msg)
		}
		if msg.Name == "" {
			msg.Name = "dubbo"
		}
		msg.Attrs = append(msg.Attrs, protocols.Int(attrRequestID, int64(id)))
		if s := serializations[serial]; s != "" {
			msg.Attrs = append(msg.Attrs, protocols.String(attrSerialization, s))
		}
		return true
	}
	msg.Kind = protocols.Response
	msg.Attrs = append(msg.Attrs, protocols.Int(attrStatusCode, int64(status)))
	if status != statusOK {
		msg.Status = protocols.StatusError
		msg.Attrs = append(msg.Attrs, protocols.String(attrErrorType, statusName(status)))
		return true
	}
	msg.Status = protocols.StatusOK
	if serial == 2 && p.exception(body, msg) {
		msg.Status = protocols.StatusError
	}
	return true
}

// request decodes a Hessian 2 request body.
func (p *Parser) request(body []byte, msg *protocols.Message) {
	h := &p.h
	h.reset(body)
	version, ok1 := h.string()
	service, ok2 := h.string()
	svcVersion, ok3 := h.string()
	method, ok4 := h.string()
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return
	}
	p.named(service, method, msg)
	p.versions(version, svcVersion, msg)
	desc, ok := h.string()
	if !ok {
		return
	}
	for n := paramCount(desc); n > 0; n-- {
		if !h.skip(0) {
			return
		}
	}
	p.attachments(msg)
}

// named sets the message name and the service and method attributes.
func (p *Parser) named(service, method []byte, msg *protocols.Message) {
	if len(service) == 0 && len(method) == 0 {
		return
	}
	if string(service) != p.service || string(method) != p.method {
		p.service, p.method = string(service), string(method)
		p.name = p.service + "/" + p.method
	}
	msg.Name = p.name
	if p.service != "" {
		msg.Attrs = append(msg.Attrs, protocols.String(attrService, p.service))
	}
	if p.method != "" {
		msg.Attrs = append(msg.Attrs, protocols.String(attrMethod, p.method))
	}
}

func (p *Parser) versions(version, svcVersion []byte, msg *protocols.Message) {
	if len(version) > 0 {
		if string(version) != p.version {
			p.version = string(version)
		}
		msg.Attrs = append(msg.Attrs, protocols.String(attrVersion, p.version))
	}
	if len(svcVersion) > 0 {
		if string(svcVersion) != p.svcVersion {
			p.svcVersion = string(svcVersion)
		}
		msg.Attrs = append(msg.Attrs, protocols.String(attrServiceVersion, p.svcVersion))
	}
}

// paramCount counts the parameters of a JVM parameter descriptor
// ("Ljava/lang/String;[I" is 2).
func paramCount(desc []byte) int {
	n := 0
	for i := 0; i < len(desc); i++ {
		switch desc[i] {
		case '[':
			continue
		case 'L':
			j := bytes.IndexByte(desc[i:], ';')
			if j < 0 {
				return n + 1
			}
			i += j
		}
		n++
	}
	return n
}

// attachments reads the attachments map of a request.
func (p *Parser) attachments(msg *protocols.Message) {
	h := &p.h
	c, ok := h.peek()
	if !ok {
		return
	}
	switch c {
	case 'H':
		h.off++
	case 'M':
		h.off++
		if !h.typ() {
			return
		}
	default:
		return
	}
	var found [numLinks]bool
	for {
		c, ok := h.peek()
		if !ok || c == 'Z' {
			return
		}
		key, ok := h.string()
		if !ok {
			return
		}
		val, isStr := h.string()
		if !isStr {
			if h.bad || !h.skip(1) {
				return
			}
			continue
		}
		if len(val) == 0 || len(val) > maxLinkValue {
			continue
		}
		if equalFold(key, "group") {
			if string(val) != p.group {
				p.group = string(val)
			}
			msg.Attrs = append(msg.Attrs, protocols.String(attrGroup, p.group))
			continue
		}
		i := p.linkSlot(key)
		if i < 0 || found[i] {
			continue
		}
		found[i] = true
		msg.Links = append(msg.Links, protocols.String(linkKeys[i], string(val)))
	}
}

// linkSlot returns the link slot of an attachment name, or -1.
func (p *Parser) linkSlot(key []byte) int {
	for i := lnTraceparent; i < numLinks; i++ {
		if equalFold(key, linkNames[i]) {
			return i
		}
	}
	for _, r := range p.ridHeaders {
		if equalFold(key, r) {
			return lnXRequestID
		}
	}
	return -1
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Response types of a Hessian response body (org.apache.dubbo.rpc.protocol.dubbo.DubboCodec).
const (
	respException               = 0
	respExceptionWithAttachment = 3
)

// exception reports whether a response body holds an exception, and then
// records its class name as error.type.
func (p *Parser) exception(body []byte, msg *protocols.Message) bool {
	h := &p.h
	h.reset(body)
	t, ok := h.int()
	if !ok || t != respException && t != respExceptionWithAttachment {
		return false
	}
	name := h.className()
	if len(name) == 0 {
		msg.Attrs = append(msg.Attrs, protocols.String(attrErrorType, "exception"))
		return true
	}
	if string(name) != p.exc {
		p.exc = string(name)
	}
	msg.Attrs = append(msg.Attrs, protocols.String(attrErrorType, p.exc))
	return true
}

// kryoRequest reads the four leading strings of a Kryo request body: Kryo
// writes an ASCII string as its bytes with the high bit set on the last.
func (p *Parser) kryoRequest(body []byte, msg *protocols.Message) {
	var f [4][]byte
	off := 0
	for i := range f {
		// Skip the length and type bytes Kryo may put first.
		for k := 0; k < 3 && off < len(body) && body[off] < 0x20; k++ {
			off++
		}
		start := off
		for off < len(body) && body[off] >= 0x20 && body[off] < 0x7f {
			off++
		}
		if off >= len(body) || body[off] < 0x80 || body[off]&0x7f < 0x20 {
			return
		}
		off++
		f[i] = body[start:off]
	}
	// The last byte of each carries the high bit: build the strings in
	// the parser's storage only when they change.
	last := func(b []byte) string {
		return strings.TrimSpace(string(b[:len(b)-1]) + string(rune(b[len(b)-1]&0x7f)))
	}
	if !kryoSame(f[1], p.service) || !kryoSame(f[3], p.method) {
		p.service, p.method = last(f[1]), last(f[3])
		p.name = p.service + "/" + p.method
	}
	msg.Name = p.name
	msg.Attrs = append(msg.Attrs, protocols.String(attrService, p.service), protocols.String(attrMethod, p.method))
	if !kryoSame(f[0], p.version) {
		p.version = last(f[0])
	}
	if !kryoSame(f[2], p.svcVersion) {
		p.svcVersion = last(f[2])
	}
	msg.Attrs = append(msg.Attrs, protocols.String(attrVersion, p.version), protocols.String(attrServiceVersion, p.svcVersion))
}

// kryoSame reports whether the Kryo string b spells s.
func kryoSame(b []byte, s string) bool {
	n := len(b)
	return n > 0 && n == len(s) && string(b[:n-1]) == s[:n-1] && b[n-1]&0x7f == s[n-1]
}
