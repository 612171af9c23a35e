// Package jsonl writes traces as JSON Lines, one span per line, in the span
// format of docs/span-format.md.
package jsonl

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/internal/output"
)

// Writer is a correlate.Sink that writes one JSON object per span. It is not
// safe for concurrent use.
//
// The encoding is done by hand, without reflection, and gives the bytes
// encoding/json gives for a Span with HTML escaping off: the fields in
// declaration order, map keys sorted, the same string escapes.
type Writer struct {
	w    *output.Writer
	buf  []byte
	keys []string
}

var _ correlate.Sink = (*Writer)(nil)

// New returns a Writer on w. If w is an io.Closer, Close closes it.
func New(w io.Writer) *Writer {
	return &Writer{w: output.New(w, "jsonl"), buf: make([]byte, 0, 4096)}
}

// WriteTrace writes the trace's spans in order.
func (w *Writer) WriteTrace(t *correlate.Trace) error {
	for _, s := range t.Spans {
		b, err := w.appendSpan(w.buf[:0], s)
		if err != nil {
			return fmt.Errorf("jsonl: span %s: %w", s.SpanID, err)
		}
		w.buf = b
		if _, err := w.w.Write(b); err != nil {
			return fmt.Errorf("jsonl: span %s: %w", s.SpanID, err)
		}
	}
	return nil
}

// Flush writes what is buffered to the output.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	return nil
}

// Close flushes the output and closes it when it is a Closer.
func (w *Writer) Close() error { return w.w.Close() }

// appendSpan appends s as one JSON line.
func (w *Writer) appendSpan(b []byte, s *correlate.Span) ([]byte, error) {
	b = append(b, `{"trace_id":`...)
	b = appendString(b, s.TraceID)
	b = append(b, `,"span_id":`...)
	b = appendString(b, s.SpanID)
	b = append(b, `,"parent_span_id":`...)
	b = appendString(b, s.ParentSpanID)
	b = append(b, `,"protocol":`...)
	b = appendString(b, s.Protocol)
	b = append(b, `,"name":`...)
	b = appendString(b, s.Name)
	b = append(b, `,"side":`...)
	b = appendString(b, s.Side)
	b = append(b, `,"start_ns":`...)
	b = strconv.AppendInt(b, s.StartNS, 10)
	b = append(b, `,"end_ns":`...)
	b = strconv.AppendInt(b, s.EndNS, 10)
	b = append(b, `,"client":`...)
	b = appendEndpoint(b, &s.Client)
	b = append(b, `,"server":`...)
	b = appendEndpoint(b, &s.Server)
	b = append(b, `,"capture":`...)
	b = appendString(b, s.Capture)
	b = append(b, `,"status":`...)
	b = appendString(b, s.Status)
	b = append(b, `,"attributes":`...)
	var err error
	if b, err = w.appendAttrs(b, s.Attributes); err != nil {
		return b, err
	}
	b = append(b, `,"links":`...)
	b = w.appendLinks(b, s.Links)
	b = append(b, `,"link_reason":`...)
	b = appendString(b, s.LinkReason)
	return append(b, '}', '\n'), nil
}

func appendEndpoint(b []byte, e *correlate.Endpoint) []byte {
	b = append(b, `{"ip":`...)
	b = appendString(b, e.IP)
	b = append(b, `,"port":`...)
	b = strconv.AppendInt(b, int64(e.Port), 10)
	return append(b, '}')
}

func (w *Writer) appendAttrs(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	keys := w.keys[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		switch v := m[k].(type) {
		case string:
			b = appendString(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case uint64:
			b = strconv.AppendUint(b, v, 10)
		case bool:
			b = strconv.AppendBool(b, v)
		default:
			// Rare types: encoding/json decides.
			j, err := json.Marshal(v)
			if err != nil {
				w.keys = keys[:0]
				return b, err
			}
			b = append(b, j...)
		}
	}
	w.keys = keys[:0]
	return append(b, '}'), nil
}

func (w *Writer) appendLinks(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := w.keys[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	w.keys = keys[:0]
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json does with
// HTML escaping off: '"', '\\' and control characters escaped, invalid UTF-8
// replaced by U+FFFD, U+2028 and U+2029 escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
