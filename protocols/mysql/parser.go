package mysql

import (
	"strconv"
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/sqlcomment"
	"github.com/wiretrace/wiretrace/protocols/sqlredact"
)

// Name is the protocol name used in span output and ParseErrors.
const Name = "mysql"

// Limits bounding a Parser's state and the input it waits for.
const (
	// MaxQueryBytes bounds the SQL text kept from a COM_QUERY or
	// COM_STMT_PREPARE; longer text is cut (and the rest skipped).
	MaxQueryBytes = 32 << 10
	// MaxHandshakeBytes bounds the part of a server greeting or client
	// HandshakeResponse that is examined.
	MaxHandshakeBytes = 8 << 10
	// MaxPending bounds the commands awaiting a response.
	MaxPending = 64
	// MaxStatements bounds the prepared statements remembered per
	// connection; beyond it the oldest is forgotten.
	MaxStatements = 1024
	// MaxFrame bounds a compressed packet (it is decompressed only when
	// whole, and must fit the driver's buffer); a larger one stops parsing.
	MaxFrame = 192 << 10
	// maxNamespace bounds a schema name (MySQL allows 64 characters).
	maxNamespace = 64
	// respHead is how much of a server packet is examined: enough for an OK
	// packet's affected rows, last insert id and status.
	respHead = 32
	// inflateChunk is how much is decompressed at a time.
	inflateChunk = 16 << 10
)

// Attribute keys (OpenTelemetry semantic conventions v1.37.0).
var (
	attrSystem     = string(semconv.DBSystemNameKey)
	attrNamespace  = string(semconv.DBNamespaceKey)
	attrOperation  = string(semconv.DBOperationNameKey)
	attrQuery      = string(semconv.DBQueryTextKey)
	attrCollection = string(semconv.DBCollectionNameKey)
	attrStatusCode = string(semconv.DBResponseStatusCodeKey)
	attrRows       = string(semconv.DBResponseReturnedRowsKey)
	attrErrorType  = string(semconv.ErrorTypeKey)
	attrTLS        = string(semconv.TLSProtocolNameKey)
	systemMySQL    = semconv.DBSystemNameMySQL.Value.AsString()
	systemMariaDB  = semconv.DBSystemNameMariaDB.Value.AsString()
)

// connectName names the span of the connection handshake.
const connectName = "CONNECT"

// Protocol describes the MySQL client/server protocol for a
// protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "MySQL/MariaDB: handshake database (auth never), queries, prepared statements, rows, error codes, compression, trace ids in SQL comments",
	Ports:   []uint16{3306},
	Sniff:   Sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

var (
	_ protocols.Parser   = (*Parser)(nil)
	_ protocols.Salvager = (*Parser)(nil)
	_ protocols.Turner   = (*Parser)(nil)
	_ protocols.Idler    = (*Parser)(nil)
)

// phase is where the connection is.
type phase uint8

const (
	phaseUnknown phase = iota // no handshake seen: the capture started mid-connection
	phaseGreeted              // server greeting seen, HandshakeResponse awaited
	phaseAuth                 // HandshakeResponse seen, authentication result awaited
	phaseCommand              // commands and their responses
	phaseTLS                  // TLS after SSLRequest: bytes are consumed quietly
)

// eofMode says whether result sets end with EOF packets (before MySQL 5.7.5
// or without CLIENT_DEPRECATE_EOF) or with OK packets.
type eofMode uint8

const (
	eofUnknown eofMode = iota
	eofLegacy
	eofDeprecated
)

// respKind is the shape of the response a command expects.
type respKind uint8

const (
	respResult    respKind = iota // OK, ERR, LOCAL INFILE request or result set(s)
	respPrepare                   // COM_STMT_PREPARE_OK and its definitions, or ERR
	respOne                       // one packet: OK, ERR, EOF or a string
	respFieldList                 // column definitions until EOF, or ERR
	respRows                      // COM_STMT_FETCH: rows until EOF, or ERR
	respAuth                      // authentication exchange until OK or ERR
	respStream                    // binlog or clone stream: the first packet answers
)

// stage is where a response in progress is.
type stage uint8

