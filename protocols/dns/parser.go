package dns

import (
	"net/netip"
	"strconv"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/wiretrace/wiretrace/protocols"

	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// Name is the protocol name used in span output and ParseErrors.
const Name = "dns"

// Limits bounding a Parser's state and the work per message.
const (
	// MaxPending bounds the query ids a TCP parser remembers to tell a
	// zone transfer's continuation messages from answers to other queries.
	// When it is full the oldest id is forgotten (its answer is then
	// emitted as usual and paired by the builder).
	MaxPending = 64
	// MaxQuestions bounds the question count Sniff accepts (mDNS browsers
	// ask a few dozen at once).
	MaxQuestions = 64
	// MaxAnswerAddrs bounds the addresses kept in dns.answers.
	MaxAnswerAddrs = 8
	// maxNameText bounds the text of an escaped name: 255 octets, each at
	// most four characters (\DDD).
	maxNameText = 4 * 255
)

// headerLen is the size of the fixed message header (RFC 1035 section
// 4.1.1).
const headerLen = 12

// Attribute keys. OpenTelemetry (semconv v1.37) defines dns.question.name
// and dns.answers; the others are documented custom keys in the dns
// namespace (see doc.go).
var (
	attrQuestionName = string(semconv.DNSQuestionNameKey)
	attrAnswers      = string(semconv.DNSAnswersKey)
	attrTransport    = string(semconv.NetworkTransportKey)
	attrErrorType    = string(semconv.ErrorTypeKey)
)

const (
	attrQuestionType = "dns.question.type"
	attrResponseCode = "dns.response.code"
	attrAnswerCount  = "dns.response.answer_count"
	attrTruncated    = "dns.response.truncated"
)

// Protocol describes DNS over UDP and TCP for a protocols.Registry. The port
// hints are DNS (53), multicast DNS (5353, RFC 6762) and LLMNR (5355, RFC
// 4795), which share the message format.
var Protocol = &protocols.Protocol{
	Name:          Name,
	Summary:       "DNS over UDP/TCP (incl. mDNS, LLMNR): query name and type, response code, answers",
	Ports:         []uint16{53, 5353, 5355},
	Sniff:         sniffStream,
	New:           func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
	SniffDatagram: sniffDatagram,
	NewDatagram:   func(cfg *protocols.Config) protocols.Parser { return NewDatagram(cfg) },
}

var (
	_ protocols.Parser   = (*Parser)(nil)
	_ protocols.Salvager = (*Parser)(nil)
)

// Stats counts what a Parser consumed without emitting a Message.
type Stats struct {
	// Continuations counts TCP responses after the first to one query
	// (the further messages of a zone transfer, RFC 5936 section 2.2).
	Continuations uint64
	// Resyncs counts the times a gap cost the TCP length framing and the
	// parser searched for the next message.
	Resyncs uint64
}

// Parser parses the DNS messages of one UDP flow or one TCP connection.
type Parser struct {
	stream bool
	msg    dnsmessage.Parser
	// pending holds the ids of TCP queries awaiting an answer, oldest
	// first, in a ring of npending entries from head.
	pending   [MaxPending]uint16
	head      int
	npending  int
	lastID    uint16 // id of the last answered TCP query
	answered  bool
	dirs      [3]dirState // indexed by protocols.Direction
	text      []byte      // scratch for names
	addrs     []byte      // scratch for dns.answers
	stats     Stats
	transport string
}

// dirState is the TCP framing state of one direction.
type dirState struct {
	// skip is how many bytes of a message cut by a gap remain to be
	// dropped before the next message starts.
	skip int
	// lost is set when a gap cost the framing: the parser looks for a
	// plausible message start.
	lost bool
	// cut is the framed length (prefix included) of the message whose
	// start Salvage saw before a gap, and seen the bytes of it the parser
	// took as a salvaged message (0 when Salvage declined).
	cut, seen int
}

// New returns a parser for one TCP connection (RFC 7766: each message is
// preceded by its two-byte length).
func New(_ *protocols.Config) *Parser {
	return &Parser{stream: true, transport: "tcp"}
}

// NewDatagram returns a parser for one UDP flow: each Parse call gets one
// whole datagram.
func NewDatagram(_ *protocols.Config) *Parser {
	return &Parser{transport: "udp"}
}

// Stats returns the parser's counters.
func (p *Parser) Stats() Stats { return p.stats }

// Parse implements protocols.Parser. Over UDP data is one datagram and is
// always consumed whole; over TCP one framed message is consumed per call.
func (p *Parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	if dir != protocols.ToServer && dir != protocols.ToClient {
		return 0, false, parseErr(0, ErrDirection)
	}
	if !p.stream {
		if len(data) < headerLen {
			return 0, false, parseErr(0, ErrHeader)
		}
		done, err := p.message(data, msg)
		if err != nil {
			return 0, false, err
		}
		msg.Size = len(data)
		return len(data), done, nil
	}
	ds := &p.dirs[dir]
	if ds.skip > 0 {
		n := min(ds.skip, len(data))
		ds.skip -= n
		return n, false, nil
	}
	if ds.lost {
		k, found := resync(dir, data)
		if !found || k > 0 {
			ds.lost = !found
			return k, false, nil
		}
		ds.lost = false
	}
	if len(data) < 2 {
		return 0, false, nil
	}
	l := int(be16(data))
	if l < headerLen {
		return 0, false, parseErr(0, ErrHeader)
	}
	if len(data) < 2+l {
		return 0, false, nil
	}
	done, err := p.message(data[2:2+l], msg)
	if err != nil {
		if pe, ok := err.(*protocols.ParseError); ok {
			pe.Offset += 2
		}
		return 0, false, err
	}
	msg.Size = 2 + l
	return 2 + l, done, nil
}

// Gap implements protocols.Parser. Over TCP the length framing lets the
// parser skip exactly the rest of a message whose start it saw (its length
// prefix was in the tail offered to Salvage); otherwise it searches for the
// next plausible message. Over UDP a gap is a datagram cut at its end, which
// the driver reports after the datagram: nothing to do.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	if !p.stream || (dir != protocols.ToServer && dir != protocols.ToClient) || size <= 0 {
		return
	}
	ds := &p.dirs[dir]
	switch {
	case ds.lost:
	case ds.cut > 0:
		rem := ds.cut - ds.seen - size
		ds.cut, ds.seen = 0, 0
		if rem >= 0 {
			ds.skip = rem
		} else {
			ds.lost = true
		}
	case ds.skip > 0:
		ds.skip -= size
		if ds.skip < 0 {
			ds.skip, ds.lost = 0, true
		}
	default:
		// The gap starts at a message boundary and may hold any number
		// of messages.
		ds.lost = true
	}
	if ds.lost {
		ds.skip = 0
		p.stats.Resyncs++
	}
}

