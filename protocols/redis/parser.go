package redis

import (
	"bytes"
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name used in span output and ParseErrors.
const Name = "redis"

// Limits bounding a Parser's state and the input it waits for.
const (
	// MaxBulkLen bounds a bulk string (the RESP specification's 512 MiB).
	// Bulk bodies are consumed as they arrive, never buffered.
	MaxBulkLen = 512 << 20
	// MaxAggregateLen bounds the element count of an array, set, push, map
	// or attribute (Redis's own limit on a command array is INT_MAX).
	MaxAggregateLen = 1<<31 - 1
	// MaxDepth bounds the nesting of aggregates in a reply.
	MaxDepth = 64
	// MaxInline bounds an inline command line (Redis's PROTO_INLINE_MAX_SIZE).
	MaxInline = 64 << 10
	// MaxHeaderLine bounds a length or count line: a type byte, a sign, 19
	// digits and CRLF.
	MaxHeaderLine = 23
	// MaxPending bounds the FIFO of commands awaiting a reply; when it is
	// full the oldest entry is dropped.
	MaxPending = 1024
	// MaxPlaceholders bounds the "?" placeholders in db.query.text; more
	// arguments are shown as " ...".
	MaxPlaceholders = 32
	// argCap is how many bytes of a command argument are kept, for the
	// few arguments that are kept at all (name, subcommand, SELECT index,
	// HELLO version, CLIENT REPLY mode).
	argCap = 32
	// wordCap is how many bytes of a reply element are kept (the kind of
	// a pub/sub message, the count of a subscription, an error's prefix).
	wordCap = 32
	// maxCandidate bounds a simple line that resynchronisation accepts as
	// the start of a reply.
	maxCandidate = 256
	// queryCacheLen is the number of db.query.text strings remembered so
	// that a steady stream of the same commands allocates nothing.
	queryCacheLen = 8
)

// Attribute keys and values (OpenTelemetry semantic conventions v1.37).
const (
	attrSystem    = string(semconv.DBSystemNameKey)
	attrOperation = string(semconv.DBOperationNameKey)
	attrQuery     = string(semconv.DBQueryTextKey)
	attrNamespace = string(semconv.DBNamespaceKey)
	attrStatus    = string(semconv.DBResponseStatusCodeKey)
	systemRedis   = "redis"
)

// Protocol describes Redis (RESP2 and RESP3) for a protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "Redis RESP2/RESP3: command names (never argument values or AUTH), db index, errors, pipelining, MULTI, pub/sub pushes, queue hand-off links (streams, lists, pub/sub)",
	Ports:   []uint16{6379},
	Sniff:   sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

var _ protocols.Parser = (*Parser)(nil)

// Parser is the Redis parser of one connection. Create it with New.
type Parser struct {
	rq reqHalf
	rs respHalf

	pend []pending // commands awaiting replies, oldest at head
	head int

	db        string // db.namespace: the index last SELECTed, "" before
	replyOff  bool   // CLIENT REPLY OFF is in effect
	skipNext  bool   // CLIENT REPLY SKIP: the next command gets no reply
	resp3     bool   // HELLO 3 was sent
	pubsub    bool   // RESP2 subscribed state: arrays may be messages
	monitor   bool   // MONITOR was sent
	subs      [3]int64
	queries   [queryCacheLen]queryEntry
	queryNext int
	keys      [keyCacheLen]string // recent keys of planned commands
	keyNext   int
}

// New returns a parser for one connection. The configuration is not used:
// nothing in it applies to Redis.
func New(_ *protocols.Config) *Parser {
	return &Parser{}
}

// Subscription families: what a SUBSCRIBE-like command expects and what a
// confirmation is.
const (
	famNone uint8 = iota
	famSubscribe
	famPSubscribe
	famSSubscribe
	famUnsubscribe
	famPUnsubscribe
	famSUnsubscribe
)

// pending is a command awaiting its replies.
type pending struct {
	fam     uint8
	plan    plan   // which reply elements give handoff links
	replies int32  // replies still expected; -1: unsubscribe from all (resolved at the first)
	got     int32  // confirmations consumed so far
	key1    string // the command's key for its reply's links (LPOP, XADD, LMOVE's source)
	key2    string // LMOVE's destination
	keyOK   uint8  // bit 0: key1 is known, bit 1: key2 is
}

type queryEntry struct {
	name string
	args int64
	text string
}

func (p *Parser) push(e pending) {
	if len(p.pend)-p.head >= MaxPending {
		p.head++ // drop the oldest
	}
	if p.head > 0 && len(p.pend) == cap(p.pend) {
		n := copy(p.pend, p.pend[p.head:])
		p.pend, p.head = p.pend[:n], 0
	}
	p.pend = append(p.pend, e)
}

func (p *Parser) first() *pending {
	if p.head >= len(p.pend) {
		return nil
	}
	return &p.pend[p.head]
}

func (p *Parser) pop() {
	if p.head >= len(p.pend) {
		return
	}
	p.head++
	if p.head == len(p.pend) {
		p.pend, p.head = p.pend[:0], 0
	}
}

// Parse implements protocols.Parser.
func (p *Parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	switch dir {
	case protocols.ToServer:
		return p.parseRequest(data, msg)
	case protocols.ToClient:
		return p.parseReply(data, msg)
	}
	return 0, false, parseErr(0, ErrDirection)
}

// Gap implements protocols.Parser; see the package documentation.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	if size <= 0 {
		return
	}
	switch dir {
	case protocols.ToServer:
		p.gapRequest(size)
	case protocols.ToClient:
		p.gapReply(size)
	}
}

