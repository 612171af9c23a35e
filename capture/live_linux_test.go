package capture_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/wiretrace/wiretrace/capture"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// vethPair is two fresh network namespaces joined by a veth pair
// (a: 10.231.9.1/24 on "wta", b: 10.231.9.2/24 on "wtb"). The test kernel
// has no 802.1Q devices (KERNEL.md), so tagged frames are written raw by
// sendTagged; the receiving kernel moves the tag into the skb metadata as it
// does for a VLAN-offloading NIC.
type vethPair struct {
	a, b string // namespace names
}

// newVethPair creates the namespaces, or skips naming what is missing.
func newVethPair(tb testing.TB) *vethPair {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root (CAP_NET_ADMIN to create network namespaces, CAP_NET_RAW to capture)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		tb.Skip("needs the ip command (iproute2) for ip netns")
	}
	id := strconv.Itoa(os.Getpid()) + strconv.Itoa(int(time.Now().UnixNano()%1000))
	v := &vethPair{a: "wtla" + id, b: "wtlb" + id}
	tb.Cleanup(func() {
		exec.Command("ip", "netns", "del", v.a).Run()
		exec.Command("ip", "netns", "del", v.b).Run()
	})
	for _, c := range [][]string{
		{"netns", "add", v.a},
		{"netns", "add", v.b},
		{"link", "add", "wta", "netns", v.a, "type", "veth", "peer", "name", "wtb", "netns", v.b},
		{"-n", v.a, "addr", "add", "10.231.9.1/24", "dev", "wta"},
		{"-n", v.b, "addr", "add", "10.231.9.2/24", "dev", "wtb"},
		{"-n", v.a, "link", "set", "wta", "up"},
		{"-n", v.b, "link", "set", "wtb", "up"},
		{"-n", v.a, "link", "set", "lo", "up"},
		{"-n", v.b, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			tb.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	// Static neighbours: no ARP in the captures.
	v.exec(tb, v.a, "ip", "neigh", "add", "10.231.9.2", "lladdr", v.mac(tb, v.b, "wtb"), "dev", "wta")
	v.exec(tb, v.b, "ip", "neigh", "add", "10.231.9.1", "lladdr", v.mac(tb, v.a, "wta"), "dev", "wtb")
	return v
}

func (v *vethPair) exec(tb testing.TB, ns string, args ...string) string {
	tb.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (v *vethPair) mac(tb testing.TB, ns, dev string) string {
	out := v.exec(tb, ns, "cat", "/sys/class/net/"+dev+"/address")
	return strings.TrimSpace(out)
}

// in runs f on an OS thread that has entered namespace ns.
func in(tb testing.TB, ns string, f func()) {
	tb.Helper()
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread()
		// Never unlocked: the thread exits with the goroutine, so no other
		// goroutine runs in the namespace.
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
		tb.Fatalf("enter netns %s: %v", ns, err)
	}
}

// openLive opens a Live in namespace ns.
func openLive(tb testing.TB, ns string, cfg *capture.LiveConfig) *capture.Live {
	tb.Helper()
	var l *capture.Live
	var err error
	in(tb, ns, func() { l, err = capture.OpenLive(context.Background(), cfg) })
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// sendUDP sends n datagrams of size bytes from namespace ns to dst.
func sendUDP(tb testing.TB, ns, dst string, n, size int) {
	tb.Helper()
	in(tb, ns, func() {
		// Unconnected, so ICMP port unreachable replies do not fail writes.
		c, err := net.ListenPacket("udp4", ":0")
		if err != nil {
			tb.Error(err)
			return
		}
		defer c.Close()
		to, err := net.ResolveUDPAddr("udp4", dst)
		if err != nil {
			tb.Error(err)
			return
		}
		b := make([]byte, size)
		for i := range n {
			binary.BigEndian.PutUint32(b, uint32(i))
			if _, err := c.WriteTo(b, to); err != nil {
				tb.Error(err)
				return
			}
		}
	})
}

// sendTagged writes n UDP datagrams to 10.231.9.1:port in 802.1Q frames
// with VLAN id vid from wtb.
func sendTagged(tb testing.TB, v *vethPair, vid uint16, port, n int) {
	tb.Helper()
	src, _ := net.ParseMAC(v.mac(tb, v.b, "wtb"))
	dst, _ := net.ParseMAC(v.mac(tb, v.a, "wta"))
	buf := gopacket.NewSerializeBuffer()
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IPv4(10, 231, 9, 2), DstIP: net.IPv4(10, 231, 9, 1)}
	udp := &layers.UDP{SrcPort: 40000, DstPort: layers.UDPPort(port)}
	udp.SetNetworkLayerForChecksum(ip)
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: vid, Type: layers.EthernetTypeIPv4},
		ip, udp, gopacket.Payload(make([]byte, 10)))
	if err != nil {
		tb.Fatal(err)
	}
	in(tb, v.b, func() {
		ifi, err := net.InterfaceByName("wtb")
		if err != nil {
			tb.Error(err)
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			tb.Error(err)
			return
		}
		defer unix.Close(fd)
		for range n {
			if err := unix.Sendto(fd, buf.Bytes(), 0, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
				tb.Error(err)
				return
			}
		}
	})
}

