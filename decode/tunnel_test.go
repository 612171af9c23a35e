package decode_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/decode"
)

var (
	outerA = netip.MustParseAddr("192.0.2.1")
	outerB = netip.MustParseAddr("192.0.2.2")
)

// outer4 is an outer IPv4 header between the tunnel endpoints.
func outer4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: outerA.AsSlice(), DstIP: outerB.AsSlice(), Id: 9}
}

// outerUDP is a UDP header to a tunnel port.
func outerUDP(nl gopacket.NetworkLayer, dport uint16) *layers.UDP {
	u := &layers.UDP{SrcPort: 51000, DstPort: layers.UDPPort(dport)}
	u.SetNetworkLayerForChecksum(nl)
	return u
}

// innerIP4 is the inner packet: IPv4, TCP 40000 → 80, "GET".
func innerIP4(t testing.TB) []byte {
	ip := ip4(layers.IPProtocolTCP)
	return serialize(t, ip, tcp(ip), gopacket.Payload("GET"))
}

// innerIP6 is the inner packet over IPv6.
func innerIP6(t testing.TB) []byte {
	ip := ip6(layers.IPProtocolTCP)
	return serialize(t, ip, tcp(ip), gopacket.Payload("GET"))
}

// innerEth is the inner packet in an Ethernet frame.
func innerEth(t testing.TB) []byte {
	return serialize(t, eth(layers.EthernetTypeIPv4), gopacket.Payload(innerIP4(t)))
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func join(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// tunnelCase is one encapsulated frame and what Decode must find in it.
type tunnelCase struct {
	name    string
	link    capture.LinkType
	data    []byte
	inner6  bool
	want    decode.Tunnel
	wantErr error
}

func tun(kind decode.TunnelKind, depth uint8, id uint32, hasID bool, outer bool) decode.Tunnel {
	t := decode.Tunnel{Kind: kind, Depth: depth, ID: id, HasID: hasID}
	if outer {
		t.OuterSrc, t.OuterDst = outerA.As16(), outerB.As16()
	}
	return t
}

// tunnelCases builds one frame per encapsulation.
func tunnelCases(t testing.TB) []tunnelCase {
	e := eth(layers.EthernetTypeIPv4)
	udpIn := func(dport uint16, hdr []byte, inner []byte) []byte {
		ip := outer4(layers.IPProtocolUDP)
		return serialize(t, e, ip, outerUDP(ip, dport), gopacket.Payload(join(hdr, inner)))
	}
	greIn := func(hdr []byte, inner []byte) []byte {
		return serialize(t, e, outer4(layers.IPProtocolGRE), gopacket.Payload(join(hdr, inner)))
	}
	vxlan := func(vni uint32) []byte {
		return []byte{0x08, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}
	}
	erspan2 := join([]byte{0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1}, // GRE, S bit, sequence 1
		[]byte{0x10, 0x00, 0x00, 0x05, 0, 0, 0, 0}) // ERSPAN II, session 5
	ip6in := ip6(layers.IPProtocolIPv6)
	ip6in.SrcIP, ip6in.DstIP = netip.MustParseAddr("2001:db8:ff::1").AsSlice(), netip.MustParseAddr("2001:db8:ff::2").AsSlice()
	ip6t := tun(decode.TunnelIP6IP, 1, 0, false, false)
	ip6t.OuterSrc, ip6t.OuterDst = netip.MustParseAddr("2001:db8:ff::1").As16(), netip.MustParseAddr("2001:db8:ff::2").As16()

	nested := innerIP4(t)
	for range 4 {
		nested = serialize(t, outer4(layers.IPProtocolIPv4), gopacket.Payload(nested))
	}
	tooDeep := serialize(t, e, outer4(layers.IPProtocolIPv4), gopacket.Payload(nested))

	nsh := []byte{0x00, 0x06, 0x01, 0x01, 0x00, 0x00, 0x10, 0xff} // 24 bytes, MD type 1, IPv4, SPI 16
	nsh = append(nsh, make([]byte, 16)...)
	gtpExt := []byte{0x34, 0xff, 0, 0, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0x85, 0x01, 0x00, 0x09, 0x00}
	binary.BigEndian.PutUint16(gtpExt[2:], uint16(len(gtpExt)-8+len(innerIP4(t))))
	gtp := []byte{0x30, 0xff, 0, 0, 0x11, 0x22, 0x33, 0x44}
	binary.BigEndian.PutUint16(gtp[2:], uint16(len(innerIP4(t))))
	pppoe := []byte{0x11, 0x00, 0x00, 0x07, 0, 0, 0x00, 0x21}
	binary.BigEndian.PutUint16(pppoe[4:], uint16(2+len(innerIP4(t))))

	nflogTLV := func(typ uint16, v []byte) []byte {
		h := binary.LittleEndian.AppendUint16(nil, uint16(4+len(v)))
		h = binary.LittleEndian.AppendUint16(h, typ)
		h = append(h, v...)
		for len(h)%4 != 0 {
			h = append(h, 0)
		}
		return h
	}
	nflog := join([]byte{2, 0, 0, 1}, nflogTLV(1, []byte{8, 0, 3, 0}), nflogTLV(10, []byte("prefix")), nflogTLV(9, innerIP4(t)))
	fddi := join([]byte{0x50}, make([]byte, 12), []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}, innerIP4(t))

	return []tunnelCase{
		{name: "vxlan", data: udpIn(4789, vxlan(300), innerEth(t)), want: tun(decode.TunnelVXLAN, 1, 300, true, true)},
		{name: "geneve with options", data: udpIn(6081, join([]byte{0x02, 0x00, 0x65, 0x58, 0, 0, 77, 0}, make([]byte, 8)), innerEth(t)),
			want: tun(decode.TunnelGeneve, 1, 77, true, true)},
		{name: "geneve ipv4", data: udpIn(6081, []byte{0x00, 0x00, 0x08, 0x00, 0, 1, 0, 0}, innerIP4(t)),
			want: tun(decode.TunnelGeneve, 1, 256, true, true)},
		{name: "vxlan-gpe nsh", data: udpIn(4790, []byte{0x0c, 0, 0, 4, 0, 0, 9, 0}, join(nsh, innerIP4(t))),
			want: tun(decode.TunnelNSH, 2, 16, true, true)},
		{name: "gtp-u", data: udpIn(2152, gtp, innerIP4(t)), want: tun(decode.TunnelGTPU, 1, 0x11223344, true, true)},
		{name: "gtp-u extension header", data: udpIn(2152, gtpExt, innerIP4(t)), want: tun(decode.TunnelGTPU, 1, 0x11223344, true, true)},
		{name: "gre ipv4 key", data: greIn([]byte{0x20, 0, 0x08, 0x00, 0, 0, 0, 9}, innerIP4(t)), want: tun(decode.TunnelGRE, 1, 9, true, true)},
		{name: "gre ipv6", data: greIn([]byte{0, 0, 0x86, 0xdd}, innerIP6(t)), inner6: true, want: tun(decode.TunnelGRE, 1, 0, false, true)},
		{name: "gre teb", data: greIn([]byte{0x20, 0, 0x65, 0x58, 0, 0, 0, 3}, innerEth(t)), want: tun(decode.TunnelGRE, 1, 3, true, true)},
		{name: "gre mpls", data: greIn([]byte{0, 0, 0x88, 0x47, 0, 0x06, 0x41, 64}, innerIP4(t)), want: tun(decode.TunnelMPLS, 2, 100, true, true)},
		{name: "erspan I", data: greIn([]byte{0, 0, 0x88, 0xbe}, innerEth(t)), want: tun(decode.TunnelERSPAN, 1, 0, false, true)},
		{name: "erspan II", data: greIn(erspan2, innerEth(t)), want: tun(decode.TunnelERSPAN, 1, 5, true, true)},
		{name: "erspan III with subheader", data: greIn(join([]byte{0x10, 0, 0x22, 0xeb, 0, 0, 0, 1},
			[]byte{0x20, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1}, make([]byte, 8)), innerEth(t)),
			want: tun(decode.TunnelERSPAN, 1, 6, true, true)},
		{name: "erspan II carrying vxlan", data: greIn(erspan2, func() []byte {
			ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
				SrcIP: []byte{198, 51, 100, 1}, DstIP: []byte{198, 51, 100, 2}}
			return serialize(t, e, ip, outerUDP(ip, 4789), gopacket.Payload(join(vxlan(7), innerEth(t))))
		}()), want: func() decode.Tunnel {
			w := tun(decode.TunnelVXLAN, 2, 7, true, false)
			w.OuterSrc, w.OuterDst = netip.MustParseAddr("198.51.100.1").As16(), netip.MustParseAddr("198.51.100.2").As16()
			return w
		}()},
		{name: "ipip", data: serialize(t, e, outer4(layers.IPProtocolIPv4), gopacket.Payload(innerIP4(t))),
			want: tun(decode.TunnelIPIP, 1, 0, false, true)},
		{name: "6in4", data: serialize(t, e, outer4(layers.IPProtocolIPv6), gopacket.Payload(innerIP6(t))),
			inner6: true, want: tun(decode.TunnelIP6IP, 1, 0, false, true)},
		{name: "ipv6 in ipv6", data: serialize(t, eth(layers.EthernetTypeIPv6), ip6in, gopacket.Payload(innerIP6(t))),
			inner6: true, want: ip6t},
		{name: "mpls stack", data: serialize(t, eth(layers.EthernetTypeMPLSUnicast), gopacket.Payload(join(
			[]byte{0, 0x06, 0x40, 64, 0, 0x0c, 0x81, 64}, innerIP4(t)))), want: tun(decode.TunnelMPLS, 1, 200, true, false)},
		{name: "mpls pseudowire with control word", data: serialize(t, eth(layers.EthernetTypeMPLSUnicast), gopacket.Payload(join(
			[]byte{0, 0x0c, 0x81, 64, 0, 0, 0, 0}, innerEth(t)))), want: tun(decode.TunnelMPLS, 1, 200, true, false)},
		{name: "nsh", data: serialize(t, eth(0x894f), gopacket.Payload(join(nsh, innerIP4(t)))), want: tun(decode.TunnelNSH, 1, 16, true, false)},
		{name: "pppoe in vlan", data: serialize(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: 0x8864},
			gopacket.Payload(join(pppoe, innerIP4(t)))), want: tun(decode.TunnelPPPoE, 1, 7, true, false)},
		{name: "nflog", link: capture.LinkTypeNFLOG, data: nflog},
		{name: "fddi", link: capture.LinkTypeFDDI, data: fddi},
		{name: "vxlan without I flag is plain udp", data: udpIn(4789, []byte{0, 0, 0, 0, 0, 0, 1, 0}, innerEth(t)), wantErr: errUDP},
		{name: "too deep", data: tooDeep, want: tun(decode.TunnelIPIP, 4, 0, false, false), wantErr: decode.ErrUnsupported},
	}
}