// End implements protocols.Parser: a command or reply cut short by the end
// of the stream is emitted, marked Partial.
func (p *Parser) End(dir protocols.Direction, msg *protocols.Message) bool {
	switch dir {
	case protocols.ToServer:
		q := &p.rq
		if !q.active {
			return false
		}
		q.partial = true // complete commands were emitted already
		q.st = rqStart
		p.emitRequest(msg)
		return true
	case protocols.ToClient:
		r := &p.rs
		for r.complete || r.active {
			if !r.complete {
				r.partial, r.complete = true, true
			}
			r.st, r.stack = rsElem, r.stack[:0]
			if p.replyDone(msg) {
				return true
			}
		}
	}
	return false
}

// ---- commands (client to server) ----

type reqState uint8

const (
	rqStart     reqState = iota // expecting a command
	rqArgHeader                 // expecting an argument's "$len" line
	rqArgBody                   // argument bytes: remain left, CRLF included
	rqResync                    // skipping to a command after a gap
)

// arg is a kept command argument.
type arg struct {
	b    [argCap]byte
	n    int   // bytes kept
	full int64 // bytes seen
	lost bool  // a gap cut the argument
}

func (a *arg) reset() { a.n, a.full, a.lost = 0, 0, false }

func (a *arg) add(b []byte) {
	a.n += copy(a.b[a.n:], b)
	a.full += int64(len(b))
}

// value returns the argument's bytes, or nil when they were not all kept.
func (a *arg) value() []byte {
	if a.lost || a.full != int64(a.n) {
		return nil
	}
	return a.b[:a.n]
}

type reqHalf struct {
	st        reqState
	lineStart bool // rqResync: the next byte starts a line
	active    bool // a command is in progress
	partial   bool
	size      int
	argc      int64 // arguments, the command name included
	argi      int64 // arguments complete
	remain    int64
	keep      bool // the argument in progress is kept in args[argi]
	args      [3]arg
	cmd       string // resolved name; "" when unknown
	words     int64  // words of cmd taken from the arguments (1 or 2)

	// Handoff plan (handoff.go).
	plan       plan
	role       uint8 // what the argument in progress gives
	roleLost   bool  // a gap cut the argument in progress
	key1, key2 name
	dig        protocols.Digest // of the value in progress
	links      []protocols.Attr // handoff links of the command, reused
}

func (q *reqHalf) begin() {
	q.active, q.partial, q.size = true, false, 0
	q.argc, q.argi, q.remain, q.keep = 0, 0, 0, false
	q.cmd, q.words = "", 1
	q.plan, q.role, q.roleLost, q.links = planNone, roleNone, false, q.links[:0]
	q.key1.ok, q.key2.ok = false, false
	for i := range q.args {
		q.args[i].reset()
	}
}

// wants reports whether argument i is kept: the name always, the second
// word of a container command, SELECT's index, HELLO's protocol version and
// CLIENT REPLY's mode. Nothing else, so that AUTH, HELLO AUTH, CONFIG SET
// requirepass and MIGRATE AUTH passwords are never copied.
func (q *reqHalf) wants(i int64) bool {
	switch i {
	case 0:
		return true
	case 1:
		return isContainer(q.cmd) || q.cmd == "SELECT" || q.cmd == "HELLO"
	case 2:
		return q.cmd == "CLIENT REPLY"
	}
	return false
}

// resolve updates the command name once argument i is complete.
func (q *reqHalf) resolve(i int64) {
	switch i {
	case 0:
		q.cmd = commandName(q.args[0].value())
		q.plan = planOf(q.cmd)
	case 1:
		if isContainer(q.cmd) {
			if s := subcommandName(q.cmd, q.args[1].value()); s != "" {
				q.cmd, q.words = s, 2
			}
		}
	}
}

