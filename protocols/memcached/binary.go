package memcached

import (
	"strconv"

	"github.com/wiretrace/wiretrace/protocols"
)

// Binary protocol magic bytes.
const (
	magicRequest  = 0x80
	magicResponse = 0x81
)

// opcodes names the binary protocol's opcodes; "" is unknown. Never
// modified.
var opcodes = [...]string{
	0x00: "get", 0x01: "set", 0x02: "add", 0x03: "replace", 0x04: "delete", 0x05: "increment",
	0x06: "decrement", 0x07: "quit", 0x08: "flush", 0x09: "getq", 0x0a: "noop", 0x0b: "version",
	0x0c: "getk", 0x0d: "getkq", 0x0e: "append", 0x0f: "prepend", 0x10: "stat", 0x11: "setq",
	0x12: "addq", 0x13: "replaceq", 0x14: "deleteq", 0x15: "incrementq", 0x16: "decrementq",
	0x17: "quitq", 0x18: "flushq", 0x19: "appendq", 0x1a: "prependq", 0x1b: "verbosity",
	0x1c: "touch", 0x1d: "gat", 0x1e: "gatq", 0x20: "sasl_list_mechs", 0x21: "sasl_auth",
	0x22: "sasl_step", 0x23: "gatk", 0x24: "gatkq",
}

func opName(op byte) string {
	if int(op) < len(opcodes) {
		return opcodes[op]
	}
	return ""
}

// quietOp reports whether an opcode's reply is sent only on a miss or an
// error (for the get family: only on a hit).
func quietOp(op byte) bool {
	switch op {
	case 0x09, 0x0d, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1e, 0x24:
		return true
	}
	return false
}

// binHeader is a decoded binary header.
type binHeader struct {
	magic, op, extLen byte
	keyLen            int
	status            uint16
	bodyLen           int
	opaque            uint32
}

func decodeBinary(b []byte) binHeader {
	return binHeader{
		magic:   b[0],
		op:      b[1],
		keyLen:  int(b[2])<<8 | int(b[3]),
		extLen:  b[4],
		status:  uint16(b[6])<<8 | uint16(b[7]),
		bodyLen: int(b[8])<<24 | int(b[9])<<16 | int(b[10])<<8 | int(b[11]),
		opaque:  uint32(b[12])<<24 | uint32(b[13])<<16 | uint32(b[14])<<8 | uint32(b[15]),
	}
}

// valid checks the header's consistency for a message flowing in dir.
func (b binHeader) valid(dir protocols.Direction) bool {
	want := byte(magicRequest)
	if dir == protocols.ToClient {
		want = magicResponse
	}
	return b.magic == want && opName(b.op) != "" && b.bodyLen >= 0 && b.bodyLen <= MaxData &&
		int(b.extLen)+b.keyLen <= b.bodyLen
}

// plausibleBinary reports whether data starts with a valid binary header
// for dir (data holds at least binHeaderLen bytes).
func plausibleBinary(dir protocols.Direction, data []byte) bool {
	return decodeBinary(data).valid(dir)
}

// binaryHeader reads a binary header, its extras and key; the value is
// then skipped as it streams.
func (p *Parser) binaryHeader(dir protocols.Direction, h *half, data []byte, m *protocols.Message) (int, bool, error) {
	if len(data) < binHeaderLen {
		return 0, false, nil
	}
	b := decodeBinary(data)
	if !b.valid(dir) {
		return 0, false, parseErr(0, ErrHeader)
	}
	if dir == protocols.ToClient {
		// Quiet requests sent before the one answered got no reply:
		// they succeeded; answer them first.
		if q, ok := p.quietBefore(b.opaque); ok {
			m.Kind = protocols.Response
			m.Status = protocols.StatusOK
			m.ID, m.HasID = uint64(q), true
			return 0, true, nil
		}
	}
	head := binHeaderLen + int(b.extLen) + b.keyLen
	if head > binHeaderLen+p.cfg.HeaderLimit() {
		return 0, false, parseErr(0, ErrHeader)
	}
	if len(data) < head {
		return 0, false, nil
	}
	h.reset()
	h.binary = true
	h.opaque = b.opaque
	name := opName(b.op)
	if dir == protocols.ToServer {
		h.name = name
		h.query = append(h.query[:0], name...)
		if b.keyLen > 0 && b.op != 0x21 && b.op != 0x22 {
			key := data[binHeaderLen+int(b.extLen) : head]
			h.query = append(h.query, ' ')
			h.query = append(h.query, key[:min(len(key), MaxQueryText-len(h.query))]...)
		}
		h.quiet = quietOp(b.op)
		switch {
		case b.op == 0x17: // quitq: the server closes without a reply
			h.noreply = true
		case p.udp && h.quiet:
			// Over UDP no later request on a connection answers for
			// it: a quiet request is answered only on failure.
			h.noreply = true
		default:
			p.remember(b.opaque, h.quiet)
		}
	} else {
		if b.op == 0x10 && b.keyLen > 0 {
			// One statistic of a stat reply; the reply ends with an
			// empty key.
			h.stat = true
		} else {
			p.answered(b.opaque)
		}
		h.status = "0x" + hex4(b.status)
		switch b.status {
		case 0, 1, 2, 5:
		default:
			h.isErr = true
		}
		if b.status == 0 {
			h.status = ""
		}
	}
	h.size = head
	h.dataLeft = binHeaderLen + b.bodyLen - head
	if h.dataLeft == 0 {
		if h.stat {
			h.reset()
			return head, false, nil
		}
		p.finish(dir, h, m)
		return head, true, nil
	}
	h.st = stData
	return head, false, nil
}

func hex4(v uint16) string {
	s := strconv.FormatUint(uint64(v), 16)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}

// remember records a binary request awaiting a reply.
func (p *Parser) remember(opaque uint32, quiet bool) {
	if len(p.pending) >= MaxPending {
		p.pending = append(p.pending[:0], p.pending[1:]...)
	}
	p.pending = append(p.pending, pendingReq{opaque, quiet})
}

// quietBefore returns the opaque of the oldest quiet request sent before
// the one with opaque, removing it, when the reply to opaque is known to
// follow it.
func (p *Parser) quietBefore(opaque uint32) (uint32, bool) {
	for i, r := range p.pending {
		if r.opaque == opaque {
			if i > 0 && p.pending[0].quiet {
				q := p.pending[0].opaque
				p.pending = append(p.pending[:0], p.pending[1:]...)
				return q, true
			}
			return 0, false
		}
	}
	return 0, false
}

// answered forgets the request with opaque and the non-quiet requests
// before it (their replies were lost).
func (p *Parser) answered(opaque uint32) {
	for i, r := range p.pending {
		if r.opaque == opaque {
			p.pending = append(p.pending[:0], p.pending[i+1:]...)
			return
		}
	}
}
