// Command encap wraps every frame of testdata/demo.pcap in a tunnel, one
// output capture per encapsulation, so that the decoder's tunnel support
// is tested on traffic whose plain form is known (the Linux kernel on the
// test machines builds only VXLAN of these; see testdata/README.md).
//
// Usage, from the repository root:
//
//	go run ./testdata/gen/encap [-in testdata/demo.pcap] [-out testdata]
//
// It writes encap_<kind>.pcap for gre, erspan2, geneve, mpls, gtpu and
// ipip, and, when tshark is installed, prints tshark's HTTP request count
// for each file (the counts recorded in testdata/README.md and in the
// engine's tunnel corpus test). The output depends only on the input:
// outer headers are fixed functions of the inner ones.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Underlay addresses: 10.231.27.N carries the traffic of inner host
// 10.231.7.N, so each direction has its own outer source.
var (
	outerMAC1 = net.HardwareAddr{0x02, 0x27, 0, 0, 0, 1}
	outerMAC2 = net.HardwareAddr{0x02, 0x27, 0, 0, 0, 2}
)

// wrap builds the encapsulated frame for one inner Ethernet frame.
type wrap func(frame []byte, ip *layers.IPv4, seq uint32) ([]gopacket.SerializableLayer, error)

func outerIP(inner *layers.IPv4, proto layers.IPProtocol, seq uint32) *layers.IPv4 {
	src := net.IPv4(10, 231, 27, inner.SrcIP.To4()[3]).To4()
	dst := net.IPv4(10, 231, 27, inner.DstIP.To4()[3]).To4()
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: uint16(seq), Flags: layers.IPv4DontFragment,
		Protocol: proto, SrcIP: src, DstIP: dst}
}

func outerEth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: outerMAC1, DstMAC: outerMAC2, EthernetType: t}
}

func udpTo(ip *layers.IPv4, src, dst uint16) *layers.UDP {
	u := &layers.UDP{SrcPort: layers.UDPPort(src), DstPort: layers.UDPPort(dst)}
	u.SetNetworkLayerForChecksum(ip)
	return u
}

// srcPort is an entropy source port as UDP tunnels use (RFC 7348 §5).
func srcPort(ip *layers.IPv4) uint16 {
	return 49152 + uint16(ip.SrcIP.To4()[3])*16 + uint16(ip.DstIP.To4()[3])
}

var wraps = []struct {
	name string
	fn   wrap
}{
	{"gre", func(frame []byte, ip *layers.IPv4, seq uint32) ([]gopacket.SerializableLayer, error) {
		o := outerIP(ip, layers.IPProtocolGRE, seq)
		return []gopacket.SerializableLayer{outerEth(layers.EthernetTypeIPv4), o,
			&layers.GRE{KeyPresent: true, Key: 42, Protocol: layers.EthernetTypeIPv4}, gopacket.Payload(ip.Contents), gopacket.Payload(ip.Payload)}, nil
	}},
	{"erspan2", func(frame []byte, ip *layers.IPv4, seq uint32) ([]gopacket.SerializableLayer, error) {
		o := outerIP(ip, layers.IPProtocolGRE, seq)
		return []gopacket.SerializableLayer{outerEth(layers.EthernetTypeIPv4), o,
			&layers.GRE{SeqPresent: true, Seq: seq, Protocol: layers.EthernetTypeERSPAN},
			&layers.ERSPANII{Version: layers.ERSPANIIVersion, SessionID: 7, Index: 1}, gopacket.Payload(frame)}, nil
	}},
	{"geneve", func(frame []byte, ip *layers.IPv4, seq uint32) ([]gopacket.SerializableLayer, error) {
		o := outerIP(ip, layers.IPProtocolUDP, seq)
		return []gopacket.SerializableLayer{outerEth(layers.EthernetTypeIPv4), o, udpTo(o, srcPort(ip), 6081),
			&layers.Geneve{Protocol: layers.EthernetTypeTransparentEthernetBridging, VNI: 100,
				Options: []*layers.GeneveOption{{Class: 0x0102, Type: 0x80, Length: 4, Data: []byte{1, 2, 3, 4}}}},
			gopacket.Payload(frame)}, nil
	}},
	{"mpls", func(frame []byte, ip *layers.IPv4, seq uint32) ([]gopacket.SerializableLayer, error) {
		return []gopacket.SerializableLayer{outerEth(layers.EthernetTypeMPLSUnicast),
			&layers.MPLS{Label: 16000 + uint32(ip.DstIP.To4()[3]), TTL: 64},
			&layers.MPLS{Label: 1000, StackBottom: true, TTL: 64},
			gopacket.Payload(ip.Contents), gopacket.Payload(ip.Payload)}, nil
	}},
	{"gtpu", func(frame []byte, ip *layers.IPv4, seq uint32) ([]gopacket.SerializableLayer, error) {
		o := outerIP(ip, layers.IPProtocolUDP, seq)
		// Each direction has its own TEID, as uplink and downlink do; a
		// PDU session container extension header (type 0x85) is present.
		return []gopacket.SerializableLayer{outerEth(layers.EthernetTypeIPv4), o, udpTo(o, 2152, 2152),
			&layers.GTPv1U{Version: 1, ProtocolType: 1, MessageType: 255, TEID: 0x1000 + uint32(ip.SrcIP.To4()[3]),
				GTPExtensionHeaders: []layers.GTPExtensionHeader{{Type: 0x85, Content: []byte{0x00, 0x09}}}},
			gopacket.Payload(ip.Contents), gopacket.Payload(ip.Payload)}, nil
	}},
	{"ipip", func(frame []byte, ip *layers.IPv4, seq uint32) ([]gopacket.SerializableLayer, error) {
		o := outerIP(ip, layers.IPProtocolIPv4, seq)
		return []gopacket.SerializableLayer{outerEth(layers.EthernetTypeIPv4), o, gopacket.Payload(ip.Contents), gopacket.Payload(ip.Payload)}, nil
	}},
}

func main() {
	in := flag.String("in", "testdata/demo.pcap", "plain capture to wrap (Ethernet, IPv4)")
	out := flag.String("out", "testdata", "directory for encap_<kind>.pcap")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "encap:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	b, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	for _, w := range wraps {
		path := filepath.Join(out, "encap_"+w.name+".pcap")
		if err := wrapFile(b, path, w.fn); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Printf("| `%s` | %s |\n", filepath.Base(path), tsharkRequests(path))
	}
	return nil
}

func wrapFile(in []byte, path string, fn wrap) error {
	r, err := pcapgo.NewReader(bytes.NewReader(in))
	if err != nil {
		return err
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		return fmt.Errorf("link type %v, want Ethernet", r.LinkType())
	}
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return err
	}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for seq := uint32(1); ; seq++ {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.NoCopy)
		ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		if !ok {
			return fmt.Errorf("frame %d is not IPv4", seq)
		}
		ls, err := fn(data, ip, seq)
		if err != nil {
			return err
		}
		sb := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(sb, opts, ls...); err != nil {
			return fmt.Errorf("frame %d: %w", seq, err)
		}
		ci.CaptureLength, ci.Length = len(sb.Bytes()), len(sb.Bytes())
		if err := w.WritePacket(ci, sb.Bytes()); err != nil {
			return err
		}
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// tsharkRequests counts the HTTP requests tshark finds in path.
func tsharkRequests(path string) string {
	outb, err := exec.Command("tshark", "-r", path, "-Y", "http.request", "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		return "tshark: " + err.Error()
	}
	return fmt.Sprint(len(strings.Fields(string(outb))))
}
