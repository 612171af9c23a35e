package filter_test

import (
	"encoding/binary"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
)

var (
	mac1 = net.HardwareAddr{0x00, 0x11, 0x22, 0x33, 0x44, 0x55}
	mac2 = net.HardwareAddr{0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb}
)

func serialize(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// l3 packets shared by every link type.
func tcp4(t *testing.T) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	tcp := &layers.TCP{SrcPort: 1234, DstPort: 80, SYN: true, Window: 1000}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tcp, gopacket.Payload("GET / HTTP/1.1\r\n"))
}

func udp6(t *testing.T) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
		SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8::2")}
	udp := &layers.UDP{SrcPort: 5353, DstPort: 53}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, udp, gopacket.Payload("query"))
}

// frag4 is a non-first IPv4 fragment of a UDP datagram whose payload would
// read as ports 53 -> 53 if the fragment offset were ignored.
func frag4(t *testing.T) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP,
		FragOffset: 100, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 3}}
	return serialize(t, ip, gopacket.Payload{0, 53, 0, 53, 0, 8, 0, 0})
}

// frame puts the link-layer header of link in front of an IP packet.
func frame(t *testing.T, link capture.LinkType, l3 []byte) []byte {
	t.Helper()
	v6 := l3[0]>>4 == 6
	etherType := layers.EthernetTypeIPv4
	family := uint32(2)
	if v6 {
		etherType, family = layers.EthernetTypeIPv6, 30
	}
	var hdr []byte
	switch link {
	case capture.LinkTypeEthernet:
		return serialize(t, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: etherType}, gopacket.Payload(l3))
	case capture.LinkTypeLinuxSLL: // packet type, ARPHRD, address length, address, protocol
		hdr = make([]byte, 16)
		binary.BigEndian.PutUint16(hdr[2:], 1)
		binary.BigEndian.PutUint16(hdr[4:], 6)
		copy(hdr[6:], mac1)
		binary.BigEndian.PutUint16(hdr[14:], uint16(etherType))
	case capture.LinkTypeLinuxSLL2: // protocol, reserved, ifindex, ARPHRD, type, address length, address
		hdr = make([]byte, 20)
		binary.BigEndian.PutUint16(hdr[0:], uint16(etherType))
		binary.BigEndian.PutUint32(hdr[4:], 1)
		binary.BigEndian.PutUint16(hdr[8:], 1)
		hdr[11] = 6
		copy(hdr[12:], mac1)
	case capture.LinkTypeNull: // host byte order, here little-endian
		hdr = binary.LittleEndian.AppendUint32(nil, family)
	case capture.LinkTypeLoop:
		hdr = binary.BigEndian.AppendUint32(nil, family)
	}
	return append(hdr, l3...)
}

func TestMatchLinkTypes(t *testing.T) {
	links := []capture.LinkType{capture.LinkTypeEthernet, capture.LinkTypeLinuxSLL, capture.LinkTypeLinuxSLL2,
		capture.LinkTypeRaw, capture.LinkTypeIPv4, capture.LinkTypeIPv6, capture.LinkTypeNull, capture.LinkTypeLoop}
	packets := []struct {
		name string
		l3   []byte
	}{{"tcp4", tcp4(t)}, {"udp6", udp6(t)}, {"frag4", frag4(t)}}
	tests := []struct {
		expr string
		want [3]bool // tcp4, udp6, frag4
	}{
		{"", [3]bool{true, true, true}},
		{"ip", [3]bool{true, false, true}},
		{"ip6", [3]bool{false, true, false}},
		{"tcp", [3]bool{true, false, false}},
		{"udp", [3]bool{false, true, true}},
		{"tcp port 80", [3]bool{true, false, false}},
		{"port 53", [3]bool{false, true, false}},
		{"udp dst port 53", [3]bool{false, true, false}},
		{"src port 5353 or 1234", [3]bool{true, true, false}},
		{"portrange 50-60", [3]bool{false, true, false}},
		{"host 10.0.0.1", [3]bool{true, false, true}},
		{"src host 10.0.0.2", [3]bool{false, false, false}},
		{"dst net 10.0.0.0/30", [3]bool{true, false, true}},
		{"net 2001:db8::/32", [3]bool{false, true, false}},
		{"host 2001:db8::2 and udp", [3]bool{false, true, false}},
		{"tcp[tcpflags] & tcp-syn != 0", [3]bool{true, false, false}},
		{"tcp[((tcp[12]&0xf0)>>2):4] = 0x47455420", [3]bool{true, false, false}},
		{"ip[6:2] & 0x1fff != 0", [3]bool{false, false, true}},
		{"not ip6 and udp", [3]bool{false, false, true}},
		{"ip6[6] = 17 or ip[9] = 6", [3]bool{true, true, false}},
		{"greater 1000", [3]bool{false, false, false}},
	}
	for _, link := range links {
		for pi, p := range packets {
			if v6 := p.l3[0]>>4 == 6; v6 && link == capture.LinkTypeIPv4 || !v6 && link == capture.LinkTypeIPv6 {
				continue
			}
			data := frame(t, link, p.l3)
			for _, tt := range tests {
				t.Run(linkName(link)+"/"+p.name+"/"+tt.expr, func(t *testing.T) {
					f, err := filter.New(tt.expr, link)
					if err != nil {
						t.Fatal(err)
					}
					if got := f.Match(data, len(data)); got != tt.want[pi] {
						t.Errorf("Match = %v, want %v", got, tt.want[pi])
					}
					if got := vmMatch(t, tt.expr, link, data); got != tt.want[pi] {
						t.Errorf("bpf.VM = %v, want %v", got, tt.want[pi])
					}
				})
			}
		}
	}
}

