package decode

import (
	"net/netip"

	"github.com/wiretrace/wiretrace/capture"
)

// Transport protocol numbers (IANA).
const (
	ProtoTCP uint8 = 6
	ProtoUDP uint8 = 17
)

// TCP flag bits as in the TCP header.
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
)

// Packet is a decoded L3/L4 packet. It is filled by [Decoder.Decode] into a
// caller-owned value; Payload aliases the frame's data.
type Packet struct {
	// Timestamp is the capture time in Unix nanoseconds.
	Timestamp int64
	// Capture names the capture point (file base name or interface).
	Capture string
	// Direction is the frame's direction at the capture point, if known.
	Direction capture.Direction
	// Src and Dst are the network-layer endpoints.
	Src, Dst netip.Addr
	// SrcPort and DstPort are the transport ports (0 for other protocols).
	SrcPort, DstPort uint16
	// Proto is the transport protocol, ProtoTCP or ProtoUDP.
	Proto uint8
	// Seq and Ack are the TCP sequence and acknowledgement numbers.
	Seq, Ack uint32
	// Flags holds the TCP flags (FlagSYN, ...).
	Flags uint8
	// Payload is the captured transport payload.
	Payload []byte
	// Missing is the number of payload bytes the capture did not keep
	// (snapshot length); they follow Payload on the wire.
	Missing int
	// VLAN is the outermost 802.1Q VLAN id, 0 if untagged.
	VLAN uint16
	// Tunnel describes the encapsulation the packet arrived in; its Kind
	// is TunnelNone for a packet that was not tunnelled. Src, Dst and
	// the ports above are the inner packet's.
	Tunnel Tunnel
}

// TunnelKind names an encapsulation. The zero value, TunnelNone, means
// the packet was not tunnelled.
type TunnelKind uint8

// Tunnel kinds.
const (
	TunnelNone     TunnelKind = iota
	TunnelVXLAN               // VXLAN, RFC 7348 (ID: VNI)
	TunnelVXLANGPE            // VXLAN-GPE, UDP 4790 (ID: VNI)
	TunnelGeneve              // Geneve, RFC 8926 (ID: VNI)
	TunnelGRE                 // GRE, RFC 2784/2890 (ID: key, when present)
	TunnelERSPAN              // ERSPAN types I, II, III over GRE (ID: session)
	TunnelIPIP                // IPv4 in IPv4 or IPv6, IP protocol 4
	TunnelIP6IP               // IPv6 in IPv4 or IPv6, IP protocol 41
	TunnelMPLS                // MPLS label stack, RFC 3032 (ID: bottom label)
	TunnelNSH                 // Network Service Header, RFC 8300 (ID: service path)
	TunnelGTPU                // GTP-U, 3GPP TS 29.281 (ID: TEID)
	TunnelPPPoE               // PPPoE session, RFC 2516 (ID: session)
)

// String returns the kind's name as used in span attributes ("vxlan",
// "gre", ...), or "" for TunnelNone.
func (k TunnelKind) String() string {
	switch k {
	case TunnelVXLAN:
		return "vxlan"
	case TunnelVXLANGPE:
		return "vxlan-gpe"
	case TunnelGeneve:
		return "geneve"
	case TunnelGRE:
		return "gre"
	case TunnelERSPAN:
		return "erspan"
	case TunnelIPIP:
		return "ipip"
	case TunnelIP6IP:
		return "ip6ip"
	case TunnelMPLS:
		return "mpls"
	case TunnelNSH:
		return "nsh"
	case TunnelGTPU:
		return "gtpu"
	case TunnelPPPoE:
		return "pppoe"
	}
	return ""
}

// Tunnel describes the innermost encapsulation around a packet: when
// tunnels nest (ERSPAN carrying VXLAN), Kind and ID are the ones nearest
// the inner packet and Depth counts them all. It holds no pointers.
type Tunnel struct {
	// Kind is the encapsulation, TunnelNone if there was none.
	Kind TunnelKind
	// Depth is the number of encapsulations removed (0 without tunnel).
	Depth uint8
	// HasID reports whether ID is valid (a GRE header without key, IP in
	// IP and ERSPAN type I have none).
	HasID bool
	// ID is the VNI, GRE key, ERSPAN session, bottom MPLS label, NSH
	// service path, GTP-U TEID or PPPoE session, as Kind says.
	ID uint32
	// OuterSrc and OuterDst are the addresses of the IP header that
	// carried the innermost encapsulation (IPv4 as IPv4-mapped IPv6), or
	// zero when it had none (MPLS or PPPoE straight on Ethernet).
	OuterSrc, OuterDst [16]byte
}