func (p *Parser) parseRequest(data []byte, msg *protocols.Message) (int, bool, error) {
	q := &p.rq
	n := 0
	for n < len(data) {
		rest := data[n:]
		switch q.st {
		case rqStart:
			if rest[0] == '*' {
				line, k, err := headerLine(rest)
				if err != nil {
					return n, false, parseErr(n, err)
				}
				if k == 0 {
					return n, false, nil
				}
				v, ok := parseLength(line[1:], false)
				if !ok {
					return n, false, parseErr(n, ErrHeader)
				}
				if v > MaxAggregateLen {
					return n, false, parseErr(n, ErrAggregateTooLarge)
				}
				n += k
				if v <= 0 {
					continue // "*0" and "*-1": Redis ignores them
				}
				q.begin()
				q.size, q.argc, q.st = k, v, rqArgHeader
				continue
			}
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				if len(rest) >= MaxInline {
					return n, false, parseErr(n, ErrInlineTooLong)
				}
				return n, false, nil
			}
			if i >= MaxInline {
				return n, false, parseErr(n, ErrInlineTooLong)
			}
			line := trimCR(rest[:i])
			n += i + 1
			if len(bytes.Trim(line, " \t")) == 0 {
				continue // Redis ignores empty inline lines
			}
			q.begin()
			q.size = i + 1
			q.inline(line)
			p.emitRequest(msg)
			return n, true, nil

		case rqArgHeader:
			if rest[0] != '$' {
				return n, false, parseErr(n, ErrArgument)
			}
			line, k, err := headerLine(rest)
			if err != nil {
				return n, false, parseErr(n, err)
			}
			if k == 0 {
				return n, false, nil
			}
			v, ok := parseLength(line[1:], false)
			if !ok || v < 0 {
				return n, false, parseErr(n, ErrHeader)
			}
			if v > MaxBulkLen {
				return n, false, parseErr(n, ErrBulkTooLarge)
			}
			n += k
			q.size += k
			q.remain = v + 2
			q.keep = q.argi < int64(len(q.args)) && q.wants(q.argi)
			if q.keep {
				q.args[q.argi].reset()
			}
			q.argStart(q.argi)
			q.st = rqArgBody

		case rqArgBody:
			k := len(rest)
			if int64(k) > q.remain {
				k = int(q.remain)
			}
			if body := min(int64(k), q.remain-2); body > 0 {
				if q.keep {
					q.args[q.argi].add(rest[:body])
				}
				if q.role != roleNone {
					q.argData(rest[:body])
				}
			}
			n += k
			q.size += k
			q.remain -= int64(k)
			if q.remain > 0 {
				continue
			}
			i := q.argi
			q.argi++
			if q.keep {
				q.resolve(i)
			}
			q.argEnd()
			q.keep = false
			if q.argi < q.argc {
				q.st = rqArgHeader
				continue
			}
			q.st = rqStart
			p.emitRequest(msg)
			return n, true, nil

		case rqResync:
			k, found := resyncRequest(rest, q.lineStart)
			n += k
			if k > 0 {
				q.lineStart = data[n-1] == '\n'
			}
			if !found {
				return n, false, nil
			}
			q.st = rqStart
			if q.active {
				p.emitRequest(msg)
				return n, true, nil
			}
		}
	}
	return n, false, nil
}

// inline splits an inline command into arguments as Redis does (spaces
// separate, double and single quotes group), keeping the wanted ones.
func (q *reqHalf) inline(line []byte) {
	var argc int64
	i := 0
	for {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i >= len(line) {
			break
		}
		start, end := i, i
		switch line[i] {
		case '"', '\'':
			quote := line[i]
			start = i + 1
			j := start
			for j < len(line) && line[j] != quote {
				// Redis's sdssplitargs: any escape inside double
				// quotes, only \' inside single quotes.
				if line[j] == '\\' && j+1 < len(line) && (quote == '"' || line[j+1] == '\'') {
					j++
				}
				j++
			}
			end = min(j, len(line))
			i = min(j+1, len(line))
		default:
			for i < len(line) && line[i] != ' ' && line[i] != '\t' {
				i++
			}
			end = i
		}
		if argc < int64(len(q.args)) && q.wants(argc) {
			a := &q.args[argc]
			a.reset()
			a.add(line[start:end])
			q.resolve(argc)
		}
		q.argStart(argc)
		q.argData(line[start:end])
		q.argEnd()
		argc++
	}
	q.argc, q.argi = argc, argc
}

func (p *Parser) gapRequest(size int) {
	q := &p.rq
	switch q.st {
	case rqResync:
		return
	case rqArgBody:
		if int64(size) <= q.remain {
			// Length framing: skip exactly.
			q.remain -= int64(size)
			q.partial = true
			if q.keep {
				q.args[q.argi].lost = true
			}
			q.roleLost = true
			return
		}
	}
	if !q.active {
		q.begin() // a placeholder for the command the gap began
	}
	q.partial = true
	q.role = roleNone
	q.st, q.lineStart = rqResync, true
}

// emitRequest fills msg from the command in progress, applies its effects
// on the connection and queues the replies it expects.
func (p *Parser) emitRequest(msg *protocols.Message) {
	q := &p.rq
	msg.Kind = protocols.Request
	msg.Name = q.cmd
	msg.Partial = q.partial
	msg.Size = q.size
	msg.Attrs = append(msg.Attrs, protocols.String(attrSystem, systemRedis))
	if q.cmd != "" {
		msg.Attrs = append(msg.Attrs,
			protocols.String(attrOperation, q.cmd),
			protocols.String(attrQuery, p.query(q.cmd, q.argc-q.words)))
	}
	if p.db != "" {
		msg.Attrs = append(msg.Attrs, protocols.String(attrNamespace, p.db))
	}
	msg.Links = append(msg.Links, q.links...)
	msg.NoResponse = p.effects()
	if !msg.NoResponse {
		e := pending{replies: 1, plan: q.plan}
		switch q.plan {
		case planXAdd, planPop, planMove:
			if q.key1.ok {
				e.key1, e.keyOK = p.intern(&q.key1), 1
			}
			if q.plan == planMove && q.key2.ok {
				e.key2, e.keyOK = p.intern(&q.key2), e.keyOK|2
			}
		}
		if f := commandFamily(q.cmd); f != famNone {
			e.fam = f
			switch {
			case q.argc > 1:
				e.replies = int32(min(q.argc-1, 1<<30))
			case f >= famUnsubscribe:
				e.replies = -1
			}
		}
		p.push(e)
	}
	q.active = false
}

