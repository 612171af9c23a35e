package memcached

import (
	"bytes"

	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name in span output.
const Name = "memcached"

// Limits.
const (
	// MaxQueryText bounds db.query.text; longer texts end with " ...".
	MaxQueryText = 256
	// MaxData bounds a data block or binary body (memcached's item size
	// limit is at most 1 GiB).
	MaxData = 1 << 30
	// MaxPending bounds the binary requests remembered for quiet-reply
	// bookkeeping; when full the oldest is forgotten.
	MaxPending = 1024
	// frameLen is the UDP frame header's size.
	frameLen = 8
	// binHeaderLen is the binary protocol header's size.
	binHeaderLen = 24
)

// Attribute keys (OpenTelemetry semantic conventions v1.37.0).
const (
	attrSystem    = string(semconv.DBSystemNameKey)
	attrOperation = string(semconv.DBOperationNameKey)
	attrQuery     = string(semconv.DBQueryTextKey)
	attrBatch     = string(semconv.DBOperationBatchSizeKey)
	attrStatus    = string(semconv.DBResponseStatusCodeKey)
	attrRows      = string(semconv.DBResponseReturnedRowsKey)
)

// Protocol describes memcached for a protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:          Name,
	Summary:       "memcached text (incl. meta) and binary protocols over TCP and UDP: commands, keys (values never read), reply status, hits",
	Ports:         []uint16{11211},
	Sniff:         Sniff,
	New:           func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
	SniffDatagram: SniffDatagram,
	NewDatagram:   func(cfg *protocols.Config) protocols.Parser { return NewDatagram(cfg) },
}

var (
	_ protocols.Parser = (*Parser)(nil)
	_ protocols.Idler  = (*Parser)(nil)
)

type state uint8

const (
	stStart  state = iota // a line or a binary header
	stData                // skipping dataLeft bytes of a data block or binary value
	stResync              // after a gap
)

// half is one direction's message in progress.
type half struct {
	st       state
	binary   bool // the message in progress is binary
	inReply  bool // text reply: between VALUE/STAT lines and END
	final    bool // text: the reply ends with the data block (meta VA)
	dataLeft int
	size     int
	partial  bool
	emit     bool
	atStart  bool
	lenient  bool // resynchronised: a bad line resumes the resync
	// what the message says so far
	name    string
	query   []byte
	batch   int
	noreply bool
	rows    int
	status  string
	isErr   bool
	opaque  uint32
	quiet   bool
	stat    bool // a binary stat reply's statistic: no message
}

// pendingReq is a binary request awaiting its reply.
type pendingReq struct {
	opaque uint32
	quiet  bool
}

// Parser parses one memcached connection or UDP flow. Create it with New
// or NewDatagram.
type Parser struct {
	cfg     *protocols.Config
	udp     bool
	dirs    [2]half
	pending []pendingReq // binary requests, oldest first
	names   [16]string
	nameN   int
}

// New returns a parser for one TCP connection. cfg may be nil.
func New(cfg *protocols.Config) *Parser { return &Parser{cfg: cfg} }

// NewDatagram returns a parser for one UDP flow: each Parse call gets one
// datagram with its frame header. cfg may be nil.
func NewDatagram(cfg *protocols.Config) *Parser { return &Parser{cfg: cfg, udp: true} }

func (p *Parser) half(dir protocols.Direction) *half {
	if dir == protocols.ToClient {
		return &p.dirs[1]
	}
	return &p.dirs[0]
}

// Idle implements protocols.Idler.
func (p *Parser) Idle(dir protocols.Direction) bool {
	h := p.half(dir)
	return h.st == stStart && !h.inReply && !h.emit && h.name == "" && h.status == ""
}

// Parse implements protocols.Parser.
func (p *Parser) Parse(dir protocols.Direction, data []byte, m *protocols.Message) (int, bool, error) {
	if dir != protocols.ToServer && dir != protocols.ToClient {
		return 0, false, parseErr(0, ErrDirection)
	}
	if p.udp {
		return p.datagram(dir, data, m)
	}
	return p.stream(dir, data, m)
}

