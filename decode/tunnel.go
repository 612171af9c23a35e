package decode

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// MaxTunnelDepth bounds the encapsulations removed from one packet. ERSPAN
// carrying VXLAN is two; a deeper nesting stops at the limit and the
// packet is reported as it is there (counted in TunnelTooDeep).
const MaxTunnelDepth = 4

// Well-known UDP destination ports of UDP tunnels (IANA).
const (
	portVXLAN    = 4789
	portVXLANGPE = 4790
	portGeneve   = 6081
	portGTPU     = 2152
)

// EtherTypes of tunnel payloads not named by gopacket.
const (
	etherTypeTEB      = 0x6558 // transparent Ethernet bridging (RFC 1701)
	etherTypeERSPAN2  = 0x88be // ERSPAN type I (no sequence number) and II
	etherTypeERSPAN3  = 0x22eb
	etherTypeMPLS     = 0x8847
	etherTypeMPLSMC   = 0x8848
	etherTypeNSH      = 0x894f
	etherTypePPPoESes = 0x8864
)

// layerTypeIPInIP is what the IP layers below report as their next layer
// instead of IPv4 or IPv6, so that the DecodingLayerParser stops at the
// inner IP header: its layers are reused, and decoding on would overwrite
// the outer header before it is recorded in Packet.Tunnel. It is not
// registered with gopacket, so the parser ends there.
const layerTypeIPInIP = gopacket.LayerType(1<<31 - 7)

// ipInIP maps an inner IP layer type to layerTypeIPInIP.
func ipInIP(t gopacket.LayerType) gopacket.LayerType {
	if t == layers.LayerTypeIPv4 || t == layers.LayerTypeIPv6 {
		return layerTypeIPInIP
	}
	return t
}

// ipv4Layer is layers.IPv4 that stops at an inner IP header.
type ipv4Layer struct{ layers.IPv4 }

// NextLayerType implements gopacket.DecodingLayer.
func (l *ipv4Layer) NextLayerType() gopacket.LayerType { return ipInIP(l.IPv4.NextLayerType()) }

// ipv6Layer is layers.IPv6 that stops at an inner IP header.
type ipv6Layer struct{ layers.IPv6 }

// NextLayerType implements gopacket.DecodingLayer.
func (l *ipv6Layer) NextLayerType() gopacket.LayerType { return ipInIP(l.IPv6.NextLayerType()) }

// ipv6ExtLayer is layers.IPv6ExtensionSkipper that stops at an inner IP
// header.
type ipv6ExtLayer struct{ layers.IPv6ExtensionSkipper }

// NextLayerType implements gopacket.DecodingLayer.
func (l *ipv6ExtLayer) NextLayerType() gopacket.LayerType {
	return ipInIP(l.IPv6ExtensionSkipper.NextLayerType())
}

// portSet is a set of UDP ports.
type portSet [65536 / 64]uint64

func (s *portSet) add(p uint16)      { s[p>>6] |= 1 << (p & 63) }
func (s *portSet) has(p uint16) bool { return s[p>>6]&(1<<(p&63)) != 0 }

// setTunnel records one more encapsulation of kind around the packet. The
// outer addresses are those of the last IP header decoded, if any. It
// returns false, recording nothing, when MaxTunnelDepth is reached.
func (d *Decoder) setTunnel(out *Packet, kind TunnelKind, id uint32, hasID bool) bool {
	t := &out.Tunnel
	if t.Depth >= MaxTunnelDepth {
		d.stats.TunnelTooDeep++
		return false
	}
	t.Kind, t.ID, t.HasID = kind, id, hasID
	if !hasID {
		t.ID = 0
	}
	t.Depth++
	if out.Src.IsValid() {
		t.OuterSrc, t.OuterDst = out.Src.As16(), out.Dst.As16()
	}
	return true
}

// byVersion picks the IP parser by the version nibble.
func byVersion(b []byte) int {
	if len(b) == 0 {
		return parserNone
	}
	switch b[0] >> 4 {
	case 4:
		return parserIPv4
	case 6:
		return parserIPv6
	}
	return parserNone
}

// ipTunnel follows IP in IP (protocol 4 or 41) whose inner header is b.
func (d *Decoder) ipTunnel(out *Packet, b []byte) ([]byte, int) {
	pi := byVersion(b)
	kind := TunnelIPIP
	switch pi {
	case parserIPv6:
		kind = TunnelIP6IP
	case parserNone:
		return nil, 0
	}
	if !d.setTunnel(out, kind, 0, false) {
		return nil, 0
	}
	return b, pi
}

