package stomp

import (
	"bytes"
	"strconv"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name in span output.
const Name = "stomp"

// Limits.
const (
	// MaxPending bounds the frames awaiting a RECEIPT (or CONNECTED);
	// beyond it the oldest is forgotten (its span times out).
	MaxPending = 64
	// maxValue bounds a header value copied into an attribute or link.
	maxValue = 255
	// maxCommand bounds the command line.
	maxCommand = 32
)

// Protocol describes STOMP for the registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "STOMP 1.0-1.2: frames (CONNECT, SEND, SUBSCRIBE, MESSAGE, RECEIPT, ERROR, ...), destination, message and correlation ids, receipts; trace headers; producer → consumer hand-off",
	Ports:   []uint16{61613},
	Sniff:   Sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

// Link value prefixes (see the package documentation, Linking).
const (
	handoffBody        = "stomp:"
	handoffCorrelation = "stomp-corr:"
	// With RabbitMQ and ActiveMQ, the values their other protocols give
	// (protocols/amqp, protocols/openwire).
	handoffAMQP         = "amqp:"
	handoffAMQPCorr     = "amqp-corr:"
	handoffActiveMQ     = "activemq:"
	handoffActiveMQCorr = "activemq-corr:"
)

// Trace headers, matched case-insensitively.
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

// command kinds.
type cmdKind uint8

const (
	cmdUnknown cmdKind = iota
	cmdConnect
	cmdSend
	cmdSubscribe
	cmdUnsubscribe
	cmdAck
	cmdNack
	cmdBegin
	cmdCommit
	cmdAbort
	cmdDisconnect
	cmdConnected
	cmdMessage
	cmdReceipt
	cmdError
)

func commandOf(b []byte) (cmdKind, string) {
	switch string(b) {
	case "CONNECT":
		return cmdConnect, "CONNECT"
	case "STOMP":
		return cmdConnect, "STOMP"
	case "SEND":
		return cmdSend, "SEND"
	case "SUBSCRIBE":
		return cmdSubscribe, "SUBSCRIBE"
	case "UNSUBSCRIBE":
		return cmdUnsubscribe, "UNSUBSCRIBE"
	case "ACK":
		return cmdAck, "ACK"
	case "NACK":
		return cmdNack, "NACK"
	case "BEGIN":
		return cmdBegin, "BEGIN"
	case "COMMIT":
		return cmdCommit, "COMMIT"
	case "ABORT":
		return cmdAbort, "ABORT"
	case "DISCONNECT":
		return cmdDisconnect, "DISCONNECT"
	case "CONNECTED":
		return cmdConnected, "CONNECTED"
	case "MESSAGE":
		return cmdMessage, "MESSAGE"
	case "RECEIPT":
		return cmdReceipt, "RECEIPT"
	case "ERROR":
		return cmdError, "ERROR"
	}
	return cmdUnknown, ""
}

func (k cmdKind) client() bool { return k >= cmdConnect && k <= cmdDisconnect }

type state uint8

const (
	stFrame  state = iota // between frames: EOLs, then a command line
	stBody                // reading a body
	stResync              // lost the frame boundary after a gap
)

// half is one direction's parsing state.
type half struct {
	st    state
	left  int64 // stBody: body bytes left by content-length, or -1: up to the NUL
	nul   bool  // stBody: the body is read; the NUL remains
	dig   protocols.Digest
	frame frame
}

// frame is the frame in progress: what its headers said.
type frame struct {
	kind    cmdKind
	name    string
	size    int
	partial bool
	dest    string
	corr    string
	replyTo bool
	amqpID  string
	msgID   string
	attrs   []protocols.Attr
	links   []protocols.Attr
	receipt string
	rcptID  string
	errMsg  string
}

// pend is a client frame awaiting its RECEIPT (or CONNECTED).
type pend struct {
	receipt string // "" for CONNECT
	id      uint64
}

// Parser is the STOMP parser of one connection. Create it with New.
type Parser struct {
	rid    []string
	limit  int
	halves [2]half
	pend   []pend
	nextID uint64
	system string // messaging.system: from CONNECTED's server header
}

// New returns a parser for one connection; a nil cfg means defaults. A
// frame's command and headers may take cfg.HeaderLimit() bytes.
func New(cfg *protocols.Config) *Parser {
	return &Parser{rid: cfg.RequestIDHeaders(), limit: cfg.HeaderLimit(), system: "stomp"}
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

// Sniff reports the direction of data that starts (after EOLs) with a
// STOMP command line followed by a header line or the blank line: client
// commands flow to the server, CONNECTED, MESSAGE, RECEIPT and ERROR to the
// client.
func Sniff(data []byte) protocols.Direction {
	i := 0
	for i < len(data) && (data[i] == '\n' || data[i] == '\r') {
		i++
	}
	data = data[i:]
	nl := bytes.IndexByte(data[:min(len(data), maxCommand+2)], '\n')
	if nl < 0 {
		return protocols.DirUnknown
	}
	k, _ := commandOf(bytes.TrimSuffix(data[:nl], []byte("\r")))
	if k == cmdUnknown {
		return protocols.DirUnknown
	}
	rest := data[nl+1:]
	// The next line is a header ("name:value") or the end of the headers.
	if len(rest) == 0 {
		return protocols.DirUnknown
	}
	if rest[0] != '\n' && !bytes.HasPrefix(rest, []byte("\r\n")) {
		eol := bytes.IndexByte(rest, '\n')
		if eol < 0 || bytes.IndexByte(rest[:eol], ':') <= 0 {
			return protocols.DirUnknown
		}
	}
	if k.client() {
		return protocols.ToServer
	}
	return protocols.ToClient
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
		case stResync:
			n, ok := resync(data[off:])
			off += n
			if !ok {
				return off, false, nil
			}
			h.st = stFrame
		case stFrame:
			// EOLs between frames (heart-beats, and the newline many
			// servers add after the NUL).
			for off < len(data) && (data[off] == '\n' || data[off] == '\r') {
				off++
			}
			if off == len(data) {
				return off, false, nil
			}
			n, err := p.headers(dir, h, data[off:])
			if err != nil {
				if pe, ok := err.(*protocols.ParseError); ok {
					pe.Offset += off
				}
				return off, false, err
			}
			if n == 0 {
				return off, false, nil
			}
			off += n
		case stBody:
			if !h.nul {
				b := data[off:]
				if h.left >= 0 {
					b = b[:min(int64(len(b)), h.left)]
					h.left -= int64(len(b))
					h.nul = h.left == 0
				} else if i := bytes.IndexByte(b, 0); i >= 0 {
					b = b[:i]
					h.nul = true
				}
				h.dig.Add(b)
				h.frame.size += len(b)
				off += len(b)
				continue
			}
			if data[off] != 0 {
				return off, false, parseErr(off, ErrNoNUL)
			}
			off++
			h.frame.size++
			h.st = stFrame
			if p.emit(dir, h, msg) {
				return off, true, nil
			}
		}
	}
	return off, false, nil
}