// errUDP marks a case whose result is the outer UDP packet.
var errUDP = errors.New("outer udp")

func TestDecodeTunnels(t *testing.T) {
	for _, tc := range tunnelCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			d := decode.NewDecoder(nil)
			link := tc.link
			if link == 0 && tc.name != "" {
				link = capture.LinkTypeEthernet
			}
			in := capture.Packet{LinkType: link, Data: tc.data, Length: len(tc.data)}
			var got decode.Packet
			err := d.Decode(&in, &got)
			switch tc.wantErr {
			case errUDP:
				if err != nil || got.Proto != decode.ProtoUDP || got.Tunnel.Kind != decode.TunnelNone {
					t.Fatalf("Decode = %v, proto %d, tunnel %v; want the outer UDP packet", err, got.Proto, got.Tunnel)
				}
				return
			case nil:
				if err != nil {
					t.Fatalf("Decode: %v", err)
				}
			default:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Decode = %v, want %v", err, tc.wantErr)
				}
				if s := d.Stats(); s.TunnelTooDeep != 1 {
					t.Errorf("TunnelTooDeep = %d, want 1", s.TunnelTooDeep)
				}
				return
			}
			want := decode.Packet{Src: cli4, Dst: srv4, SrcPort: 40000, DstPort: 80, Proto: decode.ProtoTCP,
				Seq: 1000, Ack: 2000, Flags: decode.FlagACK | decode.FlagPSH, Payload: []byte("GET"), Tunnel: tc.want}
			if tc.inner6 {
				want.Src, want.Dst = cli6, srv6
			}
			if tc.name == "pppoe in vlan" {
				want.VLAN = 5
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("packet (-want +got):\n%s", diff)
			}
			if tc.want.Kind != decode.TunnelNone && d.Stats().Tunneled != 1 {
				t.Errorf("Tunneled = %d, want 1", d.Stats().Tunneled)
			}
		})
	}
}