// stream parses TCP bytes.
func (p *Parser) stream(dir protocols.Direction, data []byte, m *protocols.Message) (int, bool, error) {
	h := p.half(dir)
	if h.emit {
		h.emit = false
		p.finish(dir, h, m)
		h.st, h.atStart = stResync, false
		return 0, true, nil
	}
	switch h.st {
	case stResync:
		n := p.resync(dir, h, data)
		if h.st != stStart || n > 0 {
			return n, false, nil
		}
	case stData:
		n := min(len(data), h.dataLeft)
		h.dataLeft -= n
		h.size += n
		if h.dataLeft > 0 {
			return n, false, nil
		}
		h.st = stStart
		if h.stat {
			h.reset()
			return n, false, nil
		}
		if h.binary || dir == protocols.ToServer || h.final {
			p.finish(dir, h, m)
			return n, true, nil
		}
		return n, false, nil // more lines of the reply
	}
	if len(data) == 0 {
		return 0, false, nil
	}
	if !h.inReply && (data[0] == magicRequest || data[0] == magicResponse) {
		return p.binaryHeader(dir, h, data, m)
	}
	i := bytes.IndexByte(data, '\n')
	limit := p.cfg.HeaderLimit()
	if i < 0 {
		if len(data) > limit {
			return 0, false, parseErr(0, ErrLineTooLong)
		}
		return 0, false, nil
	}
	if i > limit {
		return 0, false, parseErr(0, ErrLineTooLong)
	}
	line := bytes.TrimSuffix(data[:i], []byte{'\r'})
	h.size += i + 1
	var done bool
	var err error
	if dir == protocols.ToServer {
		done, err = p.command(h, line)
	} else {
		done, err = p.replyLine(h, line)
	}
	if err != nil {
		h.size -= i + 1
		if !h.lenient {
			return 0, false, parseErr(0, err)
		}
		h.reset()
		h.st, h.atStart = stResync, true
		return i + 1, false, nil
	}
	if done {
		p.finish(dir, h, m)
	}
	return i + 1, done, nil
}

func (h *half) reset() {
	h.binary, h.inReply, h.final, h.partial, h.noreply, h.isErr, h.quiet, h.stat = false, false, false, false, false, false, false, false
	h.name, h.status = "", ""
	h.query = h.query[:0]
	h.batch, h.rows, h.size, h.dataLeft = 0, 0, 0, 0
}

// words splits a line on spaces into dst (at most cap(dst) words; more
// are dropped and counted in n).
func words(dst [][]byte, b []byte) ([][]byte, int) {
	n := 0
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] == ' ' {
			i++
		}
		b = b[i:]
		if len(b) == 0 {
			break
		}
		j := bytes.IndexByte(b, ' ')
		if j < 0 {
			j = len(b)
		}
		if len(dst) < cap(dst) {
			dst = append(dst, b[:j])
		}
		n++
		b = b[j:]
	}
	return dst, n
}

// atoi parses a non-negative decimal, or returns -1.
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

// command kinds.
const (
	kindOther   = iota
	kindStorage // cmd key flags exptime bytes [cas] [noreply], then data
	kindGet     // cmd key...
	kindGat     // cmd exptime key...
	kindKey     // cmd key [args] [noreply]
	kindMeta    // mg/md/ma/ms/me key flags..., mn
	kindQuit
)

func commandKind(cmd string) (int, bool) {
	switch cmd {
	case "set", "add", "replace", "append", "prepend", "cas":
		return kindStorage, true
	case "get", "gets":
		return kindGet, true
	case "gat", "gats":
		return kindGat, true
	case "delete", "incr", "decr", "touch":
		return kindKey, true
	case "mg", "ms", "md", "ma", "me", "mn":
		return kindMeta, true
	case "quit":
		return kindQuit, true
	case "stats", "version", "flush_all", "verbosity", "verbose", "config", "lru_crawler",
		"slabs", "lru", "watch", "cache_memlimit", "shutdown", "misbehave", "debugtime", "extstore":
		return kindOther, true
	}
	return kindOther, false
}