// effects applies a command's effect on the connection state and reports
// whether the command gets no reply (CLIENT REPLY OFF and SKIP).
func (p *Parser) effects() (noReply bool) {
	q := &p.rq
	switch q.cmd {
	case "SELECT":
		if q.argc == 2 {
			if v := q.args[1].value(); isIndex(v) {
				p.db = dbName(v)
			}
		}
	case "RESET":
		p.db, p.replyOff, p.skipNext, p.resp3, p.pubsub, p.monitor = "0", false, false, false, false, false
		p.subs = [3]int64{}
	case "HELLO":
		if q.argc >= 2 {
			switch string(q.args[1].value()) {
			case "2":
				p.resp3 = false
			case "3":
				p.resp3 = true
			}
		}
	case "MONITOR":
		p.monitor = true
	case "CLIENT REPLY":
		if q.argc == 3 {
			switch v := q.args[2].value(); {
			case equalFold(v, "on"):
				p.replyOff, p.skipNext = false, false
				return false
			case equalFold(v, "off"):
				p.replyOff = true
				return true
			case equalFold(v, "skip"):
				if !p.replyOff {
					p.skipNext = true
				}
				return true
			}
		}
	}
	if p.replyOff {
		return true
	}
	if p.skipNext {
		p.skipNext = false
		return true
	}
	return false
}

// query returns the command name followed by one "?" per argument.
func (p *Parser) query(name string, args int64) string {
	args = max(args, 0)
	for _, e := range p.queries {
		if e.args == args && e.name == name && e.text != "" {
			return e.text
		}
	}
	shown := min(args, MaxPlaceholders)
	var b strings.Builder
	b.Grow(len(name) + 2*int(shown) + 4)
	b.WriteString(name)
	for i := int64(0); i < shown; i++ {
		b.WriteString(" ?")
	}
	if args > shown {
		b.WriteString(" ...")
	}
	text := b.String()
	p.queries[p.queryNext] = queryEntry{name: name, args: args, text: text}
	p.queryNext = (p.queryNext + 1) % queryCacheLen
	return text
}

// ---- replies (server to client) ----

type replyState uint8

const (
	rsElem   replyState = iota // expecting an element's type byte
	rsLine                     // the rest of a simple line
	rsBody                     // bulk bytes: remain left, CRLF included
	rsChunk                    // a streamed string: expecting ";len"
	rsResync                   // skipping to a reply after a gap
)

// frame is an aggregate being read.
type frame struct {
	left int64 // elements left; -1 for a streamed aggregate
	idx  int64 // elements read
	attr bool  // an attribute: it is not an element of its parent
}

// capture says which reply fact the element in progress gives.
type capture uint8

const (
	capNone  capture = iota
	capKind          // first element of the top-level aggregate
	capCount         // third element of the top-level aggregate
	capError         // a top-level error
)

type respHalf struct {
	st        replyState
	lineStart bool
	active    bool // a reply is in progress
	complete  bool // a reply is complete and awaits classification
	partial   bool
	size      int
	carry     int // bytes of confirmations consumed for the pending command
	remain    int64
	chunked   bool // rsBody reads a chunk of a streamed string
	stack     []frame

	typ    byte  // top-level type; 0 when not seen
	count  int64 // top-level aggregate length
	kind   [wordCap]byte
	kindN  int // -1 when absent or too long
	subs   int64
	hasSub bool
	errw   [wordCap]byte
	errN   int

	cap  capture
	cbuf [wordCap]byte
	cn   int
	long bool

	// Handoff plan (handoff.go).
	plan    plan  // of the command the reply answers
	act     uint8 // what the bulk string in progress gives
	actLost bool  // a gap cut it, or it is too long
	dig     protocols.Digest
	key, ch name
	id      [maxEntryID]byte
	idN     int
	pubDig  uint64 // a pub/sub message's payload digest
	pubOK   bool
	links   []protocols.Attr // handoff links of the reply, reused
}

func (r *respHalf) begin() {
	r.active, r.complete, r.partial, r.size = true, false, false, 0
	r.typ, r.count, r.kindN, r.subs, r.hasSub, r.errN = 0, 0, -1, 0, false, 0
	r.cap, r.cn, r.long = capNone, 0, false
	r.plan, r.act, r.pubOK, r.links = planNone, 0, false, r.links[:0]
	r.key.ok, r.ch.ok = false, false
}

func (r *respHalf) keep(b []byte) {
	if r.cap == capNone {
		return
	}
	if len(b) > len(r.cbuf)-r.cn {
		r.long = true
	}
	r.cn += copy(r.cbuf[r.cn:], b)
}

// captured stores the captured element as the fact it gives.
func (r *respHalf) captured() {
	v := trimCR(r.cbuf[:r.cn])
	switch r.cap {
	case capKind:
		if !r.long {
			r.kindN = copy(r.kind[:], v)
			lower(r.kind[:r.kindN])
		}
	case capCount:
		if n, ok := parseLength(v, false); ok && !r.long {
			r.subs, r.hasSub = n, true
		}
	case capError:
		if i := bytes.IndexByte(v, ' '); i >= 0 {
			v = v[:i]
		}
		r.errN = copy(r.errw[:], v)
	}
	r.cap, r.cn, r.long = capNone, 0, false
}