// greTunnel follows GRE (RFC 2784, keys and sequence numbers RFC 2890),
// with ERSPAN types I, II and III behind it. b starts at the GRE header.
// Enhanced GRE (version 1, PPTP) is not followed.
func (d *Decoder) greTunnel(out *Packet, b []byte) ([]byte, int) {
	saved := out.Tunnel
	if d.gre.DecodeFromBytes(b, gopacket.NilDecodeFeedback) != nil || d.gre.Version != 0 {
		return nil, 0
	}
	pay := d.gre.Payload
	var inner []byte
	var pi int
	switch d.gre.Protocol {
	case etherTypeERSPAN2:
		if !d.gre.SeqPresent {
			// Type I: the mirrored frame follows GRE directly.
			if d.setTunnel(out, TunnelERSPAN, 0, false) {
				inner, pi = pay, parserEthernet
			}
			break
		}
		if d.erspan.DecodeFromBytes(pay, gopacket.NilDecodeFeedback) == nil &&
			d.setTunnel(out, TunnelERSPAN, uint32(d.erspan.SessionID), true) {
			inner, pi = d.erspan.Payload, parserEthernet
		}
	case etherTypeERSPAN3:
		// 12-byte header, version 2; an 8-byte platform-specific
		// subheader follows when the O flag (last bit) is set.
		if len(pay) < 12 || pay[0]>>4 != 2 {
			break
		}
		hl := 12
		if pay[11]&1 != 0 {
			hl += 8
		}
		if len(pay) < hl {
			break
		}
		if d.setTunnel(out, TunnelERSPAN, uint32(binary.BigEndian.Uint16(pay[2:4])&0x3ff), true) {
			inner, pi = pay[hl:], parserEthernet
		}
	default:
		if d.setTunnel(out, TunnelGRE, d.gre.Key, d.gre.KeyPresent) {
			inner, pi = d.byEtherType(out, uint16(d.gre.Protocol), pay)
		}
	}
	if inner == nil {
		out.Tunnel = saved
	}
	return inner, pi
}

// byEtherType follows a tunnel payload named by an EtherType.
func (d *Decoder) byEtherType(out *Packet, et uint16, b []byte) ([]byte, int) {
	switch et {
	case uint16(layers.EthernetTypeIPv4):
		return b, parserIPv4
	case uint16(layers.EthernetTypeIPv6):
		return b, parserIPv6
	case etherTypeTEB:
		return b, parserEthernet
	case etherTypeMPLS, etherTypeMPLSMC:
		return d.mpls(out, b)
	case etherTypeNSH:
		return d.nsh(out, b)
	case etherTypePPPoESes:
		return d.pppoe(out, b)
	}
	return nil, 0
}

// etherTunnel follows a link-layer tunnel (MPLS, NSH, PPPoE) found where
// a link header's EtherType points; IP and Ethernet there are the
// DecodingLayerParser's.
func (d *Decoder) etherTunnel(out *Packet, et uint16, b []byte) ([]byte, int) {
	switch et {
	case etherTypeMPLS, etherTypeMPLSMC, etherTypeNSH, etherTypePPPoESes:
		saved := out.Tunnel
		inner, pi := d.byEtherType(out, et, b)
		if inner == nil {
			out.Tunnel = saved
		}
		return inner, pi
	}
	return nil, 0
}

// maxMPLSLabels bounds the labels walked in one stack.
const maxMPLSLabels = 16

// mpls follows an MPLS label stack (RFC 3032). What follows the bottom of
// the stack is not named on the wire: IPv4 or IPv6 by the version nibble,
// an Ethernet pseudowire after a control word (first nibble 0, RFC 4385),
// else an Ethernet pseudowire without one (best effort).
func (d *Decoder) mpls(out *Packet, b []byte) ([]byte, int) {
	for range maxMPLSLabels {
		if len(b) < 4 {
			return nil, 0
		}
		label := uint32(b[0])<<12 | uint32(b[1])<<4 | uint32(b[2])>>4
		bos := b[2]&1 != 0
		b = b[4:]
		if !bos {
			continue
		}
		if len(b) == 0 || !d.setTunnel(out, TunnelMPLS, label, true) {
			return nil, 0
		}
		switch b[0] >> 4 {
		case 4:
			return b, parserIPv4
		case 6:
			return b, parserIPv6
		case 0:
			if len(b) < 4 {
				return nil, 0
			}
			return b[4:], parserEthernet
		}
		return b, parserEthernet
	}
	return nil, 0
}

// nsh follows a Network Service Header (RFC 8300).
func (d *Decoder) nsh(out *Packet, b []byte) ([]byte, int) {
	if len(b) < 8 || b[0]>>6 != 0 {
		return nil, 0
	}
	hl := int(b[1]&0x3f) * 4
	if hl < 8 || hl > len(b) {
		return nil, 0
	}
	spi := uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6])
	if !d.setTunnel(out, TunnelNSH, spi, true) {
		return nil, 0
	}
	return d.byNextProtocol(out, b[3], b[hl:])
}