func TestDecodeVXLANPorts(t *testing.T) {
	ip := outer4(layers.IPProtocolUDP)
	data := serialize(t, eth(layers.EthernetTypeIPv4), ip, outerUDP(ip, 8472),
		gopacket.Payload(join([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, innerEth(t))))
	in := capture.Packet{LinkType: capture.LinkTypeEthernet, Data: data, Length: len(data)}
	var p decode.Packet
	if err := decode.NewDecoder(nil).Decode(&in, &p); err != nil || p.Tunnel.Kind != decode.TunnelNone || p.DstPort != 8472 {
		t.Fatalf("default ports: err %v, tunnel %v, dst port %d; want plain UDP to 8472", err, p.Tunnel.Kind, p.DstPort)
	}
	d := decode.NewDecoder(&decode.Config{VXLANPorts: []uint16{8472}})
	if err := d.Decode(&in, &p); err != nil || p.Tunnel.Kind != decode.TunnelVXLAN || p.Tunnel.ID != 42 || p.DstPort != 80 {
		t.Fatalf("VXLANPorts 8472: err %v, tunnel %+v, dst port %d; want VXLAN 42 to port 80", err, p.Tunnel, p.DstPort)
	}
}

func TestTunnelNetwork(t *testing.T) {
	tests := []struct {
		name string
		in   decode.Tunnel
		want uint64
	}{
		{"none", decode.Tunnel{}, 0},
		{"vxlan", decode.Tunnel{Kind: decode.TunnelVXLAN, ID: 5, HasID: true, Depth: 1}, uint64(decode.TunnelVXLAN)<<32 | 5},
		{"geneve", decode.Tunnel{Kind: decode.TunnelGeneve, ID: 5, HasID: true, Depth: 1}, uint64(decode.TunnelGeneve)<<32 | 5},
		{"gre key differs per direction in practice", decode.Tunnel{Kind: decode.TunnelGRE, ID: 5, HasID: true, Depth: 1}, 0},
		{"gtp-u teid differs per direction", decode.Tunnel{Kind: decode.TunnelGTPU, ID: 5, HasID: true, Depth: 1}, 0},
	}
	for _, tc := range tests {
		if got := tc.in.Network(); got != tc.want {
			t.Errorf("%s: Network() = %#x, want %#x", tc.name, got, tc.want)
		}
	}
}

// TestAssemblerTunnelNetworks checks that equal inner connections in two
// VNIs are two connections, each with its tunnel.
func TestAssemblerTunnelNetworks(t *testing.T) {
	f := &recFactory{t: t}
	a := decode.NewAssembler(nil, f)
	for _, vni := range []uint32{1, 2} {
		for _, p := range handshake() {
			p.Tunnel = decode.Tunnel{Kind: decode.TunnelVXLAN, Depth: 1, ID: vni, HasID: true,
				OuterSrc: outerA.As16(), OuterDst: outerB.As16()}
			if p.Src == srv4 {
				p.Tunnel = p.Tunnel.Reverse()
			}
			a.Add(p)
		}
	}
	a.Flush()
	if got := len(f.streams); got != 2 {
		t.Fatalf("%d connections, want 2", got)
	}
	for i, s := range f.streams {
		if c := s.conn; c.Tunnel.ID != uint32(i+1) || c.Tunnel.Src() != outerA {
			t.Errorf("conn %d tunnel %+v, want VNI %d from %v", i, c.Tunnel, i+1, outerA)
		}
	}
}

func TestDecodeTunnelAllocs(t *testing.T) {
	d := decode.NewDecoder(nil)
	for _, tc := range tunnelCases(t) {
		if tc.wantErr != nil {
			continue
		}
		link := tc.link
		if link == 0 {
			link = capture.LinkTypeEthernet
		}
		in := capture.Packet{LinkType: link, Data: tc.data, Length: len(tc.data)}
		var p decode.Packet
		if n := testing.AllocsPerRun(200, func() {
			if err := d.Decode(&in, &p); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: Decode allocates %v times per packet, want 0", tc.name, n)
		}
	}
}

func BenchmarkDecodeTunnel(b *testing.B) {
	for _, tc := range tunnelCases(b) {
		if tc.wantErr != nil || tc.link != 0 {
			continue
		}
		b.Run(tc.name, func(b *testing.B) {
			d := decode.NewDecoder(nil)
			in := capture.Packet{LinkType: capture.LinkTypeEthernet, Data: tc.data, Length: len(tc.data)}
			var p decode.Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.data)))
			for b.Loop() {
				if err := d.Decode(&in, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
