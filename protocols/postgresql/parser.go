package postgresql

import (
	"bytes"
	"encoding/binary"
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/sqlcomment"
	"github.com/wiretrace/wiretrace/protocols/sqlredact"
)

// Name is the protocol name used in span output and ParseErrors.
const Name = "postgresql"

// Limits bounding a Parser's state and the input it waits for.
const (
	// MaxPending bounds the FIFO of exchanges awaiting a response; when it
	// is full the oldest entry is dropped.
	MaxPending = 1024
	// MaxStatements bounds the named prepared statements remembered per
	// connection; beyond it the oldest is forgotten.
	MaxStatements = 256
	// MaxPortals bounds the named portals remembered per connection.
	MaxPortals = 64
	// MaxQueryBytes bounds the query text kept from a Query or Parse
	// message; longer text is cut (the rest of the message is skipped).
	MaxQueryBytes = 64 << 10
	// maxInspect bounds the body prefix read from other messages whose
	// content matters (Bind, Execute, ErrorResponse, CommandComplete).
	maxInspect = 4 << 10
	// maxStartup bounds a startup packet, as the server does
	// (MAX_STARTUP_PACKET_LENGTH in src/include/libpq/pqcomm.h).
	maxStartup = 10000
	// maxMessage bounds a message length (the server's own limit is 1 GB).
	maxMessage = 1 << 30
	// maxResync bounds the length of a message accepted as the
	// resynchronisation point after a gap, so that waiting for the header
	// after it stays well below the driver's buffer.
	maxResync = 64 << 10
	// maxKeyword bounds the first SQL keyword used as the span name.
	maxKeyword = 32
)

// Protocol codes of untyped startup-phase packets (protocol section 55.7).
const (
	codeCancel = 80877102
	codeSSL    = 80877103
	codeGSS    = 80877104
	version3   = 3
	maxMinor   = 2 // protocol 3.2 (PostgreSQL 18)
)

// Attribute keys (OpenTelemetry semantic conventions v1.37.0, and one of
// our own).
var (
	attrSystem     = string(semconv.DBSystemNameKey)
	attrNamespace  = string(semconv.DBNamespaceKey)
	attrQueryText  = string(semconv.DBQueryTextKey)
	attrOperation  = string(semconv.DBOperationNameKey)
	attrStatusCode = string(semconv.DBResponseStatusCodeKey)
	attrRows       = string(semconv.DBResponseReturnedRowsKey)
	attrUser       = string(semconv.UserNameKey)
)

const (
	// attrSSLResponse is the server's one-byte answer to an SSLRequest or
	// GSSENCRequest: "S" or "G" (encryption follows) or "N".
	attrSSLResponse = "db.postgresql.ssl_response"
	// attrCopyMessages counts the CopyData messages of a COPY, either way.
	attrCopyMessages = "db.postgresql.copy_data.count"
)

// Span names of exchanges that are not SQL text.
const (
	nameStartup   = "STARTUP"
	nameSSL       = "SSLRequest"
	nameGSS       = "GSSENCRequest"
	nameCancel    = "CANCEL"
	nameTerminate = "TERMINATE"
	nameFunction  = "FUNCTION CALL"
	nameExecute   = "EXECUTE" // Execute of a statement prepared before the capture
	namePrepare   = "PREPARE" // Parse (+ Describe) and Sync without Execute
	nameClose     = "CLOSE"
	nameDescribe  = "DESCRIBE"
	nameSync      = "SYNC"
)

// Protocol describes PostgreSQL for a protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "PostgreSQL v3: startup user/database, simple and extended queries (statement text per Execute), COPY, rows, SQLSTATE; auth never",
	Ports:   []uint16{5432},
	Sniff:   sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

var (
	_ protocols.Parser = (*Parser)(nil)
	_ protocols.Turner = (*Parser)(nil)
	_ protocols.Idler  = (*Parser)(nil)
)

// tokKind is what an entry of the exchange FIFO waits for.
type tokKind uint8

const (
	tokNone    tokKind = iota
	tokSimple          // Query or FunctionCall: the response ends at ReadyForQuery
	tokExec            // Execute: ends at CommandComplete, EmptyQuery, PortalSuspended or an error
	tokSync            // Sync: its ReadyForQuery ends the batch
	tokStartup         // StartupMessage: ends at ReadyForQuery or an error
	tokSSL             // SSLRequest or GSSENCRequest: ends at the one-byte answer
)

// token is one entry of the FIFO shared by the two directions.
type token struct {
	kind tokKind
	// emitted is set on a tokSync whose batch had no Execute: the request
	// was emitted at the Sync and the ReadyForQuery is its response.
	emitted bool
}

// phase is where a direction's stream is.
type phase uint8

const (
	phStart     phase = iota // ToServer: an untyped startup packet, TLS or a typed message may come
	phTyped                  // type + length framed messages
	phResync                 // skipping to a plausible message header after a gap
	phEncrypted              // TLS or GSSAPI: consume everything
)

