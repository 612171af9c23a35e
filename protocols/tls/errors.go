package tls

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// Each wraps protocols.ErrMalformed or protocols.ErrTooLarge.
var (
	// ErrRecord reports bytes that are not a TLS record header: an unknown
	// content type, a major version other than 3, or a length beyond
	// MaxRecordLen.
	ErrRecord = fmt.Errorf("tls: bad record header: %w", protocols.ErrMalformed)
	// ErrHandshake reports a handshake message that does not parse.
	ErrHandshake = fmt.Errorf("tls: bad handshake message: %w", protocols.ErrMalformed)
	// ErrHandshakeTooLarge reports a handshake message longer than
	// MaxHandshakeLen.
	ErrHandshakeTooLarge = fmt.Errorf("tls: handshake message too large: %w", protocols.ErrTooLarge)
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
