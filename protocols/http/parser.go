package http

import (
	"bytes"
	"strings"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name used in span output and ParseErrors.
const Name = "http"

// Limits bounding a Parser's state and the input it waits for.
const (
	// MaxPending bounds the FIFO of requests awaiting a response.
	MaxPending = 1024
	// MaxHeaders bounds the number of header fields in a header block.
	MaxHeaders = 256
	// MaxChunkLine bounds a chunk-size line, extensions included.
	MaxChunkLine = 4096
	// MaxMethodLen bounds the length of a request method.
	MaxMethodLen = 32
	// maxChunkDigits bounds the hex digits of a chunk size so that it fits
	// in an int64 (RFC 9112 section 7.1 leaves the overflow to us).
	maxChunkDigits = 15
	// maxLengthDigits bounds the decimal digits of a Content-Length.
	maxLengthDigits = 18
)

// Attribute keys (OpenTelemetry semantic conventions, stable HTTP).
const (
	attrMethod       = "http.request.method"
	attrPath         = "url.path"
	attrQuery        = "url.query"
	attrServerAddr   = "server.address"
	attrServerPort   = "server.port"
	attrUserAgent    = "user_agent.original"
	attrReqBodySize  = "http.request.body.size"
	attrRespBodySize = "http.response.body.size"
	attrStatusCode   = "http.response.status_code"
	attrVersion      = "network.protocol.version"
)

// unknownName names a request whose start line was lost, as OpenTelemetry
// names spans of unknown method.
const unknownName = "HTTP"

// Protocol describes HTTP/1.x for a protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "HTTP/1.x: method, path, query, host, user agent, status, body sizes; X-Request-ID, traceparent, b3, uber-trace-id, sw8",
	Ports:   []uint16{80, 8080, 8000, 8081, 3000, 5000, 8888},
	Sniff:   sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

var _ protocols.Parser = (*Parser)(nil)

// methods lists the methods Sniff and resynchronisation recognise: RFC 9110
// section 9, PATCH (RFC 5789) and WebDAV (RFC 4918, 3253, 3648, 3744, 4791,
// 5323, 5842). The parser itself accepts any token as a method.
var methods = [...]string{
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
	"PATCH", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK",
	"UNLOCK", "REPORT", "MKCALENDAR", "SEARCH", "ACL", "MKACTIVITY",
	"CHECKOUT", "CHECKIN", "UNCHECKOUT", "MERGE", "VERSION-CONTROL",
	"MKWORKSPACE", "BASELINE-CONTROL", "LABEL", "UPDATE", "ORDERPATCH",
	"BIND", "UNBIND", "REBIND",
}

// knownMethod returns the interned method name, or "" if b is not one.
func knownMethod(b []byte) string {
	for _, m := range methods {
		if string(b) == m {
			return m
		}
	}
	return ""
}

// Link slots, in the order they are emitted.
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
	numLinks
)

var linkKeys = [numLinks]string{
	protocols.LinkXRequestID, protocols.LinkTraceparent, protocols.LinkTracestate,
	protocols.LinkB3, protocols.LinkB3TraceID, protocols.LinkB3SpanID,
	protocols.LinkB3ParentID, protocols.LinkUberTraceID, protocols.LinkSW8,
}

// linkHeaders are the lower-case header names of the fixed links.
var linkHeaders = [numLinks]string{
	"", "traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid",
	"x-b3-parentspanid", "uber-trace-id", "sw8",
}

// method classifies a pending request for response framing.
type method uint8

const (
	methodOther method = iota
	methodHead
	methodConnect
)

// state is where a direction's stream is.
type state uint8

const (
	stStart     state = iota // expecting a header block
	stBody                   // Content-Length body, remain bytes left
	stChunkSize              // expecting a chunk-size line
	stChunkData              // chunk data, remain bytes left
	stChunkEnd               // expecting the CRLF after chunk data
	stTrailer                // trailer section after the last chunk
	stClose                  // body delimited by the end of the stream
	stResync                 // skipping to a start line after a gap
	stTunnel                 // no longer HTTP: consume everything
)

