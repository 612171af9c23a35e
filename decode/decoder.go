package decode

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wiretrace/wiretrace/capture"
)

// Config configures a [Decoder]. A nil *Config means all defaults; each
// field's zero value means its default.
type Config struct {
	// MaxFragDatagrams bounds how many IP datagrams (IPv4 and IPv6) are
	// held for fragment reassembly at once; when full, the datagram seen
	// least recently is dropped. Default 64. Each slot holds up to 64 KiB.
	MaxFragDatagrams int
	// FragTimeout is how long, in packet time, an incomplete datagram is
	// held before its fragments are dropped. Default 30s, as Linux's
	// ipfrag_time (RFC 791 leaves it to the implementation).
	FragTimeout time.Duration
	// VXLANPorts lists UDP destination ports decoded as VXLAN besides
	// 4789 (IANA), for example 8472, the Linux kernel's default.
	VXLANPorts []uint16
}

// Defaults used for zero Config fields.
const (
	DefaultMaxFragDatagrams = 64
	DefaultFragTimeout      = 30 * time.Second
)

func (c *Config) withDefaults() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.MaxFragDatagrams <= 0 {
		out.MaxFragDatagrams = DefaultMaxFragDatagrams
	}
	if out.FragTimeout <= 0 {
		out.FragTimeout = DefaultFragTimeout
	}
	return out
}

// DecoderStats counts what a Decoder has seen. Every packet passed to Decode
// is counted in Packets and in exactly one of TCP, UDP, NonIP, OtherProto,
// UnsupportedLink, Fragments (while held), Truncated or Malformed*.
type DecoderStats struct {
	// Packets and Bytes count every frame passed to Decode (captured bytes).
	Packets, Bytes uint64
	// TCP and UDP count packets decoded successfully (a reassembled
	// datagram counts once).
	TCP, UDP uint64
	// NonIP counts frames whose network layer is not IPv4 or IPv6.
	NonIP uint64
	// OtherProto counts IP packets that carry neither TCP nor UDP.
	OtherProto uint64
	// UnsupportedLink counts frames of a link type the Decoder does not know.
	UnsupportedLink uint64
	// Fragments counts IP fragments (IPv4 and IPv6) received.
	Fragments uint64
	// Reassembled counts datagrams rebuilt from fragments.
	Reassembled uint64
	// FragmentsDropped counts incomplete datagrams given up (timeout, table
	// full, contradicting fragments).
	FragmentsDropped uint64
	// Truncated counts packets whose headers were cut.
	Truncated uint64
	// MalformedLink, MalformedIP and MalformedTransport count packets with
	// an invalid header at each layer.
	MalformedLink, MalformedIP, MalformedTransport uint64
	// Tunneled counts TCP and UDP packets found inside a tunnel (they are
	// also counted in TCP or UDP).
	Tunneled uint64
	// TunnelTooDeep counts packets with more than MaxTunnelDepth nested
	// encapsulations; the innermost one not removed is reported as the
	// packet itself (often a UDP packet to a tunnel port).
	TunnelTooDeep uint64
}

// Each calls f with every counter, in a fixed order, named in snake_case.
func (s DecoderStats) Each(f func(name string, value uint64)) {
	f("packets", s.Packets)
	f("bytes", s.Bytes)
	f("tcp_packets", s.TCP)
	f("udp_packets", s.UDP)
	f("non_ip", s.NonIP)
	f("other_ip_proto", s.OtherProto)
	f("unsupported_link", s.UnsupportedLink)
	f("ip_fragments", s.Fragments)
	f("ip_reassembled", s.Reassembled)
	f("ip_fragments_dropped", s.FragmentsDropped)
	f("truncated", s.Truncated)
	f("malformed_link", s.MalformedLink)
	f("malformed_ip", s.MalformedIP)
	f("malformed_transport", s.MalformedTransport)
	f("tunneled_packets", s.Tunneled)
	f("tunnel_too_deep", s.TunnelTooDeep)
}

// Parser indexes, one DecodingLayerParser per first layer.
const (
	parserEthernet = iota
	parserSLL
	parserSLL2
	parserLoopback
	parserIPv4
	parserIPv6
	numParsers

	// parserFor's results below 0.
	parserNone    = -1 // unknown link type
	parserNonIP   = -2 // known link type, not carrying IP
	parserBadLink = -3 // known link type, invalid header
)