const (
	stFirst    stage = iota // first packet of a response or of the next result set
	stCols                  // column definitions, n left
	stColsEOF               // EOF after the column definitions
	stRows                  // rows until EOF or OK
	stPrepDefs              // PREPARE: parameter then column definitions, n left
	stPrepEOF               // PREPARE: EOF after a block of definitions
	stInfile                // LOCAL INFILE: OK or ERR after the client's file
	stMore                  // a packet of a response that is neither (auth, field list, fetch)
)

// pending is a command awaiting its response.
type pending struct {
	kind respKind
	text string // COM_STMT_PREPARE: the statement text
	db   string // the default schema once the command succeeds
}

// stmt is a prepared statement.
type stmt struct {
	text, name, op string
}

// half is one direction's parsing state.
type half struct {
	// Packet framing of the plain (or decompressed) stream.
	hdr  bool // the current packet's header has been read
	plen int  // its payload length
	pseq byte // its sequence id
	skip int  // its payload bytes still to skip
	cont bool // it is followed by a continuation packet

	quiet  bool // consume everything: TLS, zstd, a binlog stream, lost compressed framing
	resync bool // framing was lost to a gap
	lost   int  // ToClient: responses lost to a gap, still to emit as Partial
	z      *inflater

	// The response in progress (ToClient).
	started  bool
	st       stage
	n        uint64 // definitions left in the current block
	cols     uint64 // PREPARE: column definitions after the parameters
	rows     int64
	affected int64
	size     int
	partial  bool
}

