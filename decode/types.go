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