// byNextProtocol follows the payload named by an NSH or VXLAN-GPE next
// protocol number.
func (d *Decoder) byNextProtocol(out *Packet, np uint8, b []byte) ([]byte, int) {
	switch np {
	case 1:
		return b, parserIPv4
	case 2:
		return b, parserIPv6
	case 3:
		return b, parserEthernet
	case 4:
		return d.nsh(out, b)
	case 5:
		return d.mpls(out, b)
	}
	return nil, 0
}

// pppoe follows a PPPoE session frame (RFC 2516) carrying IPv4 or IPv6.
func (d *Decoder) pppoe(out *Packet, b []byte) ([]byte, int) {
	if len(b) < 8 || b[0] != 0x11 || b[1] != 0 {
		return nil, 0
	}
	end := 6 + int(binary.BigEndian.Uint16(b[4:6]))
	if end > len(b) {
		end = len(b)
	}
	if end < 8 {
		return nil, 0
	}
	var pi int
	switch binary.BigEndian.Uint16(b[6:8]) {
	case 0x0021:
		pi = parserIPv4
	case 0x0057:
		pi = parserIPv6
	default:
		return nil, 0
	}
	if !d.setTunnel(out, TunnelPPPoE, uint32(binary.BigEndian.Uint16(b[2:4])), true) {
		return nil, 0
	}
	return b[8:end], pi
}

// udpTunnel follows a UDP tunnel by destination port: VXLAN (4789 and
// Config.VXLANPorts), VXLAN-GPE (4790), Geneve (6081) and GTP-U (2152). A
// payload that does not look like the port's tunnel is left alone: the
// packet is then an ordinary UDP packet.
func (d *Decoder) udpTunnel(out *Packet, dport uint16, b []byte) ([]byte, int) {
	saved := out.Tunnel
	var inner []byte
	var pi int
	switch {
	case d.vxlanPorts.has(dport):
		if d.vxlan.DecodeFromBytes(b, gopacket.NilDecodeFeedback) == nil && d.vxlan.ValidIDFlag &&
			len(d.vxlan.Payload) >= 14 && d.setTunnel(out, TunnelVXLAN, d.vxlan.VNI, true) {
			inner, pi = d.vxlan.Payload, parserEthernet
		}
	case dport == portVXLANGPE:
		// Flags R R Ver(2) I P B O, reserved, next protocol, VNI, reserved.
		if len(b) < 8 || b[0]&0x30 != 0 || b[0]&0x08 == 0 {
			break
		}
		// Without the P bit the header is plain VXLAN (Ethernet follows),
		// as tshark decodes it.
		np, kind := uint8(3), TunnelVXLAN
		if b[0]&0x04 != 0 {
			np, kind = b[3], TunnelVXLANGPE
		}
		vni := uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6])
		if d.setTunnel(out, kind, vni, true) {
			inner, pi = d.byNextProtocol(out, np, b[8:])
		}
	case dport == portGeneve:
		// Ver(2) OptLen(6) | O C Rsvd | Protocol Type | VNI | Rsvd,
		// then OptLen*4 bytes of options, skipped.
		if len(b) < 8 || b[0]>>6 != 0 {
			break
		}
		hl := 8 + int(b[0]&0x3f)*4
		if hl > len(b) {
			break
		}
		vni := uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6])
		if d.setTunnel(out, TunnelGeneve, vni, true) {
			inner, pi = d.byEtherType(out, binary.BigEndian.Uint16(b[2:4]), b[hl:])
		}
	case dport == portGTPU:
		inner, pi = d.gtpu(out, b)
	}
	if inner == nil {
		out.Tunnel = saved
		return nil, 0
	}
	return inner, pi
}

// maxGTPExtensions bounds the GTP-U extension headers walked.
const maxGTPExtensions = 8

// gtpu follows a GTP-U G-PDU (3GPP TS 29.281) carrying IPv4 or IPv6.
func (d *Decoder) gtpu(out *Packet, b []byte) ([]byte, int) {
	// Version 1, protocol type GTP, message type 255 (G-PDU).
	if len(b) < 8 || b[0]>>5 != 1 || b[0]&0x10 == 0 || b[1] != 255 {
		return nil, 0
	}
	end := 8 + int(binary.BigEndian.Uint16(b[2:4]))
	if end < len(b) {
		b = b[:end]
	}
	teid := binary.BigEndian.Uint32(b[4:8])
	hl := 8
	if b[0]&0x07 != 0 {
		// Sequence number, N-PDU number and next extension type follow.
		if len(b) < 12 {
			return nil, 0
		}
		hl = 12
		next := b[11]
		for i := 0; next != 0; i++ {
			if i == maxGTPExtensions || hl >= len(b) {
				return nil, 0
			}
			el := int(b[hl]) * 4
			if el == 0 || hl+el > len(b) {
				return nil, 0
			}
			next = b[hl+el-1]
			hl += el
		}
	}
	pi := byVersion(b[hl:])
	if pi == parserNone || !d.setTunnel(out, TunnelGTPU, teid, true) {
		return nil, 0
	}
	return b[hl:], pi
}