// half is one direction's framing state.
type half struct {
	phase   phase
	skip    int64 // body bytes of the current message still to consume
	wait    int64 // length of the message the last Parse waited for; 0 unknown
	waitTyp byte
	lost    byte // type of a message a gap swallowed, handled on the next Parse
	partial bool // bytes of the exchange in progress were lost
	active  bool // a response is accumulating (ToClient)
	size    int  // bytes of the exchange in progress
	copies  int64
}

// batch is what the client sent since the last Sync.
type batch struct {
	exec, parse, describe, close bool
	text                         string // query text of the last Parse
}

// result accumulates what a response tells.
type result struct {
	rows    int64 // DataRow messages
	tagRows int64 // rows counted by SELECT and FETCH command tags
	hasTag  bool
	err     bool
	code    string
	ssl     string
}

// Parser is the PostgreSQL protocol parser of one connection. Create it
// with New.
type Parser struct {
	halves [2]half // ToServer, ToClient
	q      []token
	head   int

	batch batch
	res   result

	unnamed, portal        string // query text of the unnamed statement and portal
	unnamedOK, portalOK    bool
	stmts                  lru
	portals                lru
	namespace, user        string
	encrypted, batchFailed bool
	cfg                    *protocols.Config
	// tls, after an accepted SSLRequest (or a direct TLS ClientHello)
	// with protocols.Config.StartTLS set, reads the rest of the stream;
	// its plaintext comes back through plain.
	tls protocols.Parser
}

// plain is the parser seen by the TLS parser after an upgrade: the
// decrypted stream continues the connection.
type plain struct{ p *Parser }

func (v plain) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	return v.p.parse(dir, data, msg)
}
func (v plain) Gap(dir protocols.Direction, size int) { v.p.gap(dir, size) }
func (v plain) End(dir protocols.Direction, msg *protocols.Message) bool {
	return v.p.end(dir, msg)
}

// startTLS hands the rest of the stream to a TLS parser whose plaintext
// continues the connection from its startup phase; false when
// protocols.Config.StartTLS is not set.
func (p *Parser) startTLS() bool {
	if p.tls != nil || p.cfg == nil || p.cfg.StartTLS == nil {
		return false
	}
	p.tls = p.cfg.StartTLS(plain{p}, Name)
	if p.tls == nil {
		return false
	}
	p.halves[0].phase, p.halves[1].phase = phStart, phStart
	p.halves[0].skip, p.halves[1].skip = 0, 0
	return true
}

// Turn implements protocols.Turner for the TLS parser after an upgrade.
func (p *Parser) Turn(dir protocols.Direction, msg *protocols.Message) bool {
	if t, ok := p.tls.(protocols.Turner); ok {
		return t.Turn(dir, msg)
	}
	return false
}

// Idle implements protocols.Idler for the TLS parser after an upgrade;
// before it, a direction is never idle (as for a parser without Idle).
func (p *Parser) Idle(dir protocols.Direction) bool {
	if i, ok := p.tls.(protocols.Idler); ok {
		return i.Idle(dir)
	}
	return false
}

// New returns a parser for one connection; cfg names the request-id keys
// looked for in SQL comments.
func New(cfg *protocols.Config) *Parser {
	return &Parser{cfg: cfg, stmts: lru{max: MaxStatements}, portals: lru{max: MaxPortals}}
}

// lru is a bounded name → query text map that forgets the oldest name.
type lru struct {
	max   int
	m     map[string]string
	order []string
}

func (l *lru) get(name []byte) (string, bool) {
	v, ok := l.m[string(name)]
	return v, ok
}

func (l *lru) put(name []byte, text string, known bool) {
	if !known {
		text = "\x00" // unknown text: remembered so that an older entry is not used
	}
	if old, ok := l.m[string(name)]; ok {
		if old != text {
			l.m[string(name)] = text
		}
		return
	}
	if l.m == nil {
		l.m = make(map[string]string)
	}
	if len(l.order) >= l.max {
		delete(l.m, l.order[0])
		n := copy(l.order, l.order[1:])
		l.order = l.order[:n]
	}
	k := string(name)
	l.order = append(l.order, k)
	l.m[k] = text
}

func (p *Parser) push(t token) {
	if len(p.q)-p.head >= MaxPending {
		p.head++ // drop the oldest
	}
	if p.head > 0 && len(p.q) == cap(p.q) {
		n := copy(p.q, p.q[p.head:])
		p.q, p.head = p.q[:n], 0
	}
	p.q = append(p.q, t)
}

func (p *Parser) peek() token {
	if p.head >= len(p.q) {
		return token{}
	}
	return p.q[p.head]
}

func (p *Parser) pop() {
	if p.head >= len(p.q) {
		return
	}
	p.head++
	if p.head == len(p.q) {
		p.q, p.head = p.q[:0], 0
	}
}

func be32(b []byte) int64 { return int64(binary.BigEndian.Uint32(b)) }

