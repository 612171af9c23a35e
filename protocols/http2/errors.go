package http2

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// Each but ErrDirection (a caller's mistake) also wraps protocols.ErrMalformed
// or protocols.ErrTooLarge, so callers may test for either the specific or the
// generic condition with errors.Is. They are returned only while the parser
// knows the frame boundaries of a direction from its start; after a gap or a
// mid-stream join a bad frame header makes it resynchronise instead.
var (
	// ErrFrame reports a frame header or payload that violates RFC 9113
	// section 6: a stream id where none is allowed (or none where one is
	// required), a wrong fixed length, padding longer than the payload.
	ErrFrame = fmt.Errorf("http2: bad frame: %w", protocols.ErrMalformed)
	// ErrContinuation reports a CONTINUATION frame out of place, or another
	// frame where a CONTINUATION was required (RFC 9113 section 6.10).
	ErrContinuation = fmt.Errorf("http2: bad continuation: %w", protocols.ErrMalformed)
	// ErrFrameSize reports a frame longer than the receiver's
	// SETTINGS_MAX_FRAME_SIZE (RFC 9113 section 4.2).
	ErrFrameSize = fmt.Errorf("http2: frame too large: %w", protocols.ErrTooLarge)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("http2: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