// Salvage implements protocols.Salvager for TCP: the start of a message cut
// by a gap gives its length, so the parser can skip the rest exactly, and
// when it holds the header and the questions the message is emitted,
// marked Partial.
func (p *Parser) Salvage(dir protocols.Direction, tail []byte, msg *protocols.Message) bool {
	if !p.stream || (dir != protocols.ToServer && dir != protocols.ToClient) {
		return false
	}
	ds := &p.dirs[dir]
	ds.cut, ds.seen = 0, 0
	if ds.lost || ds.skip > 0 || len(tail) < 2 {
		return false
	}
	l := int(be16(tail))
	if l < headerLen || len(tail) >= 2+l {
		return false
	}
	ds.cut = 2 + l
	if !p.salvage(tail[2:], msg) {
		return false
	}
	ds.seen = len(tail)
	msg.Partial = true
	msg.Size = len(tail)
	return true
}

// End implements protocols.Parser. DNS messages are length-delimited, so
// the end of a stream completes none.
func (p *Parser) End(protocols.Direction, *protocols.Message) bool { return false }

// message parses one whole message b and fills msg. It reports false for a
// message consumed without a Message (a zone transfer continuation).
func (p *Parser) message(b []byte, msg *protocols.Message) (bool, error) {
	if _, err := p.msg.Start(b); err != nil {
		return false, parseErr(0, ErrHeader)
	}
	h := header(b)
	q, hasQ, err := p.questions()
	if err != nil {
		return false, parseErr(headerLen, ErrQuestion)
	}
	if !h.response() {
		p.request(h, &q, hasQ, msg)
		return true, nil
	}
	if p.stream && !p.take(h.id()) && p.answered && h.id() == p.lastID {
		p.stats.Continuations++
		return false, nil
	}
	if p.stream {
		p.lastID, p.answered = h.id(), true
	}
	p.response(h, &q, hasQ, false, msg)
	return true, nil
}