// Parser is the MySQL parser of one connection. Create it with New.
type Parser struct {
	cfg       *protocols.Config
	halves    [2]half // ToServer, ToClient
	phase     phase
	modeKnown bool // whether the stream is compressed has been decided
	system    string
	db        string
	server    uint32 // server capabilities from the greeting
	caps      uint32 // negotiated capabilities
	capsKnown bool
	eof       eofMode
	pend      []pending
	stmts     map[uint32]stmt
	order     []uint32 // prepared statement ids, oldest first
	// tls, after an SSLRequest with protocols.Config.StartTLS set, reads
	// the rest of the stream; its plaintext comes back through plain.
	tls      protocols.Parser
	upgraded bool // the HandshakeResponse follows an SSLRequest (sequence id 2)
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

// New returns a parser for one connection; a nil cfg means defaults.
func New(cfg *protocols.Config) *Parser {
	return &Parser{cfg: cfg, system: systemMySQL}
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

// Parse implements protocols.Parser.
func (p *Parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	if p.tls != nil {
		return p.tls.Parse(dir, data, msg)
	}
	return p.parse(dir, data, msg)
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

func (p *Parser) parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	h := p.half(dir)
	if h == nil {
		return 0, false, parseErr(0, ErrDirection)
	}
	if h.lost > 0 {
		h.lost--
		p.lostResponse(h, msg)
		return 0, true, nil
	}
	if h.quiet {
		return len(data), false, nil
	}
	if !p.modeKnown {
		if p.phase != phaseUnknown {
			p.modeKnown = true
		} else {
			compressed, decided := looksCompressed(data)
			if !decided && len(data) < 7+MaxFrame {
				return 0, false, nil
			}
			p.modeKnown = true
			if compressed {
				p.compress()
			}
		}
	}
	if h.z != nil {
		return p.parseCompressed(dir, h, data, msg)
	}
	return p.parsePlain(dir, h, data, msg)
}

// parsePlain parses a stream of packets: it reads each packet's header, waits
// for the head of its payload (all of it, up to a limit that depends on the
// packet), acts on it and skips the rest.
func (p *Parser) parsePlain(dir protocols.Direction, h *half, data []byte, msg *protocols.Message) (int, bool, error) {
	off := 0
	for {
		if h.skip > 0 {
			k := min(h.skip, len(data)-off)
			h.skip -= k
			off += k
			if h.skip > 0 {
				return off, false, nil
			}
		}
		if h.resync {
			n, ok, done := p.resync(dir, h, data[off:], msg)
			off += n
			if done {
				return off, true, nil
			}
			if !ok {
				return off, false, nil
			}
		}
		if !h.hdr {
			if len(data)-off < 4 {
				return off, false, nil
			}
			h.plen, h.pseq, h.hdr = le24(data[off:]), data[off+3], true
			off += 4
		}
		need := min(h.plen, p.limit(dir, h))
		if len(data)-off < need {
			return off, false, nil
		}
		payload := data[off : off+need]
		off += need
		h.hdr = false
		h.skip = h.plen - need
		cont := h.cont
		h.cont = h.plen == maxPacketLen
		if cont {
			continue // a continuation of the packet before
		}
		var done bool
		if dir == protocols.ToServer {
			var err error
			if done, err = p.clientPacket(h, payload, msg); err != nil {
				return 0, false, parseErr(off-need-4, err)
			}
		} else {
			done = p.serverPacket(h, payload, msg)
		}
		if done {
			return off, true, nil
		}
		if h.quiet {
			return len(data), false, nil
		}
	}
}

// limit returns how much of the current packet's payload to examine.
func (p *Parser) limit(dir protocols.Direction, h *half) int {
	if dir == protocols.ToServer {
		switch {
		case h.pseq == 0:
			return 1 + MaxQueryBytes
		case p.phase < phaseCommand:
			return MaxHandshakeBytes
		}
		return 0
	}
	if p.phase < phaseAuth && h.pseq == 0 {
		return MaxHandshakeBytes
	}
	return respHead
}

// clientPacket handles a packet from the client.
func (p *Parser) clientPacket(h *half, b []byte, msg *protocols.Message) (bool, error) {
	switch {
	case len(b) == 0:
		return false, nil
	case h.pseq == 0:
		if !isCommand(b[0]) {
			return false, ErrCommand
		}
		p.command(h, b, msg)
		return true, nil
	case (h.pseq == 1 || p.upgraded && h.pseq == 2) && p.phase < phaseAuth && isHandshakeResponse(b):
		p.handshakeResponse(h, b, msg)
		return true, nil
	}
	// Authentication data, LOCAL INFILE contents, a HandshakeResponse320:
	// nothing to report.
	return false, nil
}

// isHandshakeResponse reports whether b is a HandshakeResponse41 (or an
// SSLRequest): CLIENT_PROTOCOL_41 and 23 filler bytes, of which MariaDB
// clients use the last 4 for MariaDB's extended capabilities, so only the
// first 19 must be zero.
func isHandshakeResponse(b []byte) bool {
	if len(b) < handshakeFixedLen || le32(b)&capProtocol41 == 0 {
		return false
	}
	for _, c := range b[handshakeFillerStart : handshakeFixedLen-4] {
		if c != 0 {
			return false
		}
	}
	return true
}

// handshakeResponse reads the client's HandshakeResponse41 and emits the
// CONNECT request. The user name and the authentication data are skipped.
func (p *Parser) handshakeResponse(h *half, b []byte, msg *protocols.Message) {
	caps := le32(b)
	if p.phase == phaseGreeted {
		p.caps = caps & p.server
	} else {
		p.caps = caps // greeting not seen: assume the server granted what was asked
	}
	p.capsKnown = true
	p.eof = eofLegacy
	if p.caps&capDeprecateEOF != 0 {
		p.eof = eofDeprecated
	}
	msg.Kind = protocols.Request
	msg.Name = connectName
	msg.Size = 4 + h.plen
	msg.Attrs = append(msg.Attrs, protocols.String(attrSystem, p.system))
	if h.plen == handshakeFixedLen && caps&capSSL != 0 {
		// SSLRequest: TLS follows. With StartTLS the TLS parser reads it
		// and its plaintext continues here; otherwise nothing more can be
		// read.
		msg.NoResponse = true
		msg.Attrs = append(msg.Attrs, protocols.String(attrTLS, "tls"))
		if p.cfg != nil && p.cfg.StartTLS != nil && !p.upgraded {
			if t := p.cfg.StartTLS(plain{p}, Name); t != nil {
				p.tls, p.upgraded = t, true
				return
			}
		}
		p.phase = phaseTLS
		p.halves[0].quiet, p.halves[1].quiet = true, true
		return
	}
	rest := b[handshakeFixedLen:]
	_, rest, ok := cstr(rest) // user name
	switch {
	case !ok:
	case caps&capPluginAuthLenenc != 0:
		rest, ok = skipLenencStr(rest)
	case caps&capSecureConnection != 0:
		if ok = len(rest) > 0 && len(rest) > int(rest[0]); ok {
			rest = rest[1+int(rest[0]):]
		}
	default:
		_, rest, ok = cstr(rest)
	}
	if ok && caps&capConnectWithDB != 0 {
		if db, _, ok := cstr(rest); ok && len(db) > 0 && len(db) <= maxNamespace && printable(db) {
			p.db = string(db)
		}
	}
	if p.db != "" {
		msg.Attrs = append(msg.Attrs, protocols.String(attrNamespace, p.db))
	}
	p.phase = phaseAuth
	p.push(pending{kind: respAuth})
}

// command reads a command packet (b holds the command byte and at most
// MaxQueryBytes after it) and emits its request.
func (p *Parser) command(h *half, b []byte, msg *protocols.Message) {
	if p.phase < phaseCommand {
		p.phase = phaseCommand
	}
	cmd, body := b[0], b[1:]
	name := commandNames[cmd]
	op, text, collection := name, "", ""
	pe := pending{kind: respOne}
	noResponse := false
	switch cmd {
	case comQuery:
		pe.kind = respResult
		if q, ok := queryText(body, p.caps&capQueryAttributes != 0, p.capsKnown); ok {
			text = string(q)
			if kw := firstKeyword(q); kw != "" {
				name, op = kw, kw
				if kw == "USE" {
					pe.db = useTarget(q)
				}
			}
		}
	case comStmtPrepare:
		pe.kind = respPrepare
		text = string(body)
		pe.text = text
	case comStmtExecute:
		pe.kind = respResult
		if len(body) >= 4 {
			if s, ok := p.stmts[le32(body)]; ok {
				name, op, text = s.name, s.op, s.text
			}
		}
	case comStmtClose:
		noResponse = true
		if len(body) >= 4 {
			delete(p.stmts, le32(body))
		}
	case comQuit, comStmtSendLongData:
		noResponse = true
	case comInitDB:
		if len(body) > 0 && len(body) <= maxNamespace && printable(body) {
			pe.db = string(body)
		}
	case comFieldList:
		pe.kind = respFieldList
		if t, _, _ := cstr(body); len(t) > 0 && len(t) <= maxNamespace && printable(t) {
			collection = string(t)
		}
	case comProcessInfo:
		pe.kind = respResult
	case comStmtFetch:
		pe.kind = respRows
	case comChangeUser:
		pe.kind = respAuth
	case comBinlogDump, comBinlogDumpGTID, comTableDump, comClone:
		pe.kind = respStream
	}
	msg.Kind = protocols.Request
	msg.Name = name
	msg.NoResponse = noResponse
	msg.Size = 4 + h.plen
	msg.Attrs = append(msg.Attrs, protocols.String(attrSystem, p.system))
	db := p.db
	if cmd == comInitDB && pe.db != "" {
		db = pe.db
	}
	if db != "" {
		msg.Attrs = append(msg.Attrs, protocols.String(attrNamespace, db))
	}
	if collection != "" {
		msg.Attrs = append(msg.Attrs, protocols.String(attrCollection, collection))
	}
	msg.Attrs = append(msg.Attrs, protocols.String(attrOperation, op))
	if text != "" {
		msg.Links = sqlcomment.Extract(text, p.cfg, msg.Links)
		if p.cfg.RedactsSQL() {
			text = sqlredact.Literals(text, sqlredact.MySQL)
		}
		msg.Attrs = append(msg.Attrs, protocols.String(attrQuery, text))
	}
	if !noResponse {
		p.push(pe)
	}
}

func (p *Parser) push(pe pending) {
	if len(p.pend) >= MaxPending {
		p.pend = p.pend[:copy(p.pend, p.pend[1:])]
		p.halves[1].started = false
	}
	p.pend = append(p.pend, pe)
}

func (p *Parser) pop() {
	p.pend = p.pend[:copy(p.pend, p.pend[1:])]
}

// serverPacket handles a packet from the server and reports whether it
// completed a response.
func (p *Parser) serverPacket(h *half, b []byte, msg *protocols.Message) bool {
	if len(b) == 0 {
		return false
	}
	if p.phase < phaseAuth && h.pseq == 0 && len(p.pend) == 0 {
		switch b[0] {
		case handshakeV10:
			p.greeting(b)
			return false
		case hdrERR:
			// The server refused the connection before any handshake.
			msg.Kind = protocols.Response
			msg.Unsolicited = true
			msg.Name = connectName
			msg.Size = 4 + h.plen
			msg.Attrs = append(msg.Attrs, protocols.String(attrSystem, p.system))
			p.errorPacket(b, msg)
			return true
		}
	}
	if len(p.pend) == 0 {
		return false // the answer to a command not seen
	}
	pe := &p.pend[0]
	if !h.started {
		if h.pseq != 1 && pe.kind != respAuth {
			return false // the tail of an answer whose start was not seen
		}
		h.started, h.st, h.rows, h.affected, h.size, h.partial = true, stFirst, 0, 0, 0, false
	}
	h.size += 4 + h.plen
	c := b[0]
	switch pe.kind {
	case respOne:
		return p.finish(h, b, msg)
	case respStream:
		h.quiet = c != hdrERR
		return p.finish(h, b, msg)
	case respAuth:
		if c == hdrOK || c == hdrERR {
			if c == hdrOK {
				p.authOK()
			}
			return p.finish(h, b, msg)
		}
		return false // auth switch, more data
	case respFieldList:
		if c == hdrERR || p.isTerminator(h, c) {
			return p.finish(h, b, msg)
		}
		return false
	case respRows:
		if c == hdrERR || p.isTerminator(h, c) {
			return p.finish(h, b, msg)
		}
		h.rows++
		return false
	case respPrepare:
		return p.prepareResponse(h, pe, b, msg)
	}
	return p.resultResponse(h, b, msg)
}

// isTerminator reports whether a packet starting with c ends a result set
// or a list of definitions: an EOF packet, or with CLIENT_DEPRECATE_EOF an
// OK packet with the EOF header (a row cannot start with 0xfe unless its
// first value is 16 MiB long).
func (p *Parser) isTerminator(h *half, c byte) bool {
	return c == hdrEOF && (h.plen < 9 || p.eof == eofDeprecated && h.plen < maxPacketLen)
}

// resultResponse follows the answer to COM_QUERY, COM_STMT_EXECUTE and
// COM_PROCESS_INFO (protocol page "COM_QUERY Response").
func (p *Parser) resultResponse(h *half, b []byte, msg *protocols.Message) bool {
	c := b[0]
	switch h.st {
	case stFirst:
		switch {
		case c == hdrOK && h.plen >= 7, c == hdrEOF:
			if p.moreResults(h, b) {
				return false
			}
			return p.finish(h, b, msg)
		case c == hdrERR:
			return p.finish(h, b, msg)
		case c == hdrLocalInfile:
			h.st = stInfile
			return false
		}
		n, k := lenenc(b)
		if k == 0 || n == 0 {
			return p.finish(h, b, msg)
		}
		h.st, h.n = stCols, n
	case stCols:
		if h.n--; h.n == 0 {
			h.st = stColsEOF
			if p.eof == eofDeprecated {
				h.st = stRows
			}
		}
	case stColsEOF:
		switch {
		case c == hdrERR:
			return p.finish(h, b, msg)
		case c == hdrEOF && h.plen == 5 || c == hdrEOF && p.eof == eofLegacy && h.plen < 9:
			// The EOF between definitions and rows.
			if p.eof == eofUnknown {
				p.eof = eofLegacy
			}
			if len(b) >= 5 && le16(b[3:])&statusCursorExists != 0 {
				return p.finish(h, b, msg) // rows come with COM_STMT_FETCH
			}
			h.st = stRows
		case c == hdrEOF && h.plen < maxPacketLen:
			// No EOF after the definitions: this OK ends an empty result.
			p.eof = eofDeprecated
			if p.moreResults(h, b) {
				return false
			}
			return p.finish(h, b, msg)
		default:
			if p.eof == eofUnknown {
				p.eof = eofDeprecated
			}
			h.rows++
			h.st = stRows
		}
	case stRows:
		switch {
		case c == hdrERR:
			return p.finish(h, b, msg)
		case p.isTerminator(h, c):
			if p.moreResults(h, b) {
				return false
			}
			return p.finish(h, b, msg)
		}
		h.rows++
	case stInfile:
		if c == hdrOK || c == hdrERR {
			return p.finish(h, b, msg)
		}
	}
	return false
}

// moreResults reads the status of an OK or EOF packet that ends a result
// and reports whether another result follows (SERVER_MORE_RESULTS_EXISTS).
func (p *Parser) moreResults(h *half, b []byte) bool {
	var status uint32
	if b[0] == hdrEOF && h.plen < 7 {
		if len(b) < 5 {
			return false
		}
		status = le16(b[3:])
	} else {
		rest := b[1:]
		affected, n := lenenc(rest)
		if n == 0 {
			return false
		}
		h.affected += int64(affected)
		rest = rest[n:]
		if _, n = lenenc(rest); n == 0 || len(rest) < n+2 {
			return false
		}
		status = le16(rest[n:])
	}
	if status&statusMoreResults == 0 {
		return false
	}
	h.st = stFirst
	return true
}

// prepareResponse follows the answer to COM_STMT_PREPARE (protocol page
// "COM_STMT_PREPARE Response").
func (p *Parser) prepareResponse(h *half, pe *pending, b []byte, msg *protocols.Message) bool {
	c := b[0]
	switch h.st {
	case stFirst:
		if c != hdrOK || len(b) < 9 {
			return p.finish(h, b, msg)
		}
		p.remember(le32(b[1:]), pe.text)
		cols, params := uint64(le16(b[5:])), uint64(le16(b[7:]))
		h.cols = cols
		h.n, h.cols = params, cols
		if params == 0 {
			h.n, h.cols = cols, 0
		}
		if h.n == 0 {
			return p.finish(h, b, msg)
		}
		h.st = stPrepDefs
	case stPrepDefs:
		if h.n--; h.n > 0 {
			return false
		}
		if p.eof != eofDeprecated {
			h.st = stPrepEOF
			if p.eof == eofLegacy || h.cols > 0 {
				return false
			}
		}
		// The last block, and no EOF known to follow: done (an EOF that
		// does follow is skipped as the tail of this answer).
		if h.cols == 0 {
			return p.finish(h, b, msg)
		}
		h.n, h.cols, h.st = h.cols, 0, stPrepDefs
	case stPrepEOF:
		if c == hdrEOF && h.plen < 9 {
			if p.eof == eofUnknown {
				p.eof = eofLegacy
			}
			if h.cols == 0 {
				return p.finish(h, b, msg)
			}
			h.n, h.cols, h.st = h.cols, 0, stPrepDefs
			return false
		}
		// No EOF: this is the first column definition.
		p.eof = eofDeprecated
		h.n, h.cols, h.st = h.cols, 0, stPrepDefs
		if h.n--; h.n == 0 {
			return p.finish(h, b, msg)
		}
	}
	return false
}

// remember stores a prepared statement's text under its id.
func (p *Parser) remember(id uint32, text string) {
	if p.stmts == nil {
		p.stmts = make(map[uint32]stmt)
	}
	for len(p.stmts) >= MaxStatements && len(p.order) > 0 {
		delete(p.stmts, p.order[0])
		p.order = p.order[1:]
	}
	if len(p.order) >= 2*MaxStatements {
		kept := p.order[:0]
		for _, id := range p.order {
			if _, ok := p.stmts[id]; ok {
				kept = append(kept, id)
			}
		}
		p.order = kept
	}
	s := stmt{text: text, name: "EXECUTE", op: "EXECUTE"}
	if kw := firstKeyword([]byte(text)); kw != "" {
		s.name, s.op = "EXECUTE "+kw, kw
	}
	p.stmts[id] = s
	p.order = append(p.order, id)
}

// finish emits the response in progress; b is its last packet's head.
func (p *Parser) finish(h *half, b []byte, msg *protocols.Message) bool {
	pe := p.pend[0]
	msg.Kind = protocols.Response
	msg.Size = h.size
	msg.Partial = h.partial
	msg.Status = protocols.StatusOK
	switch b[0] {
	case hdrERR:
		p.errorPacket(b, msg)
	case hdrOK:
		if pe.db != "" {
			p.db = pe.db
		}
	}
	if msg.Status == protocols.StatusOK && (pe.kind == respResult || pe.kind == respRows) {
		rows := h.rows
		if h.st == stFirst && rows == 0 {
			rows = h.affected
		}
		msg.Attrs = append(msg.Attrs, protocols.Int(attrRows, rows))
	}
	p.pop()
	h.started = false
	return true
}

// errorPacket reads an ERR packet into msg: the error code, not the message.
func (p *Parser) errorPacket(b []byte, msg *protocols.Message) {
	msg.Status = protocols.StatusError
	if len(b) >= 3 {
		code := strconv.Itoa(int(le16(b[1:])))
		msg.Attrs = append(msg.Attrs, protocols.String(attrStatusCode, code), protocols.String(attrErrorType, code))
	}
}

// greeting reads the server's Handshake V10.
func (p *Parser) greeting(b []byte) {
	p.phase = phaseGreeted
	version, rest, ok := cstr(b[1:])
	if !ok {
		return
	}
	if strings.Contains(strings.ToLower(string(version)), "mariadb") {
		p.system = systemMariaDB
	}
	// thread id (4), auth-plugin-data-part-1 (8), filler (1), capability
	// flags lower (2), charset (1), status (2), capability flags upper (2).
	if len(rest) >= 15 {
		p.server = le16(rest[13:])
	}
	if len(rest) >= 20 {
		p.server |= le16(rest[18:]) << 16
	}
}

// authOK starts the command phase after a successful authentication; the
// compressed protocol starts with the next packet.
func (p *Parser) authOK() {
	p.phase = phaseCommand
	switch {
	case p.caps&capCompress != 0:
		p.compress()
	case p.caps&capZstdCompression != 0:
		p.halves[0].quiet, p.halves[1].quiet = true, true
	}
}

// lostResponse emits a Partial response for the oldest pending command,
// whose answer was lost to a gap.
func (p *Parser) lostResponse(h *half, msg *protocols.Message) {
	msg.Kind = protocols.Response
	msg.Partial = true
	msg.Size = h.size
	h.started, h.size = false, 0
	if len(p.pend) > 0 {
		p.pop()
	}
}

// Gap implements protocols.Parser. Within a packet whose length is known the
// gap is skipped exactly and the response in progress is marked Partial.
// Otherwise the framing is lost: see the package documentation.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	if p.tls != nil {
		p.tls.Gap(dir, size)
		return
	}
	p.gap(dir, size)
}