// Parse implements protocols.Parser.
func (p *Parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	if p.tls != nil {
		return p.tls.Parse(dir, data, msg)
	}
	return p.parse(dir, data, msg)
}

func (p *Parser) parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	switch dir {
	case protocols.ToServer:
		return p.parseReq(data, msg)
	case protocols.ToClient:
		return p.parseResp(data, msg)
	}
	return 0, false, parseErr(0, ErrDirection)
}

// skipBody consumes what it can of the current message's remaining body.
func (h *half) skipBody(data []byte, off int) int {
	k := min(h.skip, int64(len(data)-off))
	h.skip -= k
	return off + int(k)
}

// frame reads the header at data[off:] and the first min(len-4, limit)
// body bytes. ok is false when more data is needed; rest is the number of
// body bytes beyond the returned prefix.
func (h *half) frame(data []byte, off, limit int) (typ byte, length int64, body []byte, rest int64, ok bool) {
	if len(data)-off < 5 {
		return 0, 0, nil, 0, false
	}
	typ, length = data[off], be32(data[off+1:])
	n := min(length-4, int64(limit))
	if n < 0 {
		n = 0
	}
	if int64(len(data)-off-5) < n {
		h.wait, h.waitTyp = 1+length, typ
		return typ, length, nil, 0, false
	}
	return typ, length, data[off+5 : off+5+int(n)], length - 4 - n, true
}

// parseReq parses the client's bytes.
func (p *Parser) parseReq(data []byte, msg *protocols.Message) (int, bool, error) {
	h := &p.halves[0]
	h.wait = 0
	off := 0
	for {
		if h.skip > 0 {
			if off = h.skipBody(data, off); h.skip > 0 {
				return off, false, nil
			}
		}
		if h.lost != 0 {
			p.lostRequest(msg)
			return off, true, nil
		}
		if off == len(data) {
			return off, false, nil
		}
		switch h.phase {
		case phEncrypted:
			return len(data), false, nil
		case phResync:
			i, found := resync(data[off:], validFrontend)
			off += i
			if !found {
				return off, false, nil
			}
			h.phase = phTyped
			continue
		case phStart:
			switch data[off] {
			case 0:
				return p.startup(data, off, msg)
			case 0x16: // TLS handshake record: direct SSL negotiation (PostgreSQL 17)
				if p.startTLS() {
					n, done, err := p.tls.Parse(protocols.ToServer, data[off:], msg)
					return off + n, done, err
				}
				p.encrypt()
				return len(data), false, nil
			}
			h.phase = phTyped
		}
		if len(data)-off < 5 {
			return off, false, nil
		}
		typ, length := data[off], be32(data[off+1:])
		if !frontendType(typ) {
			return off, false, parseErr(off, ErrMessageType)
		}
		if !lengthOK(typ, length, false) {
			return off, false, parseErr(off, ErrLength)
		}
		limit := 0
		switch typ {
		case 'Q':
			limit = MaxQueryBytes
		case 'P':
			limit = MaxQueryBytes + maxInspect
		case 'B', 'E':
			limit = maxInspect
		}
		var body []byte
		var rest int64
		if limit > 0 {
			var ok bool
			if _, _, body, rest, ok = h.frame(data, off, limit); !ok {
				return off, false, nil
			}
			off += 5 + len(body)
		} else {
			off += 5
			rest = length - 4
		}
		h.skip = rest
		if typ != 'p' {
			h.size += int(1 + length)
		}
		if p.request(typ, body, msg) {
			off = h.skipBody(data, off)
			if typ == 'E' && h.skip == 0 && isSync(data[off:]) {
				// The Sync right behind an Execute ends its batch: consume
				// it with the Execute, or the caller would take its bytes
				// as the start of the next request (whose start time would
				// then be this segment's).
				off += 5
				p.batch = batch{}
				p.push(token{kind: tokSync})
			}
			return off, true, nil
		}
	}
}

// isSync reports whether b starts with a whole Sync message.
func isSync(b []byte) bool {
	return len(b) >= 5 && b[0] == 'S' && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 4
}