// message is what a direction knows about the message in progress. Its
// strings end up in the emitted protocols.Message.
type message struct {
	active   bool // a message is in progress (or awaits emission)
	complete bool // the message is complete and awaits emission
	partial  bool
	kind     protocols.Kind
	name     string
	method   string
	path     string
	query    string
	host     string
	port     int64 // -1 when absent
	agent    string
	version  string
	code     int
	size     int
	body     int64
	links    [numLinks]string
	ridRank  int // 1 + index in the request-id header list; 0 when absent
}

// half is one direction's parsing state.
type half struct {
	st        state
	remain    int64 // bytes left in the body or chunk
	scanned   int   // where the header-end search resumes
	trailer   int   // trailer bytes so far
	lineStart bool  // stResync: the next byte starts a line
	mayTunnel bool  // ToServer: an Upgrade or CONNECT request was sent
	lostNext  bool  // a gap swallowed the start of the next message
	m         message
}

// Parser is the HTTP/1.x parser of one connection. Create it with New.
type Parser struct {
	ridHeaders []string
	limit      int
	halves     [2]half // ToServer, ToClient
	pend       []method
	head       int
}

// New returns a parser for one connection; a nil cfg means defaults.
// Authorization, Proxy-Authorization, Cookie and Set-Cookie are dropped from
// the request-id header list, so that configuration cannot copy credentials
// into a Message.
func New(cfg *protocols.Config) *Parser {
	rid := cfg.RequestIDHeaders()
	kept := rid[:0]
	for _, h := range rid {
		if !isSecret(h) {
			kept = append(kept, h)
		}
	}
	return &Parser{ridHeaders: kept, limit: cfg.HeaderLimit()}
}

