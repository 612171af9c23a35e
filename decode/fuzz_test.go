package decode_test

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/decode"
)

var fuzzLinkTypes = []capture.LinkType{
	capture.LinkTypeEthernet, capture.LinkTypeLinuxSLL, capture.LinkTypeLinuxSLL2,
	capture.LinkTypeNull, capture.LinkTypeLoop, capture.LinkTypeRaw,
	capture.LinkTypeIPv4, capture.LinkTypeIPv6, capture.LinkTypeNFLOG, capture.LinkTypeFDDI,
}

// seedCaptures adds the first packets of a few shared captures as seeds.
func seedCaptures(f *testing.F, each func(lt capture.LinkType, data []byte)) {
	for _, name := range []string{
		"zeek/link-encap/http-qinq-0.pcap",
		"zeek/link-encap/ipv6-http-atomic-frag.pcap",
		"zeek/tcp/truncated-header.pcap",
		"packt-grpc/grpc/unary.pcapng",
		"tcpdump/802.1ad_QinQ.pcap",
		"arkime/link-encap/gre-erspan-vxlan.pcap",
		"zeek/link-encap/vxlan-encapsulated-http.pcap",
		"zeek/link-encap/mpls-in-vlan.pcap",
		"zeek/link-encap/nflog-http.pcap",
		"zeek/link-encap/gre-sample.pcap",
		"deepflow/encap/vxlan-nsh.pcap",
		"deepflow/encap/ipip.pcap",
		"deepflow/encap/geneve.pcap",
	} {
		r, lt, c, err := openCapture(filepath.Join(sharedTestdata, name))
		if err != nil {
			continue
		}
		for i := 0; i < 4; i++ {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				break
			}
			each(lt(ci.InterfaceIndex), append([]byte(nil), data...))
		}
		c.Close()
	}
}

func FuzzDecode(f *testing.F) {
	ip := ip4(layers.IPProtocolTCP)
	ip6h := ip6(layers.IPProtocolUDP)
	f.Add(uint8(0), ethTCP(f, "hello"))
	f.Add(uint8(0), serialize(f, eth(layers.EthernetTypeQinQ),
		&layers.Dot1Q{VLANIdentifier: 1, Type: layers.EthernetTypeDot1Q},
		&layers.Dot1Q{VLANIdentifier: 2, Type: layers.EthernetTypeIPv4}, ip, tcp(ip), gopacket.Payload("q")))
	f.Add(uint8(3), serialize(f, &layers.Loopback{Family: layers.ProtocolFamilyIPv4}, ip, tcp(ip)))
	f.Add(uint8(5), serialize(f, ip6h, udp(ip6h), gopacket.Payload("dns")))
	for _, fr := range ipv4Fragments(f) {
		f.Add(uint8(0), fr)
	}
	for _, tc := range tunnelCases(f) {
		for i, l := range fuzzLinkTypes {
			if l == tc.link || (tc.link == 0 && l == capture.LinkTypeEthernet) {
				f.Add(uint8(i), tc.data)
			}
		}
	}
	seedCaptures(f, func(lt capture.LinkType, data []byte) {
		for i, l := range fuzzLinkTypes {
			if l == lt {
				f.Add(uint8(i), data)
			}
		}
	})
	d := decode.NewDecoder(&decode.Config{MaxFragDatagrams: 2})
	f.Fuzz(func(t *testing.T, sel uint8, data []byte) {
		in := capture.Packet{LinkType: fuzzLinkTypes[int(sel)%len(fuzzLinkTypes)], Data: data, Length: len(data) + int(sel>>4)}
		var p decode.Packet
		err := d.Decode(&in, &p)
		switch {
		case err == nil:
			if p.Proto != decode.ProtoTCP && p.Proto != decode.ProtoUDP {
				t.Fatalf("nil error with proto %d", p.Proto)
			}
			if p.Missing < 0 || len(p.Payload) > 1<<16 {
				t.Fatalf("missing %d, payload %d", p.Missing, len(p.Payload))
			}
			if p.Tunnel.Depth > decode.MaxTunnelDepth || (p.Tunnel.Depth == 0) != (p.Tunnel.Kind == decode.TunnelNone) {
				t.Fatalf("tunnel %+v", p.Tunnel)
			}
		case errors.Is(err, decode.ErrUnsupported), errors.Is(err, decode.ErrFragment):
		case errors.Is(err, decode.ErrMalformed), errors.Is(err, decode.ErrTruncated):
			var de *decode.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *decode.Error", err)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// fuzzPackets turns bytes into TCP packets on up to four connections, 7
// bytes each: flags, connection and direction, sequence offset (2), length,
// missing, time step.
func fuzzPackets(b []byte) []*decode.Packet {
	var out []*decode.Packet
	var ts int64
	payload := make([]byte, 255)
	for i := range payload {
		payload[i] = byte(i)
	}
	for ; len(b) >= 7; b = b[7:] {
		from := "c"
		if b[1]&1 != 0 {
			from = "s"
		}
		seq := 0xfffff000 + uint32(binary.BigEndian.Uint16(b[2:]))
		ackn := 0xfffff000 + uint32(binary.BigEndian.Uint16(b[2:])) + uint32(b[4])*7
		ts += int64(b[6]) * 1e9
		p := seg(from, ts, b[0]&0x3f, seq, ackn, "")
		p.Payload = payload[:b[4]]
		p.Missing = int(b[5] & 0x0f)
		if conn := b[1] >> 1 & 3; conn != 0 {
			if from == "c" {
				p.SrcPort += uint16(conn)
			} else {
				p.DstPort += uint16(conn)
			}
		}
		out = append(out, p)
	}
	return out
}

func FuzzAssembler(f *testing.F) {
	f.Add([]byte{
		byte(syn), 0, 0, 0, 0, 0, 0,
		byte(syn | ack), 1, 0x10, 0, 0, 0, 0,
		byte(psh), 0, 0, 1, 10, 0, 0,
		byte(psh), 0, 0, 21, 10, 0, 1,
		byte(psh), 0, 0, 11, 10, 3, 0,
		byte(fin), 1, 0x10, 1, 0, 0, 0,
		byte(rst), 0, 0, 50, 0, 0, 200,
	})
	f.Add([]byte{byte(psh), 2, 0xff, 0xf0, 200, 15, 0, byte(psh), 2, 0, 0x20, 200, 0, 0, byte(ack), 3, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fac := &recFactory{t: t}
		a := decode.NewAssembler(&decode.AssemblerConfig{MaxBufferedPerConn: 300, MaxBufferedTotal: 500, MaxConns: 3}, fac)
		for _, p := range fuzzPackets(b) {
			a.Add(p)
		}
		a.Flush()
		fac.checkClosedOnce(t)
		s := a.Stats()
		var data, gaps uint64
		for _, r := range fac.streams {
			data += r.data
			gaps += r.gaps
		}
		if s.BytesDelivered != data || s.GapBytes != gaps {
			t.Errorf("stats delivered %d gap %d, streams got %d and %d", s.BytesDelivered, s.GapBytes, data, gaps)
		}
		if s.Active != 0 || s.Buffered != 0 || s.Conns != uint64(len(fac.streams)) {
			t.Errorf("after Flush: %+v", s)
		}
	})
}