// request handles one client message and reports whether it filled msg.
func (p *Parser) request(typ byte, body []byte, msg *protocols.Message) bool {
	h := &p.halves[0]
	switch typ {
	case 'Q':
		text, _ := cstring(body)
		t := string(text)
		p.push(token{kind: tokSimple})
		p.emitReq(msg, keyword(t), t, true)
		return true
	case 'P':
		name, rest := cstring(body)
		text, _ := cstring(rest)
		var t string
		if len(name) == 0 {
			if !p.unnamedOK || p.unnamed != string(text) {
				p.unnamed = string(text)
			}
			p.unnamedOK = true
			t = p.unnamed
		} else {
			if old, ok := p.stmts.get(name); ok && old == string(text) {
				t = old
			} else {
				t = string(text)
			}
			p.stmts.put(name, t, true)
		}
		p.batch.parse, p.batch.text = true, t
	case 'B':
		portal, rest := cstring(body)
		stmt, _ := cstring(rest)
		text, ok := p.unnamed, p.unnamedOK
		if len(stmt) > 0 {
			text, ok = p.stmts.get(stmt)
			if text == "\x00" {
				text, ok = "", false
			}
		}
		if len(portal) == 0 {
			p.portal, p.portalOK = text, ok
		} else {
			p.portals.put(portal, text, ok)
		}
	case 'E':
		portal, _ := cstring(body)
		text, ok := p.portal, p.portalOK
		if len(portal) > 0 {
			text, ok = p.portals.get(portal)
			if text == "\x00" {
				text, ok = "", false
			}
		}
		p.batch.exec = true
		p.push(token{kind: tokExec})
		if !ok {
			p.emitReq(msg, nameExecute, "", false)
		} else {
			p.emitReq(msg, keyword(text), text, true)
		}
		return true
	case 'D':
		p.batch.describe = true
	case 'C':
		p.batch.close = true
	case 'S':
		b := p.batch
		p.batch = batch{}
		if b.exec {
			p.push(token{kind: tokSync})
			h.size = 0 // the Sync belongs to the batch's last request
			return false
		}
		p.push(token{kind: tokSync, emitted: true})
		switch {
		case b.parse:
			p.emitReq(msg, namePrepare, b.text, true)
		case b.close:
			p.emitReq(msg, nameClose, "", false)
		case b.describe:
			p.emitReq(msg, nameDescribe, "", false)
		default:
			p.emitReq(msg, nameSync, "", false)
		}
		return true
	case 'F':
		p.push(token{kind: tokSimple})
		p.emitReq(msg, nameFunction, "", false)
		return true
	case 'X':
		p.emitReq(msg, nameTerminate, "", false)
		msg.NoResponse = true
		return true
	case 'd':
		h.copies++
	case 'p':
		// PasswordMessage, SASLInitialResponse, SASLResponse or
		// GSSResponse: skipped unread.
	}
	return false
}

// lostRequest emits a Partial placeholder for a Query, Execute or
// FunctionCall that a gap swallowed, keeping the FIFO in step.
func (p *Parser) lostRequest(msg *protocols.Message) {
	h := &p.halves[0]
	typ := h.lost
	h.lost, h.partial = 0, true
	switch typ {
	case 'E':
		p.push(token{kind: tokExec})
		p.emitReq(msg, nameExecute, "", false)
	case 'F':
		p.push(token{kind: tokSimple})
		p.emitReq(msg, nameFunction, "", false)
	default:
		p.push(token{kind: tokSimple})
		p.emitReq(msg, "", "", false)
	}
}

// startup parses an untyped startup-phase packet at data[off:].
func (p *Parser) startup(data []byte, off int, msg *protocols.Message) (int, bool, error) {
	h := &p.halves[0]
	if len(data)-off < 8 {
		return off, false, nil
	}
	length, code := be32(data[off:]), be32(data[off+4:])
	h.waitTyp = 0
	switch {
	case code == codeSSL || code == codeGSS:
		if length != 8 {
			return off, false, parseErr(off, ErrStartup)
		}
		h.size = 8
		p.push(token{kind: tokSSL})
		name := nameSSL
		if code == codeGSS {
			name = nameGSS
		}
		p.emitReq(msg, name, "", false)
		return off + 8, true, nil
	case code == codeCancel:
		if length != 16 {
			return off, false, parseErr(off, ErrStartup)
		}
		if len(data)-off < 16 {
			h.wait = 16
			return off, false, nil
		}
		h.size = 16
		p.emitReq(msg, nameCancel, "", false)
		msg.NoResponse = true // the process id and secret key are not copied
		return off + 16, true, nil
	case code>>16 == version3 && code&0xffff <= maxMinor:
		if length < 9 || length > maxStartup {
			return off, false, parseErr(off, ErrStartup)
		}
		if int64(len(data)-off) < length {
			h.wait = length
			return off, false, nil
		}
		params := data[off+8 : off+int(length)]
		for len(params) > 0 {
			var k, v []byte
			k, params = cstring(params)
			if len(k) == 0 {
				break
			}
			v, params = cstring(params)
			switch string(k) {
			case "user":
				p.user = string(v)
			case "database":
				p.namespace = string(v)
			}
		}
		if p.namespace == "" {
			p.namespace = p.user // the server's default (protocol section 55.7)
		}
		h.phase = phTyped
		h.size = int(length)
		p.push(token{kind: tokStartup})
		p.emitReq(msg, nameStartup, "", false)
		return off + int(length), true, nil
	}
	return off, false, parseErr(off, ErrStartup)
}

// encrypt stops parsing both directions: what follows is TLS or GSSAPI.
func (p *Parser) encrypt() {
	p.encrypted = true
	p.halves[0].phase, p.halves[1].phase = phEncrypted, phEncrypted
	p.halves[0].skip, p.halves[1].skip = 0, 0
}