// readN reads n UDP packets, skipping others (ICMP port unreachable
// replies), failing after a timeout.
func readN(t *testing.T, l *capture.Live, n int) []capture.Packet {
	t.Helper()
	var out []capture.Packet
	l.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(out) < n {
		var p capture.Packet
		if err := l.ReadPacket(&p); err != nil {
			t.Fatalf("after %d of %d packets: %v", len(out), n, err)
		}
		if !isUDP(p) {
			continue
		}
		p.Data = append([]byte(nil), p.Data...)
		out = append(out, p)
	}
	return out
}

// isUDP says whether p is IPv4 UDP, after an optional VLAN tag.
func isUDP(p capture.Packet) bool { return udpDst(p) != 0 }

// udpDst returns the UDP destination port of an IPv4 packet in an Ethernet
// or SLL2 frame, after an optional 802.1Q tag, or 0.
func udpDst(p capture.Packet) int {
	b := p.Data
	typ, off := 12, 14 // offsets of the EtherType and the network header
	if p.LinkType == capture.LinkTypeLinuxSLL2 {
		typ, off = 0, 20
	}
	if len(b) < off+28 {
		return 0
	}
	et := binary.BigEndian.Uint16(b[typ:])
	if et == 0x8100 {
		et = binary.BigEndian.Uint16(b[off+2:])
		off += 4
	}
	if et != 0x0800 || b[off+9] != 17 {
		return 0
	}
	ihl := int(b[off]&0x0f) * 4
	return int(binary.BigEndian.Uint16(b[off+ihl+2:]))
}

func TestLiveVersions(t *testing.T) {
	v := newVethPair(t)
	for _, ver := range []capture.RingVersion{capture.RingV3, capture.RingV2, capture.RingNone} {
		t.Run(ver.String(), func(t *testing.T) {
			l := openLive(t, v.a, &capture.LiveConfig{Interfaces: []string{"wta"}, Version: ver})
			start := time.Now().UnixNano()
			const n = 20
			sendUDP(t, v.b, "10.231.9.1:9999", n, 100) // inbound
			sendUDP(t, v.a, "10.231.9.2:9998", n, 200) // outbound
			var in, out int
			// The kernel stamps outgoing packets when they are handed to the
			// device and incoming ones on receipt, so the socket may see the
			// two directions interleaved slightly out of time order; each
			// direction on its own is in order.
			last := map[capture.Direction]int64{}
			for _, p := range readN(t, l, 2*n) {
				if p.Timestamp < start || p.Timestamp > time.Now().UnixNano() || p.Timestamp < last[p.Direction] {
					t.Errorf("packet %d: timestamp %d out of order or range (start %d, previous %v %d)", p.Number, p.Timestamp, start, p.Direction, last[p.Direction])
				}
				last[p.Direction] = p.Timestamp
				if p.Capture != "wta" || p.LinkType != capture.LinkTypeEthernet || p.Interface != 0 {
					t.Errorf("packet %d: capture %q link %d interface %d", p.Number, p.Capture, p.LinkType, p.Interface)
				}
				if p.Length != len(p.Data) {
					t.Errorf("packet %d: length %d, captured %d", p.Number, p.Length, len(p.Data))
				}
				switch udpDst(p) {
				case 9999:
					in++
					if p.Direction != capture.DirectionInbound || p.Length != 14+20+8+100 {
						t.Errorf("packet %d to 9999: direction %v length %d", p.Number, p.Direction, p.Length)
					}
				case 9998:
					out++
					if p.Direction != capture.DirectionOutbound || p.Length != 14+20+8+200 {
						t.Errorf("packet %d to 9998: direction %v length %d", p.Number, p.Direction, p.Length)
					}
				}
			}
			if in != n || out != n {
				t.Errorf("got %d inbound and %d outbound datagrams, want %d each", in, out, n)
			}
			if st := l.Stats(); st.Version != ver || st.Delivered < 2*n || st.KernelDrops != 0 {
				t.Errorf("stats %+v, want version %v, at least %d delivered, no drops", st, ver, 2*n)
			}
		})
	}
}

