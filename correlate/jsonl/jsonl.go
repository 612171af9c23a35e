// Package jsonl writes traces as JSON Lines, one span per line, in the span
// format of docs/span-format.md.
package jsonl

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/wiretrace/wiretrace/correlate"
)

// Writer is a correlate.Sink that writes one JSON object per span. It is not
// safe for concurrent use.
type Writer struct {
	w   *bufio.Writer
	c   io.Closer
	enc *json.Encoder
}

var _ correlate.Sink = (*Writer)(nil)

// New returns a Writer on w. If w is an io.Closer, Close closes it.
func New(w io.Writer) *Writer {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	jw := &Writer{w: bw, enc: enc}
	if c, ok := w.(io.Closer); ok {
		jw.c = c
	}
	return jw
}

// WriteTrace writes the trace's spans in order.
func (w *Writer) WriteTrace(t *correlate.Trace) error {
	for _, s := range t.Spans {
		if err := w.enc.Encode(s); err != nil {
			return fmt.Errorf("jsonl: span %s: %w", s.SpanID, err)
		}
	}
	return nil
}

// Close flushes the output and closes it when it is a Closer.
func (w *Writer) Close() error {
	err := w.w.Flush()
	if w.c != nil {
		if cerr := w.c.Close(); err == nil {
			err = cerr
		}
		w.c = nil
	}
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}
