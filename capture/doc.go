// Package capture provides packet sources: pcap and pcapng files (optionally
// gzip-compressed), a timestamp-ordered merge of several sources, and live
// AF_PACKET capture ([OpenLive], Linux only; see [Live]). Every source yields [Packet] values through the
// [Source] interface, so the later stages run the same way on files and on
// live traffic.
//
// A Source is not safe for concurrent use. The Data slice of a Packet is owned
// by the Source and is valid only until the next call to ReadPacket.
//
// # Files
//
// [OpenFile] and [NewReader] detect the format from the first bytes, never
// from the file name: gzip (1f 8b) is decompressed on the fly, then the pcap
// magics (microsecond or nanosecond timestamps, either byte order) and the
// pcapng Section Header Block are recognised. Reading a packet does not
// allocate.
//
// pcapng files may hold several sections, each with its own byte order and
// interfaces; Packet.Interface is the interface id within the packet's
// section, and LinkType and the timestamp resolution (if_tsresol, with
// if_tsoffset) come from that interface. Enhanced, obsolete and Simple
// Packet Blocks are read; Simple Packet Blocks carry no timestamp, so their
// Timestamp is 0. Direction comes from epb_flags (pack_flags) when present.
// Other blocks (statistics, name resolution, decryption secrets, custom) are
// skipped. See draft-ietf-opsawg-pcapng and pcap-savefile(5).
//
// # Errors
//
// Errors about the content are [*Error] values naming the file, the packet number and the byte
// offset of the damaged record (in the decompressed stream for gzip input).
// A file that ends inside a record gives an error wrapping [ErrTruncated]
// after every complete packet before it; a corrupt header or record, or a
// record longer than [FileConfig.MaxRecord], wraps [ErrFormat]. After an
// error a File returns io.EOF. [Merge] passes a source's error on once and
// goes on with the other sources.
//
// [PcapngWriter] writes packets back out as pcapng.
//
// Not provided: writing pcap, the pcap "modified" (Kuznetzov) formats,
// and pcapng sections of a major version other than 1.
package capture