// plausibleWord reports whether w can be a command word: lower-case
// letters, digits and '_', starting with a letter, at most 32 bytes.
func plausibleWord(w []byte) bool {
	if len(w) == 0 || len(w) > 32 || w[0] < 'a' || w[0] > 'z' {
		return false
	}
	for _, c := range w {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// command reads a text command line. It reports done for commands without
// a data block.
func (p *Parser) command(h *half, line []byte) (bool, error) {
	var wv [24][]byte
	w, total := words(wv[:0], line)
	if total == 0 {
		h.size = 0
		return false, nil // empty line: memcached ignores it
	}
	kind, known := commandKind(string(w[0]))
	if !known && !plausibleWord(w[0]) {
		return false, ErrCommand
	}
	h.reset()
	h.size = len(line) + 1
	h.name = p.intern(w[0])
	h.query = append(h.query[:0], w[0]...)
	last := w[len(w)-1]
	addKey := func(k []byte) {
		h.batch++
		if len(h.query)+1+len(k) > MaxQueryText {
			if !bytes.HasSuffix(h.query, []byte(" ...")) {
				h.query = append(h.query, " ..."...)
			}
			return
		}
		h.query = append(h.query, ' ')
		h.query = append(h.query, k...)
	}
	switch kind {
	case kindStorage:
		n := 6
		if string(w[0]) == "cas" {
			n = 7
		}
		if len(w) != n-1 && len(w) != n {
			return false, ErrCommand
		}
		size := atoi(w[4])
		if size < 0 || size > MaxData {
			return false, ErrCommand
		}
		addKey(w[1])
		h.noreply = len(w) == n && string(last) == "noreply"
		h.st, h.dataLeft = stData, size+2
		return false, nil
	case kindGet:
		if total < 2 {
			return false, ErrCommand
		}
		for _, k := range w[1:] {
			addKey(k)
		}
		h.batch = total - 1
	case kindGat:
		if total < 3 {
			return false, ErrCommand
		}
		for _, k := range w[2:] {
			addKey(k)
		}
		h.batch = total - 2
	case kindKey:
		if total < 2 {
			return false, ErrCommand
		}
		addKey(w[1])
		h.noreply = string(last) == "noreply"
	case kindMeta:
		if string(w[0]) != "mn" {
			if total < 2 {
				return false, ErrCommand
			}
			addKey(w[1])
		}
		for _, f := range w[min(2, len(w)):] {
			if len(f) == 1 && f[0] == 'q' {
				h.noreply = true
			}
		}
		if string(w[0]) == "ms" {
			if total < 3 {
				return false, ErrCommand
			}
			size := atoi(w[2])
			if size < 0 || size > MaxData {
				return false, ErrCommand
			}
			h.st, h.dataLeft = stData, size+2
			return false, nil
		}
	case kindQuit:
		h.noreply = true
	default:
		if string(w[0]) == "flush_all" || string(w[0]) == "verbosity" {
			h.noreply = string(last) == "noreply"
		}
		if len(w) > 1 && string(w[0]) == "stats" {
			h.query = append(h.query, ' ')
			h.query = append(h.query, w[1]...)
		}
	}
	return true, nil
}

// replyLine reads a text reply line. It reports done when the reply is
// complete.
func (p *Parser) replyLine(h *half, line []byte) (bool, error) {
	var wv [6][]byte
	w, total := words(wv[:0], line)
	if total == 0 {
		if !h.inReply {
			h.size = 0
		}
		return false, nil
	}
	word := w[0]
	switch string(word) {
	case "VALUE", "CONFIG":
		if len(w) < 4 {
			return false, ErrCommand
		}
		size := atoi(w[3])
		if size < 0 || size > MaxData {
			return false, ErrCommand
		}
		h.inReply = true
		h.rows++
		h.st, h.dataLeft = stData, size+2
		return false, nil
	case "VA":
		if len(w) < 2 {
			return false, ErrCommand
		}
		size := atoi(w[1])
		if size < 0 || size > MaxData {
			return false, ErrCommand
		}
		h.status = "VA"
		h.rows = 1
		h.final = true
		h.st, h.dataLeft = stData, size+2
		return false, nil
	case "STAT", "ITEM", "PREFIX":
		h.inReply = true
		return false, nil
	case "END":
		if !h.inReply {
			h.status = "END" // nothing found
			h.inReply = true
		}
		return true, nil
	}
	if atoi(word) >= 0 {
		return true, nil // incr/decr's new value
	}
	if !isReplyWord(word) {
		return false, ErrCommand
	}
	h.status = p.intern(word)
	switch string(word) {
	case "ERROR", "CLIENT_ERROR", "SERVER_ERROR":
		h.isErr = true
	}
	return true, nil
}

// isReplyWord reports whether w can start a reply line: upper-case
// letters and '_' (STORED, NOT_FOUND, VERSION, HD, EN, ...).
func isReplyWord(w []byte) bool {
	if len(w) == 0 || len(w) > 32 {
		return false
	}
	for _, c := range w {
		if !('A' <= c && c <= 'Z' || c == '_') {
			return false
		}
	}
	return true
}

// finish fills m with the message in progress and resets h.
func (p *Parser) finish(dir protocols.Direction, h *half, m *protocols.Message) {
	if dir == protocols.ToServer {
		m.Kind = protocols.Request
		m.Name = h.name
		if m.Name == "" {
			m.Name = Name
		}
		m.NoResponse = h.noreply
		m.Attrs = append(m.Attrs, protocols.String(attrSystem, Name))
		if h.name != "" {
			m.Attrs = append(m.Attrs, protocols.String(attrOperation, h.name))
		}
		if len(h.query) > 0 {
			m.Attrs = append(m.Attrs, protocols.String(attrQuery, string(h.query)))
		}
		if h.batch > 1 {
			m.Attrs = append(m.Attrs, protocols.Int(attrBatch, int64(h.batch)))
		}
	} else {
		m.Kind = protocols.Response
		m.Status = protocols.StatusOK
		if h.isErr {
			m.Status = protocols.StatusError
		}
		if h.status != "" {
			m.Attrs = append(m.Attrs, protocols.String(attrStatus, h.status))
		}
		if h.inReply || h.final {
			m.Attrs = append(m.Attrs, protocols.Int(attrRows, int64(h.rows)))
		}
	}
	if h.binary {
		m.ID, m.HasID = uint64(h.opaque), true
	}
	m.Partial = h.partial
	m.Size = h.size
	h.reset()
	h.st = stStart
}

// intern returns b as a string, from a small cache when it was seen lately.
func (p *Parser) intern(b []byte) string {
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

// Gap implements protocols.Parser.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	if dir != protocols.ToServer && dir != protocols.ToClient || size <= 0 || p.udp {
		return
	}
	h := p.half(dir)
	if h.st == stData {
		h.partial = true
		if size < h.dataLeft {
			h.dataLeft -= size
			h.size += size
			return
		}
		exact := size == h.dataLeft
		h.size += h.dataLeft
		h.dataLeft = 0
		if (h.binary || dir == protocols.ToServer || h.final) && !h.stat {
			h.emit = true
		}
		h.st, h.atStart = stResync, false
		if exact {
			h.st = stStart
			if !h.emit {
				// More lines of the reply follow.
				return
			}
		}
		return
	}
	// The gap cut a message, or swallowed the start of one (the tail
	// given back with it was an unfinished line): a Partial placeholder
	// keeps in-order pairing going.
	h.partial = true
	h.emit = true
	h.st, h.atStart = stResync, false
}

// resync skips to a plausible message start: a line starting with a known
// command or reply word, or a binary header.
func (p *Parser) resync(dir protocols.Direction, h *half, data []byte) int {
	off := 0
	for off < len(data) {
		if h.atStart {
			rest := data[off:]
			if len(rest) >= binHeaderLen && plausibleBinary(dir, rest) {
				h.st, h.lenient = stStart, true
				return off
			}
			i := bytes.IndexByte(rest, '\n')
			if i < 0 && len(rest) < 64 {
				return off
			}
			if i < 0 {
				i = len(rest)
			}
			var wv [1][]byte
			w, _ := words(wv[:0], bytes.TrimSuffix(rest[:i], []byte{'\r'}))
			if len(w) > 0 {
				_, known := commandKind(string(w[0]))
				if dir == protocols.ToServer && known || dir == protocols.ToClient && knownReply(w[0]) {
					h.st, h.lenient = stStart, true
					return off
				}
			}
		}
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			h.atStart = false
			return len(data)
		}
		off += i + 1
		h.atStart = true
	}
	return off
}

