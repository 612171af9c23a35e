package mysql

import "github.com/wiretrace/wiretrace/protocols"

// sniffWait is the longest first packet Sniff waits to see whole.
const sniffWait = 2048

// Sniff recognises the first bytes of either side of a MySQL connection: the
// server's greeting (Handshake V10, sequence id 0) flows ToClient; a
// HandshakeResponse41 (sequence id 1), or a COM_QUERY or COM_STMT_PREPARE
// with SQL text (sequence id 0), or such a command in an uncompressed
// compressed-protocol packet, flows ToServer. Anything else, notably the
// short commands that carry no text, is not recognised: a connection whose
// start was not captured is found by its next query.
func Sniff(b []byte) protocols.Direction {
	if len(b) < 5 {
		return protocols.DirUnknown
	}
	l, seq := le24(b), b[3]
	if l == 0 {
		return protocols.DirUnknown
	}
	whole := len(b) >= 4+l
	if !whole && l <= sniffWait {
		return protocols.DirUnknown // wait for the whole packet
	}
	payload := b[4:min(len(b), 4+l)]
	switch {
	case seq == 0 && payload[0] == handshakeV10:
		if isGreeting(payload) {
			return protocols.ToClient
		}
	case seq == 0 && (payload[0] == comQuery || payload[0] == comStmtPrepare):
		text := payload[1:]
		if payload[0] == comQuery {
			var ok bool
			if text, ok = queryText(text, false, false); !ok {
				return protocols.DirUnknown
			}
		}
		if looksLikeSQL(text) {
			return protocols.ToServer
		}
	case seq == 1 && whole && isHandshakeResponse(payload) && payload[handshakeFillerStart-1] != 0:
		return protocols.ToServer
	case seq == 0 && whole && l >= 6 && le24(b[4:]) == 0 && le24(b[7:]) == l-4:
		// A compressed-protocol packet whose payload is not compressed.
		if Sniff(b[7:]) == protocols.ToServer {
			return protocols.ToServer
		}
	}
	return protocols.DirUnknown
}

// isGreeting reports whether b is a Handshake V10 packet: protocol version
// 10, a printable server version starting with a digit, and the filler byte
// after the first part of the scramble.
func isGreeting(b []byte) bool {
	version, rest, ok := cstr(b[1:])
	if !ok || len(version) == 0 || len(version) > 64 || version[0] < '0' || version[0] > '9' || !printable(version) {
		return false
	}
	return len(rest) >= 13 && rest[12] == 0
}
