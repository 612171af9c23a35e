package memcached

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
var (
	// ErrCommand reports a text line that is no memcached command or
	// reply, or whose arguments are not well formed.
	ErrCommand = fmt.Errorf("memcached: bad command or reply line: %w", protocols.ErrMalformed)
	// ErrLineTooLong reports a text line longer than the header limit.
	ErrLineTooLong = fmt.Errorf("memcached: line too long: %w", protocols.ErrTooLarge)
	// ErrHeader reports a binary header whose magic, opcode or lengths
	// are inconsistent.
	ErrHeader = fmt.Errorf("memcached: bad binary header: %w", protocols.ErrMalformed)
	// ErrFrame reports a UDP datagram shorter than its frame header.
	ErrFrame = fmt.Errorf("memcached: bad UDP frame header: %w", protocols.ErrMalformed)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("memcached: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