func knownReply(w []byte) bool {
	switch string(w) {
	case "VALUE", "END", "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED", "OK",
		"ERROR", "CLIENT_ERROR", "SERVER_ERROR", "STAT", "VERSION", "HD", "VA", "EN", "NF", "NS", "EX", "MN", "CONFIG":
		return true
	}
	return false
}

// End implements protocols.Parser: a message cut by the end of the stream
// is emitted, Partial.
func (p *Parser) End(dir protocols.Direction, m *protocols.Message) bool {
	if dir != protocols.ToServer && dir != protocols.ToClient || p.udp {
		return false
	}
	h := p.half(dir)
	if h.emit || h.st == stData || h.inReply {
		h.emit = false
		h.partial = true
		p.finish(dir, h, m)
		return true
	}
	return false
}

// datagram parses one UDP datagram: the frame header, then one request or
// the first datagram of a reply.
func (p *Parser) datagram(dir protocols.Direction, data []byte, m *protocols.Message) (int, bool, error) {
	if len(data) < frameLen {
		return 0, false, parseErr(0, ErrFrame)
	}
	reqID := uint64(data[0])<<8 | uint64(data[1])
	seq := int(data[2])<<8 | int(data[3])
	if dir == protocols.ToClient && seq > 0 {
		return len(data), false, nil // a later datagram of a reply
	}
	h := p.half(dir)
	h.reset()
	h.st = stStart
	body := data[frameLen:]
	done := false
	for guard := 0; guard < 1<<12 && !done; guard++ {
		m.Reset()
		n, d, err := p.stream(dir, body, m)
		if err != nil {
			h.reset()
			h.st = stStart
			if pe, ok := err.(*protocols.ParseError); ok {
				pe.Offset += len(data) - len(body)
			}
			return 0, false, err
		}
		body = body[n:]
		done = d
		if !d && (n == 0 || len(body) == 0) {
			break
		}
	}
	if !done {
		if h.st == stStart && !h.inReply && h.name == "" && h.status == "" {
			h.reset()
			return 0, false, parseErr(0, ErrCommand) // nothing in the datagram
		}
		m.Reset()
		// Cut by the end of the datagram: lost unless more datagrams
		// carry the rest.
		h.partial = int(data[4])<<8|int(data[5]) <= 1
		p.finish(dir, h, m)
	}
	h.reset()
	h.st = stStart
	m.ID, m.HasID = reqID, true
	return len(data), true, nil
}