// salvage fills msg from the header and questions at the start of a cut
// message b, and reports whether they were whole.
func (p *Parser) salvage(b []byte, msg *protocols.Message) bool {
	if _, err := p.msg.Start(b); err != nil {
		return false
	}
	h := header(b)
	q, hasQ, err := p.questions()
	if err != nil {
		return false
	}
	if !h.response() {
		p.request(h, &q, hasQ, msg)
		return true
	}
	p.take(h.id())
	p.lastID, p.answered = h.id(), true
	p.response(h, &q, hasQ, true, msg)
	return true
}

// questions reads the question section: the first question, whether there
// is one, and an error if any question is malformed.
func (p *Parser) questions() (dnsmessage.Question, bool, error) {
	q, err := p.msg.Question()
	if err == dnsmessage.ErrSectionDone {
		return q, false, nil
	}
	if err != nil {
		return q, false, err
	}
	return q, true, p.msg.SkipAllQuestions()
}

func (p *Parser) request(h hdr, q *dnsmessage.Question, hasQ bool, msg *protocols.Message) {
	msg.Kind = protocols.Request
	msg.ID, msg.HasID = uint64(h.id()), true
	if !p.stream && h.id() == 0 {
		// A multicast query (mDNS, RFC 6762 section 18.1): its answers go
		// to the group, not back along this flow.
		msg.NoResponse = true
	} else if p.stream {
		p.remember(h.id())
	}
	p.describe(h.opcode(), q, hasQ, msg)
	msg.Attrs = append(msg.Attrs, protocols.String(attrTransport, p.transport))
}

// response fills msg for a response; cut is set when b holds only the
// header and questions of a message cut by a gap.
func (p *Parser) response(h hdr, q *dnsmessage.Question, hasQ, cut bool, msg *protocols.Message) {
	msg.Kind = protocols.Response
	msg.ID, msg.HasID = uint64(h.id()), true
	rcode := h.rcode()
	naddr := 0
	p.addrs = p.addrs[:0]
	var first dnsmessage.ResourceHeader
	hasFirst := false
	if !cut {
		ok := true
		for {
			rh, err := p.msg.AnswerHeader()
			if err == dnsmessage.ErrSectionDone {
				break
			}
			if err != nil {
				ok = false
				break
			}
			if !hasFirst {
				first, hasFirst = rh, true
			}
			err = p.answer(&rh, &naddr)
			if err != nil {
				ok = false
				break
			}
		}
		if ok && p.msg.SkipAllAuthorities() != nil {
			ok = false
		}
		for ok {
			rh, err := p.msg.AdditionalHeader()
			if err == dnsmessage.ErrSectionDone {
				break
			}
			if err != nil {
				ok = false
				break
			}
			if rh.Type == dnsmessage.TypeOPT {
				rcode = uint16(rh.ExtendedRCode(dnsmessage.RCode(rcode)))
			}
			if p.msg.SkipAdditional() != nil {
				ok = false
			}
		}
		// Records past the questions that cannot be read: a datagram cut
		// by the snapshot length, or a corrupt record section.
		cut = !ok
	}
	msg.Partial = cut
	if !p.stream && h.id() == 0 {
		// A multicast answer or announcement (mDNS): it answers no query
		// of this flow.
		msg.Unsolicited = true
	}
	if hasQ {
		p.describe(h.opcode(), q, true, msg)
	} else if hasFirst {
		p.name("RESPONSE", &first.Name, first.Type, msg, false)
	} else {
		msg.Name = opcodeName(h.opcode())
	}
	rc := rcodeName(rcode)
	msg.Attrs = append(msg.Attrs,
		protocols.String(attrResponseCode, rc),
		protocols.Int(attrAnswerCount, int64(h.count(1))))
	if len(p.addrs) > 0 {
		msg.Attrs = append(msg.Attrs, protocols.String(attrAnswers, string(p.addrs)))
	}
	if h.truncated() {
		msg.Attrs = append(msg.Attrs, protocols.String(attrTruncated, "true"))
	}
	if rcodeOK(rcode) {
		msg.Status = protocols.StatusOK
	} else {
		msg.Status = protocols.StatusError
		msg.Attrs = append(msg.Attrs, protocols.String(attrErrorType, rc))
	}
}

