package openwire

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// Each but ErrDirection also wraps protocols.ErrMalformed or
// protocols.ErrTooLarge.
var (
	// ErrSize reports a command size of 0 or more than MaxFrame.
	ErrSize = fmt.Errorf("openwire: bad command size: %w", protocols.ErrTooLarge)
	// ErrType reports a data structure type that is no command.
	ErrType = fmt.Errorf("openwire: unknown command type: %w", protocols.ErrMalformed)
	// ErrCommand reports a command too short for its BaseCommand fields.
	ErrCommand = fmt.Errorf("openwire: truncated command: %w", protocols.ErrMalformed)
	// ErrMagic reports a WireFormatInfo without the "ActiveMQ" magic.
	ErrMagic = fmt.Errorf("openwire: WireFormatInfo without magic: %w", protocols.ErrMalformed)
	// ErrNoSizePrefix reports a connection whose ends both disable the
	// size prefix: its commands cannot be framed without decoding every
	// type, which the parser does not do.
	ErrNoSizePrefix = fmt.Errorf("openwire: size prefix disabled: %w", protocols.ErrMalformed)
	// ErrDesync reports data after a gap that fell between commands: the
	// command boundary and the object cache are lost.
	ErrDesync = fmt.Errorf("openwire: command boundary lost in a gap: %w", protocols.ErrMalformed)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("openwire: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
