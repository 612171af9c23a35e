package filter

import (
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/wiretrace/wiretrace/capture"
)

// maxInsns is the kernel's BPF_MAXINSNS.
const maxInsns = 4096

// DefaultSnaplen is the value accepted packets return when Compile is
// given a snaplen <= 0, as tcpdump's default.
const DefaultSnaplen = 262144

// Compile compiles a pcap-filter(7) expression for packets of the given link
// type into a classic BPF program that returns snaplen for packets that
// match and 0 for the others. The empty expression matches every packet.
// Errors are [*Error] values.
func Compile(expr string, link capture.LinkType, snaplen int) ([]bpf.Instruction, error) {
	n, err := parse(expr)
	if err != nil {
		return nil, err
	}
	return compile(expr, n, link, snaplen)
}

func compile(expr string, n node, link capture.LinkType, snaplen int) ([]bpf.Instruction, error) {
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	switch link {
	case capture.LinkTypeEthernet, capture.LinkTypeLinuxSLL, capture.LinkTypeLinuxSLL2,
		capture.LinkTypeRaw, capture.LinkTypeIPv4, capture.LinkTypeIPv6,
		capture.LinkTypeNull, capture.LinkTypeLoop:
	default:
		return nil, &Error{Expr: expr, Msg: fmt.Sprintf("link type %d not supported", link), Err: ErrUnsupported}
	}
	c := &compiler{expr: expr, link: link, tunnels: new(int)}
	return c.program(n, snaplen)
}

// program compiles the expression n for c's link type and view.
func (c *compiler) program(n node, snaplen int) ([]bpf.Instruction, error) {
	expr := c.expr
	var root node = constNode(true)
	if n != nil {
		var err error
		if root, err = c.expand(n); err != nil {
			return nil, err
		}
	}
	g := &gen{}
	// The tunnel registers start at 0 so that every path stores before
	// it loads (the kernel's checker demands it); a primitive after a
	// tunnel whose test failed then reads the outer packet's offsets.
	if *c.tunnels > 0 {
		g.emit(bpf.LoadConstant{Dst: bpf.RegA, Val: 0})
		for l := 1; l <= *c.tunnels; l++ {
			g.emit(bpf.StoreScratch{Src: bpf.RegA, N: linkSlot(l)})
			g.emit(bpf.StoreScratch{Src: bpf.RegA, N: nlSlot(l)})
		}
	}
	accept, reject := g.label(), g.label()
	if err := g.bool(root, accept, reject); err != nil {
		return nil, &Error{Expr: expr, Msg: err.Error(), Err: ErrUnsupported}
	}
	g.place(accept)
	g.emit(bpf.RetConstant{Val: uint32(snaplen)})
	g.place(reject)
	g.emit(bpf.RetConstant{Val: 0})
	prog := g.layout()
	if len(prog) > maxInsns {
		return nil, &Error{Expr: expr, Msg: fmt.Sprintf("program has %d instructions, more than %d", len(prog), maxInsns), Err: ErrTooLong}
	}
	return prog, nil
}

// constNode is true (match) or false (no match).
type constNode bool

// testNode loads a value, optionally masks it and compares it with k.
type testNode struct {
	src  loadSrc
	size int    // 1, 2 or 4 for absolute and indirect loads
	off  uint32 // load offset
	msh  uint32 // for srcInd: X = 4*([msh]&0xf), the IPv4 header length
	mask uint32 // and #mask before the comparison when not 0
	cond bpf.JumpTest
	k    uint32
	// reg, when not 0, is 1 + the scratch slot holding the base that off
	// and msh are relative to (inside a tunnel).
	reg int
	// lenAdd is added to the packet length (srcLen) before the test.
	lenAdd uint32
}

// maxTunnels bounds the nested "vxlan"/"geneve" primitives; each uses two
// scratch memory slots, from the top.
const maxTunnels = 2

// Inside tunnel level l (1 for the first "vxlan"/"geneve"), M[linkSlot(l)]
// is the offset of the inner link header, as if Ethernet: its EtherType is
// at +12 (for Geneve carrying IP, the Geneve protocol field is there), and
// M[nlSlot(l)] is the offset of the inner network-layer header.
func linkSlot(l int) int { return 16 - 2*l }
func nlSlot(l int) int   { return 17 - 2*l }

// firstTunnelSlot is the lowest slot tunnels may use; relations use the
// ones below it.
const firstTunnelSlot = 16 - 2*maxTunnels