// emitReq fills msg with a request and resets the request accumulators.
func (p *Parser) emitReq(msg *protocols.Message, name, text string, hasText bool) {
	h := &p.halves[0]
	msg.Kind = protocols.Request
	msg.Name = name
	msg.Partial = h.partial
	msg.Size = h.size
	msg.Attrs = append(msg.Attrs, protocols.String(attrSystem, Name))
	if p.namespace != "" {
		msg.Attrs = append(msg.Attrs, protocols.String(attrNamespace, p.namespace))
	}
	if p.user != "" {
		msg.Attrs = append(msg.Attrs, protocols.String(attrUser, p.user))
	}
	if hasText && name != "" {
		msg.Attrs = append(msg.Attrs, protocols.String(attrOperation, name))
	}
	if text != "" {
		msg.Links = sqlcomment.Extract(text, p.cfg, msg.Links)
		if p.cfg.RedactsSQL() {
			text = sqlredact.Literals(text, sqlredact.PostgreSQL)
		}
		msg.Attrs = append(msg.Attrs, protocols.String(attrQueryText, text))
	}
	h.partial, h.size = false, 0
}

// parseResp parses the server's bytes.
func (p *Parser) parseResp(data []byte, msg *protocols.Message) (int, bool, error) {
	h := &p.halves[1]
	h.wait = 0
	off := 0
	for {
		if h.skip > 0 {
			if off = h.skipBody(data, off); h.skip > 0 {
				return off, false, nil
			}
		}
		if h.lost != 0 {
			typ := h.lost
			emitted, again := p.response(typ, nil, msg)
			if !again {
				h.lost = 0
			}
			if emitted {
				return off, true, nil
			}
			continue
		}
		if off == len(data) {
			return off, false, nil
		}
		switch h.phase {
		case phEncrypted:
			return len(data), false, nil
		case phResync:
			i, found := resync(data[off:], validBackend)
			off += i
			if !found {
				return off, false, nil
			}
			h.phase = phTyped
			continue
		}
		if t := p.peek(); t.kind == tokSSL {
			// The one-byte answer to SSLRequest or GSSENCRequest; an
			// ErrorResponse (a server older than 7.0) is framed.
			switch c := data[off]; c {
			case 'S', 'G', 'N':
				p.pop()
				h.size = 1
				p.res.ssl = string(c)
				upgraded := c == 'S' && p.startTLS()
				switch {
				case upgraded:
				case c != 'N':
					p.encrypt()
				default:
					p.halves[0].phase = phStart
				}
				p.emitResp(msg, false)
				if c != 'N' && !upgraded {
					return len(data), true, nil
				}
				return off + 1, true, nil
			}
		}
		if len(data)-off < 5 {
			return off, false, nil
		}
		typ, length := data[off], be32(data[off+1:])
		if !backendType(typ) {
			return off, false, parseErr(off, ErrMessageType)
		}
		if !lengthOK(typ, length, true) {
			return off, false, parseErr(off, ErrLength)
		}
		limit := 0
		if inspected(typ) {
			limit = maxInspect
		}
		_, _, body, rest, ok := h.frame(data, off, limit)
		if !ok {
			return off, false, nil
		}
		sz := 0
		if !quiet(typ) {
			sz = int(1 + length)
		}
		h.size += sz
		emitted, again := p.response(typ, body, msg)
		if again {
			return off, true, nil
		}
		off += 5 + len(body)
		h.skip = rest
		if emitted {
			return h.skipBody(data, off), true, nil
		}
	}
}

// inspected reports whether the body of a server message is read.
func inspected(typ byte) bool { return typ == 'C' || typ == 'E' || typ == 'Z' }

// quiet reports server messages that are not part of any response:
// asynchronous ParameterStatus, NoticeResponse, NotificationResponse, and
// the BackendKeyData of the startup.
func quiet(typ byte) bool { return typ == 'S' || typ == 'N' || typ == 'A' || typ == 'K' }

// response handles one server message (body nil when a gap swallowed it).
// It reports whether it filled msg, and again when the message must be
// handled once more because msg answers an earlier exchange.
func (p *Parser) response(typ byte, body []byte, msg *protocols.Message) (emitted, again bool) {
	h := &p.halves[1]
	was := h.active
	if !quiet(typ) {
		h.active = true
	}
	t := p.peek()
	switch typ {
	case 'D':
		p.res.rows++
	case 'd':
		h.copies++
	case 'C':
		tag, _ := cstring(body)
		if n, ok := tagRows(tag); ok {
			p.res.tagRows += n
			p.res.hasTag = true
		}
		if t.kind == tokExec {
			p.pop()
			p.emitResp(msg, false)
			return true, false
		}
	case 'I', 's':
		if t.kind == tokExec {
			p.pop()
			p.emitResp(msg, false)
			return true, false
		}
	case 'E':
		if !p.res.err {
			p.res.err = true
			if c := errorCode(body); len(c) > 0 {
				p.res.code = string(c)
			}
		}
		switch t.kind {
		case tokExec:
			// The server skips the rest of the batch up to Sync.
			p.pop()
			p.batchFailed = true
			p.emitResp(msg, false)
			return true, false
		case tokStartup, tokSSL:
			p.pop()
			p.emitResp(msg, false)
			return true, false
		}
	case 'Z':
		switch t.kind {
		case tokExec:
			// An Execute without completion: skipped after an earlier
			// error of its batch, or its answer was lost.
			p.pop()
			h.size, h.active = 0, true
			if p.batchFailed {
				p.res.err = true
				p.emitResp(msg, false)
			} else {
				p.emitResp(msg, true)
			}
			return true, true
		case tokSync:
			p.pop()
			p.batchFailed = false
			if t.emitted {
				p.emitResp(msg, false)
				return true, false
			}
			p.clearResp()
			return false, false
		case tokSimple, tokStartup:
			p.pop()
			p.emitResp(msg, false)
			return true, false
		}
		// Nothing pending: the request was not seen.
		if t.kind == tokSSL {
			p.pop()
		}
		if was || p.res.err {
			p.emitResp(msg, false)
			return true, false
		}
		p.clearResp()
	}
	return false, false
}

