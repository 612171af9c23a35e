package mqtt

import (
	"unicode/utf8"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sniff reports ToServer when data starts with a CONNECT packet (protocol
// name "MQTT" or "MQIsdp", level 3, 4 or 5) or a complete SUBSCRIBE, and
// ToClient for a CONNACK of MQTT 3.1.1 (four bytes, flags 0 or 1, return
// code 0 to 5); see sniffRun for a capture that starts after the
// CONNECT.
func Sniff(data []byte) protocols.Direction {
	typ, _, rl, hl, err := header(data)
	if err != nil || hl == 0 {
		return protocols.DirUnknown
	}
	switch typ {
	case typeConnect:
		r := reader{b: data[hl:min(len(data), hl+rl)]}
		name := r.str()
		level := r.u8()
		if r.failed() || rl < 10 {
			return protocols.DirUnknown
		}
		if (string(name) == "MQTT" && (level == 4 || level == 5)) || (string(name) == "MQIsdp" && level == 3) {
			return protocols.ToServer
		}
	case typeConnack:
		if rl == 2 && len(data) >= 4 && data[2] <= 1 && data[3] <= 5 {
			return protocols.ToClient
		}
	case typePublish, typePuback:
		return sniffRun(data)
	case typeSubscribe:
		if len(data) < hl+rl || rl < 5 {
			return protocols.DirUnknown
		}
		r := reader{b: data[hl : hl+rl]}
		if r.u16() == 0 {
			return protocols.DirUnknown
		}
		for r.left() > 0 && !r.failed() {
			if len(r.str()) == 0 || r.u8() > 2 {
				return protocols.DirUnknown
			}
		}
		if !r.failed() {
			return protocols.ToServer
		}
	}
	return protocols.DirUnknown
}

// sniffRun recognises a capture that starts between a CONNECT and its
// end: at least two complete packets filling data exactly, all PUBLISH
// (with a printable UTF-8 topic) or all PUBACK. A run of PUBLISH is taken
// to flow to the broker, a run of PUBACK to the client.
func sniffRun(data []byte) protocols.Direction {
	var first byte
	n := 0
	for len(data) > 0 {
		typ, _, rl, hl, err := header(data)
		if err != nil || hl == 0 || len(data) < hl+rl || n > 0 && typ != first {
			return protocols.DirUnknown
		}
		switch typ {
		case typePublish:
			r := reader{b: data[hl : hl+rl]}
			t := r.str()
			if r.failed() || len(t) == 0 || !printable(t) {
				return protocols.DirUnknown
			}
		case typePuback:
			if rl != 2 {
				return protocols.DirUnknown
			}
		default:
			return protocols.DirUnknown
		}
		first = typ
		n++
		data = data[hl+rl:]
	}
	switch {
	case n < 2:
		return protocols.DirUnknown
	case first == typePublish:
		return protocols.ToServer
	}
	return protocols.ToClient
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < ' ' || c == 0x7f {
			return false
		}
	}
	return utf8.Valid(b)
}
