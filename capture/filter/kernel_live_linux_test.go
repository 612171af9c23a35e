package filter_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
)

// kernelExprs add to diffExprs what the kernel's view makes delicate:
// tags the kernel moved out of the frame, QinQ, and relations on the link
// header.
var kernelExprs = []string{
	"vlan 7", "vlan 8", "vlan 8 and vlan 7", "vlan 8 and vlan 7 and udp", "vlan 7 and udp port 9999",
	"vlan and arp", "not vlan and udp", "udp port 9999", "not udp port 9999", "tcp port 8080",
	"host 10.241.8.2", "arp or icmp", "ether proto 0x8100", "ether proto 0x88a8",
	"ether[12:2] = 0x8100", "greater 80", "ip[9] = 17", "udp and ip[2:2] > 40", "ether src host 02:00:00:00:00:02",
}

// TestKernelProgramsLive attaches the kernel program of every expression
// to its own AF_PACKET socket (SOCK_RAW on a veth, and cooked "any"), sends
// mixed traffic — UDP, TCP with payload, ICMP, ARP, IPv6, and raw frames
// with an 802.1Q tag and QinQ that the receiving kernel moves into the
// packet's metadata — and checks that each socket delivers exactly the
// packets the user-space filter accepts out of an unfiltered socket's.
func TestKernelProgramsLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN for ip netns, CAP_NET_RAW to capture)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2) for ip netns")
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	a, b := "wlive-ka"+id, "wlive-kb"+id
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", a).Run()
		exec.Command("ip", "netns", "del", b).Run()
	})
	for _, c := range [][]string{
		{"netns", "add", a}, {"netns", "add", b},
		{"link", "add", "wka", "netns", a, "address", "02:00:00:00:00:01", "type", "veth", "peer", "name", "wkb", "netns", b, "address", "02:00:00:00:00:02"},
		{"-n", a, "addr", "add", "10.241.8.1/24", "dev", "wka"},
		{"-n", b, "addr", "add", "10.241.8.2/24", "dev", "wkb"},
		{"-n", a, "link", "set", "wka", "up"}, {"-n", b, "link", "set", "wkb", "up"},
		{"-n", a, "link", "set", "lo", "up"}, {"-n", b, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	exprs := append(append([]string{}, diffExprs...), kernelExprs...)
	type sock struct {
		expr string
		link capture.LinkType
		l    *capture.Live
		f    *filter.Filter
		kp   *filter.KernelProgram
		got  []string
	}
	var ln net.Listener
	var socks []*sock
	var refs = map[capture.LinkType]*sock{}
	inNS(t, a, func() {
		var err error
		if ln, err = net.Listen("tcp4", "10.241.8.1:8080"); err != nil {
			t.Error(err)
			return
		}
		for _, iface := range []string{"wka", "any"} {
			link := capture.LinkTypeEthernet
			if iface == "any" {
				link = capture.LinkTypeLinuxSLL2
			}
			open := func(prog []bpf.RawInstruction) *capture.Live {
				l, err := capture.OpenLive(context.Background(), &capture.LiveConfig{
					Interfaces: []string{iface}, Snaplen: 2048, RingSize: 64 << 10, Filter: prog, NoPromisc: true})
				if err != nil {
					t.Fatalf("%s: %v", iface, err)
				}
				t.Cleanup(func() { l.Close() })
				return l
			}
			refs[link] = &sock{l: open(nil)}
			for _, expr := range exprs {
				f, err := filter.New(expr, link)
				if err != nil {
					continue // vlan or ether on cooked
				}
				kp, err := f.Kernel(link, 2048)
				if errors.Is(err, filter.ErrNotExact) {
					t.Logf("%s %q: no exact kernel program: %v", iface, expr, err)
					continue
				}
				if err != nil {
					t.Fatalf("%s %q: %v", iface, expr, err)
				}
				socks = append(socks, &sock{expr: expr, link: link, l: open(kp.Program), f: f, kp: kp})
			}
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 512)
				n, _ := c.Read(buf)
				c.Write(buf[:n])
				c.Close()
			}()
		}
	}()
	start := time.Now()
	sendMix(t, b)
	time.Sleep(300 * time.Millisecond)
	end := time.Now()

	read := func(s *sock) []capture.Packet {
		var out []capture.Packet
		for {
			s.l.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			var p capture.Packet
			if err := s.l.ReadPacket(&p); err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("%q: %v", s.expr, err)
				}
				return out
			}
			if p.Timestamp < start.UnixNano() || p.Timestamp > end.UnixNano() {
				continue
			}
			p.Data = append([]byte(nil), p.Data...)
			out = append(out, p)
		}
	}
	// Each socket timestamps outgoing packets itself: compare the bytes.
	key := func(p *capture.Packet) string { return fmt.Sprintf("%x", p.Data) }
	all := map[capture.LinkType][]capture.Packet{}
	for link, r := range refs {
		all[link] = read(r)
		tagged := 0
		for i := range all[link] {
			if filter.Tagged(&all[link][i]) {
				tagged++
			}
		}
		t.Logf("link %d: %d packets, %d tagged", link, len(all[link]), tagged)
		if tagged < 3 || len(all[link]) < 20 {
			t.Fatalf("link %d: %d packets, %d tagged: the traffic did not arrive", link, len(all[link]), tagged)
		}
	}
	checked, rechecked := 0, 0
	// Read every socket at once: each read ends with a 20 ms timeout.
	got := make([][]capture.Packet, len(socks))
	var wg sync.WaitGroup
	for i, s := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = read(s)
		}()
	}
	wg.Wait()
	for si, s := range socks {
		link := s.link
		pkts := got[si]
		var want, got []string
		for i := range all[link] {
			if ok, _ := s.f.MatchPacket(&all[link][i]); ok {
				want = append(want, key(&all[link][i]))
			}
		}
		for i := range pkts {
			p := &pkts[i]
			if s.kp.Recheck && filter.Tagged(p) {
				if ok, _ := s.f.MatchPacket(p); !ok {
					continue
				}
			}
			got = append(got, key(p))
		}
		if s.kp.Recheck {
			rechecked++
		}
		checked++
		slices.Sort(want)
		slices.Sort(got)
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Errorf("link %d %q: kernel delivered %d packets, user space accepts %d of the same traffic", link, s.expr, len(got), len(want))
		}
	}
	t.Logf("%d kernel programs compared (%d leave tagged frames to user space)", checked, rechecked)
}