// target returns what an element of type c starting now gives.
func (r *respHalf) target(c byte) capture {
	switch len(r.stack) {
	case 0:
		if c == '-' || c == '!' {
			return capError
		}
	case 1:
		f := r.stack[0]
		if f.attr {
			return capNone
		}
		switch {
		case f.idx == 0 && (c == '$' || c == '+'):
			return capKind
		case f.idx == 2 && c == ':':
			return capCount
		}
	}
	return capNone
}

// done records the end of an element (or of an attribute, when attr) and
// reports whether the top-level reply is complete.
func (r *respHalf) done(attr bool) bool {
	for {
		if attr {
			return false // attributes are not elements of their parent
		}
		if len(r.stack) == 0 {
			return true
		}
		f := &r.stack[len(r.stack)-1]
		f.idx++
		if f.left < 0 {
			return false // streamed: ends at "."
		}
		f.left--
		if f.left > 0 {
			return false
		}
		attr = f.attr
		r.stack = r.stack[:len(r.stack)-1]
	}
}

func (p *Parser) parseReply(data []byte, msg *protocols.Message) (int, bool, error) {
	r := &p.rs
	if r.complete && p.replyDone(msg) {
		return 0, true, nil
	}
	n := 0
	for n < len(data) {
		rest := data[n:]
		top := false
		switch r.st {
		case rsElem:
			c := rest[0]
			if !r.active {
				if c == '\r' || c == '\n' {
					n++ // stray line ends between replies: ignored
					continue
				}
				r.begin()
				if h := p.first(); h != nil {
					r.plan = h.plan
				}
			}
			switch c {
			case '+', '-', ':', '_', ',', '#', '(':
				if len(r.stack) == 0 {
					r.typ = c
				}
				r.cap = r.target(c)
				n++
				r.size++
				r.st = rsLine
				continue
			case '$', '!', '=', '*', '~', '>', '%', '|', '.':
			default:
				return n, false, parseErr(n, ErrType)
			}
			line, k, err := headerLine(rest)
			if err != nil {
				return n, false, parseErr(n, err)
			}
			if k == 0 {
				return n, false, nil
			}
			if c == '.' {
				if len(line) != 1 || len(r.stack) == 0 || r.stack[len(r.stack)-1].left >= 0 {
					return n, false, parseErr(n, ErrHeader)
				}
				n += k
				r.size += k
				f := r.stack[len(r.stack)-1]
				r.stack = r.stack[:len(r.stack)-1]
				top = r.done(f.attr)
				break
			}
			v, ok := parseLength(line[1:], c != '!' && c != '=' && c != '|')
			if !ok || (v == lenNull && c != '$' && c != '*') {
				return n, false, parseErr(n, ErrHeader)
			}
			n += k
			r.size += k
			if len(r.stack) == 0 && c != '|' {
				r.typ, r.count = c, v
			}
			switch c {
			case '$', '!', '=':
				if v > MaxBulkLen {
					return n - k, false, parseErr(n-k, ErrBulkTooLarge)
				}
				switch v {
				case lenNull:
					top = r.done(false)
				case lenStream:
					r.cap = capNone
					r.st = rsChunk
				default:
					r.cap = r.target(c)
					if c == '$' {
						r.factStart(p.factTarget())
					}
					r.remain, r.chunked, r.st = v+2, false, rsBody
				}
			default: // aggregates
				if v > MaxAggregateLen {
					return n - k, false, parseErr(n-k, ErrAggregateTooLarge)
				}
				if (c == '%' || c == '|') && v > 0 {
					v *= 2
				}
				if v == 0 || v == lenNull {
					top = r.done(c == '|')
					break
				}
				if len(r.stack) >= MaxDepth {
					return n - k, false, parseErr(n-k, ErrDepth)
				}
				if v == lenStream {
					v = -1
				}
				r.stack = append(r.stack, frame{left: v, attr: c == '|'})
			}

		case rsLine:
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				r.keep(rest)
				n += len(rest)
				r.size += len(rest)
				continue
			}
			r.keep(rest[:i])
			n += i + 1
			r.size += i + 1
			r.captured()
			r.st = rsElem
			top = r.done(false)

		case rsBody:
			k := len(rest)
			if int64(k) > r.remain {
				k = int(r.remain)
			}
			if body := min(int64(k), r.remain-2); body > 0 {
				r.keep(rest[:body])
				if r.act != 0 {
					r.factData(rest[:body])
				}
			}
			n += k
			r.size += k
			r.remain -= int64(k)
			if r.remain > 0 {
				continue
			}
			if r.chunked {
				r.st = rsChunk
				continue
			}
			r.captured()
			p.factEnd()
			r.st = rsElem
			top = r.done(false)

		case rsChunk:
			if rest[0] != ';' {
				return n, false, parseErr(n, ErrHeader)
			}
			line, k, err := headerLine(rest)
			if err != nil {
				return n, false, parseErr(n, err)
			}
			if k == 0 {
				return n, false, nil
			}
			v, ok := parseLength(line[1:], false)
			if !ok || v < 0 {
				return n, false, parseErr(n, ErrHeader)
			}
			if v > MaxBulkLen {
				return n, false, parseErr(n, ErrBulkTooLarge)
			}
			n += k
			r.size += k
			if v == 0 {
				r.st = rsElem
				top = r.done(false)
				break
			}
			r.remain, r.chunked, r.st = v+2, true, rsBody

		case rsResync:
			k, found := resyncReply(rest, r.lineStart)
			n += k
			if k > 0 {
				r.lineStart = data[n-1] == '\n'
			}
			if !found {
				return n, false, nil
			}
			r.st, r.stack = rsElem, r.stack[:0]
			top = r.active
		}
		if top {
			r.complete = true
			if p.replyDone(msg) {
				return n, true, nil
			}
		}
	}
	return n, false, nil
}