// answer reads the answer whose header is rh, keeping A and AAAA addresses.
func (p *Parser) answer(rh *dnsmessage.ResourceHeader, naddr *int) error {
	if *naddr >= MaxAnswerAddrs {
		return p.msg.SkipAnswer()
	}
	var a netip.Addr
	switch rh.Type {
	case dnsmessage.TypeA:
		r, err := p.msg.AResource()
		if err != nil {
			return err
		}
		a = netip.AddrFrom4(r.A)
	case dnsmessage.TypeAAAA:
		r, err := p.msg.AAAAResource()
		if err != nil {
			return err
		}
		a = netip.AddrFrom16(r.AAAA)
	default:
		return p.msg.SkipAnswer()
	}
	if *naddr > 0 {
		p.addrs = append(p.addrs, ',')
	}
	p.addrs = a.AppendTo(p.addrs)
	*naddr++
	return nil
}

// describe names msg after its opcode and first question and sets the
// question attributes.
func (p *Parser) describe(opcode uint8, q *dnsmessage.Question, hasQ bool, msg *protocols.Message) {
	if !hasQ {
		msg.Name = opcodeName(opcode)
		return
	}
	p.name(opcodeName(opcode), &q.Name, q.Type, msg, true)
}

// name sets msg.Name to "<op> <TYPE> <name>" and, when question is set,
// the question attributes as substrings of it: one allocation.
func (p *Parser) name(op string, n *dnsmessage.Name, t dnsmessage.Type, msg *protocols.Message, question bool) {
	b := append(p.text[:0], op...)
	b = append(b, ' ')
	ts := len(b)
	b = appendType(b, t)
	te := len(b)
	b = append(b, ' ')
	ns := len(b)
	b = appendName(b, n)
	p.text = b
	s := string(b)
	msg.Name = s
	if question {
		msg.Attrs = append(msg.Attrs,
			protocols.String(attrQuestionName, s[ns:]),
			protocols.String(attrQuestionType, s[ts:te]))
	}
}

// remember records a TCP query id as awaiting its answer.
func (p *Parser) remember(id uint16) {
	if p.npending == MaxPending {
		p.head = (p.head + 1) % MaxPending
		p.npending--
	}
	p.pending[(p.head+p.npending)%MaxPending] = id
	p.npending++
}

// take removes the oldest pending query with the given id and reports
// whether there was one.
func (p *Parser) take(id uint16) bool {
	for i := 0; i < p.npending; i++ {
		if p.pending[(p.head+i)%MaxPending] != id {
			continue
		}
		for j := i; j > 0; j-- {
			p.pending[(p.head+j)%MaxPending] = p.pending[(p.head+j-1)%MaxPending]
		}
		p.head = (p.head + 1) % MaxPending
		p.npending--
		return true
	}
	return false
}