// isSecret reports whether the lower-case header name carries credentials
// (RFC 9110 section 11.6, RFC 6265), whose values are never copied.
func isSecret(name string) bool {
	switch name {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	return false
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

func (p *Parser) push(m method) {
	if len(p.pend)-p.head >= MaxPending {
		p.head++ // drop the oldest
	}
	if p.head > 0 && len(p.pend) == cap(p.pend) {
		n := copy(p.pend, p.pend[p.head:])
		p.pend, p.head = p.pend[:n], 0
	}
	p.pend = append(p.pend, m)
}

func (p *Parser) pop() method {
	if p.head >= len(p.pend) {
		return methodOther
	}
	m := p.pend[p.head]
	p.head++
	if p.head == len(p.pend) {
		p.pend, p.head = p.pend[:0], 0
	}
	return m
}

// Parse implements protocols.Parser.
func (p *Parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	h := p.half(dir)
	if h == nil {
		return 0, false, parseErr(0, ErrDirection)
	}
	if h.m.complete {
		p.emit(h, dir, msg)
		return 0, true, nil
	}
	n := 0
	for n < len(data) {
		rest := data[n:]
		switch h.st {
		case stTunnel:
			return len(data), false, nil

		case stResync:
			k, found := resync(dir, rest, h.lineStart, p.limit)
			n += k
			if k > 0 {
				h.lineStart = data[n-1] == '\n'
			}
			if !found {
				return n, false, nil
			}
			h.st, h.scanned = stStart, 0
			if h.m.active {
				h.m.partial = true
				p.emit(h, dir, msg)
				return n, true, nil
			}

		case stStart:
			if rest[0] == '\n' { // RFC 9112 section 2.2: ignore empty lines
				n++
				continue
			}
			if rest[0] == '\r' {
				if len(rest) < 2 {
					return n, false, nil
				}
				if rest[1] == '\n' {
					n += 2
					continue
				}
				return n, false, parseErr(n, ErrStartLine)
			}
			if dir == protocols.ToServer && h.mayTunnel && !startPrefix(dir, rest, false) {
				h.st = stTunnel
				continue
			}
			k, err := p.header(h, dir, rest)
			if err != nil {
				if pe, ok := err.(*protocols.ParseError); ok {
					pe.Offset += n
				}
				return n, false, err
			}
			if k == 0 {
				return n, false, nil
			}
			n += k
			if h.m.complete {
				p.emit(h, dir, msg)
				return n, true, nil
			}

		case stBody, stChunkData:
			k := len(rest)
			if int64(k) > h.remain {
				k = int(h.remain)
			}
			n += k
			h.remain -= int64(k)
			h.m.body += int64(k)
			h.m.size += k
			if h.remain > 0 {
				break
			}
			if h.st == stChunkData {
				h.st = stChunkEnd
				break
			}
			h.st = stStart
			p.emit(h, dir, msg)
			return n, true, nil

		case stChunkSize:
			line := rest
			if len(line) > MaxChunkLine {
				line = line[:MaxChunkLine]
			}
			i := bytes.IndexByte(line, '\n')
			if i < 0 {
				if len(rest) >= MaxChunkLine {
					return n, false, parseErr(n, ErrLineTooLong)
				}
				return n, false, nil
			}
			size, ok := chunkSize(trimCR(rest[:i]))
			if !ok {
				// A bad chunk size (overflow, junk) loses the body's
				// framing, not the message: report it Partial and
				// resynchronise on the next start line.
				h.m.partial = true
				h.st, h.lineStart = stResync, false
				continue
			}
			n += i + 1
			h.m.size += i + 1
			if size == 0 {
				h.st, h.trailer = stTrailer, 0
			} else {
				h.st, h.remain = stChunkData, size
			}

		case stChunkEnd:
			switch {
			case rest[0] == '\n':
				n++
				h.m.size++
			case rest[0] == '\r' && len(rest) == 1:
				return n, false, nil
			case rest[0] == '\r' && rest[1] == '\n':
				n += 2
				h.m.size += 2
			default:
				h.m.partial = true
				h.st, h.lineStart = stResync, false
				continue
			}
			h.st = stChunkSize

		case stTrailer:
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				if h.trailer+len(rest) > p.limit {
					return n, false, parseErr(n, ErrHeaderTooLarge)
				}
				return n, false, nil
			}
			h.trailer += i + 1
			if h.trailer > p.limit {
				return n, false, parseErr(n, ErrHeaderTooLarge)
			}
			n += i + 1
			h.m.size += i + 1
			if len(trimCR(rest[:i])) == 0 {
				h.st = stStart
				p.emit(h, dir, msg)
				return n, true, nil
			}

		case stClose:
			h.m.body += int64(len(rest))
			h.m.size += len(rest)
			return len(data), false, nil
		}
	}
	return n, false, nil
}

// Gap implements protocols.Parser; see the package documentation.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	h := p.half(dir)
	if h == nil || size <= 0 {
		return
	}
	switch h.st {
	case stTunnel:
		return
	case stClose:
		h.m.partial = true
		h.m.body += int64(size)
		return
	case stBody:
		h.m.partial = true
		if int64(size) < h.remain {
			h.remain -= int64(size)
			h.m.body += int64(size)
			return
		}
		h.m.body += h.remain
		over := int64(size) - h.remain
		h.remain = 0
		h.m.complete = true
		h.st = stStart
		if over == 0 {
			return
		}
		h.lostNext = true
	case stChunkSize, stChunkData, stChunkEnd, stTrailer:
		h.m.partial = true
	case stStart:
		if h.m.complete {
			h.lostNext = true
		} else {
			p.placeholder(h, dir)
		}
	case stResync:
		// Still looking for a start line; the message in progress, if
		// any, is already Partial.
	}
	h.st, h.scanned, h.remain, h.lineStart = stResync, 0, 0, true
}