func (p *Parser) gap(dir protocols.Direction, size int) {
	h := p.half(dir)
	if h == nil || h.quiet || size <= 0 {
		return
	}
	if dir == protocols.ToClient && h.started {
		h.partial = true
	}
	if h.z != nil {
		// Compressed packets cannot be found again.
		h.quiet = true
		if dir == protocols.ToClient && h.started {
			h.lost = 1
		}
		return
	}
	if h.resync {
		return
	}
	switch {
	case h.hdr && size <= h.plen:
		// The payload's head was lost: the packet's content is unknown.
		h.hdr, h.skip = false, h.plen-size
		h.cont = h.plen == maxPacketLen
		switch {
		case dir == protocols.ToServer:
			return // a command lost whole; its answer will find no request
		case h.started && (h.st == stRows || h.st == stCols || h.st == stPrepDefs) && h.plen >= 9:
			// Too long to be an EOF: a row or a definition.
			if h.st == stRows {
				h.rows++
			} else if h.n--; h.n == 0 {
				h.n = 1 // keep waiting for the block's end rather than guess
			}
			return
		case !h.started && h.pseq == 1 && len(p.pend) > 0:
			h.started = true // the first packet of an answer: lost below
		case !h.started:
			return
		}
	case !h.hdr && h.skip > 0 && size <= h.skip:
		h.skip -= size
		return
	}
	h.hdr, h.skip, h.cont = false, 0, false
	h.resync = true
	if dir == protocols.ToClient && h.started {
		h.lost = 1
	}
}