func vmMatch(t *testing.T, expr string, link capture.LinkType, data []byte) bool {
	t.Helper()
	prog, err := filter.Compile(expr, link, 0)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatal(err)
	}
	n, err := vm.Run(data)
	if err != nil {
		t.Fatal(err)
	}
	return n != 0
}

func linkName(l capture.LinkType) string {
	return map[capture.LinkType]string{
		capture.LinkTypeEthernet: "ethernet", capture.LinkTypeLinuxSLL: "sll", capture.LinkTypeLinuxSLL2: "sll2",
		capture.LinkTypeRaw: "raw", capture.LinkTypeIPv4: "ipv4", capture.LinkTypeIPv6: "ipv6",
		capture.LinkTypeNull: "null", capture.LinkTypeLoop: "loop",
	}[l]
}

// TestMatchEthernet covers what only Ethernet has: VLAN tags, ARP, MACs.
func TestMatchEthernet(t *testing.T) {
	eth := func(typ layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: typ}
	}
	vlan := serialize(t, eth(layers.EthernetTypeDot1Q),
		&layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv4}, gopacket.Payload(tcp4(t)))
	qinq := serialize(t, eth(layers.EthernetTypeQinQ),
		&layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeIPv6}, gopacket.Payload(udp6(t)))
	arp := serialize(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet,
		Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
		SourceHwAddress: mac1, SourceProtAddress: []byte{10, 0, 0, 1},
		DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 0, 0, 9}})
	tests := []struct {
		name string
		expr string
		in   []byte
		want bool
	}{
		{"vlan", "vlan", vlan, true},
		{"vlan id", "vlan 7", vlan, true},
		{"vlan other id", "vlan 8", vlan, false},
		{"vlan shifts port", "vlan and tcp port 80", vlan, true},
		{"no shift without vlan", "tcp port 80", vlan, false},
		{"qinq", "vlan 100 and vlan 7 and ip6 and udp port 53", qinq, true},
		{"qinq one tag", "vlan and ip6", qinq, false},
		{"arp", "arp", arp, true},
		{"arp host", "host 10.0.0.9", arp, true},
		{"arp src", "arp src host 10.0.0.1", arp, true},
		{"arp is not ip", "ip host 10.0.0.1", arp, false},
		{"ether src", "ether src 00:11:22:33:44:55", arp, true},
		{"ether dst", "ether dst 00:11:22:33:44:55", arp, false},
		{"ether host", "ether host 66:77:88:99:aa:bb", vlan, true},
		{"ether proto", "ether proto 0x8100", vlan, true},
		{"broadcast", "ether broadcast", arp, false},
		{"len", "len = " + strconv.Itoa(len(arp)), arp, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := filter.New(tt.expr, capture.LinkTypeEthernet)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Match(tt.in, len(tt.in)); got != tt.want {
				t.Errorf("%q: Match = %v, want %v\n%s", tt.expr, got, tt.want, disasm(t, tt.expr))
			}
		})
	}
}

