package dns

import (
	"golang.org/x/net/dns/dnsmessage"

	"github.com/wiretrace/wiretrace/protocols"
)

// verdict is what a look at the bytes at some offset says.
type verdict uint8

const (
	verdictNo   verdict = iota // not a message start
	verdictMore                // cannot tell yet
	verdictYes                 // a plausible message start
)

// sniffDatagram recognises a UDP datagram holding one DNS message: a
// plausible header (see plausible) whose questions all parse. Queries flow
// to the server, responses to the client.
func sniffDatagram(data []byte) protocols.Direction {
	if len(data) < headerLen {
		return protocols.DirUnknown
	}
	d := plausible(header(data), len(data))
	if d == protocols.DirUnknown {
		return d
	}
	var p dnsmessage.Parser
	if questionsOK(&p, data) != verdictYes {
		return protocols.DirUnknown
	}
	return d
}

// sniffStream recognises the start of a DNS-over-TCP stream: a length
// prefix, then a message as sniffDatagram wants it. It needs the questions
// whole, or the whole message.
func sniffStream(data []byte) protocols.Direction {
	d, v := candidate(data)
	if v != verdictYes {
		return protocols.DirUnknown
	}
	return d
}

// candidate judges whether data starts with a length-prefixed message.
func candidate(data []byte) (protocols.Direction, verdict) {
	if len(data) < 2+headerLen {
		return protocols.DirUnknown, verdictMore
	}
	l := int(be16(data))
	if l < headerLen {
		return protocols.DirUnknown, verdictNo
	}
	d := plausible(header(data[2:]), l)
	if d == protocols.DirUnknown {
		return d, verdictNo
	}
	whole := len(data) >= 2+l
	var p dnsmessage.Parser
	v := questionsOK(&p, data[2:min(len(data), 2+l)])
	if v == verdictNo && !whole {
		v = verdictMore
	}
	return d, v
}

// resync looks in data for the next plausible message flowing in dir. It
// returns the offset of one and true, or how many bytes can be dropped for
// sure and false.
func resync(dir protocols.Direction, data []byte) (int, bool) {
	for k := 0; k < len(data); k++ {
		d, v := candidate(data[k:])
		switch {
		case v == verdictMore:
			return k, false
		case v == verdictYes && d == dir:
			return k, true
		}
	}
	return len(data), false
}

// questionsOK reports whether the questions of msg parse and have a known
// class (IN, CH, HS, NONE or ANY, ignoring the mDNS unicast-response bit).
func questionsOK(p *dnsmessage.Parser, msg []byte) verdict {
	if _, err := p.Start(msg); err != nil {
		return verdictNo
	}
	for {
		q, err := p.Question()
		if err == dnsmessage.ErrSectionDone {
			return verdictYes
		}
		if err != nil {
			return verdictNo
		}
		switch q.Class & 0x7fff {
		case 1, 3, 4, 254, 255:
		default:
			return verdictNo
		}
		if q.Type == 0 {
			return verdictNo
		}
	}
}

// plausible checks a header against a message of size bytes and returns
// the direction it flows in, or DirUnknown: a known opcode, the Z bit
// clear, 1 to MaxQuestions questions in a query (none only for DSO) with
// RCODE 0, at most MaxQuestions in a response and at least one record, and
// counts that fit in size (a question takes at least 5 bytes, a record 11).
func plausible(h hdr, size int) protocols.Direction {
	f := h.flags()
	if f&0x0040 != 0 {
		return protocols.DirUnknown
	}
	op := h.opcode()
	switch op {
	case 0, 1, 2, 4, 5, 6:
	default:
		return protocols.DirUnknown
	}
	qd := int(h.count(0))
	rr := int(h.count(1)) + int(h.count(2)) + int(h.count(3))
	if qd > MaxQuestions || qd*5+rr*11 > size-headerLen {
		return protocols.DirUnknown
	}
	if !h.response() {
		if h.rcode() != 0 || (qd == 0 && op != 6) {
			return protocols.DirUnknown
		}
		return protocols.ToServer
	}
	if qd+rr == 0 {
		return protocols.DirUnknown
	}
	return protocols.ToClient
}