// Decoder decodes frames into Packets. It is not safe for concurrent use.
type Decoder struct {
	cfg Config

	eth     layers.Ethernet
	dot1q   layers.Dot1Q
	sll     layers.LinuxSLL
	sll2    layers.LinuxSLL2
	loop    layers.Loopback
	ip4     ipv4Layer
	ip6     ipv6Layer
	ip6ext  ipv6ExtLayer
	ip6frag layers.IPv6Fragment
	tcp     layers.TCP
	udp     layers.UDP

	// Tunnel headers gopacket decodes without allocating; the others
	// are decoded in tunnel.go.
	gre    layers.GRE
	vxlan  layers.VXLAN
	erspan layers.ERSPANII
	// vxlanPorts marks the UDP ports decoded as VXLAN.
	vxlanPorts portSet

	parsers [numParsers]*gopacket.DecodingLayerParser
	decoded []gopacket.LayerType
	frags   fragTable
	stats   DecoderStats
}

// NewDecoder returns a Decoder configured by cfg (nil for defaults).
func NewDecoder(cfg *Config) *Decoder {
	d := &Decoder{cfg: cfg.withDefaults()}
	firsts := [numParsers]gopacket.LayerType{
		parserEthernet: layers.LayerTypeEthernet,
		parserSLL:      layers.LayerTypeLinuxSLL,
		parserSLL2:     layers.LayerTypeLinuxSLL2,
		parserLoopback: layers.LayerTypeLoopback,
		parserIPv4:     layers.LayerTypeIPv4,
		parserIPv6:     layers.LayerTypeIPv6,
	}
	for i, first := range firsts {
		// The extension skipper is added before the fragment layer so
		// that the fragment layer wins for LayerTypeIPv6Fragment.
		p := gopacket.NewDecodingLayerParser(first,
			&d.eth, &d.dot1q, &d.sll, &d.sll2, &d.loop,
			&d.ip4, &d.ip6, &d.ip6ext, &d.ip6frag, &d.tcp, &d.udp)
		p.IgnoreUnsupported = true
		d.parsers[i] = p
	}
	d.decoded = make([]gopacket.LayerType, 0, 16)
	d.vxlanPorts.add(4789)
	for _, port := range d.cfg.VXLANPorts {
		d.vxlanPorts.add(port)
	}
	d.frags.init(d.cfg.MaxFragDatagrams, int64(d.cfg.FragTimeout))
	return d
}

// Stats returns the counters so far.
func (d *Decoder) Stats() DecoderStats {
	s := d.stats
	s.FragmentsDropped = d.frags.dropped
	return s
}

// parserFor picks the parser for a frame, or returns -1.
func parserFor(lt capture.LinkType, data []byte) int {
	switch lt {
	case capture.LinkTypeEthernet:
		return parserEthernet
	case capture.LinkTypeLinuxSLL:
		return parserSLL
	case capture.LinkTypeLinuxSLL2:
		return parserSLL2
	case capture.LinkTypeNull, capture.LinkTypeLoop:
		return parserLoopback
	case capture.LinkTypeIPv4:
		return parserIPv4
	case capture.LinkTypeIPv6:
		return parserIPv6
	case capture.LinkTypeRaw:
		if len(data) > 0 && data[0]>>4 == 6 {
			return parserIPv6
		}
		return parserIPv4
	}
	return parserNone
}

// Decode decodes in into out, overwriting all of out. It returns nil for a
// TCP or UDP packet; [ErrUnsupported] for anything else that is not an
// error; [ErrFragment] for an IP fragment held for reassembly; or an [*Error]
// wrapping [ErrMalformed] or [ErrTruncated].
//
// Tunnels (VXLAN, Geneve, GRE, ERSPAN, IP in IP, MPLS, NSH, GTP-U, PPPoE)
// are removed, nested up to [MaxTunnelDepth] deep: out then describes the
// inner packet and out.Tunnel the encapsulation.
//
// out.Payload aliases in.Data, or, for a reassembled datagram, a buffer of
// the Decoder; either way it is valid until in.Data is reused or the next
// Decode call, whichever comes first.
func (d *Decoder) Decode(in *capture.Packet, out *Packet) error {
	d.stats.Packets++
	d.stats.Bytes += uint64(len(in.Data))
	*out = Packet{Timestamp: in.Timestamp, Capture: in.Capture, Direction: in.Direction}

	data := in.Data
	var pi int
	switch in.LinkType {
	case capture.LinkTypeNFLOG:
		data, pi = nflogPayload(data)
	case capture.LinkTypeFDDI:
		data, pi = fddiPayload(data)
	default:
		pi = parserFor(in.LinkType, data)
	}
	if pi < 0 {
		if pi == parserNonIP {
			d.stats.NonIP++
		} else if pi == parserBadLink {
			d.stats.MalformedLink++
			return &Error{Number: in.Number, Layer: linkName(in.LinkType), Err: ErrMalformed}
		} else {
			d.stats.UnsupportedLink++
		}
		return ErrUnsupported
	}
	for range MaxTunnelDepth + 1 {
		inner, ipi, err := d.decodeLayers(in, out, pi, data)
		if inner == nil {
			if err == nil && out.Tunnel.Kind != TunnelNone {
				d.stats.Tunneled++
			}
			return err
		}
		data, pi = inner, ipi
	}
	// Not reached: decodeLayers stops following tunnels at MaxTunnelDepth.
	d.stats.OtherProto++
	return ErrUnsupported
}

