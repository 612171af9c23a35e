package mongodb

import (
	"encoding/binary"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/sqlcomment"
)

// Name is the protocol name used in span output and ParseErrors.
const Name = "mongodb"

// Limits bounding a Parser's state and the input it waits for.
const (
	// MaxMessageSize bounds messageLength: the server's maxMessageSizeBytes
	// (48 MB). Larger lengths stop the flow.
	MaxMessageSize = 48_000_000
	// MaxDecompressed bounds the bytes an OP_COMPRESSED message is
	// decompressed to; only that prefix of the message it wraps is decoded.
	MaxDecompressed = 256 << 10
	// maxComment bounds the comment read for links.
	maxComment = 2048
)

// Opcodes.
const (
	opReply       = 1
	opUpdate      = 2001
	opInsert      = 2002
	opQuery       = 2004
	opGetMore     = 2005
	opDelete      = 2006
	opKillCursors = 2007
	opCompressed  = 2012
	opMsg         = 2013

	headerLen = 16
)

// OP_MSG flag bits.
const (
	flagChecksum   = 1 << 0
	flagMoreToCome = 1 << 1
	flagExhaust    = 1 << 16
	knownMsgFlags  = flagChecksum | flagMoreToCome | flagExhaust
)

// Attribute keys (OpenTelemetry semantic conventions v1.37.0, database).
const (
	attrSystem     = string(semconv.DBSystemNameKey)
	attrOperation  = string(semconv.DBOperationNameKey)
	attrCollection = string(semconv.DBCollectionNameKey)
	attrNamespace  = string(semconv.DBNamespaceKey)
	attrStatusCode = string(semconv.DBResponseStatusCodeKey)
	attrErrorType  = string(semconv.ErrorTypeKey)
	// Not semantic conventions.
	attrRequestID    = "mongodb.request_id"
	attrOpcode       = "mongodb.opcode"
	attrCompressor   = "mongodb.compressor"
	attrDecompressed = "mongodb.decompressed"
)

var systemMongoDB = semconv.DBSystemNameMongoDB.Value.AsString()

// Protocol describes MongoDB for a protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "MongoDB: OP_MSG, OP_COMPRESSED (snappy, zlib, zstd) and legacy opcodes; command, collection, database, comment trace context, ok/errors",
	IDLink:  "mongodb_request_id",
	Ports:   []uint16{27017, 27018, 27019},
	Sniff:   Sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

var (
	_ protocols.Parser   = (*Parser)(nil)
	_ protocols.Salvager = (*Parser)(nil)
)

// opName names an opcode, or returns "".
func opName(op int32) string {
	switch op {
	case opReply:
		return "OP_REPLY"
	case opUpdate:
		return "OP_UPDATE"
	case opInsert:
		return "OP_INSERT"
	case opQuery:
		return "OP_QUERY"
	case opGetMore:
		return "OP_GET_MORE"
	case opDelete:
		return "OP_DELETE"
	case opKillCursors:
		return "OP_KILL_CURSORS"
	case opCompressed:
		return "OP_COMPRESSED"
	case opMsg:
		return "OP_MSG"
	}
	return ""
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
	remain  int
	pending bool
	resync  bool
	m       protocols.Message
}

// Parser is the MongoDB parser of one connection. Create it with New.
type Parser struct {
	cfg    *protocols.Config
	limit  int
	halves [2]half
	dec    decompressor
	// Interned strings: a connection repeats its commands, collections
	// and databases.
	intern [8]string
	next   int
}