func (p *Parser) gapReply(size int) {
	r := &p.rs
	switch r.st {
	case rsResync:
		return
	case rsBody:
		if !r.complete && int64(size) <= r.remain {
			// Length framing: skip exactly.
			r.remain -= int64(size)
			r.partial = true
			if r.cap != capNone {
				r.long = true
			}
			r.actLost = true
			return
		}
	}
	if !r.complete {
		if !r.active {
			r.begin() // a placeholder for the reply the gap began
		}
		r.partial = true
	}
	r.cap, r.cn, r.long = capNone, 0, false
	r.act = 0
	r.st, r.lineStart, r.stack = rsResync, true, r.stack[:0]
}

// confirmFamily returns the subscription family of a complete reply that
// confirms a SUBSCRIBE-like command, or famNone.
func (p *Parser) confirmFamily() uint8 {
	r := &p.rs
	if r.count != 3 || !r.hasSub || r.kindN < 0 || (r.typ != '>' && (r.typ != '*' || p.resp3)) {
		return famNone
	}
	switch string(r.kind[:r.kindN]) {
	case "subscribe":
		return famSubscribe
	case "psubscribe":
		return famPSubscribe
	case "ssubscribe":
		return famSSubscribe
	case "unsubscribe":
		return famUnsubscribe
	case "punsubscribe":
		return famPUnsubscribe
	case "sunsubscribe":
		return famSUnsubscribe
	}
	return famNone
}

// replyDone classifies a complete reply: a confirmation counted towards its
// SUBSCRIBE-like command, a pub/sub message or push, or the reply to the
// oldest pending command. It fills msg and returns true when a message is
// emitted; it returns false when the reply was consumed silently.
func (p *Parser) replyDone(msg *protocols.Message) bool {
	r := &p.rs
	head := p.first()
	kind := ""
	if r.kindN >= 0 {
		kind = string(r.kind[:r.kindN]) // compared only; not retained
	}
	if fam := p.confirmFamily(); fam != famNone {
		g := (fam - 1) % 3
		if head != nil && head.fam == fam && head.replies != 0 {
			if head.replies < 0 {
				head.replies = int32(max(1, min(p.subs[g], 1<<30)))
			}
			head.replies--
			head.got++
		}
		if fam < famUnsubscribe {
			p.subs[g]++
		} else if p.subs[g] > 0 {
			p.subs[g]--
		}
		p.pubsub = r.subs > 0
		if head != nil && head.fam == fam {
			if head.replies > 0 {
				r.carry += r.size // wait for the other confirmations
				p.endReply()
				return false
			}
			p.pop()
			p.fillReply(msg, protocols.StatusOK)
			return true
		}
		p.fillUnsolicited(msg, pushName(kind))
		return true
	}
	switch {
	case r.typ == '>':
		p.fillUnsolicited(msg, pushName(kind))
		return true
	case r.typ == '*' && !p.resp3 && isMessage(kind, r.count) && (p.pubsub || head == nil || head.fam != famNone):
		p.fillUnsolicited(msg, pushName(kind))
		return true
	case r.typ == '+' && p.monitor && head == nil:
		p.fillUnsolicited(msg, "MONITOR")
		return true
	}
	if head != nil && head.fam != famNone && head.got > 0 {
		// Confirmations were consumed but fewer than expected, and this
		// reply is something else: end that command first and keep this
		// reply for the next call.
		p.pop()
		msg.Kind, msg.Status, msg.Size = protocols.Response, protocols.StatusOK, r.carry
		r.carry = 0
		return true
	}
	p.pop()
	status := protocols.StatusOK
	switch {
	case r.typ == '-' || r.typ == '!':
		status = protocols.StatusError
	case r.typ == 0:
		status = protocols.StatusUnknown
	}
	p.fillReply(msg, status)
	return true
}

func (p *Parser) fillReply(msg *protocols.Message, status protocols.Status) {
	r := &p.rs
	msg.Kind = protocols.Response
	msg.Status = status
	msg.Partial = r.partial
	msg.Size = r.carry + r.size
	if status == protocols.StatusError && r.errN > 0 {
		msg.Attrs = append(msg.Attrs, protocols.String(attrStatus, errorPrefix(r.errw[:r.errN])))
	}
	msg.Links = append(msg.Links, r.links...)
	r.carry = 0
	p.endReply()
}