// readDDD reads a `tcpdump -ddd` program.
func readDDD(t *testing.T, path string) []bpf.RawInstruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []bpf.RawInstruction
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ins bpf.RawInstruction
		if n, _ := fmt.Sscan(sc.Text(), &ins.Op, &ins.Jt, &ins.Jf, &ins.K); n == 4 {
			out = append(out, ins)
		}
	}
	return out
}

func TestLiveFilterAndVLAN(t *testing.T) {
	v := newVethPair(t)
	for _, ver := range []capture.RingVersion{capture.RingV3, capture.RingV2, capture.RingNone} {
		t.Run(ver.String(), func(t *testing.T) {
			l := openLive(t, v.a, &capture.LiveConfig{Interfaces: []string{"wta"}, Version: ver,
				Filter: readDDD(t, "testdata/udp_port_9999.ddd")})
			sendUDP(t, v.b, "10.231.9.1:9998", 5, 10) // filtered out
			sendTagged(t, v, 7, 9999, 3)
			sendUDP(t, v.b, "10.231.9.1:9999", 3, 10)
			var tagged, plain int
			for _, p := range readN(t, l, 6) {
				if udpDst(p) != 9999 {
					t.Errorf("packet %d: not to port 9999 but passed the filter", p.Number)
				}
				if binary.BigEndian.Uint16(p.Data[12:]) == 0x8100 {
					tagged++
					if vid := binary.BigEndian.Uint16(p.Data[14:]) & 0xfff; vid != 7 {
						t.Errorf("packet %d: VLAN %d, want 7", p.Number, vid)
					}
					if p.Length != 60 { // gopacket pads frames to 60 bytes
						t.Errorf("packet %d: tagged length %d", p.Number, p.Length)
					}
				} else {
					plain++
				}
			}
			if tagged != 3 || plain != 3 {
				t.Errorf("got %d tagged and %d untagged, want 3 each", tagged, plain)
			}
		})
	}
}

func TestLiveAnyAndSeveral(t *testing.T) {
	v := newVethPair(t)
	for _, tc := range []struct {
		name   string
		ifaces []string
		link   capture.LinkType
	}{
		{"any", []string{"any"}, capture.LinkTypeLinuxSLL2},
		{"two", []string{"lo", "wta"}, capture.LinkTypeEthernet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openLive(t, v.a, &capture.LiveConfig{Interfaces: tc.ifaces})
			sendTagged(t, v, 7, 9999, 4)
			ps := readN(t, l, 4)
			for _, p := range ps {
				if p.LinkType != tc.link || p.Direction != capture.DirectionInbound {
					t.Errorf("packet %d on %s: link %d direction %v", p.Number, p.Capture, p.LinkType, p.Direction)
				}
				if tc.link == capture.LinkTypeLinuxSLL2 && p.Capture == "any" {
					// SLL2: protocol, reserved, ifindex, hatype, pkttype, addrlen, addr.
					proto := binary.BigEndian.Uint16(p.Data)
					if proto != 0x0800 && proto != 0x8100 {
						t.Errorf("packet %d: SLL2 protocol %#x", p.Number, proto)
					}
					if proto == 0x8100 && binary.BigEndian.Uint16(p.Data[20:])&0xfff != 7 {
						t.Errorf("packet %d: SLL2 VLAN tag % x", p.Number, p.Data[20:24])
					}
				}
			}
		})
	}
}

