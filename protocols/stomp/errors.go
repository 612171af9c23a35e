package stomp

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// Each but ErrDirection also wraps protocols.ErrMalformed or
// protocols.ErrTooLarge.
var (
	// ErrCommand reports a command line that is no STOMP command of the
	// direction (client commands flow to the server, CONNECTED, MESSAGE,
	// RECEIPT and ERROR to the client), or longer than any.
	ErrCommand = fmt.Errorf("stomp: unknown command: %w", protocols.ErrMalformed)
	// ErrNoNUL reports a body of content-length bytes not followed by the
	// NUL octet that ends a frame.
	ErrNoNUL = fmt.Errorf("stomp: frame does not end with NUL: %w", protocols.ErrMalformed)
	// ErrHeadersTooLarge reports a header block longer than the parser
	// configuration's HeaderLimit.
	ErrHeadersTooLarge = fmt.Errorf("stomp: header block too large: %w", protocols.ErrTooLarge)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("stomp: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
