package http

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
	// ErrStartLine reports a request line or status line that is not
	// HTTP/1.x where a message must start (RFC 9112 sections 3 and 4).
	ErrStartLine = fmt.Errorf("http: bad start line: %w", protocols.ErrMalformed)
	// ErrContentLength reports an invalid or conflicting Content-Length
	// (RFC 9112 section 6.3, item 5).
	ErrContentLength = fmt.Errorf("http: bad content-length: %w", protocols.ErrMalformed)
	// ErrTransferEncoding reports a request whose Transfer-Encoding does not
	// end in chunked (RFC 9112 section 6.3, item 4).
	ErrTransferEncoding = fmt.Errorf("http: bad transfer-encoding: %w", protocols.ErrMalformed)
	// ErrChunk reports a bad chunk-size line or chunk terminator, including a
	// chunk size that overflows (RFC 9112 section 7.1).
	ErrChunk = fmt.Errorf("http: bad chunk: %w", protocols.ErrMalformed)
	// ErrHeaderTooLarge reports a header block (or trailer section) longer
	// than Config.HeaderLimit, or more than MaxHeaders fields.
	ErrHeaderTooLarge = fmt.Errorf("http: header block too large: %w", protocols.ErrTooLarge)
	// ErrLineTooLong reports a chunk-size line longer than MaxChunkLine.
	ErrLineTooLong = fmt.Errorf("http: line too long: %w", protocols.ErrTooLarge)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("http: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