// New returns a parser for one connection; a nil cfg means defaults.
func New(cfg *protocols.Config) *Parser {
	return &Parser{cfg: cfg, limit: max(cfg.HeaderLimit(), headerLen+8)}
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

// str returns b as a string, from a small cache of recent strings when
// it is there, so that a connection's repeated names are not allocated.
func (p *Parser) str(b []byte) string {
	for _, s := range p.intern {
		if s == string(b) && s != "" {
			return s
		}
	}
	s := string(b)
	p.intern[p.next] = s
	p.next = (p.next + 1) % len(p.intern)
	return s
}

// Sniff reports ToServer when data starts with a plausible request header
// and ToClient for a plausible reply.
func Sniff(data []byte) protocols.Direction {
	if len(data) < headerLen+5 {
		return protocols.DirUnknown
	}
	for _, d := range [...]protocols.Direction{protocols.ToServer, protocols.ToClient} {
		if plausible(d, data) {
			return d
		}
	}
	return protocols.DirUnknown
}

// plausible reports whether data (at least 21 bytes) starts with a header
// of a message flowing in dir: a sane length, a known opcode that flows
// that way, and a first body field that fits it.
func plausible(dir protocols.Direction, data []byte) bool {
	length := int32(binary.LittleEndian.Uint32(data))
	reqID := int32(binary.LittleEndian.Uint32(data[4:]))
	respTo := int32(binary.LittleEndian.Uint32(data[8:]))
	op := int32(binary.LittleEndian.Uint32(data[12:]))
	if length < headerLen+5 || length > MaxMessageSize || reqID < 0 || respTo < 0 {
		return false
	}
	toServer := dir == protocols.ToServer
	switch op {
	case opMsg:
		flags := binary.LittleEndian.Uint32(data[16:])
		if flags&^knownMsgFlags != 0 || len(data) < 21 || data[20] > 1 {
			return false
		}
		return toServer == (respTo == 0) || !toServer && flags&flagMoreToCome != 0 && respTo != 0
	case opReply:
		return !toServer && respTo != 0 && binary.LittleEndian.Uint32(data[16:]) < 1<<4
	case opQuery:
		return toServer && respTo == 0 && binary.LittleEndian.Uint32(data[16:]) < 1<<8 && data[20] >= 0x20 && data[20] < 0x7f
	case opCompressed:
		orig := int32(binary.LittleEndian.Uint32(data[16:]))
		return toServer == (respTo == 0) && (orig == opMsg || orig == opQuery || orig == opReply)
	case opUpdate, opInsert, opGetMore, opDelete, opKillCursors:
		return toServer && respTo == 0 && binary.LittleEndian.Uint32(data[16:]) < 1<<4
	}
	return false
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
		return 0, false, nil
	}
	length := int32(binary.LittleEndian.Uint32(data))
	switch {
	case length < headerLen || opName(int32(binary.LittleEndian.Uint32(data[12:]))) == "":
		return 0, false, parseErr(0, ErrLength)
	case length > MaxMessageSize:
		return 0, false, parseErr(0, ErrTooLarge)
	}
	total := int(length)
	if total <= len(data) {
		p.decode(dir, data[:total], total, msg)
		return total, true, nil
	}
	if total <= p.limit || len(data) < p.limit {
		return 0, false, nil
	}
	h.m.Reset()
	p.decode(dir, data, total, &h.m)
	h.st, h.remain, h.pending = stSkip, total-len(data), true
	return len(data), false, nil
}