// decodeLayers decodes one run of layers, from a link or IP header to the
// transport header or to the next tunnel. When it finds a tunnel to follow
// it records it in out.Tunnel and returns the inner bytes and the parser
// for them; otherwise it returns a nil slice and Decode's result.
func (d *Decoder) decodeLayers(in *capture.Packet, out *Packet, pi int, data []byte) ([]byte, int, error) {
	outer := out.Tunnel.Depth == 0
	p := d.parsers[pi]
	if err := p.DecodeLayers(data, &d.decoded); err != nil {
		return nil, 0, d.fail(in, p, pi, err)
	}

	var (
		netLayer gopacket.LayerType // last IPv4 or IPv6 header
		l4       gopacket.LayerType
		frag6    bool // an IPv6 fragment header follows netLayer
		vlanSeen bool
		linkLen  int
		etype    layers.EthernetType // of the last link header
		linkPay  []byte              // payload of the last link header
	)
	for _, typ := range d.decoded {
		switch typ {
		case layers.LayerTypeEthernet:
			linkLen = len(d.eth.Contents)
			etype, linkPay = d.eth.EthernetType, d.eth.Payload
		case layers.LayerTypeLinuxSLL:
			linkLen = len(d.sll.Contents)
			etype, linkPay = d.sll.EthernetType, d.sll.Payload
			if outer && out.Direction == capture.DirectionUnknown {
				out.Direction = sllDirection(uint8(d.sll.PacketType))
			}
		case layers.LayerTypeLinuxSLL2:
			linkLen = len(d.sll2.Contents)
			etype, linkPay = d.sll2.ProtocolType, d.sll2.Payload
			if outer && out.Direction == capture.DirectionUnknown {
				out.Direction = sllDirection(uint8(d.sll2.PacketType))
			}
		case layers.LayerTypeDot1Q:
			etype, linkPay = d.dot1q.Type, d.dot1q.Payload
			// The Dot1Q layer is reused for every tag of a QinQ stack;
			// the outermost tag sits right after the link header.
			if outer && !vlanSeen && linkLen+2 <= len(data) {
				out.VLAN = (uint16(data[linkLen])<<8 | uint16(data[linkLen+1])) & 0x0fff
				vlanSeen = true
			}
		case layers.LayerTypeIPv4, layers.LayerTypeIPv6:
			netLayer, frag6, l4 = typ, false, 0
		case layers.LayerTypeIPv6Fragment:
			frag6 = d.ip6frag.FragmentOffset != 0 || d.ip6frag.MoreFragments
		case layers.LayerTypeTCP, layers.LayerTypeUDP:
			l4 = typ
		}
	}

	var missing int
	switch netLayer {
	case layers.LayerTypeIPv4:
		out.Src = netip.AddrFrom4([4]byte(d.ip4.SrcIP))
		out.Dst = netip.AddrFrom4([4]byte(d.ip4.DstIP))
		missing = int(d.ip4.Length) - len(d.ip4.Contents) - len(d.ip4.Payload)
		if d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0 {
			wire := int(d.ip4.Length) - len(d.ip4.Contents)
			k := fragKey{id: uint32(d.ip4.Id), proto: uint8(d.ip4.Protocol), network: out.Tunnel.Network()}
			k.src, k.dst = out.Src.As16(), out.Dst.As16()
			return d.fragment(in, out, k, int(d.ip4.FragOffset)*8,
				d.ip4.Flags&layers.IPv4MoreFragments != 0, d.ip4.Payload, wire)
		}
	case layers.LayerTypeIPv6:
		out.Src = netip.AddrFrom16([16]byte(d.ip6.SrcIP)).Unmap()
		out.Dst = netip.AddrFrom16([16]byte(d.ip6.DstIP)).Unmap()
		if d.ip6.Length != 0 {
			captured := len(d.ip6.Payload)
			if d.ip6.HopByHop != nil {
				captured += d.ip6.HopByHop.ActualLength
			}
			missing = int(d.ip6.Length) - captured
		}
		if frag6 {
			if missing < 0 {
				missing = 0
			}
			k := fragKey{id: d.ip6frag.Identification, proto: uint8(d.ip6frag.NextHeader), v6: true, network: out.Tunnel.Network()}
			k.src, k.dst = [16]byte(d.ip6.SrcIP), [16]byte(d.ip6.DstIP)
			return d.fragment(in, out, k, int(d.ip6frag.FragmentOffset)*8,
				d.ip6frag.MoreFragments, d.ip6frag.Payload, len(d.ip6frag.Payload)+missing)
		}
	default:
		if linkPay != nil {
			if inner, ipi := d.etherTunnel(out, uint16(etype), linkPay); inner != nil {
				return inner, ipi, nil
			}
		}
		d.stats.NonIP++
		return nil, 0, ErrUnsupported
	}
	if missing < 0 {
		missing = 0
	}

	if l4 == 0 {
		next := d.nextLayer()
		switch next {
		case layerTypeIPInIP:
			if inner, ipi := d.ipTunnel(out, d.layer(d.decoded[len(d.decoded)-1]).LayerPayload()); inner != nil {
				return inner, ipi, nil
			}
		case layers.LayerTypeGRE:
			if inner, ipi := d.greTunnel(out, d.layer(d.decoded[len(d.decoded)-1]).LayerPayload()); inner != nil {
				return inner, ipi, nil
			}
		case layers.LayerTypeTCP, layers.LayerTypeUDP:
			// The IP payload ended before the transport header.
			d.stats.Truncated++
			return nil, 0, &Error{Number: in.Number, Layer: next.String(), Err: ErrTruncated,
				Detail: "no transport header captured"}
		}
		d.stats.OtherProto++
		return nil, 0, ErrUnsupported
	}
	if l4 == layers.LayerTypeUDP {
		if inner, ipi := d.udpTunnel(out, uint16(d.udp.DstPort), d.udp.Payload); inner != nil {
			return inner, ipi, nil
		}
	}
	d.fillL4(out, l4)
	out.Missing = missing
	return nil, 0, nil
}

