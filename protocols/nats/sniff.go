package nats

import (
	"bytes"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sniff reports the direction of data when it starts with a NATS control
// line: INFO, MSG and HMSG flow to the client; CONNECT, PUB, HPUB and SUB to
// the server. The whole first line is needed, and its arguments must be
// well formed (see the package documentation).
func Sniff(data []byte) protocols.Direction {
	i := bytes.IndexByte(data, '\n')
	if i < 0 || i > MaxControlLine {
		return protocols.DirUnknown
	}
	line := bytes.TrimSuffix(data[:i], []byte{'\r'})
	o, rest := opWord(line)
	var argv [6][]byte
	args := fields(argv[:0], rest)
	switch o {
	case opInfo, opConnect:
		if r := bytes.TrimSpace(rest); len(r) < 2 || r[0] != '{' || r[len(r)-1] != '}' {
			return protocols.DirUnknown
		}
		if o == opInfo {
			return protocols.ToClient
		}
		return protocols.ToServer
	case opPub, opHPub, opMsg, opHMsg:
		var h half
		var p Parser
		if p.startMessage(&h, o, args) != nil || !subjectOK(h.subj) {
			return protocols.DirUnknown
		}
		if o == opPub || o == opHPub {
			return protocols.ToServer
		}
		return protocols.ToClient
	case opSub:
		if (len(args) == 2 || len(args) == 3) && subjectOK(args[0]) {
			return protocols.ToServer
		}
	}
	return protocols.DirUnknown
}

// subjectOK reports whether s looks like a subject: printable ASCII tokens
// separated by dots.
func subjectOK(s []byte) bool {
	if len(s) == 0 || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}
