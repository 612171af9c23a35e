package redis

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
	// ErrHeader reports a length or count line ("$5", "*3", "%2", ...) that
	// is not a decimal number, -1 where a null is allowed, or "?" where a
	// streamed type is allowed, or that does not end within MaxHeaderLine
	// bytes.
	ErrHeader = fmt.Errorf("redis: bad length line: %w", protocols.ErrMalformed)
	// ErrType reports a byte that starts no RESP2 or RESP3 type where a
	// reply element must start.
	ErrType = fmt.Errorf("redis: unknown type byte: %w", protocols.ErrMalformed)
	// ErrArgument reports a command array element that is not a bulk
	// string (Redis answers "Protocol error: expected '$'" and closes).
	ErrArgument = fmt.Errorf("redis: command argument is not a bulk string: %w", protocols.ErrMalformed)
	// ErrBulkTooLarge reports a bulk string longer than MaxBulkLen.
	ErrBulkTooLarge = fmt.Errorf("redis: bulk string too large: %w", protocols.ErrTooLarge)
	// ErrAggregateTooLarge reports an aggregate of more than MaxAggregateLen
	// elements.
	ErrAggregateTooLarge = fmt.Errorf("redis: aggregate too large: %w", protocols.ErrTooLarge)
	// ErrDepth reports aggregates nested deeper than MaxDepth.
	ErrDepth = fmt.Errorf("redis: aggregates nested too deep: %w", protocols.ErrTooLarge)
	// ErrInlineTooLong reports an inline command line longer than MaxInline
	// (Redis answers "Protocol error: too big inline request" and closes).
	ErrInlineTooLong = fmt.Errorf("redis: inline command too long: %w", protocols.ErrTooLarge)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("redis: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
