package filter

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// qual is a primitive's qualifiers: protocol, direction and type, as in
// pcap-filter(7). The last one is reused by a bare id after "and"/"or"
// ("host a or b").
type qual struct {
	proto string // "", ether, ip, ip6, arp, rarp, tcp, udp, sctp
	dir   dir
	typ   string // "", host, net, port, portrange
}

type parser struct {
	expr  string
	toks  []token
	i     int
	vlans int  // "vlan" primitives parsed so far (since the last tunnel)
	tun   int  // "vxlan" and "geneve" primitives parsed so far
	last  qual // qualifiers for implicit repetition
}

// keywords cannot be bare ids.
var keywords = map[string]bool{
	"and": true, "or": true, "not": true, "src": true, "dst": true, "host": true,
	"net": true, "port": true, "portrange": true, "proto": true, "mask": true,
	"vlan": true, "vxlan": true, "geneve": true, "greater": true, "less": true, "broadcast": true,
	"multicast": true, "len": true, "ether": true, "link": true, "ip": true,
	"ip6": true, "arp": true, "rarp": true, "tcp": true, "udp": true,
	"sctp": true, "icmp": true, "icmp6": true, "igmp": true,
}

// unsupported are pcap-filter(7) keywords this package does not compile.
var unsupported = map[string]bool{
	"gateway": true, "protochain": true, "mpls": true, "pppoed": true,
	"pppoes": true, "llc": true, "wlan": true,
	"type": true, "subtype": true, "inbound": true, "outbound": true,
	"ifname": true, "on": true, "rnr": true, "rulenum": true, "reason": true,
	"rset": true, "ruleset": true, "srnr": true, "subrulenum": true,
	"action": true, "atalk": true, "aarp": true, "decnet": true, "iso": true,
	"stp": true, "ipx": true, "netbeui": true, "lat": true, "mopdl": true,
	"moprc": true, "sca": true, "esis": true, "isis": true, "clnp": true,
	"fddi": true, "tr": true, "ra": true, "ta": true, "addr1": true,
	"addr2": true, "addr3": true, "addr4": true, "dir": true, "radio": true,
	"ah": true, "esp": true, "pim": true, "vrrp": true, "carp": true,
	"hopopt": true, "slip": true, "ppp": true,
}

// constants are pcap-filter(7)'s named offsets and values.
var constants = map[string]uint32{
	"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04,
	"tcp-push": 0x08, "tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40,
	"tcp-cwr":  0x80,
	"icmptype": 0, "icmpcode": 1, "icmp-echoreply": 0, "icmp-unreach": 3,
	"icmp-sourcequench": 4, "icmp-redirect": 5, "icmp-echo": 8,
	"icmp-routeradvert": 9, "icmp-routersolicit": 10, "icmp-timxceed": 11,
	"icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14,
	"icmp-ireq": 15, "icmp-ireqreply": 16, "icmp-maskreq": 17,
	"icmp-maskreply": 18,
	"icmp6type":      0, "icmp6code": 1, "icmp6-destinationunreach": 1,
	"icmp6-packettoobig": 2, "icmp6-timeexceeded": 3,
	"icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133,
	"icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135,
	"icmp6-neighboradvert": 136, "icmp6-redirect": 137,
}

// ports are the service names accepted for port and portrange; other
// names would need /etc/services and are refused.
var ports = map[string]uint16{
	"ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25,
	"domain": 53, "http": 80, "pop3": 110, "ntp": 123, "imap": 143,
	"snmp": 161, "bgp": 179, "ldap": 389, "https": 443, "mysql": 3306,
	"postgresql": 5432,
}

// ipProtos are the names accepted after "ip proto" and the like.
var ipProtos = map[string]uint8{
	"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "icmp6": 58, "sctp": 132,
}

// etherProtos are the names accepted after "ether proto".
var etherProtos = map[string]uint16{
	"ip": 0x800, "arp": 0x806, "rarp": 0x8035, "ip6": 0x86dd,
}

// loadProtos are the protocols that take [offset:size].
var loadProtos = map[string]bool{
	"ether": true, "link": true, "ip": true, "ip6": true, "arp": true,
	"rarp": true, "tcp": true, "udp": true, "sctp": true, "icmp": true,
	"icmp6": true, "igmp": true,
}