func (p *Parser) fillUnsolicited(msg *protocols.Message, name string) {
	r := &p.rs
	msg.Kind = protocols.Response
	msg.Unsolicited = true
	msg.Name = name
	msg.Status = protocols.StatusOK
	msg.Partial = r.partial
	msg.Size = r.size
	msg.Attrs = append(msg.Attrs, protocols.String(attrSystem, systemRedis))
	switch name {
	case "PUBSUB message", "PUBSUB pmessage", "PUBSUB smessage":
		p.pubsubLink()
		msg.Links = append(msg.Links, r.links...)
	}
	p.endReply()
}

func (p *Parser) endReply() {
	r := &p.rs
	r.active, r.complete, r.partial, r.size = false, false, false, 0
}

// ---- names ----

// commandName returns the upper-case name of a command: interned when it
// is a known one, copied when it looks like a module command (FT.SEARCH),
// "" otherwise (so that junk never becomes a name).
func commandName(b []byte) string {
	if len(b) == 0 || len(b) > argCap {
		return ""
	}
	var buf [argCap]byte
	u := upper(buf[:0], b)
	if s, ok := find(commands[:], u); ok {
		return s
	}
	if u[0] < 'A' || u[0] > 'Z' {
		return ""
	}
	for _, c := range u {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '|' || c == ':') {
			return ""
		}
	}
	return string(u)
}

// subcommandName returns the interned two-word name ("CLIENT SETNAME"), or
// "" when sub is not a known subcommand of the container command.
func subcommandName(cmd string, sub []byte) string {
	if len(sub) == 0 || len(cmd)+1+len(sub) > 2*argCap {
		return ""
	}
	var buf [2 * argCap]byte
	u := append(buf[:0], cmd...)
	u = append(u, ' ')
	u = upper(u, sub)
	s, _ := find(subcommands[:], u)
	return s
}

// find returns the element of the sorted list equal to key.
func find(list []string, key []byte) (string, bool) {
	lo, hi := 0, len(list)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if list[m] < string(key) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(list) && list[lo] == string(key) {
		return list[lo], true
	}
	return "", false
}

// isContainer reports whether cmd takes a subcommand as its second word.
func isContainer(cmd string) bool {
	switch cmd {
	case "ACL", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "FUNCTION", "LATENCY", "MEMORY",
		"MODULE", "OBJECT", "PUBSUB", "SCRIPT", "SENTINEL", "SLOWLOG", "XGROUP", "XINFO":
		return true
	}
	return false
}

func commandFamily(cmd string) uint8 {
	switch cmd {
	case "SUBSCRIBE":
		return famSubscribe
	case "PSUBSCRIBE":
		return famPSubscribe
	case "SSUBSCRIBE":
		return famSSubscribe
	case "UNSUBSCRIBE":
		return famUnsubscribe
	case "PUNSUBSCRIBE":
		return famPUnsubscribe
	case "SUNSUBSCRIBE":
		return famSUnsubscribe
	}
	return famNone
}

// isMessage reports whether a RESP2 array of n elements starting with kind
// is a pub/sub message.
func isMessage(kind string, n int64) bool {
	switch kind {
	case "message", "smessage":
		return n == 3
	case "pmessage":
		return n == 4
	}
	return false
}

// pushName names an unsolicited message by its kind, without its values.
func pushName(kind string) string {
	switch kind {
	case "message":
		return "PUBSUB message"
	case "pmessage":
		return "PUBSUB pmessage"
	case "smessage":
		return "PUBSUB smessage"
	case "subscribe":
		return "PUBSUB subscribe"
	case "psubscribe":
		return "PUBSUB psubscribe"
	case "ssubscribe":
		return "PUBSUB ssubscribe"
	case "unsubscribe":
		return "PUBSUB unsubscribe"
	case "punsubscribe":
		return "PUBSUB punsubscribe"
	case "sunsubscribe":
		return "PUBSUB sunsubscribe"
	case "invalidate":
		return "PUSH invalidate"
	}
	return "PUSH"
}

// errorPrefixes are the error codes Redis sends, interned.
var errorPrefixes = [...]string{
	"ASK", "BUSY", "BUSYGROUP", "BUSYKEY", "CLUSTERDOWN", "CROSSSLOT", "ERR",
	"EXECABORT", "LOADING", "MASTERDOWN", "MISCONF", "MOVED", "NOAUTH",
	"NOGROUP", "NOPERM", "NOPROTO", "NOREPLICAS", "NOSCRIPT", "OOM",
	"READONLY", "TRYAGAIN", "UNBLOCKED", "UNKILLABLE", "WRONGPASS", "WRONGTYPE",
}

// errorPrefix returns the error code: the first word of an error when it
// is upper case (Redis's convention), else "ERR".
func errorPrefix(w []byte) string {
	for _, s := range errorPrefixes {
		if string(w) == s {
			return s
		}
	}
	if len(w) == 0 || len(w) > 24 {
		return "ERR"
	}
	for _, c := range w {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "ERR"
		}
	}
	return string(w)
}

// dbNames interns the common database indexes.
var dbNames = [...]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"}

func dbName(v []byte) string {
	for _, s := range dbNames {
		if string(v) == s {
			return s
		}
	}
	return string(v)
}

