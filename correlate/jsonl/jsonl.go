// Package jsonl writes traces as JSON Lines, one span per line, in the span
// format of docs/span-format.md.
package jsonl

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/internal/output"
)

// Writer is a correlate.Sink that writes one JSON object per span. It is not
// safe for concurrent use.
type Writer struct {
	w   *output.Writer
	enc *json.Encoder
}

var _ correlate.Sink = (*Writer)(nil)

// New returns a Writer on w. If w is an io.Closer, Close closes it.
func New(w io.Writer) *Writer {
	ow := output.New(w, "jsonl")
	enc := json.NewEncoder(ow)
	enc.SetEscapeHTML(false)
	return &Writer{w: ow, enc: enc}
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
func (w *Writer) Close() error { return w.w.Close() }
