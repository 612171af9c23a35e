package decode_test

import (
	"fmt"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/decode"
)

// ExampleDecoder decodes an Ethernet/IPv4/TCP frame into a flat Packet.
func ExampleDecoder() {
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, PSH: true, ACK: true, Window: 512}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload("GET / HTTP/1.1\r\n\r\n"))

	d := decode.NewDecoder(nil)
	in := &capture.Packet{Data: buf.Bytes(), Length: len(buf.Bytes()), LinkType: capture.LinkTypeEthernet}
	var p decode.Packet
	if err := d.Decode(in, &p); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s:%d → %s:%d seq %d, %d payload bytes\n", p.Src, p.SrcPort, p.Dst, p.DstPort, p.Seq, len(p.Payload))
	// Output:
	// 10.0.0.1:40000 → 10.0.0.2:80 seq 1000, 18 payload bytes
}