func TestLiveClose(t *testing.T) {
	v := newVethPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	var l *capture.Live
	var err error
	in(t, v.a, func() { l, err = capture.OpenLive(ctx, &capture.LiveConfig{Interfaces: []string{"wta"}}) })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error)
	go func() {
		// Packets may arrive (IPv6 DAD, router solicitations as the
		// veth comes up); read until the cancel ends the capture.
		var p capture.Packet
		for {
			if err := l.ReadPacket(&p); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, io.EOF) {
			t.Errorf("ReadPacket after cancel: %v, want io.EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadPacket still blocked 5s after cancel")
	}
	if err := l.Close(); err != nil {
		t.Error(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// BenchmarkLiveVeth measures packets/s delivered from one veth end for 1 and
// 2 fanout workers; the sender blasts 64-byte UDP datagrams from many
// source ports (so the flow hash spreads them) from the other end.
func BenchmarkLiveVeth(b *testing.B) {
	v := newVethPair(b)
	for _, workers := range []int{1, 2} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			var ls []*capture.Live
			var err error
			in(b, v.a, func() {
				ls, err = capture.OpenLiveWorkers(context.Background(), &capture.LiveConfig{
					Interfaces: []string{"wta"}, Workers: workers, Snaplen: 128})
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var senders sync.WaitGroup
			in(b, v.b, func() {
				to, _ := net.ResolveUDPAddr("udp4", "10.231.9.1:9999")
				for range 8 {
					c, err := net.ListenPacket("udp4", ":0")
					if err != nil {
						b.Error(err)
						return
					}
					senders.Add(1)
					go func() {
						defer senders.Done()
						defer c.Close()
						msg := make([]byte, 64)
						for ctx.Err() == nil {
							c.WriteTo(msg, to)
						}
					}()
				}
			})
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var readers sync.WaitGroup
			per := b.N / workers
			for _, l := range ls {
				readers.Add(1)
				go func() {
					defer readers.Done()
					var p capture.Packet
					for range per {
						if err := l.ReadPacket(&p); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			readers.Wait()
			el := time.Since(start)
			b.StopTimer()
			cancel()
			senders.Wait()
			var st capture.LiveStats
			for _, l := range ls {
				s := l.Stats()
				st.Delivered += s.Delivered
				st.KernelDrops += s.KernelDrops
				l.Close()
			}
			b.ReportMetric(float64(per*workers)/el.Seconds(), "pkts/s")
			b.ReportMetric(float64(st.KernelDrops), "drops")
		})
	}
}

// TestLiveFanout opens two fanout workers on a veth and checks that the
// kernel keeps both directions of every TCP connection and UDP flow on one
// worker (PACKET_FANOUT_HASH is symmetric since Linux 4.7) while spreading
// the flows over both.
func TestLiveFanout(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN to create network namespaces, CAP_NET_RAW to capture)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2) for ip netns")
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	v := &vethPair{a: "wlive-fa" + id, b: "wlive-fb" + id}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", v.a).Run()
		exec.Command("ip", "netns", "del", v.b).Run()
	})
	for _, c := range [][]string{
		{"netns", "add", v.a}, {"netns", "add", v.b},
		{"link", "add", "wfa", "netns", v.a, "type", "veth", "peer", "name", "wfb", "netns", v.b},
		{"-n", v.a, "addr", "add", "10.241.8.1/24", "dev", "wfa"},
		{"-n", v.b, "addr", "add", "10.241.8.2/24", "dev", "wfb"},
		{"-n", v.a, "link", "set", "wfa", "up"}, {"-n", v.b, "link", "set", "wfb", "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	var ls []*capture.Live
	var tl net.Listener
	var ul net.PacketConn
	in(t, v.a, func() {
		var err error
		if ls, err = capture.OpenLiveWorkers(context.Background(), &capture.LiveConfig{
			Interfaces: []string{"wfa"}, Workers: 2, Snaplen: 256, RingSize: 1 << 20}); err != nil {
			t.Error(err)
			return
		}
		if tl, err = net.Listen("tcp4", "10.241.8.1:7000"); err != nil {
			t.Error(err)
			return
		}
		ul, err = net.ListenPacket("udp4", "10.241.8.1:7001")
		if err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	defer tl.Close()
	defer ul.Close()
	for _, l := range ls {
		defer l.Close()
	}
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := ul.ReadFrom(buf)
			if err != nil {
				return
			}
			ul.WriteTo(buf[:n], from)
		}
	}()
	const flows = 16
	in(t, v.b, func() {
		for i := range flows {
			c, err := net.Dial("tcp4", "10.241.8.1:7000")
			if err != nil {
				t.Error(err)
				return
			}
			c.Write([]byte("ping"))
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			io.ReadFull(c, make([]byte, 4))
			c.Close()
			u, err := net.Dial("udp4", "10.241.8.1:7001")
			if err != nil {
				t.Error(err)
				return
			}
			u.Write([]byte{byte(i)})
			u.SetReadDeadline(time.Now().Add(2 * time.Second))
			u.Read(make([]byte, 4))
			u.Close()
		}
	})
	time.Sleep(200 * time.Millisecond) // FINs, and the V3 blocks retire
	// flow (ordered endpoints) -> bit set of the workers that saw it.
	seen := map[string]int{}
	perWorker := make([]int, len(ls))
	for w, l := range ls {
		for {
			l.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			var p capture.Packet
			if err := l.ReadPacket(&p); err != nil {
				break
			}
			k, ok := flowKey(p.Data)
			if !ok {
				continue
			}
			seen[k] |= 1 << w
			perWorker[w]++
		}
	}
	if len(seen) < 2*flows {
		t.Fatalf("saw %d flows, want %d (TCP and UDP): %v", len(seen), 2*flows, seen)
	}
	for k, ws := range seen {
		if ws != 1 && ws != 2 {
			t.Errorf("flow %s: packets on both workers", k)
		}
	}
	if perWorker[0] == 0 || perWorker[1] == 0 {
		t.Errorf("packets per worker %v: the hash did not spread %d flows", perWorker, len(seen))
	}
	var st capture.LiveStats
	for _, l := range ls {
		s := l.Stats()
		st.Received += s.Received
		st.Delivered += s.Delivered
	}
	if st.Delivered == 0 || st.Received < st.Delivered {
		t.Errorf("stats over workers: received %d, delivered %d", st.Received, st.Delivered)
	}
	t.Logf("%d flows, packets per worker %v", len(seen), perWorker)
}

// flowKey returns "proto lo-endpoint hi-endpoint" for an IPv4 TCP or UDP
// Ethernet frame, the same for both directions.
func flowKey(b []byte) (string, bool) {
	if len(b) < 14+20+4 || binary.BigEndian.Uint16(b[12:]) != 0x0800 {
		return "", false
	}
	ip := b[14:]
	proto := ip[9]
	if proto != 6 && proto != 17 {
		return "", false
	}
	ihl := int(ip[0]&0xf) * 4
	l4 := ip[ihl:]
	x := fmt.Sprintf("%v:%d", net.IP(ip[12:16]), binary.BigEndian.Uint16(l4))
	y := fmt.Sprintf("%v:%d", net.IP(ip[16:20]), binary.BigEndian.Uint16(l4[2:]))
	if x > y {
		x, y = y, x
	}
	return fmt.Sprintf("%d %s %s", proto, x, y), true
}