// Salvage implements protocols.Salvager: when dir is reading a header block
// and tail, the unconsumed bytes a gap is about to cut, starts with a
// complete request line (ToServer) or status line (ToClient), it fills msg
// from the start line and the complete field lines that follow, exactly as
// for a whole message but marked Partial, and returns true. The following
// Gap then falls inside that message: the parser resynchronises at the next
// start line without emitting a placeholder. In any other state (body,
// chunked, resynchronising) it returns false. An interim (1xx) status line
// is not salvaged.
func (p *Parser) Salvage(dir protocols.Direction, tail []byte, msg *protocols.Message) bool {
	h := p.half(dir)
	if h == nil || h.st != stStart || h.m.active || h.m.complete || h.lostNext {
		return false
	}
	// Parse skips empty lines before a message; so does Salvage.
	for len(tail) > 0 && (tail[0] == '\n' || (tail[0] == '\r' && len(tail) > 1 && tail[1] == '\n')) {
		if tail[0] == '\r' {
			tail = tail[1:]
		}
		tail = tail[1:]
	}
	if len(tail) > p.limit {
		tail = tail[:p.limit]
	}
	// Keep the complete lines only: the last one may have been cut.
	k := bytes.LastIndexByte(tail, '\n')
	if k < 0 {
		return false
	}
	block := tail[:k+1]
	if end, _ := headerEnd(block, 0); end > 0 {
		block = block[:end] // cannot happen after Parse; be safe anyway
	}
	i := bytes.IndexByte(block, '\n')
	line := trimCR(block[:i])
	if !startLine(dir, line) {
		return false
	}
	var f fields
	if err := p.fields(&f, block[i+1:]); err != nil {
		return false
	}
	var err error
	if dir == protocols.ToServer {
		err = p.request(h, line, &f, len(tail))
	} else {
		err = p.response(h, line, &f, len(tail))
	}
	if err != nil || !h.m.active {
		return false // interim responses are not messages
	}
	h.m.partial = true
	h.m.complete = false
	// The body length is unknown: whatever follows the gap is skipped up to
	// the next start line. A response switching protocols stays a tunnel.
	if h.st != stTunnel {
		h.st = stResync
	}
	h.scanned, h.remain, h.lineStart = 0, 0, true
	p.emit(h, dir, msg)
	return true
}

// End implements protocols.Parser: it emits a message awaiting emission, a
// body delimited by the end of the stream, or (marked Partial) a message cut
// short.
func (p *Parser) End(dir protocols.Direction, msg *protocols.Message) bool {
	h := p.half(dir)
	if h == nil || h.st == stTunnel || !h.m.active {
		return false
	}
	if !h.m.complete && h.st != stClose {
		h.m.partial = true
	}
	h.st, h.remain, h.scanned = stStart, 0, 0
	p.emit(h, dir, msg)
	return true
}

// placeholder starts a Partial message standing for one whose start was lost,
// keeping the request FIFO in step.
func (p *Parser) placeholder(h *half, dir protocols.Direction) {
	h.m = message{active: true, partial: true, port: -1}
	if dir == protocols.ToServer {
		h.m.kind, h.m.name = protocols.Request, unknownName
		p.push(methodOther)
	} else {
		h.m.kind = protocols.Response
		p.pop()
	}
}

// emit fills msg from h's message and clears it.
func (p *Parser) emit(h *half, dir protocols.Direction, msg *protocols.Message) {
	m := &h.m
	msg.Kind = m.kind
	msg.Name = m.name
	msg.Partial = m.partial
	msg.Size = m.size
	msg.BodySize = int(m.body)
	if m.kind == protocols.Request {
		if m.method != "" {
			msg.Attrs = append(msg.Attrs, protocols.String(attrMethod, m.method))
		}
		if m.path != "" {
			msg.Attrs = append(msg.Attrs, protocols.String(attrPath, m.path))
		}
		if m.query != "" {
			msg.Attrs = append(msg.Attrs, protocols.String(attrQuery, m.query))
		}
		if m.host != "" {
			msg.Attrs = append(msg.Attrs, protocols.String(attrServerAddr, m.host))
		}
		if m.port >= 0 {
			msg.Attrs = append(msg.Attrs, protocols.Int(attrServerPort, m.port))
		}
		if m.agent != "" {
			msg.Attrs = append(msg.Attrs, protocols.String(attrUserAgent, m.agent))
		}
		if m.version != "" {
			msg.Attrs = append(msg.Attrs, protocols.String(attrVersion, m.version))
		}
		msg.Attrs = append(msg.Attrs, protocols.Int(attrReqBodySize, m.body))
	} else {
		if m.code != 0 {
			msg.Attrs = append(msg.Attrs, protocols.Int(attrStatusCode, int64(m.code)))
			if m.code >= 500 {
				msg.Status = protocols.StatusError
			} else {
				msg.Status = protocols.StatusOK
			}
		}
		if m.version != "" {
			msg.Attrs = append(msg.Attrs, protocols.String(attrVersion, m.version))
		}
		msg.Attrs = append(msg.Attrs, protocols.Int(attrRespBodySize, m.body))
	}
	for i, v := range m.links {
		if v != "" {
			msg.Links = append(msg.Links, protocols.String(linkKeys[i], v))
		}
	}
	h.m = message{}
	if h.lostNext {
		h.lostNext = false
		p.placeholder(h, dir)
	}
}

// header parses a header block at the start of data. It returns 0 with a
// nil error when the block is not complete yet.
func (p *Parser) header(h *half, dir protocols.Direction, data []byte) (int, error) {
	end, resume := headerEnd(data, h.scanned)
	if end < 0 {
		h.scanned = resume
		if len(data) >= p.limit {
			return 0, parseErr(p.limit, ErrHeaderTooLarge)
		}
		if !startPrefix(dir, data, false) {
			return 0, parseErr(0, ErrStartLine)
		}
		return 0, nil
	}
	h.scanned = 0
	if end > p.limit {
		return 0, parseErr(p.limit, ErrHeaderTooLarge)
	}
	block := data[:end]
	i := bytes.IndexByte(block, '\n')
	line := trimCR(block[:i])
	var f fields
	if err := p.fields(&f, block[i+1:]); err != nil {
		return 0, err
	}
	if dir == protocols.ToServer {
		return end, p.request(h, line, &f, end)
	}
	return end, p.response(h, line, &f, end)
}

// fields is what the parser keeps of a header block's fields; the slices
// point into the block.
type fields struct {
	host, agent []byte
	links       [numLinks][]byte
	ridRank     int
	length      int64 // -1 when absent
	te, chunked bool
	teValue     []byte
	upgrade     bool
	count       int // field lines seen
}

// fields scans the header field lines of block (which ends with the empty
// line) without allocating.
func (p *Parser) fields(f *fields, block []byte) error {
	f.length = -1
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		line := trimCR(block[:i])
		block = block[i+1:]
		if len(line) == 0 {
			break
		}
		f.count++
		if f.count > MaxHeaders {
			return parseErr(0, ErrHeaderTooLarge)
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // obs-fold continuation: ignored
		}
		c := bytes.IndexByte(line, ':')
		if c <= 0 {
			continue // not a field line: ignored
		}
		name, value := line[:c], trimOWS(line[c+1:])
		switch {
		case equalFold(name, "content-length"):
			v, ok := contentLength(value)
			if !ok || (f.length >= 0 && f.length != v) {
				return parseErr(0, ErrContentLength)
			}
			f.length = v
		case equalFold(name, "transfer-encoding"):
			f.te = true
			f.teValue = value
			f.chunked = lastTokenIs(value, "chunked")
		case equalFold(name, "upgrade"):
			f.upgrade = true
		case equalFold(name, "host"):
			if f.host == nil {
				f.host = value
			}
		case equalFold(name, "user-agent"):
			if f.agent == nil {
				f.agent = value
			}
		}
		if len(value) == 0 {
			continue
		}
		for j := lnXRequestID + 1; j < numLinks; j++ {
			if f.links[j] == nil && equalFold(name, linkHeaders[j]) {
				f.links[j] = value
			}
		}
		for j, rid := range p.ridHeaders {
			if f.ridRank != 0 && j+1 >= f.ridRank {
				break
			}
			if equalFold(name, rid) {
				f.ridRank = j + 1
				f.links[lnXRequestID] = value
				break
			}
		}
	}
	return nil
}