// inNS runs f on an OS thread that has entered namespace ns; sockets f
// opens stay there.
func inNS(t *testing.T, ns string, f func()) {
	t.Helper()
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		var fd int
		if fd, err = unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return
		}
		defer unix.Close(fd)
		if err = unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return
		}
		f()
	}()
	wg.Wait()
	if err != nil {
		t.Fatalf("enter netns %s: %v", ns, err)
	}
}

// sendMix sends, from namespace ns (10.241.8.2 on wkb) to 10.241.8.1:
// UDP to ports 9999 and 53 (the second answered by ICMP port
// unreachable), a TCP exchange with port 8080, an ICMP echo, and raw
// frames: 802.1Q (VLAN 7) UDP, ARP and TCP, QinQ (802.1ad 8, 802.1Q 7)
// UDP, and IPv6 UDP. The first packet makes an ARP exchange.
func sendMix(t *testing.T, ns string) {
	inNS(t, ns, func() {
		c, err := net.ListenPacket("udp4", "10.241.8.2:0")
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		for i, port := range []int{9999, 9999, 53, 9999} {
			to := &net.UDPAddr{IP: net.IPv4(10, 241, 8, 1), Port: port}
			if _, err := c.WriteTo(make([]byte, 10+20*i), to); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		tc, err := net.DialTimeout("tcp4", "10.241.8.1:8080", 2*time.Second)
		if err != nil {
			t.Error(err)
			return
		}
		tc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		tc.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 64)
		tc.Read(buf)
		tc.Close()
		if ic, err := net.ListenPacket("ip4:icmp", "10.241.8.2"); err == nil {
			echo := []byte{8, 0, 0, 0, 0, 1, 0, 1, 'w', 't'}
			sum := checksum(echo)
			echo[2], echo[3] = byte(sum>>8), byte(sum)
			ic.WriteTo(echo, &net.IPAddr{IP: net.IPv4(10, 241, 8, 1)})
			ic.Close()
		}
		ifi, err := net.InterfaceByName("wkb")
		if err != nil {
			t.Error(err)
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		src, _ := net.ParseMAC("02:00:00:00:00:02")
		dst, _ := net.ParseMAC("02:00:00:00:00:01")
		ip4 := func(proto layers.IPProtocol) *layers.IPv4 {
			return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: net.IPv4(10, 241, 8, 2), DstIP: net.IPv4(10, 241, 8, 1)}
		}
		udp := func(ip gopacket.NetworkLayer, port int) *layers.UDP {
			u := &layers.UDP{SrcPort: 40000, DstPort: layers.UDPPort(port)}
			u.SetNetworkLayerForChecksum(ip)
			return u
		}
		tcp := func(ip gopacket.NetworkLayer, port int) *layers.TCP {
			x := &layers.TCP{SrcPort: 40001, DstPort: layers.TCPPort(port), SYN: true, Seq: 1, Window: 1000}
			x.SetNetworkLayerForChecksum(ip)
			return x
		}
		eth := func(typ layers.EthernetType) *layers.Ethernet {
			return &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: typ}
		}
		dot1q := func(vid uint16, typ layers.EthernetType) *layers.Dot1Q {
			return &layers.Dot1Q{VLANIdentifier: vid, Type: typ}
		}
		arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: src, SourceProtAddress: []byte{10, 241, 8, 2},
			DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 241, 8, 1}}
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
			SrcIP: net.ParseIP("fd00:241:8::2"), DstIP: net.ParseIP("fd00:241:8::1")}
		payload := gopacket.Payload(make([]byte, 16))
		var frames [][]gopacket.SerializableLayer
		for range 2 {
			i1, i2, i3, i4 := ip4(layers.IPProtocolUDP), ip4(layers.IPProtocolTCP), ip4(layers.IPProtocolUDP), ip4(layers.IPProtocolUDP)
			frames = append(frames,
				[]gopacket.SerializableLayer{eth(layers.EthernetTypeDot1Q), dot1q(7, layers.EthernetTypeIPv4), i1, udp(i1, 9999), payload},
				[]gopacket.SerializableLayer{eth(layers.EthernetTypeDot1Q), dot1q(7, layers.EthernetTypeARP), arp},
				[]gopacket.SerializableLayer{eth(layers.EthernetTypeDot1Q), dot1q(7, layers.EthernetTypeIPv4), i2, tcp(i2, 80)},
				[]gopacket.SerializableLayer{eth(layers.EthernetTypeQinQ), dot1q(8, layers.EthernetTypeDot1Q), dot1q(7, layers.EthernetTypeIPv4), i3, udp(i3, 9999), payload},
				[]gopacket.SerializableLayer{eth(layers.EthernetTypeIPv6), v6, udp(v6, 9999), payload},
				[]gopacket.SerializableLayer{eth(layers.EthernetTypeIPv4), i4, udp(i4, 7777), payload},
			)
		}
		for _, ls := range frames {
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
				t.Error(err)
				return
			}
			if err := unix.Sendto(fd, buf.Bytes(), 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
