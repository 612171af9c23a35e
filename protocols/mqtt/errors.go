package mqtt

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
var (
	// ErrPacketType reports a fixed header whose type and flags name no
	// MQTT control packet (type 0, or reserved flags set wrongly).
	ErrPacketType = fmt.Errorf("mqtt: bad packet type or flags: %w", protocols.ErrMalformed)
	// ErrLength reports a remaining length whose variable-byte encoding
	// runs over four bytes.
	ErrLength = fmt.Errorf("mqtt: bad remaining length: %w", protocols.ErrMalformed)
	// ErrPacket reports a variable header or payload that does not fit
	// the packet's remaining length.
	ErrPacket = fmt.Errorf("mqtt: malformed packet: %w", protocols.ErrMalformed)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("mqtt: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