// parse turns expr into a node; the empty expression is nil (match all).
func parse(expr string) (node, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{expr: expr, toks: toks}
	if p.peek().kind == tokEOF {
		return nil, nil
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.unexpected(t)
	}
	return n, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// is reports whether t is the keyword or punctuation s.
func is(t token, s ...string) bool {
	if t.kind == tokEOF || t.esc {
		return false
	}
	for _, x := range s {
		if t.text == x {
			return true
		}
	}
	return false
}

func (p *parser) errorf(t token, sentinel error, format string, args ...any) error {
	return &Error{Expr: p.expr, Pos: t.pos, Token: t.text, Msg: fmt.Sprintf(format, args...), Err: sentinel}
}

func (p *parser) unexpected(t token) error {
	if t.kind == tokEOF {
		return p.errorf(t, ErrSyntax, "unexpected end of expression")
	}
	if t.kind == tokWord && !t.esc && unsupported[t.text] {
		return p.errorf(t, ErrUnsupported, "unsupported %q", t.text)
	}
	return p.errorf(t, ErrSyntax, "unexpected %q", t.text)
}

// or parses a sequence of unaries joined by and/or. Like libpcap, "and" and
// "or" have equal precedence and associate left to right.
func (p *parser) or() (node, error) {
	n, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		var and bool
		switch {
		case is(t, "and", "&&"):
			and = true
		case is(t, "or", "||"):
		default:
			return n, nil
		}
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		if and {
			n = andNode{n, r}
		} else {
			n = orNode{n, r}
		}
	}
}

func (p *parser) unary() (node, error) {
	if is(p.peek(), "not", "!") {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (node, error) {
	t := p.peek()
	switch {
	case is(t, "("):
		// Either an arithmetic operand of a relation, "(tcp[12]&0xf0) > 0",
		// or a parenthesised expression: try the first, then the second.
		save := p.i
		n, relErr := p.relation()
		if relErr == nil {
			return n, nil
		}
		p.i = save
		p.next()
		n, err := p.or()
		if err == nil {
			if c := p.next(); !is(c, ")") {
				err = p.unexpected(c)
			}
		}
		if err != nil {
			if relErr.(*Error).Pos > err.(*Error).Pos {
				return nil, relErr
			}
			return nil, err
		}
		return n, nil
	case t.kind == tokWord && !t.esc && loadProtos[t.text] && is(p.peekAt(1), "["),
		is(t, "len"), is(t, "-"),
		t.kind == tokWord && !t.esc && hasConstant(t.text):
		return p.relation()
	case t.kind == tokWord && isNumber(t.text):
		// A relation "4 < len" or a bare id "tcp port 80 or 443".
		save := p.i
		if n, err := p.relation(); err == nil {
			return n, nil
		}
		p.i = save
	}
	return p.primitive()
}

func hasConstant(s string) bool { _, ok := constants[s]; return ok }

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 0, 32)
	return err == nil
}

