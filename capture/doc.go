// Package capture provides packet sources: pcap and pcapng files (optionally
// gzip-compressed), a timestamp-ordered merge of several sources, and (later)
// live AF_PACKET capture. Every source yields [Packet] values through the
// [Source] interface, so the later stages run the same way on files and on
// live traffic.
//
// A Source is not safe for concurrent use. The Data slice of a Packet is owned
// by the Source and is valid only until the next call to ReadPacket.
package capture
