package memcached

import (
	"bytes"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sniff reports ToServer for a complete first line holding a known text
// command with well-formed arguments, or a binary request header with a
// known opcode; ToClient for a binary response header.
func Sniff(data []byte) protocols.Direction {
	if len(data) == 0 {
		return protocols.DirUnknown
	}
	if data[0] == magicRequest || data[0] == magicResponse {
		if len(data) < binHeaderLen {
			return protocols.DirUnknown
		}
		b := decodeBinary(data)
		switch {
		case b.valid(protocols.ToServer):
			return protocols.ToServer
		case b.valid(protocols.ToClient):
			return protocols.ToClient
		}
		return protocols.DirUnknown
	}
	i := bytes.IndexByte(data, '\n')
	if i < 0 || i > 64<<10 {
		return protocols.DirUnknown
	}
	line := bytes.TrimSuffix(data[:i], []byte{'\r'})
	var wv [1][]byte
	w, _ := words(wv[:0], line)
	if len(w) == 0 {
		return protocols.DirUnknown
	}
	if _, known := commandKind(string(w[0])); !known {
		return protocols.DirUnknown
	}
	var p Parser
	var h half
	if _, err := p.command(&h, line); err != nil {
		return protocols.DirUnknown
	}
	return protocols.ToServer
}

// SniffDatagram is Sniff for a UDP datagram: a frame header (sequence
// number 0 of a non-zero datagram count; the reserved field is not checked,
// some clients fill it) then a message.
// A text reply's first datagram is recognised by its first line (VALUE,
// END, STORED, ...).
func SniffDatagram(data []byte) protocols.Direction {
	if len(data) < frameLen+2 {
		return protocols.DirUnknown
	}
	seq, total := int(data[2])<<8|int(data[3]), int(data[4])<<8|int(data[5])
	if total == 0 || seq >= total || seq > 0 {
		return protocols.DirUnknown
	}
	body := data[frameLen:]
	if d := Sniff(body); d != protocols.DirUnknown {
		return d
	}
	i := bytes.IndexByte(body, '\n')
	if i < 0 {
		return protocols.DirUnknown
	}
	var wv [1][]byte
	w, _ := words(wv[:0], bytes.TrimSuffix(body[:i], []byte{'\r'}))
	if len(w) > 0 && knownReply(w[0]) {
		return protocols.ToClient
	}
	return protocols.DirUnknown
}