var relOps = map[string]string{"=": "=", "==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

func (p *parser) relation() (node, error) {
	l, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	t := p.next()
	op, ok := relOps[t.text]
	if t.kind != tokOp || !ok {
		return nil, p.unexpected(t)
	}
	r, err := p.arith(0)
	if err != nil {
		return nil, err
	}
	return relNode{op: op, l: l, r: r}, nil
}

// arithLevels are the binary operators by increasing precedence, as in
// libpcap's grammar.
var arithLevels = [][]string{{"|"}, {"^"}, {"&"}, {"<<", ">>"}, {"+", "-"}, {"*", "/", "%"}}

func (p *parser) arith(level int) (arith, error) {
	if level == len(arithLevels) {
		return p.atom()
	}
	l, err := p.arith(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokOp || !is(t, arithLevels[level]...) {
			return l, nil
		}
		p.next()
		r, err := p.arith(level + 1)
		if err != nil {
			return nil, err
		}
		if n, ok := r.(numArith); ok && n.v == 0 && (t.text == "/" || t.text == "%") {
			return nil, p.errorf(t, ErrSyntax, "division by zero")
		}
		l = binArith{op: t.text, l: l, r: r}
	}
}

func (p *parser) atom() (arith, error) {
	t := p.next()
	switch {
	case is(t, "("):
		a, err := p.arith(0)
		if err != nil {
			return nil, err
		}
		if c := p.next(); !is(c, ")") {
			return nil, p.unexpected(c)
		}
		return a, nil
	case is(t, "-"):
		a, err := p.atom()
		if err != nil {
			return nil, err
		}
		return negArith{a}, nil
	case is(t, "len"):
		return lenArith{}, nil
	case t.kind != tokWord:
		return nil, p.unexpected(t)
	case !t.esc && loadProtos[t.text] && is(p.peek(), "["):
		p.next()
		idx, err := p.arith(0)
		if err != nil {
			return nil, err
		}
		size := 1
		if is(p.peek(), ":") {
			p.next()
			s := p.next()
			switch s.text {
			case "1", "2", "4":
				size = int(s.text[0] - '0')
			default:
				return nil, p.errorf(s, ErrSyntax, "data size %q is not 1, 2 or 4", s.text)
			}
		}
		if c := p.next(); !is(c, "]") {
			return nil, p.unexpected(c)
		}
		return loadArith{proto: t.text, idx: idx, size: size, vlans: p.vlans, tun: p.tun}, nil
	}
	if v, ok := constants[t.text]; ok && !t.esc {
		return numArith{v}, nil
	}
	v, err := strconv.ParseUint(t.text, 0, 32)
	if err != nil {
		return nil, p.unexpected(t)
	}
	return numArith{uint32(v)}, nil
}

// primitive parses [proto] [dir] [type] id and the keyword primitives.
func (p *parser) primitive() (node, error) {
	t := p.peek()
	if t.kind != tokWord {
		return nil, p.unexpected(t)
	}
	if t.esc || !keywords[t.text] {
		if unsupported[t.text] && !t.esc {
			return nil, p.unexpected(t)
		}
		return p.id(p.last) // implicit repetition: "host a or b"
	}
	switch t.text {
	case "vlan":
		p.next()
		id := -1
		if n := p.peek(); n.kind == tokWord && isNumber(n.text) {
			p.next()
			v, _ := strconv.ParseUint(n.text, 0, 32)
			if v > 4095 {
				return nil, p.errorf(n, ErrSyntax, "vlan id %s out of range", n.text)
			}
			id = int(v)
		}
		n := vlanNode{tok: t, id: id, vlans: p.vlans, tun: p.tun}
		p.vlans++
		return n, nil
	case "vxlan", "geneve":
		p.next()
		vni := -1
		if n := p.peek(); n.kind == tokWord && isNumber(n.text) {
			p.next()
			v, _ := strconv.ParseUint(n.text, 0, 32)
			if v > 1<<24-1 {
				return nil, p.errorf(n, ErrSyntax, "%s VNI %s out of range", t.text, n.text)
			}
			vni = int(v)
		}
		if p.tun == maxTunnels {
			return nil, p.errorf(t, ErrUnsupported, "more than %d nested tunnels", maxTunnels)
		}
		n := tunnelNode{tok: t, vxlan: t.text == "vxlan", vni: vni, vlans: p.vlans, tun: p.tun}
		p.tun++
		p.vlans = 0
		return n, nil
	case "greater", "less":
		p.next()
		v, err := p.number(32)
		if err != nil {
			return nil, err
		}
		return lenNode{greater: t.text == "greater", n: v}, nil
	case "broadcast", "multicast":
		p.next()
		return etherNode{tok: t, mac: [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, dir: dirDst, multicast: t.text == "multicast", tun: p.tun}, nil
	}
	var q qual
	if is(t, "ether", "link", "ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp", "icmp6", "igmp") {
		q.proto = p.next().text
		if q.proto == "link" {
			q.proto = "ether"
		}
		switch n := p.peek(); {
		case is(n, "proto"):
			p.next()
			return p.proto(q.proto, n)
		case q.proto == "ether" && is(n, "broadcast", "multicast"):
			return p.primitive()
		}
	}
	switch n := p.peek(); {
	case is(n, "src", "dst"):
		p.next()
		q.dir = dirSrc
		if n.text == "dst" {
			q.dir = dirDst
		}
		if a, b := p.peek(), p.peekAt(1); is(a, "or", "and") && is(b, "src", "dst") && b.text != n.text {
			p.next()
			p.next()
			q.dir = dirSrcOrDst
			if a.text == "and" {
				q.dir = dirSrcAndDst
			}
		}
	case is(n, "proto") && q.proto == "":
		p.next()
		return p.proto("", n)
	}
	if n := p.peek(); is(n, "host", "net", "port", "portrange") {
		q.typ = p.next().text
	}
	if q.dir == dirDefault && q.typ == "" {
		// A bare protocol: tcp, ip6, arp...
		return p.abbrev(t, q.proto)
	}
	return p.id(q)
}

// abbrev is a protocol named alone.
func (p *parser) abbrev(t token, proto string) (node, error) {
	p.last = qual{proto: proto}
	switch proto {
	case "ip", "ip6", "arp", "rarp":
		return linkProtoNode{proto: etherProtos[proto], vlans: p.vlans, tun: p.tun}, nil
	case "tcp", "udp", "sctp", "igmp", "icmp", "icmp6":
		v := ipProtos[proto]
		return ipProtoNode{v4: proto != "icmp6", v6: proto != "icmp" && proto != "igmp", proto: v, vlans: p.vlans, tun: p.tun}, nil
	}
	return nil, p.unexpected(p.peek())
}

// proto parses the number or name after "ip proto", "ip6 proto", "ether
// proto" or "proto".
func (p *parser) proto(qproto string, kw token) (node, error) {
	t := p.next()
	if t.kind != tokWord {
		return nil, p.unexpected(t)
	}
	if qproto == "ether" {
		v, ok := etherProtos[t.text]
		if !ok {
			n, err := strconv.ParseUint(t.text, 0, 16)
			if err != nil {
				return nil, p.errorf(t, ErrSyntax, "unknown ether proto %q", t.text)
			}
			v = uint16(n)
		}
		return linkProtoNode{proto: v, vlans: p.vlans, tun: p.tun}, nil
	}
	v, ok := ipProtos[t.text]
	if !ok {
		n, err := strconv.ParseUint(t.text, 0, 8)
		if err != nil {
			return nil, p.errorf(t, ErrSyntax, "unknown ip proto %q", t.text)
		}
		v = uint8(n)
	}
	switch qproto {
	case "", "ip", "ip6":
		return ipProtoNode{v4: qproto != "ip6", v6: qproto != "ip", proto: v, vlans: p.vlans, tun: p.tun}, nil
	}
	return nil, p.unexpected(kw)
}

func (p *parser) number(bits int) (uint32, error) {
	t := p.next()
	v, err := strconv.ParseUint(t.text, 0, bits)
	if t.kind != tokWord || err != nil {
		return 0, p.unexpected(t)
	}
	return uint32(v), nil
}

// port parses a port number or service name.
func (p *parser) port() (uint16, error) {
	t := p.next()
	if t.kind != tokWord {
		return 0, p.unexpected(t)
	}
	if v, ok := ports[t.text]; ok {
		return v, nil
	}
	v, err := strconv.ParseUint(t.text, 0, 16)
	if err != nil {
		if isLetter(t.text[0]) {
			return 0, p.errorf(t, ErrUnsupported, "unknown port name %q", t.text)
		}
		return 0, p.unexpected(t)
	}
	return uint16(v), nil
}

// id parses the value of a primitive with qualifiers q.
func (p *parser) id(q qual) (node, error) {
	p.last = q
	t := p.peek()
	if t.kind != tokWord {
		return nil, p.unexpected(t)
	}
	switch q.typ {
	case "port", "portrange":
		var protos []uint8
		switch q.proto {
		case "":
			protos = []uint8{6, 17, 132}
		case "tcp", "udp", "sctp":
			protos = []uint8{ipProtos[q.proto]}
		default:
			return nil, p.errorf(t, ErrSyntax, "%q qualifier not allowed with %s", q.proto, q.typ)
		}
		lo, err := p.port()
		if err != nil {
			return nil, err
		}
		hi := lo
		if q.typ == "portrange" {
			if c := p.next(); !is(c, "-") {
				return nil, p.unexpected(c)
			}
			if hi, err = p.port(); err != nil {
				return nil, err
			}
			if lo > hi {
				lo, hi = hi, lo
			}
		}
		return portNode{protos: protos, dir: q.dir, lo: lo, hi: hi, vlans: p.vlans, tun: p.tun}, nil
	}
	p.next()
	if mac, ok := parseMAC(t.text); ok && q.typ != "net" && (q.proto == "" || q.proto == "ether") {
		return etherNode{tok: t, mac: mac, dir: q.dir, tun: p.tun}, nil
	}
	if q.proto == "ether" {
		return nil, p.errorf(t, ErrSyntax, "%q is not an Ethernet address", t.text)
	}
	switch q.proto {
	case "", "ip", "ip6", "arp", "rarp":
	default:
		return nil, p.errorf(t, ErrSyntax, "%q qualifier not allowed with an address", q.proto)
	}
	prefix, err := p.address(t, q)
	if err != nil {
		return nil, err
	}
	n := hostNode{addr: prefix, dir: q.dir, vlans: p.vlans, tun: p.tun}
	if prefix.Addr().Is4() {
		if q.proto == "ip6" {
			return nil, p.errorf(t, ErrSyntax, "ip6 qualifier with IPv4 address %q", t.text)
		}
		n.ip = q.proto == "" || q.proto == "ip"
		n.arp = q.proto == "" || q.proto == "arp"
		n.rarp = q.proto == "" || q.proto == "rarp"
	} else if q.proto != "" && q.proto != "ip6" {
		return nil, p.errorf(t, ErrSyntax, "%s qualifier with IPv6 address %q", q.proto, t.text)
	}
	return n, nil
}

// address parses host ADDR, net ADDR/LEN, net ADDR mask MASK and the
// classful net 10.1 forms.
func (p *parser) address(t token, q qual) (netip.Prefix, error) {
	text := t.text
	var bits = -1
	switch {
	case is(p.peek(), "/"):
		p.next()
		n := p.next()
		v, err := strconv.ParseUint(n.text, 10, 8)
		if n.kind != tokWord || err != nil {
			return netip.Prefix{}, p.unexpected(n)
		}
		bits = int(v)
	case is(p.peek(), "mask"):
		p.next()
		n := p.next()
		m, err := netip.ParseAddr(n.text)
		if err != nil || !m.Is4() {
			return netip.Prefix{}, p.errorf(n, ErrSyntax, "bad mask %q", n.text)
		}
		b := m.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		bits = 0
		for v&0x80000000 != 0 {
			bits++
			v <<= 1
		}
		if v != 0 {
			return netip.Prefix{}, p.errorf(n, ErrUnsupported, "non-contiguous mask %q", n.text)
		}
	}
	if bits >= 0 && q.typ != "" && q.typ != "net" {
		return netip.Prefix{}, p.errorf(t, ErrSyntax, "mask with %s %q", q.typ, text)
	}
	addr, err := netip.ParseAddr(text)
	if err != nil && q.typ == "net" && !strings.Contains(text, ":") {
		// Classful: net 10 is 10.0.0.0/8, net 172.16 is 172.16.0.0/16.
		parts := strings.Split(text, ".")
		if len(parts) < 4 {
			for len(parts) < 4 {
				parts = append(parts, "0")
			}
			if a, err2 := netip.ParseAddr(strings.Join(parts, ".")); err2 == nil && bits < 0 {
				addr, err = a, nil
				bits = 8 * len(strings.Split(text, "."))
			}
		}
	}
	if err != nil || addr.Zone() != "" {
		if isLetter(text[0]) && !strings.Contains(text, ":") {
			return netip.Prefix{}, p.errorf(t, ErrUnsupported, "cannot resolve %q (host names are not supported)", text)
		}
		return netip.Prefix{}, p.errorf(t, ErrSyntax, "bad address %q", text)
	}
	addr = addr.Unmap()
	if bits < 0 {
		bits = addr.BitLen()
	}
	prefix, err := addr.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, p.errorf(t, ErrSyntax, "bad prefix length %d for %q", bits, text)
	}
	if prefix.Addr() != addr {
		return netip.Prefix{}, p.errorf(t, ErrSyntax, "non-network bits set in %q", text)
	}
	return prefix, nil
}

// parseMAC parses xx:xx:xx:xx:xx:xx (one or two hex digits per byte).
func parseMAC(s string) ([6]byte, bool) {
	var mac [6]byte
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return mac, false
	}
	for i, part := range parts {
		v, err := strconv.ParseUint(part, 16, 8)
		if err != nil || len(part) == 0 || len(part) > 2 {
			return mac, false
		}
		mac[i] = byte(v)
	}
	return mac, true
}
