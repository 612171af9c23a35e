package mongodb

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// ErrLength wraps protocols.ErrMalformed and ErrTooLarge protocols.ErrTooLarge,
// so callers may test for either the specific or the generic condition.
var (
	// ErrLength reports a messageLength below the header's 16 bytes or an
	// opcode that is not MongoDB's.
	ErrLength = fmt.Errorf("mongodb: bad message header: %w", protocols.ErrMalformed)
	// ErrTooLarge reports a messageLength above MaxMessageSize.
	ErrTooLarge = fmt.Errorf("mongodb: message too large: %w", protocols.ErrTooLarge)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("mongodb: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
