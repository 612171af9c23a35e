// Package summary aggregates spans into per-protocol counts and latency
// percentiles, printed when the sink is closed.
package summary

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/internal/output"
	"github.com/wiretrace/wiretrace/correlate/tree"
)

// maxSamples bounds the latencies kept per protocol; beyond it reservoir
// sampling keeps the percentiles representative.
const maxSamples = 1 << 16

// Writer is a correlate.Sink that prints a summary table on Close. It is
// not safe for concurrent use.
type Writer struct {
	w      *output.Writer
	traces int
	stats  map[string]*protoStats
	rnd    uint64
}

var _ correlate.Sink = (*Writer)(nil)

type protoStats struct {
	spans, errors, timeouts, partial uint64
	samples                          []int64
	ops                              map[string]uint64
}

// New returns a Writer on w. If w is an io.Closer, Close closes it.
func New(w io.Writer) *Writer {
	return &Writer{w: output.New(w, "summary"), stats: make(map[string]*protoStats), rnd: 0x9e3779b97f4a7c15}
}

// WriteTrace adds a trace's spans to the summary.
func (w *Writer) WriteTrace(t *correlate.Trace) error {
	w.traces++
	for _, s := range t.Spans {
		ps := w.stats[s.Protocol]
		if ps == nil {
			ps = &protoStats{ops: make(map[string]uint64)}
			w.stats[s.Protocol] = ps
		}
		ps.spans++
		switch s.Status {
		case correlate.StatusError:
			ps.errors++
		case correlate.StatusTimeout:
			ps.timeouts++
		case correlate.StatusPartial:
			ps.partial++
		}
		if len(ps.ops) < 10000 || ps.ops[s.Name] > 0 {
			ps.ops[s.Name]++
		}
		if s.Status == correlate.StatusTimeout {
			continue
		}
		if len(ps.samples) < maxSamples {
			ps.samples = append(ps.samples, s.Duration())
		} else {
			// xorshift reservoir sampling; deterministic.
			w.rnd ^= w.rnd << 13
			w.rnd ^= w.rnd >> 7
			w.rnd ^= w.rnd << 17
			if j := w.rnd % ps.spans; j < maxSamples {
				ps.samples[j] = s.Duration()
			}
		}
	}
	return nil
}

// percentile returns the nearest-rank percentile p (0..1) of sorted: the
// smallest value with at least p of the samples at or below it.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// Close prints the summary and closes the output when it is a Closer.
func (w *Writer) Close() error {
	bw := w.w
	names := make([]string, 0, len(w.stats))
	for n := range w.stats {
		names = append(names, n)
	}
	slices.Sort(names)
	fmt.Fprintf(bw, "%-10s %8s %7s %8s %8s %9s %9s %9s %9s\n", "protocol", "spans", "errors", "timeouts", "partial", "p50", "p90", "p99", "max")
	for _, n := range names {
		ps := w.stats[n]
		slices.Sort(ps.samples)
		var mx int64
		if len(ps.samples) > 0 {
			mx = ps.samples[len(ps.samples)-1]
		}
		fmt.Fprintf(bw, "%-10s %8d %7d %8d %8d %9s %9s %9s %9s\n", n, ps.spans, ps.errors, ps.timeouts, ps.partial,
			tree.Duration(percentile(ps.samples, 0.50)), tree.Duration(percentile(ps.samples, 0.90)),
			tree.Duration(percentile(ps.samples, 0.99)), tree.Duration(mx))
	}
	fmt.Fprintf(bw, "traces: %d\n", w.traces)
	for _, n := range names {
		type op struct {
			name string
			n    uint64
		}
		var ops []op
		for k, v := range w.stats[n].ops {
			ops = append(ops, op{k, v})
		}
		slices.SortFunc(ops, func(a, b op) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
		if len(ops) > 10 {
			ops = ops[:10]
		}
		fmt.Fprintf(bw, "\ntop %s operations:\n", n)
		for _, o := range ops {
			fmt.Fprintf(bw, "  %8d  %s\n", o.n, o.name)
		}
	}
	return w.w.Close()
}