// request fills h from a request's start line and fields.
func (p *Parser) request(h *half, line []byte, f *fields, size int) error {
	meth, target, minor, ok := requestLine(line, true, true)
	if !ok {
		return parseErr(0, ErrStartLine)
	}
	// A request whose Transfer-Encoding does not end in chunked has no
	// determinable body (RFC 9112 section 6.3): the server answers 400 and
	// closes. The request is still reported; the body is read as chunked
	// when the value names chunked anywhere, else as absent.
	if f.te && !f.chunked {
		f.te = bytes.Contains(bytes.ToLower(f.teValue), []byte("chunked"))
	}
	m := &h.m
	*m = message{active: true, kind: protocols.Request, size: size, port: -1, version: version(minor)}
	m.method = knownMethod(meth)
	if m.method == "" {
		m.method = string(meth)
	}
	kind := methodOther
	switch m.method {
	case "HEAD":
		kind = methodHead
	case "CONNECT":
		kind = methodConnect
	}
	p.push(kind)
	h.mayTunnel = kind == methodConnect || f.upgrade

	var authority []byte
	switch {
	case len(target) == 0: // "OPTIONS HTTP/1.1": no target, seen in the wild
		m.name = m.method
	case kind == methodConnect:
		authority = target
		m.name = concat(m.method, target)
	case target[0] == '/' || (len(target) == 1 && target[0] == '*'):
		path, query := splitQuery(target)
		m.name = concat(m.method, path)
		m.path = m.name[len(m.method)+1:]
		if len(query) > 0 {
			m.query = string(query)
		}
	default: // absolute-form, RFC 9112 section 3.2.2
		rest := target
		if i := bytes.Index(rest, []byte("://")); i >= 0 {
			rest = rest[i+3:]
		}
		j := bytes.IndexAny(rest, "/?")
		if j < 0 {
			j = len(rest)
		}
		authority, rest = rest[:j], rest[j:]
		path, query := splitQuery(rest)
		if len(path) == 0 {
			path = []byte("/")
		}
		m.name = concat(m.method, path)
		m.path = m.name[len(m.method)+1:]
		if len(query) > 0 {
			m.query = string(query)
		}
	}
	hostport := f.host
	if len(hostport) == 0 {
		hostport = authority
	}
	if len(hostport) > 0 {
		host, port := splitHostPort(string(hostport))
		m.host, m.port = host, port
	}
	if len(f.agent) > 0 {
		m.agent = string(f.agent)
	}
	p.setLinks(m, f)

	switch {
	case f.te:
		h.st = stChunkSize
	case f.length > 0:
		h.st, h.remain = stBody, f.length
	default:
		m.complete = true
	}
	return nil
}

// response fills h from a response's start line and fields. An interim
// response leaves h without a message.
func (p *Parser) response(h *half, line []byte, f *fields, size int) error {
	minor, code, ok := statusLine(line, true)
	if !ok {
		return parseErr(0, ErrStartLine)
	}
	if code >= 100 && code < 200 && code != 101 {
		return nil // interim: RFC 9110 section 15.2
	}
	req := p.pop()
	m := &h.m
	*m = message{active: true, kind: protocols.Response, size: size, port: -1, version: version(minor), code: code}
	p.setLinks(m, f)
	if code == 101 || (req == methodConnect && code >= 200 && code < 300) {
		m.complete = true
		h.st = stTunnel
		if s := &p.halves[0]; s.st == stStart && !s.m.active {
			s.st = stTunnel
		} else {
			s.mayTunnel = true
		}
		return nil
	}
	switch {
	case req == methodHead || code < 200 || code == 204 || code == 304:
		m.complete = true
	case f.te && f.chunked:
		h.st = stChunkSize
	case f.te:
		h.st = stClose
	case f.length > 0:
		h.st, h.remain = stBody, f.length
	case f.length == 0:
		m.complete = true
	default:
		h.st = stClose
	}
	return nil
}

func (p *Parser) setLinks(m *message, f *fields) {
	for i, v := range f.links {
		if len(v) > 0 {
			m.links[i] = string(v)
		}
	}
}

// headerEnd returns the length of the header block at the start of data
// (through its empty line), or -1 and the offset of the first line not yet
// known to be complete, from which the search may resume.
func headerEnd(data []byte, from int) (end, resume int) {
	i := from
	for i < len(data) {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return -1, i
		}
		if i > 0 && (j == 0 || (j == 1 && data[i] == '\r')) {
			return i + j + 1, 0
		}
		i += j + 1
	}
	return -1, i
}

// resync returns how many bytes of data to skip to reach a line that starts
// a message, and whether one was found. When data ends with an incomplete
// line that may still become a start line, it stops before that line.
func resync(dir protocols.Direction, data []byte, lineStart bool, limit int) (int, bool) {
	i := 0
	if !lineStart {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return len(data), false
		}
		i = j + 1
	}
	for i < len(data) {
		rest := data[i:]
		e := bytes.IndexByte(rest, '\n')
		if e < 0 {
			if len(rest) < limit && startPrefix(dir, rest, true) {
				return i, false
			}
			return len(data), false
		}
		if startLine(dir, trimCR(rest[:e])) {
			return i, true
		}
		i += e + 1
	}
	return i, false
}