// headers reads a command line and the header block at the start of b
// (EOLs skipped already). It returns 0 when the block is incomplete.
func (p *Parser) headers(dir protocols.Direction, h *half, b []byte) (int, error) {
	nl := bytes.IndexByte(b[:min(len(b), maxCommand+2)], '\n')
	if nl < 0 {
		if len(b) > maxCommand+1 {
			return 0, parseErr(0, ErrCommand)
		}
		return 0, nil
	}
	k, name := commandOf(bytes.TrimSuffix(b[:nl], []byte("\r")))
	if k == cmdUnknown || k.client() != (dir == protocols.ToServer) {
		return 0, parseErr(0, ErrCommand)
	}
	// The header block ends at an empty line.
	end := bytes.Index(b[nl:], []byte("\n\n"))
	endCR := bytes.Index(b[nl:], []byte("\n\r\n"))
	hdrLen := 2
	if endCR >= 0 && (end < 0 || endCR < end) {
		end, hdrLen = endCR, 3
	}
	if end < 0 {
		if len(b) > p.limit {
			return 0, parseErr(0, ErrHeadersTooLarge)
		}
		return 0, nil
	}
	if nl+end > p.limit {
		return 0, parseErr(0, ErrHeadersTooLarge)
	}
	block := b[nl+1 : nl+end+1]
	n := nl + end + hdrLen
	f := &h.frame
	attrs, links := f.attrs[:0], f.links[:0]
	*f = frame{kind: k, name: name, size: n, attrs: attrs, links: links}
	h.left = -1
	// Headers: the first occurrence of a name wins (STOMP 1.2).
	var seen uint32
	for len(block) > 0 {
		line := block
		if i := bytes.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			block = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			continue
		}
		p.header(f, h, line[:c], line[c+1:], &seen)
	}
	h.st, h.nul = stBody, false
	h.dig.Reset()
	if h.left == 0 {
		h.nul = true
	}
	return n, nil
}