func disasm(t *testing.T, expr string) string {
	prog, err := filter.Compile(expr, capture.LinkTypeEthernet, 0)
	if err != nil {
		return err.Error()
	}
	return filter.Disassemble(prog)
}

// TestMatchPacket: one Filter for a replay that mixes link types.
func TestMatchPacket(t *testing.T) {
	f, err := filter.New("tcp port 80", capture.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for _, link := range []capture.LinkType{capture.LinkTypeEthernet, capture.LinkTypeLinuxSLL2, capture.LinkTypeNull} {
		data := frame(t, link, tcp4(t))
		ok, err := f.MatchPacket(&capture.Packet{Data: data, Length: len(data), LinkType: link})
		if err != nil || !ok {
			t.Errorf("%s: MatchPacket = %v, %v; want true, nil", linkName(link), ok, err)
		}
	}
	v, err := filter.New("vlan", capture.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	data := frame(t, capture.LinkTypeLinuxSLL, tcp4(t))
	if _, err := v.MatchPacket(&capture.Packet{Data: data, Length: len(data), LinkType: capture.LinkTypeLinuxSLL}); !errors.Is(err, filter.ErrUnsupported) {
		t.Errorf("vlan on SLL: err = %v, want ErrUnsupported", err)
	}
	data = frame(t, capture.LinkTypeEthernet, tcp4(t))
	if n := testing.AllocsPerRun(100, func() { f.Match(data, len(data)) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

// TestTruncated: loads past the captured bytes reject; len is the wire length.
func TestTruncated(t *testing.T) {
	data := frame(t, capture.LinkTypeEthernet, tcp4(t))
	f, err := filter.New("greater 1000", capture.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(data, 1500) {
		t.Error("greater 1000 on a 1500-byte frame captured short: no match")
	}
	g, err := filter.New("not tcp[40] = 1", capture.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if g.Match(data[:40], 1500) {
		t.Error("load past the captured bytes matched")
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		expr    string
		link    capture.LinkType
		wantMsg string
		wantErr error
	}{
		{"tcp prot 80", capture.LinkTypeEthernet, `filter: "tcp prot 80": unexpected "prot" at 4`, filter.ErrSyntax},
		{"port", capture.LinkTypeEthernet, `unexpected end of expression at 4`, filter.ErrSyntax},
		{"tcp)", capture.LinkTypeEthernet, `unexpected ")" at 3`, filter.ErrSyntax},
		{"(tcp", capture.LinkTypeEthernet, `unexpected end of expression at 4`, filter.ErrSyntax},
		{"tcp @ 1", capture.LinkTypeEthernet, `unexpected "@" at 4`, filter.ErrSyntax},
		{"host foo", capture.LinkTypeEthernet, `cannot resolve "foo" (host names are not supported) at 5`, filter.ErrUnsupported},
		{"port gopher", capture.LinkTypeEthernet, `unknown port name "gopher" at 5`, filter.ErrUnsupported},
		{"gateway 10.0.0.1", capture.LinkTypeEthernet, `unsupported "gateway" at 0`, filter.ErrUnsupported},
		{"ip6 protochain 6", capture.LinkTypeEthernet, `unsupported "protochain" at 4`, filter.ErrUnsupported},
		{"tcp[1:3] = 0", capture.LinkTypeEthernet, `data size "3" is not 1, 2 or 4 at 6`, filter.ErrSyntax},
		{"tcp[0] / 0 = 1", capture.LinkTypeEthernet, `division by zero at 7`, filter.ErrSyntax},
		{"ether host 10.0.0.1", capture.LinkTypeEthernet, `"10.0.0.1" is not an Ethernet address at 11`, filter.ErrSyntax},
		{"ip6 host 10.0.0.1", capture.LinkTypeEthernet, `ip6 qualifier with IPv4 address "10.0.0.1" at 9`, filter.ErrSyntax},
		{"net 10.0.0.1/8", capture.LinkTypeEthernet, `non-network bits set in "10.0.0.1" at 4`, filter.ErrSyntax},
		{"tcp port 99999", capture.LinkTypeEthernet, `unexpected "99999" at 9`, filter.ErrSyntax},
		{"vlan 5000", capture.LinkTypeEthernet, `vlan id 5000 out of range at 5`, filter.ErrSyntax},
		{"tcp and vlan", capture.LinkTypeLinuxSLL, `no VLAN support for LINUX_SLL at 8`, filter.ErrUnsupported},
		{"ether src 00:11:22:33:44:55", capture.LinkTypeRaw, `ethernet addresses are not supported on RAW at 10`, filter.ErrUnsupported},
		{"tcp", capture.LinkType(9999), `link type 9999 not supported at 0`, filter.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := filter.Compile(tt.expr, tt.link, 0)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasSuffix(err.Error(), tt.wantMsg) || !strings.HasPrefix(err.Error(), "filter: ") {
				t.Errorf("error %q, want suffix %q", err, tt.wantMsg)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			var fe *filter.Error
			if !errors.As(err, &fe) || !strings.Contains(tt.expr[fe.Pos:], fe.Token) {
				t.Errorf("error %#v does not point at its token", err)
			}
		})
	}
}

// TestLongJumps: more than 255 instructions between a jump and its target
// go through "ja".
func TestLongJumps(t *testing.T) {
	ports := func(from int) string {
		var b strings.Builder
		b.WriteString("(tcp[0:2] = " + strconv.Itoa(from))
		for i := 2; i < 150; i++ {
			b.WriteString(" or tcp[0:2] = " + strconv.Itoa(i))
		}
		b.WriteString(") and ip")
		return b.String()
	}
	prog, err := filter.Compile(ports(1), capture.LinkTypeEthernet, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatal(err)
	}
	long := false
	for _, in := range prog {
		if j, ok := in.(bpf.Jump); ok && j.Skip > 255 {
			long = true
		}
	}
	if !long {
		t.Fatalf("no long jump in a %d-instruction program", len(prog))
	}
	data := frame(t, capture.LinkTypeEthernet, tcp4(t)) // source port 1234
	for _, tt := range []struct {
		from int
		want bool
	}{{1, false}, {1234, true}} {
		f, err := filter.New(ports(tt.from), capture.LinkTypeEthernet)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Match(data, len(data)); got != tt.want {
			t.Errorf("source port 1234 in {%d, 2..149}: Match = %v", tt.from, got)
		}
	}
}

// TestDisassemble prints tcpdump's own programs (from -ddd) and compares
// with its -d output.
func TestDisassemble(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed: comparing with tcpdump -d needs it")
	}
	for _, expr := range []string{"port 80", "tcp[((tcp[12]&0xf0)>>2):4] = 0x47455420", "less 100 or ip[2:2] * 3 - len > 4 and vlan", "ether host 1:2:3:4:5:6", "ip6 and ip6[6] % 3 = 1 or -ip[1] = 2"} {
		ddd, err := exec.Command(tcpdump, "-y", "EN10MB", "-ddd", expr).Output()
		if err != nil {
			t.Fatalf("%q: tcpdump -ddd: %v", expr, err)
		}
		d, err := exec.Command(tcpdump, "-y", "EN10MB", "-d", expr).Output()
		if err != nil {
			t.Fatalf("%q: tcpdump -d: %v", expr, err)
		}
		raw, err := filter.ParseDdd(string(ddd))
		if err != nil {
			t.Fatal(err)
		}
		if got := filter.DisassembleRaw(raw); got != string(d) {
			t.Errorf("%q:\ngot:\n%s\nwant:\n%s", expr, got, d)
		}
		if got := filter.Ddd(raw); got != string(ddd) {
			t.Errorf("%q: Ddd:\ngot:\n%s\nwant:\n%s", expr, got, ddd)
		}
	}
}

func TestParseDddErrors(t *testing.T) {
	for _, in := range []string{"", "x", "2\n6 0 0 1\n", "1\n6 0 0\n", "1\n70000 0 0 0\n", "0\n"} {
		if _, err := filter.ParseDdd(in); !errors.Is(err, filter.ErrSyntax) {
			t.Errorf("ParseDdd(%q) = %v, want ErrSyntax", in, err)
		}
	}
}
