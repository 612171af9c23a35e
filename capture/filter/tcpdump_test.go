package filter_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
)

// sharedTestdata holds the public captures, read in place.
const sharedTestdata = "../../../shared/testdata"

// diffCaptures cover every link type and the header shapes that move
// offsets: VLAN and QinQ tags, IPv6, IPv4 fragments, truncation.
var diffCaptures = []string{
	"filesamples/http/simple_http.pcap",              // Ethernet
	"zeek/link-encap/http-vlan-0.pcap",               // Ethernet, 802.1Q
	"zeek/link-encap/http-qinq-0.pcap",               // Ethernet, QinQ
	"packetbeat/http/http_over_vlan.pcap",            // Ethernet, 802.1Q
	"ndpi/http/http_ipv6.pcap",                       // Ethernet, IPv6
	"arkime/http/v6-http.pcap",                       // Ethernet, IPv6 and ICMPv6
	"deepflow/tcp/ip-fragment.pcap",                  // Ethernet, IPv4 fragments
	"ndpi/dns/dns_fragmented.pcap",                   // Ethernet, IPv4 fragments
	"zeek/link-encap/ipv6-fragmented-dns.pcap",       // Ethernet, IPv6 fragments
	"deepflow/mysql/truncate-1024.pcap",              // Ethernet, snaplen 1024
	"packetbeat/http/http_minitwit.pcap",             // Linux SLL
	"tcpdump/redis/resp_2_inline.pcap",               // Linux SLL
	"zeek/link-encap/linuxsll-arp.pcap",              // Linux SLL, ARP
	"filesamples/http/simple_http_sll2.pcap",         // Linux SLL2
	"suricata-verify/link-encap/decode-sll2-01.pcap", // Linux SLL2
	"suricata-verify/http/http-async.pcap",           // BSD NULL, IPv4
	"packt-grpc/grpc/bidi_streaming.pcapng",          // BSD NULL, IPv6
	"arkime/mqtt/mqtt_synthetic.pcap",                // raw IPv4 (228)
}

// diffExprs are the expressions compared with tcpdump.
var diffExprs = []string{
	"",
	"ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "not ip", "!tcp && !udp",
	"ip6 and tcp", "ip6 and not tcp", "tcp or udp",
	"port 80", "tcp port 80", "udp port 53", "src port 80", "dst port 80",
	"port 80 or port 53", "tcp dst port 80 or 8080", "not port 80",
	"src or dst port 80", "src and dst port 6379", "port http", "port domain",
	"portrange 1-1024", "tcp portrange 8000-9000", "udp src portrange 50000-65535",
	"tcp and (port 80 or port 8080)", "(tcp or udp) and not port 22",
	"host 127.0.0.1", "src host 192.168.1.104", "dst host 192.150.187.43",
	"host 10.0.0.100 or 192.168.1.10", "ip host 10.1.6.92", "arp host 192.168.22.1",
	"host ::1", "ip6 host 2a00:1450:4006:804::200e", "src host fe80::211:25ff:fe82:95b5",
	"net 10.0.0.0/8", "net 192.168.0.0/16", "net 172.16.0.0 mask 255.240.0.0",
	"src net 192.168", "dst net 10", "net fe80::/10", "ip6 net 2001:6f8::/32",
	"greater 100", "less 100", "len > 500", "len <= 60", "len - 14 > 100",
	"tcp[tcpflags] & tcp-syn != 0", "tcp[tcpflags] & (tcp-syn|tcp-ack) = tcp-syn",
	"tcp[13] = 0x18", "tcp[tcpflags] & tcp-fin != 0 or tcp[tcpflags] & tcp-rst != 0",
	"tcp[((tcp[12]&0xf0)>>2):4] = 0x47455420", "tcp[((tcp[12:1] & 0xf0) >> 2):4] = 0x48545450",
	"tcp[2:2] - tcp[0:2] > 0", "tcp[0:2] > 1024", "udp[0:2] = 53 or udp[2:2] = 53",
	"udp port 53 and udp[10] & 0x80 != 0",
	"ip[2:2] > 100", "ip[6:2] & 0x1fff != 0", "ip[6] & 0x20 != 0", "ip[8] < 64",
	"ip[0] & 0xf > 5", "ip[9] % 4 = 2", "ip[9] * 2 = 12", "ip[9] / 3 = 2",
	"ip[9] ^ 2 = 4", "ip[9] << 1 = 12", "ip[9] | 1 = 7", "ip[2:2] >= len - 14",
	"ip and udp and ip[6:2] & 0x3fff != 0", "ip6[6] = 17", "ip6[6] = 44",
	"icmp[icmptype] = icmp-echo", "icmp6[icmp6type] = icmp6-neighborsolicit",
	"vlan", "not vlan", "vlan and tcp port 80", "vlan 1", "vlan 10 and vlan 20",
	"vlan and vlan and tcp", "vlan and ip6",
	"ether proto 0x800", "ether proto \\ip6", "ether proto \\arp", "ip proto 17",
	"ip6 proto 58", "proto 6", "ip6 proto 17",
	"ether broadcast", "ether multicast", "ether host ff:ff:ff:ff:ff:ff",
	"ether src 00:00:00:00:00:00", "ether[12:2] = 0x800", "link[0] & 1 = 1",
	"tcp port 80 and len > 100 and (tcp[13] & 8 != 0)",
	"src port 80 and tcp[tcpflags] & tcp-push != 0",
	"tcp src port 80 or dst port 6379 and tcp[13] & 0x10 != 0",
	"not (tcp port 80 or udp port 53)",
}

