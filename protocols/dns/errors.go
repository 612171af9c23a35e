package dns

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// Each also wraps protocols.ErrMalformed, so callers may test for either the
// specific or the generic condition with errors.Is.
var (
	// ErrHeader reports a message shorter than the 12-byte header, or a
	// TCP length prefix too small to hold one (RFC 1035 section 4.1.1, RFC
	// 7766 section 8).
	ErrHeader = fmt.Errorf("dns: bad header: %w", protocols.ErrMalformed)
	// ErrQuestion reports a question section that cannot be read: a bad or
	// too long name, a compression loop, or a question cut short (RFC 1035
	// sections 4.1.2 and 4.1.4).
	ErrQuestion = fmt.Errorf("dns: bad question: %w", protocols.ErrMalformed)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("dns: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
