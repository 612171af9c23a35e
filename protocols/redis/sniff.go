package redis

import (
	"bytes"
	"strings"

	"github.com/wiretrace/wiretrace/protocols"
)

// maxSniffLine bounds the inline command line Sniff looks at.
const maxSniffLine = 1024

// sniff implements protocols.Protocol.Sniff. Commands: an array of bulk
// strings whose first is a known command name, or an inline line whose
// first word is one. Replies: only forms no command takes and other text
// protocols are unlikely to send first (see the package documentation).
func sniff(data []byte) protocols.Direction {
	if len(data) == 0 {
		return protocols.DirUnknown
	}
	line, k, complete := firstLine(data)
	if !complete || len(line) == 0 {
		return protocols.DirUnknown
	}
	body := line[1:]
	switch data[0] {
	case '*':
		return sniffArray(data)
	case '+':
		switch string(body) {
		case "OK", "PONG", "QUEUED", "RESET":
			return protocols.ToClient
		}
	case '-':
		if word := errorWord(body); len(word) >= 2 {
			return protocols.ToClient
		}
	case ':', '(':
		if replyLine(line, true) {
			return protocols.ToClient
		}
	case '_':
		if len(body) == 0 {
			return protocols.ToClient
		}
	case '#':
		if string(body) == "t" || string(body) == "f" {
			return protocols.ToClient
		}
	case ',':
		if len(body) > 0 && replyLine(line, true) {
			return protocols.ToClient
		}
	case '$', '!', '=':
		v, ok := parseLength(body, false)
		if !ok || (v == lenNull && data[0] != '$') || v > MaxBulkLen {
			return protocols.DirUnknown
		}
		if v == lenNull {
			return protocols.ToClient
		}
		end := int64(k) + v
		if int64(len(data)) < end+2 || data[end] != '\r' || data[end+1] != '\n' {
			return protocols.DirUnknown
		}
		switch data[0] {
		case '!':
			if len(errorWord(data[k:end])) < 2 {
				return protocols.DirUnknown
			}
		case '=':
			if v < 4 || data[k+3] != ':' {
				return protocols.DirUnknown
			}
		}
		return protocols.ToClient
	case '%', '~', '>', '|':
		v, ok := parseLength(body, data[0] != '|')
		if !ok || v == lenNull || v > MaxAggregateLen {
			return protocols.DirUnknown
		}
		if v == 0 {
			return protocols.ToClient
		}
		if len(data) > k && isType(data[k]) {
			return protocols.ToClient
		}
	default:
		return sniffInline(line)
	}
	return protocols.DirUnknown
}

// sniffArray tells a command (an array of bulk strings starting with a known
// command name) from a reply array.
func sniffArray(data []byte) protocols.Direction {
	line, k, _ := firstLine(data)
	v, ok := parseLength(line[1:], false)
	if !ok || v > MaxAggregateLen {
		return protocols.DirUnknown
	}
	if v <= 0 {
		return protocols.DirUnknown // an empty reply, or a command Redis ignores
	}
	rest := data[k:]
	if len(rest) == 0 {
		return protocols.DirUnknown
	}
	if rest[0] != '$' {
		if isType(rest[0]) {
			return protocols.ToClient // commands hold only bulk strings
		}
		return protocols.DirUnknown
	}
	first, n, ok := sniffBulk(rest)
	if !ok {
		return protocols.DirUnknown
	}
	if !isKnown(first) {
		// A reply of bulk strings: tell it only when its first element is
		// a pub/sub kind that is not a command name.
		switch string(first) {
		case "message", "pmessage", "smessage", "pong":
			return protocols.ToClient
		}
		return protocols.DirUnknown
	}
	if v == 3 && commandFamily(commandName(first)) != famNone && first[0] >= 'a' {
		// "subscribe ch 1" confirms; "subscribe a b" subscribes: the third
		// element tells.
		rest = rest[n:]
		if len(rest) == 0 || rest[0] != '$' {
			return protocols.DirUnknown
		}
		_, n2, ok := sniffBulk(rest)
		if !ok || len(rest) <= n2 {
			return protocols.DirUnknown
		}
		switch rest[n2] {
		case ':':
			return protocols.ToClient
		case '$':
			return protocols.ToServer
		}
		return protocols.DirUnknown
	}
	return protocols.ToServer
}

// sniffBulk reads a whole bulk string at the start of data: its value and
// length with framing; ok is false when it is incomplete or malformed.
func sniffBulk(data []byte) (value []byte, n int, ok bool) {
	line, k, complete := firstLine(data)
	if !complete || len(line) == 0 || line[0] != '$' {
		return nil, 0, false
	}
	v, okLen := parseLength(line[1:], false)
	if !okLen || v == lenNull {
		if okLen && len(line) == 3 {
			return nil, k, true
		}
		return nil, 0, false
	}
	if v > maxSniffLine || len(data) < k+int(v)+2 {
		return nil, 0, false
	}
	end := k + int(v)
	if data[end] != '\r' || data[end+1] != '\n' {
		return nil, 0, false
	}
	return data[k:end], end + 2, true
}

// sniffInline recognises an inline command: printable text whose first word
// is a known command name, and not an HTTP request line.
func sniffInline(line []byte) protocols.Direction {
	for _, c := range line {
		if c < ' ' && c != '\t' || c >= 0x7f {
			return protocols.DirUnknown
		}
	}
	if bytes.Contains(line, []byte(" HTTP/")) {
		return protocols.DirUnknown
	}
	word := line
	if i := bytes.IndexAny(line, " \t"); i >= 0 {
		word = line[:i]
	}
	if isKnown(word) {
		return protocols.ToServer
	}
	return protocols.DirUnknown
}

// isKnown reports whether b is a known command name, in any case.
func isKnown(b []byte) bool {
	if len(b) == 0 || len(b) > argCap {
		return false
	}
	var buf [argCap]byte
	_, ok := find(commands[:], upper(buf[:0], b))
	return ok
}

// firstLine returns the first line of data without its line end, the
// length with it, and whether it is complete within maxSniffLine bytes.
func firstLine(data []byte) (line []byte, k int, complete bool) {
	lim := min(len(data), maxSniffLine)
	i := bytes.IndexByte(data[:lim], '\n')
	if i < 0 {
		return nil, 0, false
	}
	return trimCR(data[:i]), i + 1, true
}

// errorWord returns the upper-case first word of an error message, or nil.
func errorWord(b []byte) []byte {
	word := b
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		word = b[:i]
	}
	for _, c := range word {
		if c < 'A' || c > 'Z' {
			return nil
		}
	}
	return word
}

// isType reports whether c starts a RESP2 or RESP3 element.
func isType(c byte) bool {
	return strings.IndexByte("+-:$*_,#!=(%~>|", c) >= 0
}