// startLine reports whether line is a complete start line for dir; a
// request line must use a known method.
func startLine(dir protocols.Direction, line []byte) bool {
	if dir == protocols.ToServer {
		meth, _, _, ok := requestLine(line, true, false)
		return ok && knownMethod(meth) != ""
	}
	_, _, ok := statusLine(line, true)
	return ok
}

// startPrefix reports whether data (the start of a message, possibly cut
// anywhere) may begin a start line for dir. With known, a request's method
// must be a known one.
func startPrefix(dir protocols.Direction, data []byte, known bool) bool {
	line, complete := data, false
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		line, complete = data[:i], true
	}
	line = trimCR(line)
	if dir == protocols.ToServer {
		// Resynchronising (known) is strict; reading a message that
		// started as a request is lenient about spaces in the target.
		meth, _, _, ok := requestLine(line, complete, !known)
		if ok && known && meth != nil {
			return knownMethod(meth) != ""
		}
		return ok
	}
	_, _, ok := statusLine(line, complete)
	return ok
}

// requestLine splits a request line (RFC 9112 section 3). When complete is
// false, line may be cut anywhere and ok reports whether it may still become
// a request line; method is nil until its SP has been seen.
func requestLine(line []byte, complete, lenient bool) (method, target []byte, minor byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return nil, nil, 0, !complete && len(line) <= MaxMethodLen && isToken(line)
	}
	method = line[:sp]
	if sp == 0 || sp > MaxMethodLen || !isToken(method) {
		return nil, nil, 0, false
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		if complete && len(rest) == 8 && versionPrefix(rest) {
			// A request line without a target; servers answer 400,
			// but it is a request all the same.
			return method, nil, rest[7], true
		}
		return method, nil, 0, !complete && validTarget(rest)
	}
	target, ver := rest[:sp], rest[sp+1:]
	if len(target) == 0 || !validTarget(target) {
		return nil, nil, 0, false
	}
	if !complete {
		// A target with unencoded spaces ("GET /a b HTTP/1.0", which
		// servers and tshark accept) is only known at the line's end.
		return method, target, 0, versionPrefix(ver) || lenient && printableText(ver)
	}
	if len(ver) != 8 || !versionPrefix(ver) {
		if !lenient {
			return nil, nil, 0, false
		}
		// The version is the last word; what is between is the target.
		i := bytes.LastIndexByte(rest, ' ')
		ver = rest[i+1:]
		if target[0] != '/' || len(ver) != 8 || !versionPrefix(ver) || !printableText(rest[:i]) {
			return nil, nil, 0, false
		}
		target = rest[:i]
	}
	return method, target, ver[7], true
}