type pkt struct {
	ts   int64
	data []byte
	wire int
	link capture.LinkType
}

func readAll(t *testing.T, r capture.Source) []pkt {
	t.Helper()
	defer r.Close()
	var out []pkt
	for {
		var p capture.Packet
		err := r.ReadPacket(&p)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, pkt{p.Timestamp, bytes.Clone(p.Data), p.Length, p.LinkType})
	}
}

// TestTcpdump runs every expression over every capture with tcpdump and
// with the compiled program, and compares the packets each keeps.
func TestTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed: the differential test needs it (apt-get install tcpdump)")
	}
	if _, err := os.Stat(sharedTestdata); err != nil {
		t.Skipf("public captures not found at %s: %v", sharedTestdata, err)
	}
	compareWithTcpdump(t, tcpdump, diffCaptures, diffExprs)
}

// compareWithTcpdump runs every expression over every capture (a path
// relative to the shared corpus, or starting with "./" relative to this
// package) with tcpdump and with the compiled program, and compares the
// packets each keeps.
func compareWithTcpdump(t *testing.T, tcpdump string, captures, exprs []string) {
	t.Helper()
	var compared, partial, packets, mismatches int
	for _, name := range captures {
		path := filepath.Join(sharedTestdata, name)
		if strings.HasPrefix(name, "./") {
			path = name
		}
		f, err := capture.OpenFile(path, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		in := readAll(t, f)
		link := in[0].link
		for _, expr := range exprs {
			want, tdErr := tcpdumpKeeps(t, tcpdump, path, expr, in)
			prog, err := filter.Compile(expr, link, 0)
			if tdErr != nil || err != nil {
				if (tdErr == nil) != (err == nil) {
					mismatches++
					t.Errorf("%s: %q: tcpdump error %v, Compile error %v", name, expr, tdErr, err)
				}
				continue
			}
			raw, err := bpf.Assemble(prog)
			if err != nil {
				t.Fatalf("%q: Assemble: %v", expr, err)
			}
			vm, err := bpf.NewVM(prog)
			if err != nil {
				t.Fatalf("%q: NewVM: %v", expr, err)
			}
			f, err := filter.New(expr, link)
			if err != nil {
				t.Fatalf("%q: New: %v", expr, err)
			}
			var bad []string
			kept := 0
			for i, p := range in {
				got := f.Match(p.data, p.wire)
				if p.wire == len(p.data) {
					n, err := vm.Run(p.data)
					if err != nil || (n != 0) != got {
						t.Errorf("%s: %q: packet %d: bpf.VM says %d, %v; Filter says %v", name, expr, i+1, n, err, got)
					}
				}
				if want[i] {
					kept++
				}
				if got != want[i] {
					bad = append(bad, fmt.Sprintf("%d (tcpdump %v)", i+1, want[i]))
				}
			}
			compared++
			packets += len(in)
			if kept > 0 && kept < len(in) {
				partial++
			}
			if len(bad) > 0 {
				mismatches++
				t.Errorf("%s: %q: %d packets differ: %s\n%s", name, expr, len(bad), strings.Join(bad, ", "), filter.DisassembleRaw(raw))
			}
		}
	}
	t.Logf("compared %d expression x capture pairs (%d expressions, %d captures; %d keep some but not all packets), %d packet verdicts, %d mismatches",
		compared, len(exprs), len(captures), partial, packets, mismatches)
}

// tunnelCaptures hold Geneve and VXLAN traffic, and one capture without.
var tunnelCaptures = []string{
	"arkime/link-encap/tcpdump-geneve.pcap",        // Geneve, inner Ethernet, ICMP and SSH
	"zeek/link-encap/geneve.pcap",                  // Geneve with options
	"deepflow/encap/geneve.pcap",                   // Geneve, VNI 3
	"zeek/link-encap/vxlan-encapsulated-http.pcap", // VXLAN
	"arkime/link-encap/gre-erspan-vxlan.pcap",      // VXLAN inside ERSPAN
	"./../../testdata/encap_geneve.pcap",           // Geneve VNI 100 with an option, HTTP inside
	"filesamples/http/simple_http.pcap",            // no tunnel
}

// tunnelExprs use "geneve", which tcpdump 4.99 (libpcap 1.10) knows;
// "vxlan" needs libpcap 1.11 and is tested in TestTunnelPrimitives.
var tunnelExprs = []string{
	"geneve", "not geneve", "geneve 3", "geneve 100", "geneve 10",
	"geneve and ip", "geneve and ip6", "geneve and tcp", "geneve and icmp", "geneve and arp",
	"geneve and tcp port 80", "geneve 100 and tcp dst port 80", "geneve and port 22",
	"geneve and host 10.231.7.1", "geneve and src net 10.0.0.0/8", "geneve and ip[9] = 6",
	"geneve and tcp[tcpflags] & tcp-syn != 0", "geneve and tcp[((tcp[12]&0xf0)>>2):4] = 0x47455420",
	"geneve and ether[12:2] = 0x800", "geneve and ether src 02:00:00:00:00:01",
	"tcp and geneve", "udp and geneve and udp", "geneve and vlan", "geneve and geneve",
	"geneve and (tcp or icmp)", "geneve and not tcp", "geneve and len > 200",
}

// TestTcpdumpTunnels compares "geneve" expressions with tcpdump.
func TestTcpdumpTunnels(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed: the differential test needs it (apt-get install tcpdump)")
	}
	if _, err := os.Stat(sharedTestdata); err != nil {
		t.Skipf("public captures not found at %s: %v", sharedTestdata, err)
	}
	compareWithTcpdump(t, tcpdump, tunnelCaptures, tunnelExprs)
}

