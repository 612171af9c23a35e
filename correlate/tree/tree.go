// Package tree writes traces as indented trees for a terminal: one block per
// trace, each span with its operation, endpoints, duration, status and the
// reason it was linked to its parent.
package tree

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/internal/output"
)

// Writer is a correlate.Sink that prints trace trees. It is not safe for
// concurrent use.
type Writer struct {
	w *output.Writer
	n int
}

var _ correlate.Sink = (*Writer)(nil)

// New returns a Writer on w. If w is an io.Closer, Close closes it.
func New(w io.Writer) *Writer {
	return &Writer{w: output.New(w, "tree")}
}

// WriteTrace prints one trace.
func (w *Writer) WriteTrace(t *correlate.Trace) error {
	if len(t.Spans) == 0 {
		return nil
	}
	children := make(map[*correlate.Span][]*correlate.Span)
	var roots []*correlate.Span
	start, end := t.Spans[0].StartNS, t.Spans[0].EndNS
	for _, s := range t.Spans {
		start, end = min(start, s.StartNS), max(end, s.EndNS)
		if s.Parent != nil {
			children[s.Parent] = append(children[s.Parent], s)
		} else {
			roots = append(roots, s)
		}
	}
	order := func(a, b *correlate.Span) int {
		return cmp.Or(cmp.Compare(a.StartNS, b.StartNS), cmp.Compare(a.SpanID, b.SpanID))
	}
	slices.SortFunc(roots, order)
	if w.n > 0 {
		w.w.WriteByte('\n')
	}
	w.n++
	plural := "s"
	if len(t.Spans) == 1 {
		plural = ""
	}
	fmt.Fprintf(w.w, "trace %s  %d span%s  %s  %s\n", t.ID, len(t.Spans), plural,
		Duration(end-start), time.Unix(0, start).UTC().Format("2006-01-02T15:04:05.000000Z"))
	var walk func(s *correlate.Span, prefix string, last bool, depth int)
	walk = func(s *correlate.Span, prefix string, last bool, depth int) {
		branch, next := "├─ ", "│  "
		if last {
			branch, next = "└─ ", "   "
		}
		w.w.WriteString(prefix + branch + line(s) + "\n")
		kids := children[s]
		slices.SortFunc(kids, order)
		if depth > 256 {
			return
		}
		for i, k := range kids {
			walk(k, prefix+next, i == len(kids)-1, depth+1)
		}
	}
	for i, r := range roots {
		walk(r, "", i == len(roots)-1, 0)
	}
	return w.w.Flush()
}

func line(s *correlate.Span) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s  %s:%d → %s:%d  %s  %s", s.Protocol, s.Name, s.Client.IP, s.Client.Port,
		s.Server.IP, s.Server.Port, Duration(s.Duration()), s.Status)
	if code, ok := s.Attributes["http.response.status_code"]; ok {
		fmt.Fprintf(&b, " %v", code)
	}
	fmt.Fprintf(&b, "  [%s %s]", s.Side, s.Capture)
	if s.LinkReason != "" {
		fmt.Fprintf(&b, "  ← %s", s.LinkReason)
	}
	if id := s.Links["x_request_id"]; id != "" {
		fmt.Fprintf(&b, "  x-request-id=%s", id)
	}
	return b.String()
}

// Duration formats nanoseconds with three significant digits: 812µs,
// 12.4ms, 1.25s.
func Duration(ns int64) string {
	d := float64(ns)
	switch {
	case ns < 1000:
		return fmt.Sprintf("%dns", ns)
	case ns < 1e6:
		return trim(d/1e3) + "µs"
	case ns < 1e9:
		return trim(d/1e6) + "ms"
	}
	return trim(d/1e9) + "s"
}

func trim(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// Close flushes the output and closes it when it is a Closer.
func (w *Writer) Close() error { return w.w.Close() }

// Flush writes what is buffered to the output.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("tree: %w", err)
	}
	return nil
}