// printableText reports whether b is visible ASCII and spaces: the rest of
// a request line that may still end in its version.
func printableText(b []byte) bool {
	for _, c := range b {
		if c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// statusLine parses a status line (RFC 9112 section 4). When complete is
// false, line may be cut anywhere and ok reports whether it may still become
// a status line.
func statusLine(line []byte, complete bool) (minor byte, code int, ok bool) {
	n := len(line)
	if n > 8 {
		n = 8
	}
	if !versionPrefix(line[:n]) {
		return 0, 0, false
	}
	if len(line) < 12 {
		if complete {
			return 0, 0, false
		}
		if len(line) > 8 && line[8] != ' ' {
			return 0, 0, false
		}
		for _, c := range line[min(len(line), 9):] {
			if c < '0' || c > '9' {
				return 0, 0, false
			}
		}
		return 0, 0, true
	}
	if line[8] != ' ' {
		return 0, 0, false
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		code = code*10 + int(c-'0')
	}
	if len(line) > 12 && line[12] != ' ' {
		return 0, 0, false
	}
	if code < 100 {
		return 0, 0, false
	}
	return line[7], code, true
}

// versionPrefix reports whether b is a prefix of HTTP/1.0 or HTTP/1.1.
func versionPrefix(b []byte) bool {
	const v = "HTTP/1."
	if len(b) > 8 {
		return false
	}
	k := min(len(b), len(v))
	if string(b[:k]) != v[:k] {
		return false
	}
	return len(b) < 8 || b[7] == '0' || b[7] == '1'
}

func version(minor byte) string {
	if minor == '0' {
		return "1.0"
	}
	return "1.1"
}

// sniff implements protocols.Protocol.Sniff.
func sniff(data []byte) protocols.Direction {
	line, complete := data, false
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		line, complete = data[:i], true
	}
	line = trimCR(line)
	if bytes.HasPrefix(line, []byte("HTTP/")) {
		if len(line) >= 12 {
			if _, _, ok := statusLine(line, complete); ok {
				return protocols.ToClient
			}
		}
		return protocols.DirUnknown
	}
	meth, target, _, ok := requestLine(line, complete, false)
	if !ok || meth == nil || knownMethod(meth) == "" {
		return protocols.DirUnknown
	}
	if target == nil && len(line) == len(meth)+1 {
		return protocols.DirUnknown // "GET ": too few bytes to tell
	}
	return protocols.ToServer
}

// chunkSize parses a chunk-size line: hex digits, optional whitespace and
// chunk extensions (RFC 9112 section 7.1.1), which are ignored.
func chunkSize(line []byte) (int64, bool) {
	var v int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto done
		}
		if i >= maxChunkDigits {
			return 0, false
		}
		v = v<<4 | int64(d)
	}
done:
	if i == 0 {
		return 0, false
	}
	rest := trimOWS(line[i:])
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	return v, true
}

// contentLength parses a Content-Length value, accepting a list of
// identical values (RFC 9110 section 8.6).
func contentLength(v []byte) (int64, bool) {
	var out int64 = -1
	for len(v) > 0 {
		elem := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			elem, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		elem = trimOWS(elem)
		// Leading zeros do not change the value (RFC 9110 section 8.6
		// allows any number of digits); only significant digits count
		// against the limit.
		for len(elem) > 1 && elem[0] == '0' {
			elem = elem[1:]
		}
		if len(elem) == 0 || len(elem) > maxLengthDigits {
			return 0, false
		}
		var n int64
		for _, c := range elem {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		if out >= 0 && n != out {
			return 0, false
		}
		out = n
	}
	return out, out >= 0
}

// lastTokenIs reports whether the last element of a comma-separated list
// equals tok case-insensitively.
func lastTokenIs(v []byte, tok string) bool {
	// Empty list elements do not count (RFC 9110 section 5.6.1.2).
	for {
		v = trimOWS(v)
		if len(v) == 0 || v[len(v)-1] != ',' {
			break
		}
		v = v[:len(v)-1]
	}
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return equalFold(trimOWS(v), tok)
}

// splitQuery splits a target at its '?', dropping any fragment.
func splitQuery(t []byte) (path, query []byte) {
	if i := bytes.IndexByte(t, '#'); i >= 0 {
		t = t[:i]
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, nil
}

// splitHostPort splits a Host value; port is -1 when absent or invalid.
func splitHostPort(s string) (string, int64) {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i >= 0 {
			host = s[1:i]
			if rest := s[i+1:]; strings.HasPrefix(rest, ":") {
				port = rest[1:]
			}
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
	}
	if port == "" || len(port) > 5 {
		return host, -1
	}
	var v int64
	for i := 0; i < len(port); i++ {
		c := port[i]
		if c < '0' || c > '9' {
			return host, -1
		}
		v = v*10 + int64(c-'0')
	}
	if v > 65535 {
		return host, -1
	}
	return host, v
}

// concat returns method + " " + rest with one allocation.
func concat(method string, rest []byte) string {
	var b strings.Builder
	b.Grow(len(method) + 1 + len(rest))
	b.WriteString(method)
	b.WriteByte(' ')
	b.Write(rest)
	return b.String()
}

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// trimOWS trims optional whitespace (SP, HTAB) from both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case in b.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
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

// isToken reports whether b consists of tchars (RFC 9110 section 5.6.2).
func isToken(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validTarget reports whether b has no controls, spaces or DEL.
func validTarget(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