// nextLayer returns the layer type the last decoded layer points to.
func (d *Decoder) nextLayer() gopacket.LayerType {
	if len(d.decoded) == 0 {
		return gopacket.LayerTypeZero
	}
	if l := d.layer(d.decoded[len(d.decoded)-1]); l != nil {
		return l.NextLayerType()
	}
	return gopacket.LayerTypeZero
}

// layer returns the decoding layer for typ.
func (d *Decoder) layer(typ gopacket.LayerType) gopacket.DecodingLayer {
	switch typ {
	case layers.LayerTypeEthernet:
		return &d.eth
	case layers.LayerTypeDot1Q:
		return &d.dot1q
	case layers.LayerTypeLinuxSLL:
		return &d.sll
	case layers.LayerTypeLinuxSLL2:
		return &d.sll2
	case layers.LayerTypeLoopback:
		return &d.loop
	case layers.LayerTypeIPv4:
		return &d.ip4
	case layers.LayerTypeIPv6:
		return &d.ip6
	case layers.LayerTypeIPv6Fragment:
		return &d.ip6frag
	case layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6HopByHop:
		return &d.ip6ext
	case layers.LayerTypeTCP:
		return &d.tcp
	case layers.LayerTypeUDP:
		return &d.udp
	}
	return nil
}

// fillL4 copies the transport header fields of the decoded TCP or UDP layer.
func (d *Decoder) fillL4(out *Packet, l4 gopacket.LayerType) {
	if l4 == layers.LayerTypeTCP {
		t := &d.tcp
		out.Proto = ProtoTCP
		out.SrcPort, out.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
		out.Seq, out.Ack = t.Seq, t.Ack
		var f uint8
		if t.FIN {
			f |= FlagFIN
		}
		if t.SYN {
			f |= FlagSYN
		}
		if t.RST {
			f |= FlagRST
		}
		if t.PSH {
			f |= FlagPSH
		}
		if t.ACK {
			f |= FlagACK
		}
		if t.URG {
			f |= FlagURG
		}
		out.Flags = f
		out.Payload = t.Payload
		d.stats.TCP++
		return
	}
	u := &d.udp
	out.Proto = ProtoUDP
	out.SrcPort, out.DstPort = uint16(u.SrcPort), uint16(u.DstPort)
	out.Payload = u.Payload
	d.stats.UDP++
}