// scan looks for a plausible header in data after a lost boundary.
func scan(dir protocols.Direction, data []byte) (int, bool) {
	for i := 0; i < len(data); i++ {
		if len(data)-i < headerLen+5 {
			return i, false
		}
		if plausible(dir, data[i:]) {
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
	if h == nil || h.st != stHead || len(tail) < headerLen+5 || !plausible(dir, tail) {
		return false
	}
	total := int(binary.LittleEndian.Uint32(tail))
	if total <= len(tail) {
		return false
	}
	p.decode(dir, tail, total, msg)
	msg.Partial = true
	h.st, h.remain, h.pending = stSkip, total-len(tail), false
	return true
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

// decode fills msg from the message at data: its header and the body bytes
// at hand; total is its whole size.
func (p *Parser) decode(dir protocols.Direction, data []byte, total int, msg *protocols.Message) {
	reqID := int32(binary.LittleEndian.Uint32(data[4:]))
	respTo := int32(binary.LittleEndian.Uint32(data[8:]))
	op := int32(binary.LittleEndian.Uint32(data[12:]))
	body := data[headerLen:]
	msg.Size, msg.BodySize = total, total-headerLen
	msg.HasID = true
	reply := op == opReply || respTo != 0 && op != opQuery && dir == protocols.ToClient
	if reply {
		msg.Kind, msg.ID = protocols.Response, uint64(uint32(respTo))
	} else {
		msg.Kind, msg.ID = protocols.Request, uint64(uint32(reqID))
		msg.Attrs = append(msg.Attrs, protocols.String(attrSystem, systemMongoDB))
		if dir == protocols.ToClient {
			msg.Unsolicited = true
		}
	}
	if op == opCompressed {
		p.compressed(body, total, reply, msg)
	} else {
		p.op(op, body, total-headerLen, reply, msg)
	}
	if !reply {
		msg.Attrs = append(msg.Attrs, protocols.Int(attrRequestID, int64(reqID)))
	}
}

// op decodes the body of a message of opcode op; size is its whole size.
func (p *Parser) op(op int32, body []byte, size int, reply bool, msg *protocols.Message) {
	if !reply {
		msg.Attrs = append(msg.Attrs, protocols.String(attrOpcode, opName(op)))
	}
	var c command
	switch op {
	case opMsg:
		if len(body) < 5 {
			break
		}
		flags := binary.LittleEndian.Uint32(body)
		if !reply && flags&flagMoreToCome != 0 {
			msg.NoResponse = true
		}
		end := len(body)
		if flags&flagChecksum != 0 && len(body) == size {
			end -= 4 // the checksum, when the whole message is at hand
		}
		c.fromMsg(body[4:max(end, 4)])
	case opQuery:
		if len(body) < 4 {
			break
		}
		name, rest, ok := cstring(body[4:])
		if !ok || len(rest) < 8 {
			c.ns(name)
			break
		}
		c.fromQuery(name, rest[8:])
	case opReply:
		if len(body) < 20 {
			break
		}
		flags := binary.LittleEndian.Uint32(body)
		c.fromReply(flags, body[20:])
	case opInsert, opUpdate, opDelete, opGetMore, opKillCursors:
		c.legacy(op, body)
		msg.NoResponse = op != opGetMore
	}
	if reply {
		p.replyAttrs(&c, msg)
	} else {
		p.requestAttrs(&c, msg)
	}
}

// requestAttrs sets a request's name, attributes and links.
func (p *Parser) requestAttrs(c *command, msg *protocols.Message) {
	if len(c.name) == 0 {
		msg.Name = Name
		return
	}
	name := p.str(c.name)
	msg.Attrs = append(msg.Attrs, protocols.String(attrOperation, name))
	msg.Name = name
	if len(c.coll) > 0 {
		coll := p.str(c.coll)
		msg.Attrs = append(msg.Attrs, protocols.String(attrCollection, coll))
		msg.Name = p.spanName(name, coll)
	}
	if len(c.db) > 0 {
		msg.Attrs = append(msg.Attrs, protocols.String(attrNamespace, p.str(c.db)))
	}
	if c.auth {
		return
	}
	if len(c.comment) > 0 {
		msg.Links = sqlcomment.Pairs(string(c.comment), p.cfg, msg.Links)
	}
	// A comment document's string fields are pairs of their own:
	// {traceparent: "00-…"}.
	elements(c.commentDoc, func(key []byte, v bsoncore.Value) bool {
		if s, ok := strBytes(v); ok && len(key) > 0 {
			msg.Links = sqlcomment.Pairs(string(key)+"='"+string(s)+"'", p.cfg, msg.Links)
		}
		return true
	})
}

// spanName returns "<name> <coll>", interned.
func (p *Parser) spanName(name, coll string) string {
	n := len(name) + 1 + len(coll)
	for _, s := range p.intern {
		if len(s) == n && s[:len(name)] == name && s[len(name)] == ' ' && s[len(name)+1:] == coll {
			return s
		}
	}
	s := name + " " + coll
	p.intern[p.next] = s
	p.next = (p.next + 1) % len(p.intern)
	return s
}

// replyAttrs sets a reply's status and error attributes.
func (p *Parser) replyAttrs(c *command, msg *protocols.Message) {
	msg.Status = protocols.StatusOK
	if !c.failed {
		return
	}
	msg.Status = protocols.StatusError
	et := "error"
	switch {
	case len(c.codeName) > 0:
		et = p.str(c.codeName)
	case c.hasCode:
		et = itoa(c.code)
	}
	msg.Attrs = append(msg.Attrs, protocols.String(attrErrorType, et))
	if c.hasCode {
		msg.Attrs = append(msg.Attrs, protocols.String(attrStatusCode, itoa(c.code)))
	}
}

// itoa formats small error codes without allocating for the common ones.
func itoa(v int64) string {
	switch v {
	case 11000:
		return "11000"
	case 13:
		return "13"
	case 18:
		return "18"
	case 26:
		return "26"
	case 59:
		return "59"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var b [21]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// compressed decodes an OP_COMPRESSED message as the message it wraps.
func (p *Parser) compressed(body []byte, total int, reply bool, msg *protocols.Message) {
	if len(body) < 9 {
		if !reply {
			msg.Attrs = append(msg.Attrs, protocols.String(attrOpcode, "OP_COMPRESSED"))
		}
		return
	}
	orig := int32(binary.LittleEndian.Uint32(body))
	size := int(int32(binary.LittleEndian.Uint32(body[4:])))
	id := body[8]
	msg.Attrs = append(msg.Attrs, protocols.String(attrCompressor, compressorName(id)))
	var out []byte
	ok := false
	if len(body) == total-headerLen && size >= 0 { // whole messages only
		out, ok = p.dec.decompress(id, body[9:], size)
	}
	if !ok || opName(orig) == "" {
		if !reply {
			msg.Attrs = append(msg.Attrs, protocols.String(attrOpcode, opName(orig)))
		}
		msg.Attrs = append(msg.Attrs, protocols.String(attrDecompressed, "false"))
		if reply {
			msg.Status = protocols.StatusOK
		} else {
			msg.Name = Name
		}
		return
	}
	p.op(orig, out, size, reply, msg)
}
