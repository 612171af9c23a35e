package mqtt

import "github.com/wiretrace/wiretrace/protocols"

// Sniff reports ToServer when data starts with a CONNECT packet (protocol
// name "MQTT" or "MQIsdp", level 3, 4 or 5) or a complete SUBSCRIBE, and
// ToClient for a CONNACK of MQTT 3.1.1 (four bytes, flags 0 or 1, return
// code 0 to 5).
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