// Src returns OuterSrc as an address, or the zero Addr if unknown.
func (t Tunnel) Src() netip.Addr { return outerAddr(t.OuterSrc) }

// Dst returns OuterDst as an address, or the zero Addr if unknown.
func (t Tunnel) Dst() netip.Addr { return outerAddr(t.OuterDst) }

func outerAddr(b [16]byte) netip.Addr {
	if b == ([16]byte{}) {
		return netip.Addr{}
	}
	return netip.AddrFrom16(b).Unmap()
}

// Reverse returns t with the outer addresses swapped, as seen by a packet
// going the other way.
func (t Tunnel) Reverse() Tunnel {
	t.OuterSrc, t.OuterDst = t.OuterDst, t.OuterSrc
	return t
}

// Network returns the identifier of the virtual network the inner packet
// belongs to, the same in both directions of a connection: the VNI of
// VXLAN, VXLAN-GPE and Geneve, with the kind in the upper 32 bits. It is 0
// for other kinds, whose ids may differ per direction: GTP-U TEIDs and
// MPLS labels do by design, and so do GRE keys in practice (VMware's
// gre-teb capture in the corpus keys one direction 0x02000000 and the
// other 0). Flows are keyed by it, so equal inner addresses in two VNIs
// stay apart.
func (t Tunnel) Network() uint64 {
	switch t.Kind {
	case TunnelVXLAN, TunnelVXLANGPE, TunnelGeneve:
		if t.HasID {
			return uint64(t.Kind)<<32 | uint64(t.ID)
		}
	}
	return 0
}

// Dir is a direction within a connection. It is usable as an array index.
type Dir uint8

// Directions within a connection.
const (
	FromClient Dir = 0 // sent by Conn.Client
	FromServer Dir = 1 // sent by Conn.Server
)

// Reverse returns the other direction.
func (d Dir) Reverse() Dir { return d ^ 1 }

// String returns "client" or "server".
func (d Dir) String() string {
	if d == FromServer {
		return "server"
	}
	return "client"
}

// Conn describes one TCP connection as the Assembler tracks it.
type Conn struct {
	// ID numbers connections in order of first appearance, from 1.
	ID uint64
	// Client and Server are the two ends. Client is the sender of the SYN
	// when the handshake was seen (HandshakeSeen), else the sender of the
	// first packet seen.
	Client, Server netip.AddrPort
	// HandshakeSeen reports whether Client was decided by a SYN.
	HandshakeSeen bool
	// Capture names the capture point of the first packet.
	Capture string
	// VLAN is the outermost VLAN id of the first packet.
	VLAN uint16
	// Tunnel is the encapsulation of the first packet, with the outer
	// addresses oriented so that OuterSrc is on Client's side.
	Tunnel Tunnel
	// Start is the timestamp of the first packet, Unix nanoseconds.
	Start int64
}

// Segment is a run of in-order bytes of one direction of a connection, or a
// gap, delivered to a Stream.
type Segment struct {
	// Dir is the direction of the bytes.
	Dir Dir
	// Timestamp is the capture time of the packet that carried Data (for a
	// gap alone, of the packet that revealed it).
	Timestamp int64
	// Seq is the TCP sequence number of Data[0].
	Seq uint32
	// Gap is the number of bytes that are missing immediately before Data
	// (lost or cut by the snapshot length). Data may be empty when a gap is
	// all there is to report.
	Gap int
	// Data is valid only during the Stream.Segment call.
	Data []byte
	// Direction is the direction at the capture point of the packet that
	// carried Data.
	Direction capture.Direction
}

// CloseReason says why a stream ended.
type CloseReason uint8

// Close reasons.
const (
	CloseUnknown CloseReason = iota
	CloseFIN                 // both directions sent FIN, or one FIN and the peer went idle
	CloseRST                 // a RST was seen
	CloseIdle                // no packet for the idle timeout
	CloseFlush               // the input ended (Assembler.Flush)
	CloseEvicted             // evicted to stay within the connection limit
)

// String names the reason.
func (r CloseReason) String() string {
	switch r {
	case CloseFIN:
		return "fin"
	case CloseRST:
		return "rst"
	case CloseIdle:
		return "idle"
	case CloseFlush:
		return "flush"
	case CloseEvicted:
		return "evicted"
	}
	return "unknown"
}

// Stream receives one connection's bytes. The Assembler calls Segment with
// each direction's bytes in sequence order, End when a direction finishes
// (FIN), and Close exactly once at the end.
type Stream interface {
	Segment(s *Segment)
	End(dir Dir, ts int64)
	Close(ts int64, reason CloseReason)
}

// StreamFactory makes the Stream for a new connection.
type StreamFactory interface {
	NewStream(c *Conn) Stream
}
