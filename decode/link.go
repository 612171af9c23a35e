package decode

import (
	"encoding/binary"

	"github.com/wiretrace/wiretrace/capture"
)

// nflogPayloadTLV is NFULA_PAYLOAD, the TLV that holds the packet.
const nflogPayloadTLV = 9

// maxNFLOGTLVs bounds the TLVs walked in one NFLOG frame.
const maxNFLOGTLVs = 64

// nflogPayload finds the IP packet in a LINKTYPE_NFLOG frame: a 4-byte
// header (address family, version 0, resource id) and TLVs of 4-byte
// aligned length and type, in the byte order of the capturing host
// (https://www.tcpdump.org/linktypes/LINKTYPE_NFLOG.html). The order is
// taken as little-endian unless that gives an impossible length.
func nflogPayload(b []byte) ([]byte, int) {
	if len(b) < 4 || b[1] != 0 {
		return nil, parserBadLink
	}
	family := b[0]
	b = b[4:]
	for range maxNFLOGTLVs {
		if len(b) < 4 {
			break
		}
		l, t := int(binary.LittleEndian.Uint16(b)), binary.LittleEndian.Uint16(b[2:])
		if l < 4 || l > len(b) {
			l, t = int(binary.BigEndian.Uint16(b)), binary.BigEndian.Uint16(b[2:])
			if l < 4 || l > len(b) {
				return nil, parserBadLink
			}
		}
		if t&0x3fff == nflogPayloadTLV {
			p := b[4:l]
			switch family {
			case 2: // AF_INET
				return p, parserIPv4
			case 10: // AF_INET6
				return p, parserIPv6
			}
			if pi := byVersion(p); pi != parserNone {
				return p, pi
			}
			return nil, parserNonIP
		}
		l = (l + 3) &^ 3
		if l > len(b) {
			l = len(b)
		}
		b = b[l:]
	}
	return nil, parserNonIP
}

// fddiPayload finds the IP packet in a LINKTYPE_FDDI frame: frame control,
// destination and source addresses (13 bytes), then 802.2 LLC with SNAP
// (AA AA 03, OUI, EtherType).
func fddiPayload(b []byte) ([]byte, int) {
	const hdr = 13
	if len(b) < hdr+8 {
		return nil, parserBadLink
	}
	llc := b[hdr:]
	if llc[0] != 0xaa || llc[1] != 0xaa || llc[2] != 0x03 {
		return nil, parserNonIP
	}
	switch binary.BigEndian.Uint16(llc[6:8]) {
	case 0x0800:
		return llc[8:], parserIPv4
	case 0x86dd:
		return llc[8:], parserIPv6
	}
	return nil, parserNonIP
}

// linkName names a link type for errors.
func linkName(lt capture.LinkType) string {
	switch lt {
	case capture.LinkTypeNFLOG:
		return "nflog"
	case capture.LinkTypeFDDI:
		return "fddi"
	}
	return "link"
}
