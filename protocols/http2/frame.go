package http2

import "github.com/wiretrace/wiretrace/protocols"

// preface is the client connection preface (RFC 9113 section 3.4).
const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// frameHeaderLen is the size of a frame header (RFC 9113 section 4.1).
const frameHeaderLen = 9

// Frame types (RFC 9113 section 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9
	numFrameTypes     = 10
)

// Frame flags.
const (
	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

// flagMask holds the flags each known frame type defines. The parser
// ignores other flags, as RFC 9113 section 4.1 requires; sniffing and
// resynchronisation take them as a sign of something that is not a frame.
var flagMask = [numFrameTypes]uint8{
	frameData:         flagEndStream | flagPadded,
	frameHeaders:      flagEndStream | flagEndHeaders | flagPadded | flagPriority,
	frameSettings:     flagAck,
	framePushPromise:  flagEndHeaders | flagPadded,
	framePing:         flagAck,
	frameContinuation: flagEndHeaders,
}

// frameHeader is a decoded frame header.
type frameHeader struct {
	length   uint32
	typ      uint8
	flags    uint8
	stream   uint32
	reserved bool // the reserved bit of the stream id was set
}

// readHeader decodes the frame header at the start of b, which holds at
// least frameHeaderLen bytes.
func readHeader(b []byte) frameHeader {
	return frameHeader{
		length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:      b[3],
		flags:    b[4],
		stream:   (uint32(b[5])<<24 | uint32(b[6])<<16 | uint32(b[7])<<8 | uint32(b[8])) & 0x7fffffff,
		reserved: b[5]&0x80 != 0,
	}
}

// check validates the stream id and length of a known frame type against
// RFC 9113 section 6; unknown types are always valid.
func (fh *frameHeader) check() bool {
	switch fh.typ {
	case frameData, frameHeaders, frameContinuation:
		if fh.stream == 0 {
			return false
		}
	case framePriority:
		return fh.stream != 0 && fh.length == 5
	case frameRSTStream:
		return fh.stream != 0 && fh.length == 4
	case frameSettings:
		return fh.stream == 0 && fh.length%6 == 0 && (fh.flags&flagAck == 0 || fh.length == 0)
	case framePushPromise:
		return fh.stream != 0 && fh.length >= 4
	case framePing:
		return fh.stream == 0 && fh.length == 8
	case frameGoAway:
		return fh.stream == 0 && fh.length >= 8
	case frameWindowUpdate:
		return fh.length == 4
	}
	if fh.flags&flagPadded != 0 && (fh.typ == frameData || fh.typ == frameHeaders) && fh.length == 0 {
		return false
	}
	return true
}

// plausible reports whether fh looks like a frame header rather than other
// bytes: a known type with only its defined flags, the reserved bit clear,
// a valid stream id and length, and a length within maxLen.
func (fh *frameHeader) plausible(maxLen uint32) bool {
	return fh.typ < numFrameTypes && fh.flags&^flagMask[fh.typ] == 0 && !fh.reserved &&
		fh.length <= maxLen && fh.check()
}

// sniffFrames bounds the frames Sniff walks through.
const sniffFrames = 16

// sniff implements protocols.Protocol.Sniff. The client preface says
// ToServer. Otherwise the data must start with plausible frames (see
// frameHeader.plausible); the first HEADERS frame whose block starts with a
// request pseudo-header from the static table says ToServer, one starting
// with :status says ToClient. Without such a frame, a complete SETTINGS
// frame (not an ACK, known identifiers) at the start says ToClient: it is
// the server's connection preface, since the client's follows its own
// preface.
func sniff(data []byte) protocols.Direction {
	k := min(len(data), len(preface))
	if string(data[:k]) == preface[:k] {
		if k == len(preface) {
			return protocols.ToServer
		}
		return protocols.DirUnknown
	}
	settings := false
	off := 0
	for i := 0; i < sniffFrames && off+frameHeaderLen <= len(data); i++ {
		fh := readHeader(data[off:])
		if !fh.plausible(maxFrameLen) {
			return protocols.DirUnknown
		}
		end := off + frameHeaderLen + int(fh.length)
		if end > len(data) {
			break
		}
		payload := data[off+frameHeaderLen : end]
		switch fh.typ {
		case frameSettings:
			if i == 0 && fh.flags&flagAck == 0 && knownSettings(payload) {
				settings = true
			}
		case frameHeaders:
			frag, ok := fragment(&fh, payload)
			if !ok {
				return protocols.DirUnknown
			}
			switch blockDirection(frag) {
			case 1:
				if fh.stream%2 == 1 {
					return protocols.ToServer
				}
			case 2:
				return protocols.ToClient
			}
		}
		off = end
	}
	if settings {
		return protocols.ToClient
	}
	return protocols.DirUnknown
}

// knownSettings reports whether every setting in a SETTINGS payload has an
// identifier RFC 9113 section 6.5.2 (or RFC 8441, RFC 9218) defines.
func knownSettings(p []byte) bool {
	for ; len(p) >= 6; p = p[6:] {
		id := uint16(p[0])<<8 | uint16(p[1])
		if id == 0 || id > 9 || id == 7 {
			return false
		}
	}
	return true
}

// fragment returns the header block fragment of a HEADERS or PUSH_PROMISE
// payload, without padding, priority fields or promised stream id.
func fragment(fh *frameHeader, p []byte) ([]byte, bool) {
	pad := 0
	if fh.flags&flagPadded != 0 {
		if len(p) == 0 {
			return nil, false
		}
		pad = int(p[0])
		p = p[1:]
	}
	skip := 0
	switch {
	case fh.typ == frameHeaders && fh.flags&flagPriority != 0:
		skip = 5
	case fh.typ == framePushPromise:
		skip = 4
	}
	if skip+pad > len(p) {
		return nil, false
	}
	return p[skip : len(p)-pad], true
}