// tcpdumpKeeps returns, for each packet of in, whether "tcpdump -r path -w
// - expr" keeps it, matching its output to the input by timestamp and data.
func tcpdumpKeeps(t *testing.T, tcpdump, path, expr string, in []pkt) ([]bool, error) {
	t.Helper()
	cmd := exec.Command(tcpdump, "-r", path, "-w", "-", expr)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	keep := make([]bool, len(in))
	if err != nil {
		if strings.Contains(stderr.String(), "expression rejects all packets") {
			return keep, nil
		}
		return nil, fmt.Errorf("tcpdump: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	r, err := capture.NewReader(bytes.NewReader(out), "tcpdump", nil)
	if err != nil {
		t.Fatalf("%q: reading tcpdump output: %v", expr, err)
	}
	kept := readAll(t, r)
	j := 0
	for i, p := range in {
		if j < len(kept) && kept[j].ts/1000 == p.ts/1000 && bytes.Equal(kept[j].data, p.data) {
			keep[i] = true
			j++
		}
	}
	if j != len(kept) {
		t.Fatalf("%s: %q: matched %d of the %d packets tcpdump kept to the input", path, expr, j, len(kept))
	}
	return keep, nil
}

// vxlanPairs match each "vxlan" expression with a tshark display filter
// that keeps the same packets. tcpdump 4.99 (libpcap 1.10) has no vxlan
// primitive, so tshark is the reference.
var vxlanPairs = []struct{ expr, tshark string }{
	{"vxlan", "udp.dstport == 4789"},
	{"not vxlan", "!(udp.dstport == 4789)"},
	{"vxlan 42", "udp.dstport == 4789 && vxlan.vni == 42"},
	{"vxlan 7", "udp.dstport == 4789 && vxlan.vni == 7"},
	{"vxlan and tcp", "udp.dstport == 4789 && vxlan && tcp"},
	{"vxlan and arp", "udp.dstport == 4789 && arp"},
	{"vxlan and icmp", "udp.dstport == 4789 && icmp"},
	{"vxlan and tcp port 8080", "udp.dstport == 4789 && tcp.port == 8080"},
	{"vxlan and tcp dst port 80", "udp.dstport == 4789 && tcp.dstport == 80"},
	{"vxlan 42 and host 10.231.28.2", "udp.dstport == 4789 && vxlan.vni == 42 && ip.addr == 10.231.28.2"},
	{"vxlan and tcp[tcpflags] & tcp-syn != 0", "udp.dstport == 4789 && tcp.flags.syn == 1"},
	{"vxlan and tcp[((tcp[12]&0xf0)>>2):4] = 0x47455420", "udp.dstport == 4789 && tcp.payload[0:4] == 47:45:54:20"},
	{"vxlan and ether[12:2] = 0x806", "udp.dstport == 4789 && arp"},
}

func vxlanExprs() []string {
	var out []string
	for _, p := range vxlanPairs {
		out = append(out, p.expr)
	}
	return out
}

// TestVXLANAgainstTshark compares "vxlan" expressions with tshark display
// filters, packet by packet.
func TestVXLANAgainstTshark(t *testing.T) {
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed: the vxlan comparison needs it (apt-get install tshark)")
	}
	if _, err := os.Stat(sharedTestdata); err != nil {
		t.Skipf("public captures not found at %s: %v", sharedTestdata, err)
	}
	captures := []string{
		"./../../testdata/vxlan_underlay.pcap",         // VNI 42, HTTP on 8080
		"zeek/link-encap/vxlan-encapsulated-http.pcap", // HTTP on 80
		"zeek/link-encap/vxlan.pcap",                   // ARP and ICMP
		"filesamples/http/simple_http.pcap",            // no tunnel
	}
	verdicts := 0
	for _, name := range captures {
		path := filepath.Join(sharedTestdata, name)
		if strings.HasPrefix(name, "./") {
			path = name
		}
		f, err := capture.OpenFile(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		in := readAll(t, f)
		for _, p := range vxlanPairs {
			out, err := exec.Command(tshark, "-r", path, "-Y", p.tshark, "-T", "fields", "-e", "frame.number").Output()
			if err != nil {
				t.Fatalf("tshark -Y %q: %v", p.tshark, err)
			}
			want := make([]bool, len(in))
			for _, n := range strings.Fields(string(out)) {
				var i int
				fmt.Sscan(n, &i)
				want[i-1] = true
			}
			fl, err := filter.New(p.expr, in[0].link)
			if err != nil {
				t.Fatalf("%q: %v", p.expr, err)
			}
			for i, pk := range in {
				if got := fl.Match(pk.data, pk.wire); got != want[i] {
					t.Errorf("%s: %q: packet %d: got %v, tshark -Y %q says %v", name, p.expr, i+1, got, p.tshark, want[i])
				}
				verdicts++
			}
		}
	}
	t.Logf("%d packet verdicts compared with tshark", verdicts)
}