// resync looks for the next packet boundary after lost framing. ok reports
// that data[n:] starts a packet; done that msg holds a Partial response for
// a command whose answer was lost.
func (p *Parser) resync(dir protocols.Direction, h *half, data []byte, msg *protocols.Message) (n int, ok, done bool) {
	if dir == protocols.ToServer {
		// A command is the last thing the client sent before waiting: look
		// for a command packet that ends where the data ends.
		last := len(data)
		for i := 0; i+5 <= len(data); i++ {
			l := le24(data[i:])
			if data[i+3] != 0 || !isCommand(data[i+4]) || l == 0 {
				continue
			}
			if i+4+l == len(data) && plausibleCommand(data[i+4:]) {
				h.resync = false
				return i, true, false
			}
			if i+4+l > len(data) && l <= MaxQueryBytes && last == len(data) {
				last = i // may complete with more data
			}
		}
		if last == len(data) {
			last = max(0, len(data)-4)
		}
		return last, false, false
	}
	// The server answers the last command sent: a packet with sequence id 1
	// at the start of new data after a command starts its response, and the
	// answers to the commands before it were lost.
	if len(p.pend) == 0 || len(data) < 5 || data[3] != 1 || !plausibleResponse(data) {
		return len(data), false, false
	}
	h.resync = false
	if len(p.pend) > 1 {
		h.lost = len(p.pend) - 2
		p.lostResponse(h, msg)
		return 0, false, true
	}
	return 0, true, false
}