// emitResp fills msg with the accumulated response and resets it.
func (p *Parser) emitResp(msg *protocols.Message, partial bool) {
	h := &p.halves[1]
	r := &p.res
	msg.Kind = protocols.Response
	msg.Size = h.size
	msg.Partial = h.partial || partial
	msg.Status = protocols.StatusOK
	if r.err {
		msg.Status = protocols.StatusError
		if r.code != "" {
			msg.Attrs = append(msg.Attrs, protocols.String(attrStatusCode, r.code))
		}
	}
	switch {
	case r.hasTag:
		msg.Attrs = append(msg.Attrs, protocols.Int(attrRows, r.tagRows))
	case r.rows > 0:
		msg.Attrs = append(msg.Attrs, protocols.Int(attrRows, r.rows))
	}
	if c := h.copies + p.halves[0].copies; c > 0 {
		msg.Attrs = append(msg.Attrs, protocols.Int(attrCopyMessages, c))
	}
	if r.ssl != "" {
		msg.Attrs = append(msg.Attrs, protocols.String(attrSSLResponse, r.ssl))
	}
	p.clearResp()
}

func (p *Parser) clearResp() {
	h := &p.halves[1]
	p.res = result{}
	h.size, h.partial, h.active, h.copies = 0, false, false, 0
	p.halves[0].copies = 0
}

// Gap implements protocols.Parser. A gap inside a message whose length is
// known is skipped exactly; otherwise the direction resynchronises at the
// next plausible message header.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	if p.tls != nil {
		p.tls.Gap(dir, size)
		return
	}
	p.gap(dir, size)
}

func (p *Parser) gap(dir protocols.Direction, size int) {
	var h *half
	switch dir {
	case protocols.ToServer:
		h = &p.halves[0]
	case protocols.ToClient:
		h = &p.halves[1]
	default:
		return
	}
	if size <= 0 || h.phase == phEncrypted {
		return
	}
	h.partial = true
	lost := int64(size)
	wait, waitTyp := h.wait, h.waitTyp
	h.wait = 0
	switch {
	case h.skip > 0:
		if lost <= h.skip {
			h.skip -= lost
			return
		}
		lost -= h.skip
		h.skip = 0
	case wait > 0 && h.phase != phResync:
		// The tail the driver dropped started with this message.
		if lost <= wait {
			h.skip = wait - lost
			p.lostMessage(dir, waitTyp)
			return
		}
		p.lostMessage(dir, waitTyp)
		lost -= wait
	}
	h.phase = phResync
	if dir == protocols.ToServer {
		// A Parse or Bind may have been lost: forget the unnamed ones.
		p.unnamedOK, p.portalOK = false, false
		p.batch = batch{}
	}
}

// lostMessage records that a gap swallowed the message of type typ whose
// length was known.
func (p *Parser) lostMessage(dir protocols.Direction, typ byte) {
	if dir == protocols.ToServer {
		switch typ {
		case 'Q', 'E', 'F':
			p.halves[0].lost = typ
		case 'P':
			p.unnamedOK = false
		case 'B':
			p.portalOK = false
		}
		return
	}
	switch typ {
	case 'C', 'E', 'Z':
		p.halves[1].lost = typ
	}
}

// End implements protocols.Parser: a response cut by the end of the stream
// is emitted Partial (or as an error, when it carried one).
func (p *Parser) End(dir protocols.Direction, msg *protocols.Message) bool {
	if p.tls != nil {
		return p.tls.End(dir, msg)
	}
	return p.end(dir, msg)
}

func (p *Parser) end(dir protocols.Direction, msg *protocols.Message) bool {
	if dir != protocols.ToClient || p.encrypted {
		return false
	}
	h := &p.halves[1]
	if !h.active {
		return false
	}
	t := p.peek()
	if t.kind == tokNone && !p.res.err {
		p.clearResp()
		return false
	}
	p.pop()
	p.emitResp(msg, !p.res.err)
	return true
}