// nlBias marks offsets relative to the inner network layer while a
// primitive inside a tunnel is expanded; rebase turns them into loads
// relative to M[nlSlot]. Real offsets never come near it.
const nlBias = 1 << 20

// storeNode is true and, as a side effect, stores the offsets of the
// packet inside a VXLAN or Geneve header into the next level's slots. It
// follows the tests of a tunnelNode: the outer packet is IPv4 (v6 false,
// header length from IHL) or IPv6 with UDP right after.
type storeNode struct {
	vxlan bool
	v6    bool
	from  int    // the tunnel level of the outer packet (0: not tunnelled)
	nl    uint32 // the outer network layer's offset (relative inside a tunnel)
}

type loadSrc uint8

const (
	srcAbs     loadSrc = iota // ld [off]
	srcInd                    // ldxb 4*([msh]&0xf); ld [x + off]
	srcLen                    // ld #pktlen
	srcProto                  // ld #proto: SKF_AD_PROTOCOL, the link-layer protocol
	srcVLANTag                // ld #vlan_tci: SKF_AD_VLAN_TAG, the tag the kernel moved out
)

func (constNode) isNode() {}
func (testNode) isNode()  {}
func (storeNode) isNode() {}

func and(ns ...node) node {
	var out node = constNode(true)
	for _, n := range ns {
		switch {
		case n == constNode(false) || out == constNode(false):
			out = constNode(false)
		case n == constNode(true):
		case out == constNode(true):
			out = n
		default:
			out = andNode{out, n}
		}
	}
	return out
}

func or(ns ...node) node {
	var out node = constNode(false)
	for _, n := range ns {
		switch {
		case n == constNode(true) || out == constNode(true):
			out = constNode(true)
		case n == constNode(false):
		case out == constNode(false):
			out = n
		default:
			out = orNode{out, n}
		}
	}
	return out
}

func not(n node) node {
	if c, ok := n.(constNode); ok {
		return !c
	}
	return notNode{n}
}

func eq(size int, off, k uint32) node {
	return testNode{src: srcAbs, size: size, off: off, cond: bpf.JumpEqual, k: k}
}

// compiler expands primitives into tests for one link type, or, when tun
// is above 0, for the packet inside that many tunnels.
type compiler struct {
	expr    string
	link    capture.LinkType
	tun     int
	tunnels *int // the deepest tunnel level used, shared by copies
	// cooked compiles for the kernel's view of a cooked (SOCK_DGRAM)
	// AF_PACKET socket: the packet starts at the network layer and the
	// SLL2 protocol field is SKF_AD_PROTOCOL. link is LinkTypeLinuxSLL2.
	cooked bool
	// aux compiles for packets whose outer VLAN tag the kernel moved into
	// the skb metadata (SKF_AD_VLAN_TAG): the frame the
	// user-space filter sees has it back at offset 12, the kernel's does
	// not.
	aux bool
}

// errNotExact is returned while compiling a kernel variant for something
// the kernel's view of the packet cannot express exactly.
var errNotExact = errors.New("not exact in the kernel")

// kernelTop reports whether a primitive at the top level (not in a tunnel)
// sees the kernel's view rather than the delivered frame.
func (c *compiler) kernelTop() bool { return c.tun == 0 && (c.cooked || c.aux) }

// lenAdd is what the kernel's packet length lacks of the delivered
// frame's: the SLL2 header of a cooked socket, the tag moved out.
func (c *compiler) lenAdd() uint32 {
	var n uint32
	if c.cooked {
		n += 20
	}
	if c.aux {
		n += 4
	}
	return n
}

// isTPID reports whether proto is an 802.1Q/802.1ad tag protocol id.
func isTPID(proto uint16) bool { return proto == 0x8100 || proto == 0x88a8 || proto == 0x9100 }

// at returns the compiler for primitives at tunnel level tun.
func (c *compiler) at(tun int) *compiler {
	if tun == c.tun {
		return c
	}
	sub := *c
	sub.tun = tun
	if tun > *c.tunnels {
		*c.tunnels = tun
	}
	return &sub
}

// rebase turns the tests of a primitive expanded inside tunnel level tun
// into loads relative to that level's slots.
func rebase(n node, tun int) node {
	if tun == 0 {
		return n
	}
	switch n := n.(type) {
	case andNode:
		return andNode{rebase(n.l, tun), rebase(n.r, tun)}
	case orNode:
		return orNode{rebase(n.l, tun), rebase(n.r, tun)}
	case notNode:
		return notNode{rebase(n.x, tun)}
	case testNode:
		if n.src == srcLen {
			return n
		}
		if n.off >= nlBias {
			n.off -= nlBias
			n.reg = 1 + nlSlot(tun)
			if n.src == srcInd {
				n.msh -= nlBias
			}
		} else {
			n.reg = 1 + linkSlot(tun)
		}
		return n
	}
	return n
}

