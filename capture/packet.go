package capture

import "io"

// LinkType is a link-layer header type, numbered as the LINKTYPE_ values of
// https://www.tcpdump.org/linktypes.html.
type LinkType uint16

// Link types wiretrace decodes.
const (
	LinkTypeNull      LinkType = 0   // BSD loopback, host byte order family
	LinkTypeEthernet  LinkType = 1   // IEEE 802.3 Ethernet
	LinkTypeFDDI      LinkType = 10  // FDDI with 802.2 LLC/SNAP
	LinkTypeRaw       LinkType = 101 // raw IPv4 or IPv6
	LinkTypeLoop      LinkType = 108 // OpenBSD loopback, network byte order family
	LinkTypeLinuxSLL  LinkType = 113 // Linux cooked capture v1
	LinkTypeIPv4      LinkType = 228 // raw IPv4
	LinkTypeIPv6      LinkType = 229 // raw IPv6
	LinkTypeNFLOG     LinkType = 239 // Linux netfilter NFLOG (TLVs, payload TLV 9)
	LinkTypeLinuxSLL2 LinkType = 276 // Linux cooked capture v2
)

// Direction says whether the capture point saw a packet arrive or leave, when
// the source knows it (pcapng epb_flags, Linux SLL packet type, AF_PACKET).
type Direction uint8

// Directions. The zero value means the source does not know.
const (
	DirectionUnknown  Direction = iota
	DirectionInbound            // the packet arrived at the capture host
	DirectionOutbound           // the packet left the capture host
)

// String returns "unknown", "inbound" or "outbound".
func (d Direction) String() string {
	switch d {
	case DirectionInbound:
		return "inbound"
	case DirectionOutbound:
		return "outbound"
	}
	return "unknown"
}

// Packet is one captured frame.
type Packet struct {
	// Timestamp is the capture time in Unix nanoseconds.
	Timestamp int64
	// Data holds the captured bytes (at most the snapshot length). It is
	// owned by the Source and valid until the next ReadPacket call.
	Data []byte
	// Length is the frame's original length on the wire; Length > len(Data)
	// means the capture truncated it.
	Length int
	// LinkType says how to decode Data.
	LinkType LinkType
	// Interface is the index of the capture interface within its source
	// (pcapng interface id; 0 for pcap).
	Interface int
	// Capture names the capture point: the file's base name for a file, the
	// interface name for live capture.
	Capture string
	// Direction is the packet's direction at the capture point, when known.
	Direction Direction
	// Number is the 1-based position of the packet in its source, for error
	// messages.
	Number int64
}

// Source yields packets. ReadPacket fills p and returns io.EOF after the last
// packet. Any other error names the source and the position of the problem;
// a source whose error wraps [ErrTruncated] has delivered every complete
// packet before the damage.
type Source interface {
	ReadPacket(p *Packet) error
	io.Closer
}
