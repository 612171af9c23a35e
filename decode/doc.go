// Package decode turns captured frames into flow-keyed packets ([Decoder])
// and TCP byte streams per direction with gaps marked ([Assembler]).
//
// The Decoder understands Ethernet, 802.1Q and QinQ, Linux SLL and SLL2,
// BSD loopback, raw IP, NFLOG, FDDI, IPv4 (with fragment reassembly), IPv6,
// TCP and UDP, using gopacket's DecodingLayerParser with preallocated
// layers: decoding a packet does not allocate. The Payload of a decoded
// Packet aliases the frame it came from and is valid only as long as that
// frame.
//
// Tunnels are removed, nested in any order up to [MaxTunnelDepth]: VXLAN
// (UDP 4789 and Config.VXLANPorts), VXLAN-GPE (4790), Geneve (6081, options
// skipped), GTP-U (2152), GRE (keys, sequence numbers, transparent Ethernet
// bridging), ERSPAN types I, II and III, IPv4 and IPv6 in IPv4 or IPv6,
// MPLS label stacks (IP by version nibble, else an Ethernet pseudowire),
// NSH and PPPoE sessions. The inner packet is the Packet; the innermost
// encapsulation is Packet.Tunnel. UDP tunnels are recognised by
// destination port and a plausible header, else the packet stays UDP. The
// DecodingLayerParser reuses one layer per type, so each run of layers
// stops at a tunnel header, which is decoded here (gopacket's GRE, VXLAN
// and ERSPANII layers, or a few bytes by hand where gopacket's layer would
// allocate or does not exist), and a new run starts at the inner header.
//
// The Assembler reassembles each TCP connection's two directions in sequence
// order: out-of-order segments wait in a bounded buffer, retransmissions and
// overlaps are trimmed, and bytes that were lost or cut by the snapshot
// length reach the [Stream] as a gap of known size. Time is the packets'
// time: idle connections are evicted by [Assembler.Advance], never by a wall
// clock, so replaying the same input twice gives the same result.
//
// Connections are keyed by their two endpoints, the outermost VLAN id and
// the tunnel's virtual network ([Tunnel.Network]: VXLAN and Geneve VNIs);
// one Assembler should see one capture point. A connection closed by FIN or
// RST is remembered for AssemblerConfig.CloseTimeout so that the last ACK
// and late retransmissions do not open a new one; a SYN always does. Every
// byte of each direction's sequence space reaches the Stream exactly once,
// as data or as part of a gap (Segment.Gap); what was trimmed or could not
// be delivered is counted in [AssemblerStats]. Stream methods are called
// synchronously from Add, Advance and Flush and must not call back into the
// Assembler; Segment.Data aliases the packet or an internal buffer and is
// valid only during the call.
//
// Neither type is safe for concurrent use; run one per worker. Ports have no
// meaning here: which side is the client is decided by the handshake when it
// was seen, else by the first packet's sender, and later stages may swap it.
package decode