// plausibleCommand reports whether b (a command byte and its whole payload)
// looks like a command rather than bytes that happen to frame like one.
func plausibleCommand(b []byte) bool {
	switch b[0] {
	case comQuery, comStmtPrepare:
		return looksLikeSQL(b[1:])
	case comStmtExecute:
		return len(b) >= 10
	case comStmtClose, comStmtReset:
		return len(b) == 5
	case comQuit, comPing, comStatistics, comResetConnection:
		return len(b) == 1
	case comInitDB:
		return len(b) > 1 && printable(b[1:])
	}
	return false
}

// plausibleResponse reports whether b starts with a packet that may open a
// response: OK, ERR, EOF or a column count.
func plausibleResponse(b []byte) bool {
	l := le24(b)
	switch c := b[4]; {
	case c == hdrOK:
		return l >= 7
	case c == hdrERR:
		return l >= 3
	case c == hdrEOF:
		return l < 9
	case c < 0xfb:
		return l == 1
	}
	return false
}

// End implements protocols.Parser: a response cut by the end of the stream
// is emitted Partial.
func (p *Parser) End(dir protocols.Direction, msg *protocols.Message) bool {
	if p.tls != nil {
		return p.tls.End(dir, msg)
	}
	return p.end(dir, msg)
}

func (p *Parser) end(dir protocols.Direction, msg *protocols.Message) bool {
	h := p.half(dir)
	if h == nil || dir != protocols.ToClient {
		return false
	}
	if h.lost > 0 {
		h.lost--
		p.lostResponse(h, msg)
		return true
	}
	if h.started && len(p.pend) > 0 {
		p.lostResponse(h, msg)
		return true
	}
	return false
}

// Salvage implements protocols.Salvager: a command packet cut by a gap (lost
// packets or the snapshot length) is emitted Partial from its head, and the
// gap is then skipped within the packet.
func (p *Parser) Salvage(dir protocols.Direction, tail []byte, msg *protocols.Message) bool {
	h := p.half(dir)
	if dir != protocols.ToServer || p.tls != nil || h.quiet || h.z != nil || h.resync || h.skip > 0 || h.cont {
		return false
	}
	plen, pseq, b := h.plen, h.pseq, tail
	if !h.hdr {
		if len(b) < 5 {
			return false
		}
		plen, pseq, b = le24(b), b[3], b[4:]
	}
	if pseq != 0 || len(b) == 0 || len(b) >= plen || !isCommand(b[0]) {
		return false
	}
	h.hdr, h.plen, h.pseq = false, plen, pseq
	h.skip = plen - len(b)
	h.cont = plen == maxPacketLen
	p.command(h, b, msg)
	msg.Partial = true
	return true
}
