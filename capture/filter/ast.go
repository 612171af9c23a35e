package filter

import "net/netip"

// node is a boolean expression: andNode, orNode, notNode or a primitive.
// Primitives record vlans, the number of "vlan" primitives parsed before
// them, because like tcpdump each "vlan" moves every later offset by four
// bytes whatever the boolean structure. Likewise they record tun, the
// number of "vxlan" and "geneve" primitives before them: after one, offsets
// refer to the encapsulated packet (and vlans counts again from 0).
type node interface{ isNode() }

type andNode struct{ l, r node }
type orNode struct{ l, r node }
type notNode struct{ x node }

// dir is a src/dst qualifier.
type dir uint8

const (
	dirDefault   dir = iota // src or dst
	dirSrc                  // src
	dirDst                  // dst
	dirSrcOrDst             // src or dst
	dirSrcAndDst            // src and dst
)

// linkProtoNode matches the link-layer protocol (ether proto, ip, ip6, arp).
type linkProtoNode struct {
	proto uint16
	vlans int
	tun   int
}

// ipProtoNode matches the IPv4 protocol or IPv6 next header (ip proto,
// tcp, udp, icmp...). IPv6 also matches behind one fragment header, as
// libpcap does.
type ipProtoNode struct {
	v4, v6 bool
	proto  uint8
	vlans  int
	tun    int
}

// portNode matches TCP, UDP or SCTP ports lo..hi (port, portrange).
type portNode struct {
	protos []uint8
	dir    dir
	lo, hi uint16
	vlans  int
	tun    int
}

// hostNode matches an address or network (host, net) in IPv4, ARP and
// RARP headers, or in IPv6 headers when addr is IPv6.
type hostNode struct {
	addr          netip.Prefix
	ip, arp, rarp bool // for IPv4: which headers to look in
	dir           dir
	vlans         int
	tun           int
}

// etherNode matches Ethernet addresses (ether host, ether broadcast).
type etherNode struct {
	tok       token
	mac       [6]byte
	dir       dir
	multicast bool // ether multicast: the group bit of the destination
	tun       int
}

// tunnelNode matches a VXLAN or Geneve packet (UDP to port 4789 or 6081),
// with a VNI when vni >= 0; later primitives look inside it.
type tunnelNode struct {
	tok   token
	vxlan bool // else Geneve
	vni   int
	vlans int
	tun   int
}

// vlanNode matches an 802.1Q/802.1ad tag, with an ID when id >= 0.
type vlanNode struct {
	tok   token
	id    int
	vlans int
	tun   int
}

// lenNode is greater N (len >= N) or less N (len <= N).
type lenNode struct {
	greater bool
	n       uint32
}

// relNode is a comparison of two arithmetic expressions.
type relNode struct {
	op   string // = != < <= > >=
	l, r arith
}

func (andNode) isNode()       {}
func (orNode) isNode()        {}
func (notNode) isNode()       {}
func (linkProtoNode) isNode() {}
func (ipProtoNode) isNode()   {}
func (portNode) isNode()      {}
func (hostNode) isNode()      {}
func (etherNode) isNode()     {}
func (vlanNode) isNode()      {}
func (tunnelNode) isNode()    {}
func (lenNode) isNode()       {}
func (relNode) isNode()       {}

// arith is an arithmetic expression: numArith, lenArith, loadArith,
// binArith or negArith.
type arith interface{ isArith() }

type numArith struct{ v uint32 }
type lenArith struct{}

// loadArith is proto[idx:size].
type loadArith struct {
	proto string // ether, link, ip, ip6, arp, rarp, tcp, udp, sctp, icmp, icmp6, igmp
	idx   arith
	size  int
	vlans int
	tun   int
}

type binArith struct {
	op   string // + - * / % & | ^ << >>
	l, r arith
}

type negArith struct{ x arith }

func (numArith) isArith()  {}
func (lenArith) isArith()  {}
func (loadArith) isArith() {}
func (binArith) isArith()  {}
func (negArith) isArith()  {}