// Header bits in seen, so that the first occurrence wins.
const (
	hDest = 1 << iota
	hMsgID
	hCorr
	hReceipt
	hReceiptID
	hLength
	hMessage
	hReplyTo
	hServer
	hAMQPID
	hLinks // and up: trace headers by index
)

// header applies one header of frame f. The passcode, login and every
// header not named here are skipped unread.
func (p *Parser) header(f *frame, h *half, name, val []byte, seen *uint32) {
	first := func(bit uint32) bool {
		if *seen&bit != 0 {
			return false
		}
		*seen |= bit
		return true
	}
	switch string(name) {
	case "destination":
		if first(hDest) {
			f.dest = value(val)
		}
		return
	case "message-id":
		if first(hMsgID) && f.kind == cmdMessage {
			if s := value(val); s != "" {
				f.attrs = append(f.attrs, protocols.String("messaging.message.id", s))
				f.msgID = s
			}
		}
		return
	case "correlation-id":
		if first(hCorr) {
			f.corr = value(val)
		}
		return
	case "reply-to":
		if first(hReplyTo) {
			f.replyTo = len(val) > 0
		}
		return
	case "receipt":
		if first(hReceipt) && f.kind.client() {
			f.receipt = value(val)
		}
		return
	case "receipt-id":
		if first(hReceiptID) {
			f.rcptID = value(val)
		}
		return
	case "content-length":
		if first(hLength) {
			if n, err := strconv.ParseInt(string(val), 10, 64); err == nil && n >= 0 {
				h.left = n
			}
		}
		return
	case "message":
		if first(hMessage) && f.kind == cmdError {
			f.errMsg = value(val)
		}
		return
	case "server":
		if first(hServer) && f.kind == cmdConnected {
			switch {
			case bytes.HasPrefix(val, []byte("RabbitMQ")):
				p.system = "rabbitmq"
			case bytes.HasPrefix(val, []byte("ActiveMQ")):
				p.system = "activemq"
			}
		}
		return
	case "amqp-message-id":
		if first(hAMQPID) {
			f.amqpID = value(val)
		}
		return
	}
	for i, l := range linkHeaders {
		if equalFold(name, l.name) {
			if first(hLinks << uint(i)) {
				if s := value(val); s != "" {
					f.links = append(f.links, protocols.String(l.key, s))
				}
			}
			return
		}
	}
	for _, r := range p.rid {
		if equalFold(name, r) {
			if s := value(val); s != "" && !hasLink(f.links, protocols.LinkXRequestID) {
				f.links = append(f.links, protocols.String(protocols.LinkXRequestID, s))
			}
			return
		}
	}
}

func hasLink(links []protocols.Attr, key string) bool {
	for _, l := range links {
		if l.Key == key {
			return true
		}
	}
	return false
}

