package kafka

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// Each but ErrDirection (a caller's mistake) also wraps protocols.ErrMalformed
// or protocols.ErrTooLarge, so callers may test for either the specific or the
// generic condition with errors.Is.
var (
	// ErrSize reports a message size field that is negative or too small to
	// hold a request or response header.
	ErrSize = fmt.Errorf("kafka: bad message size: %w", protocols.ErrMalformed)
	// ErrTooLarge reports a message size above MaxMessageSize (the broker's
	// default socket.request.max.bytes).
	ErrTooLarge = fmt.Errorf("kafka: message too large: %w", protocols.ErrTooLarge)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("kafka: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