func (c *compiler) errorf(t token, format string, args ...any) error {
	return &Error{Expr: c.expr, Pos: t.pos, Token: t.text, Msg: fmt.Sprintf(format, args...), Err: ErrUnsupported}
}

// linkName names link types in errors the way tcpdump does.
func linkName(l capture.LinkType) string {
	switch l {
	case capture.LinkTypeNull:
		return "NULL"
	case capture.LinkTypeEthernet:
		return "EN10MB"
	case capture.LinkTypeRaw:
		return "RAW"
	case capture.LinkTypeLoop:
		return "LOOP"
	case capture.LinkTypeLinuxSLL:
		return "LINUX_SLL"
	case capture.LinkTypeIPv4:
		return "IPV4"
	case capture.LinkTypeIPv6:
		return "IPV6"
	case capture.LinkTypeLinuxSLL2:
		return "LINUX_SLL2"
	}
	return fmt.Sprintf("link type %d", l)
}

// nl is the offset of the network-layer header after vlans VLAN tags.
func (c *compiler) nl(vlans int) uint32 {
	if c.tun > 0 {
		return nlBias + 4*uint32(vlans)
	}
	if c.cooked {
		return 0
	}
	if c.aux && vlans > 0 {
		// The first tag is not in the kernel's frame. (With vlans 0,
		// every primitive is guarded by linkProto, false there.)
		vlans--
	}
	switch c.link {
	case capture.LinkTypeEthernet:
		return 14 + 4*uint32(vlans)
	case capture.LinkTypeLinuxSLL:
		return 16
	case capture.LinkTypeLinuxSLL2:
		return 20
	case capture.LinkTypeNull, capture.LinkTypeLoop:
		return 4
	}
	return 0
}

// linkProto tests the link layer's protocol field: the EtherType for
// Ethernet and Linux cooked captures, the version nibble for raw IP, the
// address family for BSD loopback.
func (c *compiler) linkProto(proto uint16, vlans int) node {
	const ipv4, ipv6 = 0x800, 0x86dd
	if c.tun > 0 {
		return eq(2, 12+4*uint32(vlans), uint32(proto))
	}
	if c.aux && vlans == 0 {
		// The delivered frame has the moved-out tag's TPID here, never
		// another protocol. (expand refuses a TPID: which one it is
		// would take SKF_AD_VLAN_TPID, Linux 3.19+.)
		return constNode(false)
	}
	if c.cooked {
		return testNode{src: srcProto, cond: bpf.JumpEqual, k: uint32(proto)}
	}
	if c.aux {
		vlans--
	}
	switch c.link {
	case capture.LinkTypeEthernet:
		return eq(2, 12+4*uint32(vlans), uint32(proto))
	case capture.LinkTypeLinuxSLL:
		return eq(2, 14, uint32(proto))
	case capture.LinkTypeLinuxSLL2:
		return eq(2, 0, uint32(proto))
	case capture.LinkTypeRaw:
		if proto != ipv4 && proto != ipv6 {
			return constNode(false)
		}
		version := uint32(0x40)
		if proto == ipv6 {
			version = 0x60
		}
		return testNode{src: srcAbs, size: 1, mask: 0xf0, cond: bpf.JumpEqual, k: version}
	case capture.LinkTypeIPv4:
		return constNode(proto == ipv4)
	case capture.LinkTypeIPv6:
		return constNode(proto == ipv6)
	case capture.LinkTypeNull, capture.LinkTypeLoop:
		// The family is AF_INET (2) everywhere, but AF_INET6 is 24, 28 or 30
		// depending on the BSD that wrote the file (libpcap gencode.c,
		// BSD_AFNUM_INET6_*). NULL holds it in the writer's byte order, so
		// both orders are accepted; LOOP is in network order.
		var families []uint32
		switch proto {
		case ipv4:
			families = []uint32{2}
		case ipv6:
			families = []uint32{24, 28, 30}
		}
		var alts []node
		for _, f := range families {
			alts = append(alts, eq(4, 0, f))
			if c.link == capture.LinkTypeNull {
				alts = append(alts, eq(4, 0, f<<24))
			}
		}
		return or(alts...)
	}
	return constNode(false)
}

