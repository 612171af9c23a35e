package postgresql

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// Each but ErrDirection (a caller's mistake) also wraps
// protocols.ErrMalformed, so callers may test for either the specific or the
// generic condition with errors.Is.
var (
	// ErrStartup reports an untyped startup-phase packet (StartupMessage,
	// SSLRequest, GSSENCRequest, CancelRequest) whose length or protocol
	// code is not one of protocol 3's (protocol section 55.7).
	ErrStartup = fmt.Errorf("postgresql: bad startup packet: %w", protocols.ErrMalformed)
	// ErrMessageType reports a message type byte that the protocol does not
	// define for the direction it was sent in.
	ErrMessageType = fmt.Errorf("postgresql: unknown message type: %w", protocols.ErrMalformed)
	// ErrLength reports a message length below 4 (the length counts
	// itself) or one that contradicts the message's fixed size.
	ErrLength = fmt.Errorf("postgresql: bad message length: %w", protocols.ErrMalformed)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("postgresql: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
