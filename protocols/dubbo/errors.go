package dubbo

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// ErrMagic wraps protocols.ErrMalformed and ErrTooLarge protocols.ErrTooLarge,
// so callers may test for either the specific or the generic condition.
var (
	// ErrMagic reports a message that does not start with the magic 0xdabb.
	ErrMagic = fmt.Errorf("dubbo: bad magic: %w", protocols.ErrMalformed)
	// ErrTooLarge reports a body length above MaxMessageSize.
	ErrTooLarge = fmt.Errorf("dubbo: message too large: %w", protocols.ErrTooLarge)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("dubbo: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
