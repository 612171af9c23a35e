package ebpf

import "errors"

// ErrNotSupported is wrapped by the errors of Probe and Open when the
// kernel, the privileges or the build cannot run the extension.
var ErrNotSupported = errors.New("ebpf: not supported")

// ErrShortEvent is returned by Event.UnmarshalBinary for a record shorter
// than EventSize.
var ErrShortEvent = errors.New("ebpf: event record too short")

// ErrMalformed is returned by Event.UnmarshalBinary for a record with an
// unknown kind or address family.
var ErrMalformed = errors.New("ebpf: malformed event record")