// ip6Next tests the IPv6 next header, also behind one fragment header as
// libpcap does for "ip6 proto" and its abbreviations.
func (c *compiler) ip6Next(proto uint8, nl uint32, frag bool) node {
	n := eq(1, nl+6, uint32(proto))
	if frag {
		n = or(n, and(eq(1, nl+6, 44), eq(1, nl+40, uint32(proto))))
	}
	return n
}

// notFragment is true for unfragmented IPv4 packets and first fragments.
func notFragment(nl uint32) node {
	return not(testNode{src: srcAbs, size: 2, off: nl + 6, cond: bpf.JumpBitsSet, k: 0x1fff})
}

// dirs combines the source and destination tests of a direction.
func dirs(d dir, src, dst node) node {
	switch d {
	case dirSrc:
		return src
	case dirDst:
		return dst
	case dirSrcAndDst:
		return and(src, dst)
	}
	return or(src, dst)
}

func (c *compiler) expand(n node) (node, error) {
	if t := tunOf(n); t > 0 && c.tun == 0 {
		x, err := c.at(t).expand(n)
		if err != nil {
			return nil, err
		}
		return rebase(x, t), nil
	}
	switch n := n.(type) {
	case andNode, orNode:
		var l, r node
		if a, ok := n.(andNode); ok {
			l, r = a.l, a.r
		} else {
			o := n.(orNode)
			l, r = o.l, o.r
		}
		l, err := c.expand(l)
		if err != nil {
			return nil, err
		}
		r, err = c.expand(r)
		if err != nil {
			return nil, err
		}
		if _, ok := n.(andNode); ok {
			return and(l, r), nil
		}
		return or(l, r), nil
	case notNode:
		x, err := c.expand(n.x)
		if err != nil {
			return nil, err
		}
		return not(x), nil
	case linkProtoNode:
		if c.aux && c.tun == 0 && n.vlans == 0 && isTPID(n.proto) {
			return nil, errNotExact
		}
		return c.linkProto(n.proto, n.vlans), nil
	case ipProtoNode:
		nl := c.nl(n.vlans)
		var v4, v6 node = constNode(false), constNode(false)
		if n.v4 {
			v4 = and(c.linkProto(0x800, n.vlans), eq(1, nl+9, uint32(n.proto)))
		}
		if n.v6 {
			v6 = and(c.linkProto(0x86dd, n.vlans), c.ip6Next(n.proto, nl, true))
		}
		return or(v4, v6), nil
	case portNode:
		return c.port(n), nil
	case hostNode:
		return c.host(n), nil
	case etherNode:
		if c.link != capture.LinkTypeEthernet && c.tun == 0 {
			return nil, c.errorf(n.tok, "ethernet addresses are not supported on %s", linkName(c.link))
		}
		if n.multicast {
			return testNode{src: srcAbs, size: 1, cond: bpf.JumpBitsSet, k: 1}, nil
		}
		m := n.mac
		hi, lo := uint32(m[0])<<8|uint32(m[1]), uint32(m[2])<<24|uint32(m[3])<<16|uint32(m[4])<<8|uint32(m[5])
		return dirs(n.dir, and(eq(4, 8, lo), eq(2, 6, hi)), and(eq(4, 2, lo), eq(2, 0, hi))), nil
	case tunnelNode:
		return c.tunnel(n), nil
	case vlanNode:
		if c.link != capture.LinkTypeEthernet && c.tun == 0 {
			return nil, c.errorf(n.tok, "no VLAN support for %s", linkName(c.link))
		}
		if c.aux && c.tun == 0 && n.vlans == 0 {
			// The tag the kernel moved out of the frame: present in
			// this branch. Like libpcap, its TPID is not tested (the
			// Live re-inserts it from tp_vlan_tpid, an 802.1Q or 802.1ad
			// one from any real device).
			if n.id < 0 {
				return constNode(true), nil
			}
			return testNode{src: srcVLANTag, mask: 0xfff, cond: bpf.JumpEqual, k: uint32(n.id)}, nil
		}
		vl := n.vlans
		if c.aux && c.tun == 0 {
			vl--
		}
		off := 12 + 4*uint32(vl)
		tag := or(eq(2, off, 0x8100), eq(2, off, 0x88a8), eq(2, off, 0x9100))
		if n.id >= 0 {
			tag = and(tag, testNode{src: srcAbs, size: 2, off: off + 2, mask: 0xfff, cond: bpf.JumpEqual, k: uint32(n.id)})
		}
		return tag, nil
	case lenNode:
		if n.greater {
			return testNode{src: srcLen, cond: bpf.JumpGreaterOrEqual, k: n.n, lenAdd: c.lenAdd()}, nil
		}
		return not(testNode{src: srcLen, cond: bpf.JumpGreaterThan, k: n.n, lenAdd: c.lenAdd()}), nil
	case relNode:
		if c.kernelTop() && !kernelArith(n.l) || c.kernelTop() && !kernelArith(n.r) {
			return nil, errNotExact
		}
		var guards []node
		c.guards(n.l, &guards)
		c.guards(n.r, &guards)
		for _, a := range []arith{n.l, n.r} {
			if t := maxLoadTun(a); t > *c.tunnels {
				*c.tunnels = t
			}
		}
		return and(append(guards, relCode{n, c})...), nil
	}
	return nil, fmt.Errorf("filter: internal error: node %T", n)
}

