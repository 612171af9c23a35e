// Package decode turns captured frames into flow-keyed packets ([Decoder])
// and TCP byte streams per direction with gaps marked ([Assembler]).
//
// The Decoder understands Ethernet, 802.1Q and QinQ, Linux SLL and SLL2,
// BSD loopback, raw IP, IPv4 (with fragment reassembly), IPv6, TCP and UDP,
// using gopacket's DecodingLayerParser with preallocated layers: decoding a
// packet does not allocate. The Payload of a decoded Packet aliases the
// frame it came from and is valid only as long as that frame.
//
// The Assembler reassembles each TCP connection's two directions in sequence
// order: out-of-order segments wait in a bounded buffer, retransmissions and
// overlaps are trimmed, and bytes that were lost or cut by the snapshot
// length reach the [Stream] as a gap of known size. Time is the packets'
// time: idle connections are evicted by [Assembler.Advance], never by a wall
// clock, so replaying the same input twice gives the same result.
//
// Connections are keyed by their two endpoints and the outermost VLAN id;
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