// cstring splits b at its first NUL; without one, all of b is the string.
func cstring(b []byte) (s, rest []byte) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// errorCode returns the SQLSTATE ('C' field) of an ErrorResponse body.
func errorCode(b []byte) []byte {
	for len(b) > 0 && b[0] != 0 {
		f := b[0]
		var v []byte
		v, b = cstring(b[1:])
		if f == 'C' {
			return v
		}
	}
	return nil
}

// tagRows returns the row count of a SELECT or FETCH command tag.
func tagRows(tag []byte) (int64, bool) {
	var rest []byte
	switch {
	case bytes.HasPrefix(tag, []byte("SELECT ")):
		rest = tag[7:]
	case bytes.HasPrefix(tag, []byte("FETCH ")):
		rest = tag[6:]
	default:
		return 0, false
	}
	if len(rest) == 0 || len(rest) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range rest {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// frontendType reports the message types a client sends (protocol section
// 55.7), password-type 'p' included.
func frontendType(c byte) bool {
	switch c {
	case 'B', 'C', 'D', 'E', 'F', 'H', 'P', 'Q', 'S', 'X', 'c', 'd', 'f', 'p':
		return true
	}
	return false
}

// backendType reports the message types a server sends.
func backendType(c byte) bool {
	switch c {
	case 'R', 'K', 'S', 'Z', 'E', 'N', 'A', 'C', 'T', 'D', 'I', 't', 'n', 's',
		'1', '2', '3', 'G', 'H', 'W', 'c', 'd', 'V', 'v':
		return true
	}
	return false
}

// lengthOK checks a message length against the type's fixed size.
func lengthOK(typ byte, length int64, backend bool) bool {
	if length < 4 || length > maxMessage {
		return false
	}
	if backend {
		switch typ {
		case 'Z':
			return length == 5
		case '1', '2', '3', 'n', 'I', 'c', 's':
			return length == 4
		case 'R':
			return length >= 8
		case 'K':
			return length >= 12
		}
		return true
	}
	switch typ {
	case 'S', 'H', 'X', 'c':
		return length == 4
	case 'E':
		return length >= 9
	case 'Q':
		return length >= 5
	}
	return true
}

// validFrontend and validBackend judge a header found while
// resynchronising: a known type, a length its type allows, and not so long
// that waiting for the next header would exceed the driver's buffer.
func validFrontend(typ byte, length int64) bool {
	return frontendType(typ) && lengthOK(typ, length, false) && length <= maxResync
}

func validBackend(typ byte, length int64) bool {
	return backendType(typ) && lengthOK(typ, length, true) && length <= maxResync
}

// resync returns the offset of the first plausible message header in data:
// a valid header whose message ends exactly at the end of data or is
// followed by another valid header. found is false when none is certain
// yet; i then says how many bytes may be dropped.
func resync(data []byte, valid func(byte, int64) bool) (i int, found bool) {
	for i = 0; i+5 <= len(data); i++ {
		length := be32(data[i+1:])
		if !valid(data[i], length) {
			continue
		}
		end := int64(i) + 1 + length
		switch {
		case end == int64(len(data)):
			return i, true
		case end+5 <= int64(len(data)):
			if valid(data[end], be32(data[end+1:])) {
				return i, true
			}
			continue
		}
		return i, false // wait for the next header
	}
	return max(0, len(data)-4), false
}

// keywords are the interned span names: the first keywords of PostgreSQL's
// SQL commands (SQL Commands reference, part VI).
var keywords = [...]string{
	"SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "BEGIN", "COMMIT", "ROLLBACK",
	"SET", "SHOW", "RESET", "CREATE", "DROP", "ALTER", "COPY", "TRUNCATE", "EXPLAIN",
	"VALUES", "CALL", "DO", "LISTEN", "NOTIFY", "UNLISTEN", "PREPARE", "EXECUTE",
	"DEALLOCATE", "FETCH", "MOVE", "CLOSE", "DECLARE", "DISCARD", "START", "SAVEPOINT",
	"RELEASE", "END", "ABORT", "LOCK", "VACUUM", "ANALYZE", "GRANT", "REVOKE", "COMMENT",
	"REFRESH", "MERGE", "TABLE", "CHECKPOINT", "CLUSTER", "REINDEX", "SECURITY", "LOAD",
	"IMPORT", "REASSIGN",
}

// keyword returns the upper-cased first SQL keyword of q, after blanks,
// comments and opening parentheses; "" when there is none.
func keyword(q string) string {
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '(' || c == ';':
			i++
			continue
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				return ""
			}
			i += j + 1
			continue
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			if j < 0 {
				return ""
			}
			i += j + 4
			continue
		}
		break
	}
	j := i
	for j < len(q) && j-i < maxKeyword && isLetter(q[j]) {
		j++
	}
	w := q[i:j]
	if w == "" {
		return ""
	}
	for _, k := range keywords {
		if len(k) == len(w) && equalFold(k, w) {
			return k
		}
	}
	b := []byte(w)
	for k, c := range b {
		if 'a' <= c && c <= 'z' {
			b[k] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }

// equalFold compares an upper-case ASCII keyword with w.
func equalFold(k, w string) bool {
	for i := 0; i < len(k); i++ {
		c := w[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != k[i] {
			return false
		}
	}
	return true
}

// sniff recognises the first bytes of either direction: an untyped startup
// packet (StartupMessage 3.x, SSLRequest, GSSENCRequest, CancelRequest) or
// a Query or Parse message from the client; an Authentication,
// ErrorResponse, ReadyForQuery, ParameterStatus or RowDescription message,
// or ParseComplete followed by BindComplete, from the server. It checks
// lengths and contents, not just type bytes, since most type bytes are
// printable letters.
func sniff(b []byte) protocols.Direction {
	if len(b) < 6 {
		return protocols.DirUnknown
	}
	if b[0] == 0 {
		if len(b) < 8 {
			return protocols.DirUnknown
		}
		length, code := be32(b), be32(b[4:])
		switch {
		case (code == codeSSL || code == codeGSS) && length == 8:
			return protocols.ToServer
		case code == codeCancel && length == 16:
			return protocols.ToServer
		case code>>16 == version3 && code&0xffff <= maxMinor && length >= 9 && length <= maxStartup &&
			len(b) > 8 && 'a' <= b[8] && b[8] <= 'z':
			return protocols.ToServer
		}
		return protocols.DirUnknown
	}
	length := be32(b[1:])
	if length < 4 || length > maxMessage {
		return protocols.DirUnknown
	}
	end := int64(len(b))
	whole := end >= 1+length
	if whole {
		end = 1 + length
	}
	body := b[5:end]
	switch b[0] {
	case 'Q':
		if length < 5 {
			return protocols.DirUnknown
		}
		text := body
		if whole {
			if body[len(body)-1] != 0 {
				return protocols.DirUnknown
			}
			text = body[:len(body)-1]
		}
		if sqlStart(text, whole) {
			return protocols.ToServer
		}
	case 'P':
		name, rest := cstring(body)
		if rest == nil || !printable(name) {
			return protocols.DirUnknown
		}
		text, _ := cstring(rest)
		if sqlStart(text, false) {
			return protocols.ToServer
		}
	case 'R':
		if len(b) < 9 {
			return protocols.DirUnknown
		}
		switch be32(b[5:]) {
		case 0, 2, 3, 6, 7, 9: // Ok, KerberosV5, CleartextPassword, SCMCredential, GSS, SSPI
			if length == 8 {
				return protocols.ToClient
			}
		case 5: // MD5Password
			if length == 12 {
				return protocols.ToClient
			}
		case 10: // SASL: mechanism names follow
			if length > 8 && length < 1024 && (len(b) < 10 || 'A' <= b[9] && b[9] <= 'Z') {
				return protocols.ToClient
			}
		}
	case 'E':
		// Severity field: 'S' or 'V' then an upper-case word.
		if length < 8 || length > maxInspect || len(b) < 8 || (b[5] != 'S' && b[5] != 'V') {
			return protocols.DirUnknown
		}
		w, rest := cstring(body[1:])
		if rest != nil && len(w) >= 3 && upperWord(w) {
			return protocols.ToClient
		}
	case 'Z':
		if length == 5 && (b[5] == 'I' || b[5] == 'T' || b[5] == 'E') {
			return protocols.ToClient
		}
	case 'S':
		if length < 6 || length > maxInspect {
			return protocols.DirUnknown
		}
		name, rest := cstring(body)
		if rest != nil && len(name) >= 3 && paramName(name) {
			return protocols.ToClient
		}
	case '1':
		if length == 4 && len(b) >= 10 && b[5] == '2' && be32(b[6:]) == 4 {
			return protocols.ToClient
		}
	case 'T':
		if len(b) < 8 || length < 26 {
			return protocols.DirUnknown
		}
		n := int(binary.BigEndian.Uint16(b[5:]))
		name, rest := cstring(body[2:])
		if n >= 1 && n <= 1664 && rest != nil && len(name) > 0 && printable(name) {
			return protocols.ToClient
		}
	}
	return protocols.DirUnknown
}

// sqlStart reports whether text starts like SQL: at least three bytes (or
// the whole text, when whole) of printable characters, the first
// non-blank one a letter, a parenthesis or a comment.
func sqlStart(text []byte, whole bool) bool {
	if len(text) < 3 && !whole || len(text) == 0 || !printable(text) {
		return false
	}
	t := bytes.TrimLeft(text, " \t\r\n")
	if len(t) == 0 {
		return whole
	}
	return isLetter(t[0]) || t[0] == '(' || t[0] == '-' || t[0] == '/'
}

// printable reports text without control characters other than blanks.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
			return false
		}
	}
	return true
}

func upperWord(b []byte) bool {
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// paramName reports a run-time parameter name: lower-case letters, digits
// and underscores.
func paramName(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