// isIndex reports whether v is a database index: up to 5 decimal digits.
func isIndex(v []byte) bool {
	if len(v) == 0 || len(v) > 5 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ---- framing helpers ----

// Special lengths parseLength returns.
const (
	lenNull   = -1 // "-1": a null (RESP2)
	lenStream = -2 // "?": a streamed string or aggregate (RESP3)
)

// headerLine returns the line at the start of data without its line end,
// and its length with it; k == 0 means the line is not complete yet.
func headerLine(data []byte) (line []byte, k int, err error) {
	lim := min(len(data), MaxHeaderLine)
	i := bytes.IndexByte(data[:lim], '\n')
	if i < 0 {
		if len(data) >= MaxHeaderLine {
			return nil, 0, ErrHeader
		}
		return nil, 0, nil
	}
	return trimCR(data[:i]), i + 1, nil
}

// parseLength parses a decimal length, "-1" (lenNull) or, with stream,
// "?" (lenStream).
func parseLength(b []byte, stream bool) (int64, bool) {
	switch {
	case len(b) == 2 && b[0] == '-' && b[1] == '1':
		return lenNull, true
	case len(b) == 1 && b[0] == '?':
		return lenStream, stream
	case len(b) == 0 || len(b) > 18:
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// resyncRequest returns how many bytes of data to skip to reach a line that
// starts a command array ("*N\r\n$"), and whether one was found. It stops
// before an incomplete line that may still become one.
func resyncRequest(data []byte, lineStart bool) (int, bool) {
	return resync(data, lineStart, plausibleCommand)
}

// resyncReply is resyncRequest for a line that starts a reply element.
func resyncReply(data []byte, lineStart bool) (int, bool) {
	return resync(data, lineStart, plausibleReply)
}

// verdict says whether bytes at a line start begin a message.
type verdict uint8

const (
	no verdict = iota
	maybe
	yes
)

func resync(data []byte, lineStart bool, plausible func([]byte) verdict) (int, bool) {
	i := 0
	if !lineStart {
		j := bytes.IndexByte(data, '\n')
		if j < 0 {
			return len(data), false
		}
		i = j + 1
	}
	for i < len(data) {
		switch plausible(data[i:]) {
		case yes:
			return i, true
		case maybe:
			return i, false
		}
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			return len(data), false
		}
		i += j + 1
	}
	return i, false
}

// plausibleCommand: "*" digits CRLF "$".
func plausibleCommand(b []byte) verdict {
	if b[0] != '*' {
		return no
	}
	i := 1
	for i < len(b) && i <= 10 && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == len(b) {
		if i <= 10 {
			return maybe
		}
		return no
	}
	if i == 1 || b[i] != '\r' {
		return no
	}
	const tail = "\r\n$"
	rest := b[i:]
	k := min(len(rest), len(tail))
	if string(rest[:k]) != tail[:k] {
		return no
	}
	if k < len(tail) {
		return maybe
	}
	return yes
}

// plausibleReply: a type byte and a well-formed line for it.
func plausibleReply(b []byte) verdict {
	lim := min(len(b), maxCandidate)
	i := bytes.IndexByte(b[:lim], '\n')
	if i < 0 {
		if len(b) >= maxCandidate {
			return no
		}
		// Judge the prefix: a bad one is rejected now.
		if !replyLine(b, false) {
			return no
		}
		return maybe
	}
	if i == 0 || b[i-1] != '\r' || !replyLine(b[:i-1], true) {
		return no
	}
	return yes
}

// replyLine reports whether line (without CRLF; cut anywhere unless
// complete) is a plausible first line of a reply element.
func replyLine(line []byte, complete bool) bool {
	if len(line) == 0 {
		return !complete
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return allIn(body, func(c byte) bool { return c >= ' ' && c < 0x7f }) && (!complete || len(body) > 0)
	case '-':
		word := body
		if j := bytes.IndexByte(body, ' '); j >= 0 {
			word = body[:j]
		}
		return allIn(word, func(c byte) bool { return c >= 'A' && c <= 'Z' }) && (len(word) > 0 || !complete && len(body) == 0)
	case ':', '(':
		if len(body) > 0 && body[0] == '-' {
			body = body[1:]
		}
		return allIn(body, isDigit) && (!complete || len(body) > 0) && len(body) <= 40
	case '$', '*', '%', '~', '>', '|', '!', '=':
		if string(body) == "-1" || string(body) == "?" || !complete && (string(body) == "-") {
			return true
		}
		return allIn(body, isDigit) && (!complete || len(body) > 0) && len(body) <= 10
	case '_':
		return len(body) == 0
	case '#':
		return len(body) == 0 && !complete || len(body) == 1 && (body[0] == 't' || body[0] == 'f')
	case ',':
		return allIn(body, func(c byte) bool {
			return isDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c == 'i' || c == 'n' || c == 'f' || c == 'a'
		}) && (!complete || len(body) > 0) && len(body) <= 40
	}
	return false
}

func allIn(b []byte, f func(byte) bool) bool {
	for _, c := range b {
		if !f(c) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

// upper appends b upper-cased (ASCII) to dst.
func upper(dst, b []byte) []byte {
	for _, c := range b {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// lower lower-cases b (ASCII) in place.
func lower(b []byte) {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// equalFold reports whether b equals the lower-case ASCII string s,
// ignoring ASCII case in b.
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
