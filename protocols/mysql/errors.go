package mysql

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// Each but ErrDirection also wraps protocols.ErrMalformed.
var (
	// ErrCommand reports a packet with sequence id 0 from the client whose
	// first byte is no command (protocol section "Text Protocol").
	ErrCommand = fmt.Errorf("mysql: unknown command: %w", protocols.ErrMalformed)
	// ErrCompressed reports a compressed packet whose zlib payload is corrupt
	// or does not have the announced length.
	ErrCompressed = fmt.Errorf("mysql: bad compressed packet: %w", protocols.ErrMalformed)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("mysql: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