// emit fills msg with the frame just read; false when the frame is no
// message of its own.
func (p *Parser) emit(dir protocols.Direction, h *half, msg *protocols.Message) bool {
	f := &h.frame
	msg.Size = f.size
	msg.Partial = f.partial
	msg.BodySize = int(min(h.dig.Len(), 1<<31))
	sys := protocols.String("messaging.system", p.system)
	name := f.name
	if f.dest != "" {
		name += " " + f.dest
	}
	switch f.kind {
	case cmdConnected:
		msg.Kind, msg.Status = protocols.Response, protocols.StatusOK
		msg.Attrs = append(msg.Attrs, sys) // the broker, once it is named
		msg.ID, msg.HasID = p.answer(""), true
		if msg.ID == 0 {
			msg.HasID = false
		}
		return true
	case cmdReceipt:
		msg.Kind, msg.Status = protocols.Response, protocols.StatusOK
		id := p.answer(f.rcptID)
		if id == 0 {
			return false // a receipt for a frame not seen
		}
		msg.ID, msg.HasID = id, true
		return true
	case cmdError:
		msg.Kind, msg.Status = protocols.Response, protocols.StatusError
		if f.errMsg != "" {
			msg.Attrs = append(msg.Attrs, protocols.String("error.type", f.errMsg))
		}
		id := uint64(0)
		if f.rcptID != "" {
			id = p.answer(f.rcptID)
		} else if n := len(p.pend); n > 0 {
			// No receipt-id: the error is taken to answer the latest
			// frame awaiting an answer (the server closes after ERROR).
			id = p.pend[n-1].id
			p.pend = p.pend[:n-1]
		}
		if id == 0 {
			msg.Unsolicited = true
			msg.Name = "ERROR"
			msg.Attrs = append(msg.Attrs, sys)
		} else {
			msg.ID, msg.HasID = id, true
		}
		return true
	case cmdMessage:
		msg.Kind, msg.Status, msg.Unsolicited = protocols.Response, protocols.StatusOK, true
		msg.Name = name
		msg.Attrs = append(msg.Attrs, sys, protocols.String("messaging.operation.name", "MESSAGE"),
			protocols.String("messaging.operation.type", "process"))
	default:
		msg.Kind, msg.Name = protocols.Request, name
		msg.Attrs = append(msg.Attrs, sys, protocols.String("messaging.operation.name", f.name))
		switch f.kind {
		case cmdSend:
			msg.Attrs = append(msg.Attrs, protocols.String("messaging.operation.type", "send"))
		case cmdAck, cmdNack:
			msg.Attrs = append(msg.Attrs, protocols.String("messaging.operation.type", "settle"))
		}
		switch {
		case f.kind == cmdConnect:
			msg.ID, msg.HasID = p.await(""), true
		case f.receipt != "":
			msg.ID, msg.HasID = p.await(f.receipt), true
		default:
			msg.NoResponse = true
		}
	}
	if f.dest != "" {
		msg.Attrs = append(msg.Attrs, protocols.String("messaging.destination.name", f.dest))
	}
	if f.kind == cmdSend || f.kind == cmdMessage {
		msg.Attrs = append(msg.Attrs, protocols.Int("messaging.message.body.size", h.dig.Len()))
		if f.corr != "" {
			msg.Attrs = append(msg.Attrs, protocols.String("messaging.message.conversation_id", f.corr))
		}
	}
	msg.Attrs = append(msg.Attrs, f.attrs...)
	msg.Links = append(msg.Links, f.links...)
	if f.amqpID != "" && f.kind == cmdMessage && p.system == "rabbitmq" {
		msg.Links = append(msg.Links, protocols.String(protocols.LinkHandoffRecv, handoffAMQP+f.amqpID))
	}
	if f.msgID != "" && f.kind == cmdMessage && p.system == "activemq" {
		// ActiveMQ's message-id is the JMSMessageID its OpenWire
		// producers send.
		msg.Links = append(msg.Links, protocols.String(protocols.LinkHandoffRecv, handoffActiveMQ+f.msgID))
	}
	if f.corr != "" {
		v := handoffCorrelation + f.corr
		switch p.system {
		case "rabbitmq":
			v = handoffAMQPCorr + f.corr
		case "activemq":
			v = handoffActiveMQCorr + f.corr
		}
		switch f.kind {
		case cmdSend:
			if !f.replyTo {
				msg.Links = append(msg.Links, protocols.String(protocols.LinkHandoffRecv, v))
			}
			msg.Links = append(msg.Links, protocols.String(protocols.LinkHandoffSend, v))
		case cmdMessage:
			msg.Links = append(msg.Links, protocols.String(protocols.LinkHandoffRecv, v))
			if f.replyTo {
				msg.Links = append(msg.Links, protocols.String(protocols.LinkHandoffSend, v))
			}
		}
	}
	// Last: the linker tries a message's values in order, exact ids first.
	if !f.partial && (f.kind == cmdSend || f.kind == cmdMessage) && f.dest != "" {
		key := protocols.LinkHandoffSend
		if f.kind == cmdMessage {
			key = protocols.LinkHandoffRecv
		}
		v := make([]byte, 0, len(handoffBody)+len(f.dest)+17)
		v = append(v, handoffBody...)
		v = append(v, f.dest...)
		v = append(v, ':')
		v = protocols.AppendHex(v, h.dig.Sum())
		msg.Links = append(msg.Links, protocols.String(key, string(v)))
	}
	return true
}

