package capture

import "errors"

// Sentinel errors that callers may test with errors.Is.
var (
	// ErrTruncated means the input ended in the middle of a record.
	ErrTruncated = errors.New("truncated record")
	// ErrFormat means the input is not a capture file wiretrace can read, or
	// a record is corrupt.
	ErrFormat = errors.New("bad capture format")
)