// port tests TCP, UDP or SCTP ports: IPv4 only in the first fragment with
// the header length from the IHL field, IPv6 only when the next header is
// the transport (no extension header walking, like libpcap).
func (c *compiler) port(n portNode) node {
	nl := c.nl(n.vlans)
	cmp := func(src loadSrc, off uint32) node {
		t := testNode{src: src, size: 2, off: off, msh: nl}
		if n.lo == n.hi {
			t.cond, t.k = bpf.JumpEqual, uint32(n.lo)
			return t
		}
		hi := t
		t.cond, t.k = bpf.JumpGreaterOrEqual, uint32(n.lo)
		hi.cond, hi.k = bpf.JumpGreaterThan, uint32(n.hi)
		return and(t, not(hi))
	}
	var p4, p6 []node
	for _, p := range n.protos {
		p4 = append(p4, eq(1, nl+9, uint32(p)))
		p6 = append(p6, eq(1, nl+6, uint32(p)))
	}
	v4 := and(c.linkProto(0x800, n.vlans), or(p4...), notFragment(nl),
		dirs(n.dir, cmp(srcInd, nl), cmp(srcInd, nl+2)))
	v6 := and(c.linkProto(0x86dd, n.vlans), or(p6...),
		dirs(n.dir, cmp(srcAbs, nl+40), cmp(srcAbs, nl+42)))
	return or(v4, v6)
}

// host tests IPv4 addresses in IPv4, ARP and RARP headers or IPv6
// addresses in IPv6 headers, under the prefix's mask.
func (c *compiler) host(n hostNode) node {
	nl := c.nl(n.vlans)
	bits := n.addr.Bits()
	match := func(off uint32, b []byte) node {
		var words []node
		for i := 0; i < len(b); i += 4 {
			wbits := min(max(bits-8*i, 0), 32)
			if wbits == 0 {
				break
			}
			mask := ^uint32(0) << (32 - wbits)
			v := uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
			t := testNode{src: srcAbs, size: 4, off: off + uint32(i), cond: bpf.JumpEqual, k: v & mask}
			if mask != ^uint32(0) {
				t.mask = mask
			}
			words = append(words, t)
		}
		return and(words...)
	}
	b := n.addr.Addr().AsSlice()
	if n.addr.Addr().Is6() {
		return and(c.linkProto(0x86dd, n.vlans), dirs(n.dir, match(nl+8, b), match(nl+24, b)))
	}
	var alts []node
	if n.ip {
		alts = append(alts, and(c.linkProto(0x800, n.vlans), dirs(n.dir, match(nl+12, b), match(nl+16, b))))
	}
	if n.arp {
		alts = append(alts, and(c.linkProto(0x806, n.vlans), dirs(n.dir, match(nl+14, b), match(nl+24, b))))
	}
	if n.rarp {
		alts = append(alts, and(c.linkProto(0x8035, n.vlans), dirs(n.dir, match(nl+14, b), match(nl+24, b))))
	}
	return or(alts...)
}

