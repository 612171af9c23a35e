package nats

import (
	"bytes"
	"encoding/json"

	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name in span output.
const Name = "nats"

// Limits.
const (
	// MaxControlLine bounds a control line (CONNECT and INFO included);
	// a longer line is a ParseError. nats-server's max_control_line
	// defaults to 4 KiB; CONNECT with a JWT can be longer.
	MaxControlLine = 32 << 10
	// MaxPayload bounds the size on a PUB, HPUB, MSG or HMSG line
	// (nats-server's max_payload defaults to 1 MiB and is at most 64 MiB).
	MaxPayload = 64 << 20
	// MaxPending bounds the operations waiting for +OK, -ERR or PONG; when
	// full the oldest is forgotten.
	MaxPending = 1024
	// maxHeaderLinks bounds the trace links read from one header block.
	maxHeaderLinks = 16
	// subjectCacheLen is the number of subject strings remembered.
	subjectCacheLen = 16
)

// Attribute keys (OpenTelemetry semantic conventions v1.37.0, messaging).
const (
	attrSystem    = string(semconv.MessagingSystemKey)
	attrOpName    = string(semconv.MessagingOperationNameKey)
	attrOpType    = string(semconv.MessagingOperationTypeKey)
	attrDest      = string(semconv.MessagingDestinationNameKey)
	attrBodySize  = string(semconv.MessagingMessageBodySizeKey)
	attrClientID  = string(semconv.MessagingClientIDKey)
	attrGroup     = string(semconv.MessagingConsumerGroupNameKey)
	attrErrorType = string(semconv.ErrorTypeKey)
	attrUser      = "user.name"
	// Not semantic conventions.
	attrReplyTo = "nats.reply_to"
	attrSID     = "nats.sid"
)

// Protocol describes NATS for a protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "NATS: PUB/HPUB, MSG/HMSG subjects, SUB queue groups, trace headers, payload hand-off and request/reply links; credentials never read",
	Ports:   []uint16{4222},
	Sniff:   Sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

var (
	_ protocols.Parser = (*Parser)(nil)
	_ protocols.Idler  = (*Parser)(nil)
)

// op is a NATS operation.
type op uint8

const (
	opNone op = iota
	opConnect
	opPub
	opHPub
	opSub
	opUnsub
	opPing
	opPong
	opMsg
	opHMsg
	opOK
	opErr
	opInfo
)

var opNames = [...]string{opConnect: "CONNECT", opPub: "PUB", opHPub: "HPUB", opSub: "SUB",
	opUnsub: "UNSUB", opPing: "PING", opPong: "PONG", opMsg: "MSG", opHMsg: "HMSG", opOK: "+OK",
	opErr: "-ERR", opInfo: "INFO"}

// lookupOp returns the operation a control line's first word names.
func lookupOp(w []byte) op {
	if len(w) > 7 {
		return opNone
	}
	var up [8]byte
	for i, c := range w {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	for o := opConnect; o <= opInfo; o++ {
		if opNames[o] == string(up[:len(w)]) {
			return o
		}
	}
	return opNone
}

// state of a direction.
type state uint8

const (
	stLine    state = iota // expecting a control line
	stHeaders              // reading an HPUB/HMSG header block of hdrLeft bytes
	stPayload              // reading a payload of payLeft bytes, then CRLF
	stResync               // after a gap: skipping to a plausible control line
)

// half is one direction's state: the message in progress.
type half struct {
	st      state
	op      op
	size    int              // bytes of the message so far
	subj    []byte           // subject
	reply   []byte           // reply subject
	hdrLeft int              // header bytes still to read
	hdrLen  int              // header block length
	payLeft int              // payload bytes still to read
	trail   int              // trailing CRLF bytes still to skip
	body    int              // payload size
	partial bool             // a gap fell inside the message
	emit    bool             // a message cut by a gap waits to be emitted
	dig     protocols.Digest // of the payload
	status  []byte           // header block status code, when not 2xx
	links   []protocols.Attr
	atStart bool // resync: the data starts a line
	lenient bool // resynchronised: a bad control line resumes the resync
}

// Parser parses one NATS connection. Create it with New.
type Parser struct {
	cfg      *protocols.Config
	reqIDs   []string
	verbose  bool
	pending  []op // operations waiting for +OK/-ERR or PONG, oldest first
	dirs     [2]half
	subjects [subjectCacheLen]string
	subjNext int
	names    [subjectCacheLen]spanName
	nameNext int
}

// spanName is a cached span name: an operation prefix and subject.
type spanName struct {
	prefix, subj, name string
}

// New returns a parser for one connection. cfg may be nil.
func New(cfg *protocols.Config) *Parser {
	return &Parser{cfg: cfg, reqIDs: cfg.RequestIDHeaders()}
}

func (p *Parser) half(dir protocols.Direction) *half {
	if dir == protocols.ToClient {
		return &p.dirs[1]
	}
	return &p.dirs[0]
}

// Idle implements protocols.Idler: true between messages.
func (p *Parser) Idle(dir protocols.Direction) bool {
	h := p.half(dir)
	return h.st == stLine && h.op == opNone && !h.emit
}

// Parse implements protocols.Parser.
func (p *Parser) Parse(dir protocols.Direction, data []byte, m *protocols.Message) (int, bool, error) {
	if dir != protocols.ToServer && dir != protocols.ToClient {
		return 0, false, parseErr(0, ErrDirection)
	}
	h := p.half(dir)
	if h.emit {
		h.emit = false
		p.finish(dir, h, m)
		h.st = stResync // finish expects a control line next
		return 0, true, nil
	}
	switch h.st {
	case stResync:
		return p.resync(h, data)
	case stHeaders:
		if len(data) < h.hdrLeft {
			if h.hdrLen < 0 || h.hdrLen > p.cfg.HeaderLimit() {
				// Too large to read: skip it.
				h.hdrLeft -= len(data)
				h.size += len(data)
				return len(data), false, nil
			}
			return 0, false, nil
		}
		if h.hdrLen <= p.cfg.HeaderLimit() && h.hdrLeft == h.hdrLen {
			p.headers(h, data[:h.hdrLen])
		}
		n := h.hdrLeft
		h.size += n
		h.hdrLeft = 0
		h.st = stPayload
		return n, false, nil
	case stPayload:
		n := 0
		if h.payLeft > 0 {
			n = min(len(data), h.payLeft)
			h.dig.Add(data[:n])
			h.payLeft -= n
		}
		if h.payLeft == 0 && n < len(data) && h.trail > 0 {
			t := min(len(data)-n, h.trail)
			h.trail -= t
			n += t
		}
		h.size += n
		if h.payLeft > 0 || h.trail > 0 {
			return n, false, nil
		}
		p.finish(dir, h, m)
		return n, true, nil
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) > MaxControlLine {
			return 0, false, parseErr(0, ErrLineTooLong)
		}
		return 0, false, nil
	}
	if i > MaxControlLine {
		return 0, false, parseErr(0, ErrLineTooLong)
	}
	line := bytes.TrimSuffix(data[:i], []byte{'\r'})
	done, err := p.line(dir, h, line, m)
	if err != nil {
		if !h.lenient {
			return 0, false, err
		}
		// After a gap a line that looked like an operation was not
		// one: go on looking.
		m.Reset()
		h.st, h.atStart, h.op = stResync, true, opNone
		return i + 1, false, nil
	}
	if done {
		h.lenient = false
	}
	h.size += i + 1
	if done {
		m.Size = h.size
		h.size = 0
	}
	return i + 1, done, nil
}

// fields splits a control line's arguments on spaces and tabs into dst.
func fields(dst [][]byte, b []byte) [][]byte {
	for len(b) > 0 {
		i := 0
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		b = b[i:]
		if len(b) == 0 {
			break
		}
		j := 0
		for j < len(b) && b[j] != ' ' && b[j] != '\t' {
			j++
		}
		if len(dst) == cap(dst) {
			return nil // too many arguments
		}
		dst = append(dst, b[:j])
		b = b[j:]
	}
	return dst
}

// atoi parses a non-negative decimal size, or returns -1.
func atoi(b []byte) int {
	if len(b) == 0 || len(b) > 10 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// opWord splits a line into its operation and the rest.
func opWord(line []byte) (op, []byte) {
	i := 0
	for i < len(line) && line[i] != ' ' && line[i] != '\t' {
		i++
	}
	w := line[:i]
	if len(w) > 4 && (w[0] == 'I' || w[0] == 'i' || w[0] == 'C' || w[0] == 'c') && w[len(w)-1] == '{' {
		w = w[:len(w)-1] // "INFO{" is accepted by clients
		i--
	}
	return lookupOp(w), line[i:]
}

// line handles one control line of h's direction.
func (p *Parser) line(dir protocols.Direction, h *half, line []byte, m *protocols.Message) (bool, error) {
	o, rest := opWord(line)
	if len(bytes.TrimSpace(line)) == 0 {
		return false, nil // an empty line between operations
	}
	toServer := dir == protocols.ToServer
	var argv [6][]byte
	args := fields(argv[:0], rest)
	switch {
	case toServer && o == opConnect:
		p.connect(bytes.TrimSpace(rest), m)
		return true, nil
	case toServer && (o == opPub || o == opHPub), !toServer && (o == opMsg || o == opHMsg):
		return false, p.startMessage(h, o, args)
	case toServer && o == opSub:
		if len(args) != 2 && len(args) != 3 {
			return false, parseErr(0, ErrOperation)
		}
		p.simple(m, opSub)
		m.Name = p.spanName("SUB ", args[0])
		m.Attrs = append(m.Attrs, protocols.String(attrOpType, "receive"),
			protocols.String(attrDest, p.intern(args[0])),
			protocols.String(attrSID, string(args[len(args)-1])))
		if len(args) == 3 {
			m.Attrs = append(m.Attrs, protocols.String(attrGroup, string(args[1])))
		}
		return true, nil
	case toServer && o == opUnsub:
		if len(args) != 1 && len(args) != 2 {
			return false, parseErr(0, ErrOperation)
		}
		p.simple(m, opUnsub)
		m.Attrs = append(m.Attrs, protocols.String(attrSID, string(args[0])))
		return true, nil
	case toServer && o == opPing:
		m.Kind = protocols.Request
		m.Name = "PING"
		m.Attrs = append(m.Attrs, protocols.String(attrSystem, Name), protocols.String(attrOpName, "PING"))
		p.push(opPing)
		return true, nil
	case o == opPong, !toServer && o == opPing:
		if !toServer && o == opPong && p.pop(opPong) {
			m.Kind = protocols.Response
			m.Status = protocols.StatusOK
			return true, nil
		}
		return false, nil // a keep-alive
	case !toServer && o == opInfo:
		return false, nil
	case !toServer && o == opOK:
		if p.pop(opOK) {
			m.Kind = protocols.Response
			m.Status = protocols.StatusOK
			return true, nil
		}
		p.verbose = true // +OK seen: the client asked for acknowledgements
		return false, nil
	case !toServer && o == opErr:
		m.Kind = protocols.Response
		m.Status = protocols.StatusError
		m.Attrs = append(m.Attrs, protocols.String(attrErrorType, errText(rest)))
		if !p.pop(opErr) {
			m.Unsolicited = true
			m.Name = "ERR"
		}
		return true, nil
	}
	return false, parseErr(0, ErrOperation)
}

// errText returns the text of a -ERR line without its quotes, at most 128
// bytes.
func errText(b []byte) string {
	b = bytes.Trim(bytes.TrimSpace(b), "'")
	if len(b) > 128 {
		b = b[:128]
	}
	return string(b)
}

// simple fills a request for an operation with no payload.
func (p *Parser) simple(m *protocols.Message, o op) {
	m.Kind = protocols.Request
	m.Name = opNames[o]
	m.Attrs = append(m.Attrs, protocols.String(attrSystem, Name), protocols.String(attrOpName, opNames[o]))
	p.acked(m, o)
}

// acked marks the request NoResponse unless the connection is verbose.
func (p *Parser) acked(m *protocols.Message, o op) {
	if p.verbose {
		p.push(o)
	} else {
		m.NoResponse = true
	}
}

func (p *Parser) push(o op) {
	if len(p.pending) >= MaxPending {
		p.pending = append(p.pending[:0], p.pending[1:]...)
	}
	p.pending = append(p.pending, o)
}

// pop removes the oldest pending operation that the server's answer resp
// (PONG, +OK or -ERR) answers: PONG answers a PING, +OK and -ERR the other
// operations, each in order.
func (p *Parser) pop(resp op) bool {
	for i, o := range p.pending {
		if (resp == opPong) == (o == opPing) {
			p.pending = append(p.pending[:i], p.pending[i+1:]...)
			return true
		}
	}
	return false
}

// connectFields are the CONNECT fields read; credentials are not among them.
type connectFields struct {
	Verbose bool   `json:"verbose"`
	Name    string `json:"name"`
	User    string `json:"user"`
}

func (p *Parser) connect(js []byte, m *protocols.Message) {
	var c connectFields
	if err := json.Unmarshal(js, &c); err == nil {
		p.verbose = c.Verbose
	}
	m.Kind = protocols.Request
	m.Name = "CONNECT"
	m.Attrs = append(m.Attrs, protocols.String(attrSystem, Name), protocols.String(attrOpName, "CONNECT"))
	if c.Name != "" {
		m.Attrs = append(m.Attrs, protocols.String(attrClientID, truncate(c.Name)))
	}
	if c.User != "" {
		m.Attrs = append(m.Attrs, protocols.String(attrUser, truncate(c.User)))
	}
	p.acked(m, opConnect)
}

func truncate(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

// startMessage reads the control line of PUB, HPUB, MSG or HMSG.
func (p *Parser) startMessage(h *half, o op, args [][]byte) error {
	hdr, total := 0, 0
	var subj, reply []byte
	ok := true
	switch o {
	case opPub: // subject [reply] size
		switch len(args) {
		case 2:
			subj, total = args[0], atoi(args[1])
		case 3:
			subj, reply, total = args[0], args[1], atoi(args[2])
		default:
			ok = false
		}
	case opHPub: // subject [reply] hdr total
		switch len(args) {
		case 3:
			subj, hdr, total = args[0], atoi(args[1]), atoi(args[2])
		case 4:
			subj, reply, hdr, total = args[0], args[1], atoi(args[2]), atoi(args[3])
		default:
			ok = false
		}
	case opMsg: // subject sid [reply] size
		switch len(args) {
		case 3:
			subj, total = args[0], atoi(args[2])
		case 4:
			subj, reply, total = args[0], args[2], atoi(args[3])
		default:
			ok = false
		}
	case opHMsg: // subject sid [reply] hdr total
		switch len(args) {
		case 4:
			subj, hdr, total = args[0], atoi(args[2]), atoi(args[3])
		case 5:
			subj, reply, hdr, total = args[0], args[2], atoi(args[3]), atoi(args[4])
		default:
			ok = false
		}
	}
	if !ok || hdr < 0 || total < 0 || hdr > total {
		return parseErr(0, ErrOperation)
	}
	if total > MaxPayload {
		return parseErr(0, ErrPayloadTooLarge)
	}
	h.op = o
	h.subj = append(h.subj[:0], subj...)
	h.reply = append(h.reply[:0], reply...)
	h.hdrLen, h.hdrLeft = hdr, hdr
	h.payLeft, h.body, h.trail = total-hdr, total-hdr, 2
	h.status = h.status[:0]
	h.links = h.links[:0]
	h.dig.Reset()
	h.st = stPayload
	if hdr > 0 {
		h.st = stHeaders
	}
	return nil
}

// headers reads a "NATS/1.0[ status]\r\nKey: value\r\n...\r\n\r\n" block.
func (p *Parser) headers(h *half, b []byte) {
	first := true
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if first {
			first = false
			// "NATS/1.0 503" or "NATS/1.0 503 No Responders".
			if rest, ok := bytes.CutPrefix(line, []byte("NATS/1.0")); ok {
				f := bytes.Fields(rest)
				if len(f) > 0 && len(f[0]) == 3 && f[0][0] != '2' && atoi(f[0]) > 0 {
					h.status = append(h.status[:0], f[0]...)
				}
			}
			continue
		}
		k, v, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(h.links) >= maxHeaderLinks {
			continue
		}
		if key := p.linkKey(bytes.TrimSpace(k)); key != "" {
			h.links = append(h.links, protocols.String(key, string(bytes.TrimSpace(v))))
		}
	}
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

// finish fills m with the PUB/HPUB/MSG/HMSG message in progress and resets
// h for the next control line.
func (p *Parser) finish(dir protocols.Direction, h *half, m *protocols.Message) {
	o := h.op
	if dir == protocols.ToServer {
		m.Kind = protocols.Request
		m.Name = p.spanName("PUB ", h.subj)
		m.Attrs = append(m.Attrs, protocols.String(attrSystem, Name),
			protocols.String(attrOpName, opNames[o]),
			protocols.String(attrOpType, "send"))
	} else {
		m.Kind = protocols.Response
		m.Unsolicited = true
		m.Name = p.spanName("MSG ", h.subj)
		m.Status = protocols.StatusOK
		m.Attrs = append(m.Attrs, protocols.String(attrSystem, Name),
			protocols.String(attrOpName, opNames[o]),
			protocols.String(attrOpType, "receive"))
		if len(h.status) > 0 {
			m.Status = protocols.StatusError
			m.Attrs = append(m.Attrs, protocols.String(attrErrorType, string(h.status)))
		}
	}
	m.Attrs = append(m.Attrs, protocols.String(attrDest, p.intern(h.subj)),
		protocols.Int(attrBodySize, int64(h.body)))
	if len(h.reply) > 0 {
		m.Attrs = append(m.Attrs, protocols.String(attrReplyTo, string(h.reply)))
	}
	m.BodySize = h.body
	m.Partial = h.partial
	m.Links = append(m.Links, h.links...)
	if !h.partial && len(h.subj) > 0 {
		key := protocols.LinkHandoffSend
		if dir == protocols.ToClient {
			key = protocols.LinkHandoffRecv
		}
		m.Links = append(m.Links, link(key, kindMsg, h.subj, "", h.dig.Sum()))
	}
	if len(h.subj) > 0 {
		if dir == protocols.ToClient && len(h.reply) > 0 {
			m.Links = append(m.Links, link(protocols.LinkHandoffSend, kindInbox, h.reply, "reply", 0))
		} else if dir == protocols.ToServer {
			m.Links = append(m.Links, protocols.String(protocols.LinkHandoffRecv, p.inboxLink(h.subj)))
		}
	}
	if dir == protocols.ToServer {
		p.acked(m, o)
	}
	m.Size = h.size
	h.size = 0
	h.op = opNone
	h.partial = false
	h.st = stLine
}

// spanSubject returns the subject as span names show it: reply inboxes
// collapse to "_INBOX.*".
func (p *Parser) spanSubject(s []byte) string {
	if bytes.HasPrefix(s, []byte("_INBOX.")) {
		return "_INBOX.*"
	}
	return p.intern(s)
}

// spanName returns prefix followed by the subject as span names show it,
// from a small cache when it was made lately.
func (p *Parser) spanName(prefix string, subj []byte) string {
	for _, n := range p.names {
		if n.prefix == prefix && n.subj == string(subj) {
			return n.name
		}
	}
	name := prefix + p.spanSubject(subj)
	p.names[p.nameNext] = spanName{prefix, p.intern(subj), name}
	p.nameNext = (p.nameNext + 1) % subjectCacheLen
	return name
}

// inboxLink returns the request/reply link value of a PUB to subj, from
// the span name cache when it was made lately.
func (p *Parser) inboxLink(subj []byte) string {
	const prefix = "\x00inbox"
	for _, n := range p.names {
		if n.prefix == prefix && n.subj == string(subj) {
			return n.name
		}
	}
	v := link(protocols.LinkHandoffRecv, kindInbox, subj, "reply", 0).Str
	p.names[p.nameNext] = spanName{prefix, p.intern(subj), v}
	p.nameNext = (p.nameNext + 1) % subjectCacheLen
	return v
}

// intern returns s as a string, from a small cache when it was seen lately.
func (p *Parser) intern(s []byte) string {
	for _, c := range p.subjects {
		if c == string(s) {
			return c
		}
	}
	str := string(s)
	p.subjects[p.subjNext] = str
	p.subjNext = (p.subjNext + 1) % subjectCacheLen
	return str
}

// Gap implements protocols.Parser.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	if dir != protocols.ToServer && dir != protocols.ToClient || size <= 0 {
		return
	}
	h := p.half(dir)
	switch h.st {
	case stHeaders:
		h.partial = true
		h.hdrLen = -1 // not read
		if size < h.hdrLeft {
			h.hdrLeft -= size
			h.size += size
			return
		}
		size -= h.hdrLeft
		h.size += h.hdrLeft
		h.hdrLeft = 0
		h.st = stPayload
		fallthrough
	case stPayload:
		h.partial = true
		if size <= h.payLeft {
			h.payLeft -= size
			h.size += size
			return
		}
		size -= h.payLeft
		h.size += h.payLeft
		h.payLeft = 0
		if size <= h.trail {
			h.trail -= size
			return
		}
		// The gap ran past the message: emit it, then resync.
		h.trail = 0
		h.emit = true
		h.st = stResync
		h.atStart = false
	default:
		h.st = stResync
		h.atStart = false
		h.op = opNone
		h.size = 0
	}
}

// resync skips to the start of a plausible control line.
func (p *Parser) resync(h *half, data []byte) (int, bool, error) {
	off := 0
	for off < len(data) {
		if h.atStart {
			end := bytes.IndexByte(data[off:], '\n')
			if end < 0 && len(data)-off < 64 {
				return off, false, nil // need more to judge
			}
			o, _ := opWord(data[off:min(len(data), off+16)])
			if o != opNone {
				h.st = stLine
				h.atStart = false
				h.lenient = true
				return off, false, nil
			}
		}
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			h.atStart = false
			return len(data), false, nil
		}
		off += i + 1
		h.atStart = true
	}
	return off, false, nil
}

// End implements protocols.Parser: a message cut by the end of the stream
// is emitted, Partial.
func (p *Parser) End(dir protocols.Direction, m *protocols.Message) bool {
	if dir != protocols.ToServer && dir != protocols.ToClient {
		return false
	}
	h := p.half(dir)
	if h.emit || h.st == stHeaders || h.st == stPayload {
		h.emit = false
		h.partial = true
		p.finish(dir, h, m)
		return true
	}
	return false
}