// fragment feeds one IP fragment to the reassembly table and decodes the
// datagram when it is complete.
//
// A reassembled datagram may itself carry a tunnel; then, as for
// decodeLayers, the inner bytes and their parser are returned.
func (d *Decoder) fragment(in *capture.Packet, out *Packet, k fragKey, off int, more bool, data []byte, wire int) ([]byte, int, error) {
	d.stats.Fragments++
	dgram, ok := d.frags.add(k, off, more, data, wire, in.Timestamp)
	if !ok {
		return nil, 0, ErrFragment
	}
	d.stats.Reassembled++
	var err error
	switch k.proto {
	case uint8(layers.IPProtocolTCP):
		if err = d.tcp.DecodeFromBytes(dgram, gopacket.NilDecodeFeedback); err == nil {
			d.fillL4(out, layers.LayerTypeTCP)
			return nil, 0, nil
		}
	case uint8(layers.IPProtocolUDP):
		if err = d.udp.DecodeFromBytes(dgram, gopacket.NilDecodeFeedback); err == nil {
			if inner, ipi := d.udpTunnel(out, uint16(d.udp.DstPort), d.udp.Payload); inner != nil {
				return inner, ipi, nil
			}
			d.fillL4(out, layers.LayerTypeUDP)
			return nil, 0, nil
		}
	case uint8(layers.IPProtocolIPv4), uint8(layers.IPProtocolIPv6):
		if inner, ipi := d.ipTunnel(out, dgram); inner != nil {
			return inner, ipi, nil
		}
		d.stats.OtherProto++
		return nil, 0, ErrUnsupported
	case uint8(layers.IPProtocolGRE):
		if inner, ipi := d.greTunnel(out, dgram); inner != nil {
			return inner, ipi, nil
		}
		d.stats.OtherProto++
		return nil, 0, ErrUnsupported
	default:
		d.stats.OtherProto++
		return nil, 0, ErrUnsupported
	}
	d.stats.MalformedTransport++
	return nil, 0, &Error{Number: in.Number, Layer: "reassembled datagram", Err: ErrMalformed, Detail: err.Error()}
}

// fail turns a DecodingLayerParser error into a counted *Error.
func (d *Decoder) fail(in *capture.Packet, p *gopacket.DecodingLayerParser, pi int, err error) error {
	failed := d.nextLayer()
	if len(d.decoded) == 0 {
		failed = d.parserFirst(pi)
	}
	e := &Error{Number: in.Number, Layer: failed.String(), Err: ErrMalformed, Detail: err.Error()}
	if p.Truncated {
		e.Err = ErrTruncated
		d.stats.Truncated++
		return e
	}
	switch failed {
	case layers.LayerTypeIPv4, layers.LayerTypeIPv6, layers.LayerTypeIPv6Fragment,
		layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6HopByHop:
		d.stats.MalformedIP++
	case layers.LayerTypeTCP, layers.LayerTypeUDP:
		d.stats.MalformedTransport++
	default:
		d.stats.MalformedLink++
	}
	return e
}

func (d *Decoder) parserFirst(pi int) gopacket.LayerType {
	switch pi {
	case parserEthernet:
		return layers.LayerTypeEthernet
	case parserSLL:
		return layers.LayerTypeLinuxSLL
	case parserSLL2:
		return layers.LayerTypeLinuxSLL2
	case parserLoopback:
		return layers.LayerTypeLoopback
	case parserIPv4:
		return layers.LayerTypeIPv4
	}
	return layers.LayerTypeIPv6
}

// sllDirection maps a Linux SLL packet type (packet(7)) to a direction.
func sllDirection(t uint8) capture.Direction {
	switch t {
	case 0, 1, 2: // PACKET_HOST, PACKET_BROADCAST, PACKET_MULTICAST
		return capture.DirectionInbound
	case 4: // PACKET_OUTGOING
		return capture.DirectionOutbound
	}
	return capture.DirectionUnknown
}
