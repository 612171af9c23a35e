package capture

import (
	"errors"
	"strconv"
)

// Sentinel errors that callers may test with errors.Is.
var (
	// ErrTruncated means the input ended in the middle of a record.
	ErrTruncated = errors.New("truncated record")
	// ErrFormat means the input is not a capture file wiretrace can read, or
	// a record is corrupt.
	ErrFormat = errors.New("bad capture format")
	// ErrFanoutAsymmetric means the running kernel's PACKET_FANOUT_HASH
	// may send the two directions of a flow to different sockets (Linux
	// before 4.7), so live capture cannot use more than one worker.
	ErrFanoutAsymmetric = errors.New("PACKET_FANOUT_HASH is not symmetric before Linux 4.7: use one worker")
)

// Error is a problem at a position in a capture file. It unwraps to Err (one
// of the sentinels [ErrTruncated] and [ErrFormat], or an I/O error) and to
// Cause when the problem came from a lower layer such as compress/gzip.
type Error struct {
	// Capture is the name of the capture file.
	Capture string
	// Packet is the 1-based number of the packet being read when the
	// problem was found; 0 while reading the file header.
	Packet int64
	// Offset is the byte offset of the record or block that holds the
	// problem, counted in the decompressed stream; -1 when unknown.
	Offset int64
	// Msg says what is wrong.
	Msg string
	// Err is the sentinel the error unwraps to.
	Err error
	// Cause is the lower-level error, if any.
	Cause error
}

// Error returns "capture: <name>: packet <n> at offset <off>: <msg>", leaving
// out the parts that are unknown.
func (e *Error) Error() string {
	s := "capture: " + e.Capture + ": "
	switch {
	case e.Packet > 0:
		s += "packet " + strconv.FormatInt(e.Packet, 10)
		if e.Offset >= 0 {
			s += " at offset " + strconv.FormatInt(e.Offset, 10)
		}
		s += ": "
	case e.Offset > 0:
		s += "offset " + strconv.FormatInt(e.Offset, 10) + ": "
	}
	s += e.Msg
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns Err and Cause, so errors.Is finds either.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}