// appendName appends n as presentation text without the trailing dot ("."
// for the root), escaping as OpenTelemetry asks for dns.question.name:
// non-printable octets as \DDD, backslash and quote with a backslash, tab,
// CR and LF as \t, \r, \n.
func appendName(b []byte, n *dnsmessage.Name) []byte {
	d := n.Data[:n.Length]
	if len(d) > 1 && d[len(d)-1] == '.' {
		d = d[:len(d)-1]
	}
	for _, c := range d {
		switch {
		case c == '\\' || c == '"':
			b = append(b, '\\', c)
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c < 32 || c > 126:
			b = append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendType appends the mnemonic of t (RFC 3597 TYPEnnn when unknown).
func appendType(b []byte, t dnsmessage.Type) []byte {
	if s := typeName(uint16(t)); s != "" {
		return append(b, s...)
	}
	return strconv.AppendUint(append(b, "TYPE"...), uint64(t), 10)
}

// typeName returns the mnemonic of an IANA RR type, or "".
func typeName(t uint16) string {
	switch t {
	case 1:
		return "A"
	case 2:
		return "NS"
	case 5:
		return "CNAME"
	case 6:
		return "SOA"
	case 10:
		return "NULL"
	case 11:
		return "WKS"
	case 12:
		return "PTR"
	case 13:
		return "HINFO"
	case 14:
		return "MINFO"
	case 15:
		return "MX"
	case 16:
		return "TXT"
	case 17:
		return "RP"
	case 18:
		return "AFSDB"
	case 24:
		return "SIG"
	case 25:
		return "KEY"
	case 28:
		return "AAAA"
	case 29:
		return "LOC"
	case 33:
		return "SRV"
	case 35:
		return "NAPTR"
	case 36:
		return "KX"
	case 37:
		return "CERT"
	case 39:
		return "DNAME"
	case 41:
		return "OPT"
	case 42:
		return "APL"
	case 43:
		return "DS"
	case 44:
		return "SSHFP"
	case 45:
		return "IPSECKEY"
	case 46:
		return "RRSIG"
	case 47:
		return "NSEC"
	case 48:
		return "DNSKEY"
	case 49:
		return "DHCID"
	case 50:
		return "NSEC3"
	case 51:
		return "NSEC3PARAM"
	case 52:
		return "TLSA"
	case 53:
		return "SMIMEA"
	case 55:
		return "HIP"
	case 59:
		return "CDS"
	case 60:
		return "CDNSKEY"
	case 61:
		return "OPENPGPKEY"
	case 62:
		return "CSYNC"
	case 63:
		return "ZONEMD"
	case 64:
		return "SVCB"
	case 65:
		return "HTTPS"
	case 99:
		return "SPF"
	case 108:
		return "EUI48"
	case 109:
		return "EUI64"
	case 249:
		return "TKEY"
	case 250:
		return "TSIG"
	case 251:
		return "IXFR"
	case 252:
		return "AXFR"
	case 253:
		return "MAILB"
	case 254:
		return "MAILA"
	case 255:
		return "ANY"
	case 256:
		return "URI"
	case 257:
		return "CAA"
	}
	return ""
}

// opcodeName returns the name of an opcode (RFC 1035, 1996, 2136, 8490).
func opcodeName(op uint8) string {
	switch op {
	case 0:
		return "QUERY"
	case 1:
		return "IQUERY"
	case 2:
		return "STATUS"
	case 4:
		return "NOTIFY"
	case 5:
		return "UPDATE"
	case 6:
		return "DSO"
	}
	return "OPCODE" + strconv.Itoa(int(op))
}

// rcodeName returns the name of a (possibly extended) response code (IANA
// DNS RCODEs; 16 is BADVERS in an OPT record's context).
func rcodeName(rc uint16) string {
	switch rc {
	case 0:
		return "NOERROR"
	case 1:
		return "FORMERR"
	case 2:
		return "SERVFAIL"
	case 3:
		return "NXDOMAIN"
	case 4:
		return "NOTIMP"
	case 5:
		return "REFUSED"
	case 6:
		return "YXDOMAIN"
	case 7:
		return "YXRRSET"
	case 8:
		return "NXRRSET"
	case 9:
		return "NOTAUTH"
	case 10:
		return "NOTZONE"
	case 11:
		return "DSOTYPENI"
	case 16:
		return "BADVERS"
	case 17:
		return "BADKEY"
	case 18:
		return "BADTIME"
	case 19:
		return "BADMODE"
	case 20:
		return "BADNAME"
	case 21:
		return "BADALG"
	case 22:
		return "BADTRUNC"
	case 23:
		return "BADCOOKIE"
	}
	return "RCODE" + strconv.Itoa(int(rc))
}

// rcodeOK reports whether a response code is an answer rather than a
// failure: NOERROR, NXDOMAIN and the UPDATE prerequisite results YXDOMAIN,
// YXRRSET and NXRRSET (RFC 2136 section 2.4) say something about the data;
// the others say the server could not or would not answer.
func rcodeOK(rc uint16) bool {
	switch rc {
	case 0, 3, 6, 7, 8:
		return true
	}
	return false
}

// hdr is the fixed 12-byte message header.
type hdr []byte

func header(b []byte) hdr          { return hdr(b[:headerLen]) }
func (h hdr) id() uint16           { return be16(h) }
func (h hdr) flags() uint16        { return be16(h[2:]) }
func (h hdr) response() bool       { return h.flags()&0x8000 != 0 }
func (h hdr) opcode() uint8        { return uint8(h.flags() >> 11 & 0xf) }
func (h hdr) truncated() bool      { return h.flags()&0x0200 != 0 }
func (h hdr) rcode() uint16        { return h.flags() & 0xf }
func (h hdr) count(sec int) uint16 { return be16(h[4+2*sec:]) }

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