// guards collects the header checks that the loads in a need: ip[] needs
// an IPv4 packet, tcp[] an unfragmented (or first fragment) IPv4 TCP
// segment, and so on.
func (c *compiler) guards(a arith, out *[]node) {
	switch a := a.(type) {
	case binArith:
		c.guards(a.l, out)
		c.guards(a.r, out)
	case negArith:
		c.guards(a.x, out)
	case loadArith:
		c.guards(a.idx, out)
		if a.tun > 0 && c.tun == 0 {
			var inner []node
			c.at(a.tun).guards(loadArith{proto: a.proto, idx: numArith{}, size: a.size, vlans: a.vlans, tun: a.tun}, &inner)
			for _, g := range inner {
				*out = append(*out, rebase(g, a.tun))
			}
			return
		}
		nl := c.nl(a.vlans)
		switch a.proto {
		case "ip":
			*out = append(*out, c.linkProto(0x800, a.vlans))
		case "ip6":
			*out = append(*out, c.linkProto(0x86dd, a.vlans))
		case "arp":
			*out = append(*out, c.linkProto(0x806, a.vlans))
		case "rarp":
			*out = append(*out, c.linkProto(0x8035, a.vlans))
		case "tcp", "udp", "sctp", "icmp", "igmp":
			*out = append(*out, c.linkProto(0x800, a.vlans), eq(1, nl+9, uint32(ipProtos[a.proto])), notFragment(nl))
		case "icmp6":
			*out = append(*out, c.linkProto(0x86dd, a.vlans), c.ip6Next(58, nl, false))
		}
	}
}

// relCode is a relation whose guards are already checked.
type relCode struct {
	rel relNode
	c   *compiler
}

func (relCode) isNode() {}

// tunOf returns the tunnel level of a primitive, 0 for others.
func tunOf(n node) int {
	switch n := n.(type) {
	case linkProtoNode:
		return n.tun
	case ipProtoNode:
		return n.tun
	case portNode:
		return n.tun
	case hostNode:
		return n.tun
	case etherNode:
		return n.tun
	case vlanNode:
		return n.tun
	case tunnelNode:
		return n.tun
	}
	return 0
}

// kernelArith reports whether a has no load the kernel's view changes: the
// link header (ether[], link[]) at the top level.
func kernelArith(a arith) bool {
	switch a := a.(type) {
	case binArith:
		return kernelArith(a.l) && kernelArith(a.r)
	case negArith:
		return kernelArith(a.x)
	case loadArith:
		return (a.tun > 0 || a.proto != "ether" && a.proto != "link") && kernelArith(a.idx)
	}
	return true
}

// maxLoadTun returns the deepest tunnel level of the loads in a.
func maxLoadTun(a arith) int {
	switch a := a.(type) {
	case binArith:
		return max(maxLoadTun(a.l), maxLoadTun(a.r))
	case negArith:
		return maxLoadTun(a.x)
	case loadArith:
		return max(a.tun, maxLoadTun(a.idx))
	}
	return 0
}

// tunnel tests for a VXLAN (UDP destination port 4789) or Geneve (6081,
// version 0) header with the VNI, if given, over IPv4 (first fragment) or
// IPv6 (UDP as next header), as libpcap's gen_geneve does, and then stores
// the inner packet's offsets for the primitives after it.
func (c *compiler) tunnel(n tunnelNode) node {
	*c.tunnels = max(*c.tunnels, n.tun+1)
	port := uint32(6081)
	if n.vxlan {
		port = 4789
	}
	nl := c.nl(n.vlans)
	ind := func(size int, off uint32, mask, k uint32) node {
		return testNode{src: srcInd, size: size, off: nl + off, msh: nl, mask: mask, cond: bpf.JumpEqual, k: k}
	}
	abs := func(size int, off uint32, mask, k uint32) node {
		return testNode{src: srcAbs, size: size, off: nl + 40 + off, mask: mask, cond: bpf.JumpEqual, k: k}
	}
	v4 := []node{c.linkProto(0x800, n.vlans), eq(1, nl+9, 17), notFragment(nl), ind(2, 2, 0, port)}
	v6 := []node{c.linkProto(0x86dd, n.vlans), eq(1, nl+6, 17), abs(2, 2, 0, port)}
	if !n.vxlan {
		v4 = append(v4, ind(1, 8, 0xc0, 0))
		v6 = append(v6, abs(1, 8, 0xc0, 0))
	}
	if n.vni >= 0 {
		v4 = append(v4, ind(4, 12, 0xffffff00, uint32(n.vni)<<8))
		v6 = append(v6, abs(4, 12, 0xffffff00, uint32(n.vni)<<8))
	}
	rel := nl
	if c.tun > 0 {
		rel -= nlBias
	}
	v4 = append(v4, storeNode{vxlan: n.vxlan, from: c.tun, nl: rel})
	v6 = append(v6, storeNode{vxlan: n.vxlan, v6: true, from: c.tun, nl: rel})
	return or(and(v4...), and(v6...))
}
