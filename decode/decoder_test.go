package decode_test

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/decode"
)

var (
	cliMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	srvMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	cli4   = netip.MustParseAddr("10.0.0.1")
	srv4   = netip.MustParseAddr("10.0.0.2")
	cli6   = netip.MustParseAddr("2001:db8::1")
	srv6   = netip.MustParseAddr("2001:db8::2")
)

// header is a raw link header for link types gopacket cannot serialize.
type header []byte

func (h header) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	buf, err := b.PrependBytes(len(h))
	if err != nil {
		return err
	}
	copy(buf, h)
	return nil
}

func (h header) LayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(typ layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: cliMAC, DstMAC: srvMAC, EthernetType: typ}
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: cli4.AsSlice(), DstIP: srv4.AsSlice(), Id: 7}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: cli6.AsSlice(), DstIP: srv6.AsSlice()}
}

func tcp(nl gopacket.NetworkLayer) *layers.TCP {
	t := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, Ack: 2000, ACK: true, PSH: true, Window: 1024}
	t.SetNetworkLayerForChecksum(nl)
	return t
}

func udp(nl gopacket.NetworkLayer) *layers.UDP {
	u := &layers.UDP{SrcPort: 5353, DstPort: 53}
	u.SetNetworkLayerForChecksum(nl)
	return u
}

// ethTCP is an Ethernet/IPv4/TCP frame carrying payload.
func ethTCP(t testing.TB, payload string) []byte {
	ip := ip4(layers.IPProtocolTCP)
	return serialize(t, eth(layers.EthernetTypeIPv4), ip, tcp(ip), gopacket.Payload(payload))
}

func wantTCP4(payload string) decode.Packet {
	return decode.Packet{
		Timestamp: 42, Capture: "test", Src: cli4, Dst: srv4, SrcPort: 40000, DstPort: 80,
		Proto: decode.ProtoTCP, Seq: 1000, Ack: 2000, Flags: decode.FlagACK | decode.FlagPSH,
		Payload: []byte(payload),
	}
}

func ipv4Fragments(t testing.TB) [][]byte {
	// A UDP datagram of 8+40 bytes split at 24 bytes of IP payload.
	ip := ip4(layers.IPProtocolUDP)
	whole := serialize(t, udp(ip), gopacket.Payload("0123456789abcdefghijklmnopqrstuvwxyzABCD"))
	a, b := ip4(layers.IPProtocolUDP), ip4(layers.IPProtocolUDP)
	a.Flags = layers.IPv4MoreFragments
	b.FragOffset = 3
	return [][]byte{
		serialize(t, eth(layers.EthernetTypeIPv4), a, gopacket.Payload(whole[:24])),
		serialize(t, eth(layers.EthernetTypeIPv4), b, gopacket.Payload(whole[24:])),
	}
}

