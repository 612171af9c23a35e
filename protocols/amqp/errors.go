package amqp

import (
	"errors"
	"fmt"

	"github.com/wiretrace/wiretrace/protocols"
)

// Sentinels wrapped by the *protocols.ParseError values the parser returns.
// Each but ErrDirection also wraps protocols.ErrMalformed or
// protocols.ErrTooLarge.
var (
	// ErrFrameType reports a byte that starts no frame type (1 method, 2
	// content header, 3 body, 8 heartbeat) nor the protocol header.
	ErrFrameType = fmt.Errorf("amqp: unknown frame type: %w", protocols.ErrMalformed)
	// ErrFrameEnd reports a frame whose frame-end octet is not 0xCE.
	ErrFrameEnd = fmt.Errorf("amqp: bad frame-end octet: %w", protocols.ErrMalformed)
	// ErrFrameSize reports a frame larger than MaxBodyFrame.
	ErrFrameSize = fmt.Errorf("amqp: frame too large: %w", protocols.ErrTooLarge)
	// ErrMethod reports a method frame too short for its ids, or with a
	// class and method id that AMQP 0-9-1 does not define.
	ErrMethod = fmt.Errorf("amqp: unknown method: %w", protocols.ErrMalformed)
	// ErrVersion reports a protocol header for a version other than
	// 0-9-1 (AMQP 1.0 is another protocol).
	ErrVersion = fmt.Errorf("amqp: protocol version is not 0-9-1: %w", protocols.ErrMalformed)
	// ErrDirection reports a Parse call with protocols.DirUnknown.
	ErrDirection = errors.New("amqp: unknown direction")
)

func parseErr(off int, err error) error {
	return &protocols.ParseError{Protocol: Name, Offset: off, Err: err}
}
