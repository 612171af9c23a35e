package nats

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
var (
	// ErrOperation reports a control line that starts with no NATS
	// operation, or whose arguments are not well formed.
	ErrOperation = fmt.Errorf("nats: bad control line: %w", protocols.ErrMalformed)
	// ErrLineTooLong reports a control line longer than MaxControlLine.
	ErrLineTooLong = fmt.Errorf("nats: control line too long: %w", protocols.ErrTooLarge)
	// ErrPayloadTooLarge reports a size over MaxPayload.
	ErrPayloadTooLarge = fmt.Errorf("nats: payload too large: %w", protocols.ErrTooLarge)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("nats: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