func TestDecode(t *testing.T) {
	type tc struct {
		name     string
		link     capture.LinkType
		data     []byte
		length   int // wire length, 0 for len(data)
		dir      capture.Direction
		pre      [][]byte // fragments decoded first (Ethernet), each must return ErrFragment
		want     decode.Packet
		wantErr  error
		wantStat func(decode.DecoderStats) uint64
	}
	ip := ip4(layers.IPProtocolTCP)
	ipv6 := ip6(layers.IPProtocolTCP)
	full := ethTCP(t, "0123456789abcdefghijklmnopqrstuvwxyz")
	padded := append(ethTCP(t, "hi"), 0, 0, 0, 0)
	frags := ipv4Fragments(t)

	sllHdr := func(pktType uint16, proto layers.EthernetType) header {
		h := make(header, 16)
		binary.BigEndian.PutUint16(h[0:], pktType)
		binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6)
		copy(h[6:], cliMAC)
		binary.BigEndian.PutUint16(h[14:], uint16(proto))
		return h
	}
	sll2Hdr := func(pktType uint8, proto layers.EthernetType) header {
		h := make(header, 20)
		binary.BigEndian.PutUint16(h[0:], uint16(proto))
		binary.BigEndian.PutUint32(h[4:], 2) // ifindex
		binary.BigEndian.PutUint16(h[8:], 1)
		h[10] = pktType
		h[11] = 6
		copy(h[12:], cliMAC)
		return h
	}
	withDir := func(p decode.Packet, d capture.Direction) decode.Packet { p.Direction = d; return p }
	withVLAN := func(p decode.Packet, v uint16) decode.Packet { p.VLAN = v; return p }
	v6 := wantTCP4("x")
	v6.Src, v6.Dst = cli6, srv6
	udpWant := decode.Packet{Timestamp: 42, Capture: "test", Src: cli4, Dst: srv4, SrcPort: 5353, DstPort: 53,
		Proto: decode.ProtoUDP, Payload: []byte("0123456789abcdefghijklmnopqrstuvwxyzABCD")}
	trunc := wantTCP4("0123456789")
	trunc.Missing = 26

	tests := []tc{
		{name: "ethernet ipv4 tcp", link: capture.LinkTypeEthernet, data: ethTCP(t, "hello"), want: wantTCP4("hello")},
		{name: "ethernet direction kept", link: capture.LinkTypeEthernet, data: ethTCP(t, "hello"),
			dir: capture.DirectionOutbound, want: withDir(wantTCP4("hello"), capture.DirectionOutbound)},
		{name: "vlan", link: capture.LinkTypeEthernet,
			data: serialize(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4},
				ip, tcp(ip), gopacket.Payload("v")),
			want: withVLAN(wantTCP4("v"), 100)},
		{name: "qinq outer tag kept", link: capture.LinkTypeEthernet,
			data: serialize(t, eth(layers.EthernetTypeQinQ),
				&layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeDot1Q},
				&layers.Dot1Q{VLANIdentifier: 300, Type: layers.EthernetTypeIPv4},
				ip, tcp(ip), gopacket.Payload("q")),
			want: withVLAN(wantTCP4("q"), 200)},
		{name: "sll host is inbound", link: capture.LinkTypeLinuxSLL,
			data: serialize(t, sllHdr(0, layers.EthernetTypeIPv4), ip, tcp(ip), gopacket.Payload("s")),
			want: withDir(wantTCP4("s"), capture.DirectionInbound)},
		{name: "sll2 outgoing is outbound", link: capture.LinkTypeLinuxSLL2,
			data: serialize(t, sll2Hdr(4, layers.EthernetTypeIPv4), ip, tcp(ip), gopacket.Payload("s2")),
			want: withDir(wantTCP4("s2"), capture.DirectionOutbound)},
		{name: "loopback null", link: capture.LinkTypeNull,
			data: serialize(t, &layers.Loopback{Family: layers.ProtocolFamilyIPv4}, ip, tcp(ip), gopacket.Payload("lo")),
			want: wantTCP4("lo")},
		{name: "loopback loop big endian", link: capture.LinkTypeLoop,
			data: serialize(t, header{0, 0, 0, 2}, ip, tcp(ip), gopacket.Payload("lo")),
			want: wantTCP4("lo")},
		{name: "raw ipv4", link: capture.LinkTypeRaw, data: serialize(t, ip, tcp(ip), gopacket.Payload("r")), want: wantTCP4("r")},
		{name: "raw ipv6", link: capture.LinkTypeRaw, data: serialize(t, ipv6, tcp(ipv6), gopacket.Payload("x")), want: v6},
		{name: "linktype ipv6", link: capture.LinkTypeIPv6, data: serialize(t, ipv6, tcp(ipv6), gopacket.Payload("x")), want: v6},
		{name: "ethernet padding trimmed", link: capture.LinkTypeEthernet, data: padded, want: wantTCP4("hi")},
		{name: "snaplen truncated payload", link: capture.LinkTypeEthernet, data: full[:14+20+20+10], length: len(full), want: trunc},
		{name: "ipv4 fragments", link: capture.LinkTypeEthernet, pre: frags[:1], data: frags[1], want: udpWant,
			wantStat: func(s decode.DecoderStats) uint64 { return s.Reassembled }},
		{name: "truncated tcp header", link: capture.LinkTypeEthernet, data: full[:14+20+10], length: len(full), wantErr: decode.ErrTruncated,
			wantStat: func(s decode.DecoderStats) uint64 { return s.Truncated }},
		{name: "ip header only", link: capture.LinkTypeEthernet, data: full[:14+20], length: len(full), wantErr: decode.ErrTruncated},
		{name: "truncated ip header", link: capture.LinkTypeEthernet, data: full[:14+10], length: len(full), wantErr: decode.ErrTruncated},
		{name: "bad ip header length", link: capture.LinkTypeRaw, data: []byte{0x41, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8},
			wantErr: decode.ErrMalformed, wantStat: func(s decode.DecoderStats) uint64 { return s.MalformedIP }},
		{name: "arp is unsupported", link: capture.LinkTypeEthernet,
			data: serialize(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: 1, Protocol: 0x800, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: 1, SourceHwAddress: cliMAC, SourceProtAddress: cli4.AsSlice(), DstHwAddress: srvMAC, DstProtAddress: srv4.AsSlice()}),
			wantErr: decode.ErrUnsupported, wantStat: func(s decode.DecoderStats) uint64 { return s.NonIP }},
		{name: "icmp is unsupported", link: capture.LinkTypeEthernet,
			data:    serialize(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}),
			wantErr: decode.ErrUnsupported, wantStat: func(s decode.DecoderStats) uint64 { return s.OtherProto }},
		{name: "unknown link type", link: 147, data: ethTCP(t, "x"), wantErr: decode.ErrUnsupported,
			wantStat: func(s decode.DecoderStats) uint64 { return s.UnsupportedLink }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decode.NewDecoder(nil)
			var got decode.Packet
			for i, f := range tt.pre {
				in := capture.Packet{LinkType: capture.LinkTypeEthernet, Data: f, Length: len(f), Timestamp: 41, Number: int64(i + 1)}
				if err := d.Decode(&in, &got); !errors.Is(err, decode.ErrFragment) {
					t.Fatalf("fragment %d: err = %v, want ErrFragment", i, err)
				}
			}
			in := capture.Packet{LinkType: tt.link, Data: tt.data, Length: tt.length, Timestamp: 42, Capture: "test", Direction: tt.dir, Number: 9}
			if in.Length == 0 {
				in.Length = len(tt.data)
			}
			err := d.Decode(&in, &got)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantStat != nil && tt.wantStat(d.Stats()) != 1 {
				t.Errorf("counter not 1: %+v", d.Stats())
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("packet mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrorNamesPacket(t *testing.T) {
	d := decode.NewDecoder(nil)
	full := ethTCP(t, "abc")
	in := capture.Packet{LinkType: capture.LinkTypeEthernet, Data: full[:40], Length: len(full), Number: 17}
	var p decode.Packet
	err := d.Decode(&in, &p)
	var de *decode.Error
	if !errors.As(err, &de) || de.Number != 17 {
		t.Fatalf("err = %v, want *decode.Error for packet 17", err)
	}
	if got := err.Error(); got[:len("decode: packet 17: ")] != "decode: packet 17: " {
		t.Errorf("message %q lacks position", got)
	}
}

func TestDecodeIPv6Fragments(t *testing.T) {
	ipv6 := ip6(layers.IPProtocolUDP)
	whole := serialize(t, udp(ipv6), gopacket.Payload("0123456789abcdefghijklmnopqrstuvwxyz"))
	frag := func(off uint16, more bool, data []byte) []byte {
		h := ip6(layers.IPProtocolIPv6Fragment)
		fh := make(header, 8)
		fh[0] = byte(layers.IPProtocolUDP)
		v := off << 3
		if more {
			v |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], v)
		binary.BigEndian.PutUint32(fh[4:], 99)
		return serialize(t, eth(layers.EthernetTypeIPv6), h, fh, gopacket.Payload(data))
	}
	d := decode.NewDecoder(nil)
	var p decode.Packet
	f1, f2 := frag(0, true, whole[:16]), frag(2, false, whole[16:])
	if err := d.Decode(&capture.Packet{LinkType: capture.LinkTypeEthernet, Data: f1, Length: len(f1)}, &p); !errors.Is(err, decode.ErrFragment) {
		t.Fatalf("first fragment: %v", err)
	}
	if err := d.Decode(&capture.Packet{LinkType: capture.LinkTypeEthernet, Data: f2, Length: len(f2)}, &p); err != nil {
		t.Fatalf("second fragment: %v", err)
	}
	if string(p.Payload) != "0123456789abcdefghijklmnopqrstuvwxyz" || p.Src != cli6 || p.DstPort != 53 {
		t.Errorf("reassembled = %+v", p)
	}
}

func TestDecodeFragmentTimeout(t *testing.T) {
	frags := ipv4Fragments(t)
	d := decode.NewDecoder(&decode.Config{FragTimeout: 10})
	var p decode.Packet
	_ = d.Decode(&capture.Packet{LinkType: capture.LinkTypeEthernet, Data: frags[0], Timestamp: 0}, &p)
	if err := d.Decode(&capture.Packet{LinkType: capture.LinkTypeEthernet, Data: frags[1], Timestamp: 100}, &p); !errors.Is(err, decode.ErrFragment) {
		t.Fatalf("late fragment: err = %v, want ErrFragment", err)
	}
	if got := d.Stats().FragmentsDropped; got != 1 {
		t.Errorf("FragmentsDropped = %d, want 1", got)
	}
}

func TestDecodeAllocs(t *testing.T) {
	d := decode.NewDecoder(nil)
	data := ethTCP(t, "GET / HTTP/1.1\r\n\r\n")
	in := capture.Packet{LinkType: capture.LinkTypeEthernet, Data: data, Length: len(data)}
	var p decode.Packet
	if n := testing.AllocsPerRun(1000, func() {
		if err := d.Decode(&in, &p); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Decode allocates %v times per packet, want 0", n)
	}
}

func TestDecoderStatsEach(t *testing.T) {
	s := decode.DecoderStats{Packets: 3, MalformedTransport: 1}
	var names []string
	s.Each(func(name string, v uint64) {
		names = append(names, name)
		if name == "packets" && v != 3 {
			t.Errorf("packets = %d", v)
		}
	})
	if len(names) != 16 || names[0] != "packets" || names[15] != "tunnel_too_deep" {
		t.Errorf("names = %v", names)
	}
}

func BenchmarkDecode(b *testing.B) {
	d := decode.NewDecoder(nil)
	data := ethTCP(b, "GET / HTTP/1.1\r\nHost: example\r\n\r\n")
	in := capture.Packet{LinkType: capture.LinkTypeEthernet, Data: data, Length: len(data)}
	var p decode.Packet
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := d.Decode(&in, &p); err != nil {
			b.Fatal(err)
		}
	}
}
