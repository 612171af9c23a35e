// Package output is the buffered writer the sinks share: it flushes and,
// when the destination is a Closer, closes it exactly once.
package output

import (
	"bufio"
	"fmt"
	"io"
)

// Writer buffers writes to a destination.
type Writer struct {
	*bufio.Writer
	c      io.Closer
	prefix string
}

// New returns a Writer on w; errors from Close are prefixed with prefix
// (the sink's package name).
func New(w io.Writer, prefix string) *Writer {
	o := &Writer{Writer: bufio.NewWriterSize(w, 64<<10), prefix: prefix}
	if c, ok := w.(io.Closer); ok {
		o.c = c
	}
	return o
}

// Close flushes the buffer and closes the destination when it is a Closer.
// Later calls only flush.
func (o *Writer) Close() error {
	err := o.Flush()
	if o.c != nil {
		if cerr := o.c.Close(); err == nil {
			err = cerr
		}
		o.c = nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", o.prefix, err)
	}
	return nil
}