// await records a frame awaiting an answer and returns its id.
func (p *Parser) await(receipt string) uint64 {
	if len(p.pend) >= MaxPending {
		p.pend = append(p.pend[:0], p.pend[1:]...)
	}
	p.nextID++
	p.pend = append(p.pend, pend{receipt, p.nextID})
	return p.nextID
}

// answer removes and returns the id of the frame awaiting the receipt (""
// for CONNECT), or 0.
func (p *Parser) answer(receipt string) uint64 {
	for i, q := range p.pend {
		if q.receipt == receipt {
			p.pend = append(p.pend[:i], p.pend[i+1:]...)
			return q.id
		}
	}
	return 0
}

// Gap implements protocols.Parser: a gap inside a body with a
// content-length is skipped exactly (the frame is Partial); elsewhere the
// parser looks for the next command line.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	h := p.half(dir)
	if h == nil {
		return
	}
	if h.st == stBody && h.left >= int64(size) && !h.nul {
		h.left -= int64(size)
		h.nul = h.left == 0
		h.frame.partial = true
		h.frame.size += size
		h.dig.Skip(int64(size)) // counted in BodySize; a partial body gives no link
		return
	}
	h.st = stResync
}

// End implements protocols.Parser.
func (p *Parser) End(dir protocols.Direction, msg *protocols.Message) bool { return false }

// Idle implements protocols.Idler: no frame is in progress in dir.
func (p *Parser) Idle(dir protocols.Direction) bool {
	h := p.half(dir)
	return h != nil && h.st == stFrame
}

// resync finds the next line that is a command line, after a gap.
func resync(b []byte) (int, bool) {
	for i := 0; i < len(b); i++ {
		if i > 0 && b[i-1] != '\n' && b[i-1] != 0 {
			continue
		}
		nl := bytes.IndexByte(b[i:min(len(b), i+maxCommand+2)], '\n')
		if nl < 0 {
			if len(b)-i <= maxCommand+1 {
				return i, false
			}
			continue
		}
		if k, _ := commandOf(bytes.TrimSuffix(b[i:i+nl], []byte("\r"))); k != cmdUnknown {
			return i, true
		}
	}
	return len(b), false
}

// value returns a header value as a string when it is at most maxValue
// bytes, with STOMP 1.2 escapes (\n \r \c \\) decoded; "" otherwise.
func value(v []byte) string {
	if len(v) == 0 || len(v) > maxValue {
		return ""
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v)
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			i++
			switch v[i] {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 'c':
				c = ':'
			default:
				c = v[i]
			}
		}
		out = append(out, c)
	}
	return string(out)
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

// MaxDigestLen bounds the body bytes hashed for the hand-off link.
const MaxDigestLen = protocols.MaxDigestLen
