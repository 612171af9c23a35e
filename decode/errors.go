package decode

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by [Decoder.Decode]; test them with errors.Is.
// ErrUnsupported and ErrFragment are returned bare, so that the common cases
// do not allocate; ErrMalformed and ErrTruncated arrive wrapped in an
// [*Error] that says which packet and which layer.
var (
	// ErrUnsupported means the frame is not IP, or not TCP or UDP, or its
	// link type is not one the Decoder knows. It is counted, not a fault.
	ErrUnsupported = errors.New("decode: unsupported packet")
	// ErrFragment means the frame is an IP fragment held until its datagram
	// is complete; the datagram is returned by the Decode call that
	// completes it.
	ErrFragment = errors.New("decode: ip fragment held for reassembly")
	// ErrMalformed means a header is invalid.
	ErrMalformed = errors.New("malformed header")
	// ErrTruncated means a header was cut by the capture's snapshot length
	// or the frame is shorter than its headers.
	ErrTruncated = errors.New("truncated header")
)

// Error is a malformed or truncated packet. It unwraps to [ErrMalformed] or
// [ErrTruncated].
type Error struct {
	// Number is the packet's position in its source (capture.Packet.Number).
	Number int64
	// Layer names the layer that failed to decode ("tcp", "ipv4", ...).
	Layer string
	// Err is ErrMalformed or ErrTruncated.
	Err error
	// Detail is the underlying decoder's message, if any.
	Detail string
}

// Error formats the error as "decode: packet N: layer: reason: detail".
func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("decode: packet %d: %s: %v", e.Number, e.Layer, e.Err)
	}
	return fmt.Sprintf("decode: packet %d: %s: %v: %s", e.Number, e.Layer, e.Err, e.Detail)
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }
