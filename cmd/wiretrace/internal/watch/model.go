package watch

import (
	"cmp"
	"slices"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/html"
)

// Bounds of the model.
const (
	maxKeys       = 5000 // (client, server, operation) rows; more spans go to an "(other)" row
	latencyRing   = 512  // recent latencies per row, for p50/p99
	rateBuckets   = 10   // one-second buckets of packet time for requests/s
	recentTraces  = 256  // traces kept for the "slowest recent" list
	recentWindow  = 60e9 // how far back, in packet time, "recent" reaches
	otherOp       = "(other)"
	bucketSeconds = 1e9
)

// key identifies a row: who calls whom with what.
type key struct {
	client, server, protocol, op string
}

type row struct {
	key
	count, errors uint64
	lat           [latencyRing]int64
	nlat          int
	buckets       [rateBuckets]struct {
		sec int64
		n   uint32
	}
}

// Row is one line of the table, computed by Snapshot.
type Row struct {
	Client, Server, Protocol, Op string
	Rate                         float64 // requests per second over the last 10 s of packet time
	Count, Errors                uint64
	P50, P99                     int64
}

// TraceLine is one of the slowest recent traces.
type TraceLine struct {
	ID, Root, Client, Server, Status string
	Spans                            int
	Dur, End                         int64
}

// Snapshot is what the view shows at one moment.
type Snapshot struct {
	Rows           []Row
	Slowest        []TraceLine
	Spans, Traces  uint64
	Errors         uint64
	Now            int64 // latest packet time seen (Unix ns)
	RowsOverLimits uint64
}

// Sort orders for the table.
const (
	SortRate = iota
	SortCount
	SortErrors
	SortP50
	SortP99
	SortName
)

// model aggregates spans; the caller locks.
type model struct {
	namer               *html.Namer
	rows                map[key]*row
	recent              []TraceLine // ring
	next                int
	spans, traces, errs uint64
	first, now          int64
	other               uint64
}

func newModel(names map[string]string) *model {
	return &model{namer: html.NewNamer(names), rows: map[key]*row{}}
}

func (m *model) add(t *correlate.Trace) {
	if len(t.Spans) == 0 {
		return
	}
	m.traces++
	var root *correlate.Span
	start, end := t.Spans[0].StartNS, t.Spans[0].EndNS
	status := correlate.StatusOK
	for _, s := range t.Spans {
		start, end = min(start, s.StartNS), max(end, s.EndNS)
		if s.Parent == nil && (root == nil || s.StartNS < root.StartNS) {
			root = s
		}
		if s.Status != correlate.StatusOK && status != correlate.StatusError {
			status = s.Status
		}
		m.addSpan(s)
	}
	if root == nil {
		root = t.Spans[0]
	}
	tl := TraceLine{ID: t.ID, Root: root.Protocol + " " + root.Name, Client: m.namer.Client(root),
		Server: m.namer.Server(root), Status: status, Spans: len(t.Spans), Dur: end - start, End: end}
	if len(m.recent) < recentTraces {
		m.recent = append(m.recent, tl)
	} else {
		m.recent[m.next] = tl
		m.next = (m.next + 1) % recentTraces
	}
}

func (m *model) addSpan(s *correlate.Span) {
	m.spans++
	if m.first == 0 || s.StartNS < m.first {
		m.first = s.StartNS
	}
	m.now = max(m.now, s.EndNS)
	if s.LinkReason == correlate.ReasonTCPSeq {
		return // the same exchange seen again at another capture point
	}
	k := key{m.namer.Client(s), m.namer.Server(s), s.Protocol, s.Name}
	r := m.rows[k]
	if r == nil {
		if len(m.rows) >= maxKeys {
			m.other++
			k.op = otherOp
			if r = m.rows[k]; r == nil {
				return
			}
		} else {
			r = &row{key: k}
			m.rows[k] = r
		}
	}
	r.count++
	if s.Status == correlate.StatusError || s.Status == correlate.StatusTimeout {
		r.errors++
		m.errs++
	}
	if s.Status != correlate.StatusTimeout {
		r.lat[r.nlat%latencyRing] = s.Duration()
		r.nlat++
	}
	sec := s.StartNS / bucketSeconds
	b := &r.buckets[sec%rateBuckets]
	if b.sec != sec {
		b.sec, b.n = sec, 0
	}
	b.n++
}

// snapshot computes the table sorted by order.
func (m *model) snapshot(order int) *Snapshot {
	sn := &Snapshot{Spans: m.spans, Traces: m.traces, Errors: m.errs, Now: m.now, RowsOverLimits: m.other}
	window := min(float64(m.now-m.first), rateBuckets*bucketSeconds)
	window = max(window, bucketSeconds) / 1e9
	nowSec := m.now / bucketSeconds
	lat := make([]int64, 0, latencyRing)
	for _, r := range m.rows {
		var n uint32
		for _, b := range r.buckets {
			if b.sec > nowSec-rateBuckets && b.sec <= nowSec {
				n += b.n
			}
		}
		lat = append(lat[:0], r.lat[:min(r.nlat, latencyRing)]...)
		slices.Sort(lat)
		sn.Rows = append(sn.Rows, Row{Client: r.client, Server: r.server, Protocol: r.protocol, Op: r.op,
			Rate: float64(n) / window, Count: r.count, Errors: r.errors,
			P50: percentile(lat, 0.5), P99: percentile(lat, 0.99)})
	}
	name := func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Server, b.Server),
			cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Op, b.Op))
	}
	slices.SortFunc(sn.Rows, func(a, b Row) int {
		var c int
		switch order {
		case SortRate:
			c = cmp.Or(cmp.Compare(b.Rate, a.Rate), cmp.Compare(b.Count, a.Count))
		case SortCount:
			c = cmp.Compare(b.Count, a.Count)
		case SortErrors:
			c = cmp.Or(cmp.Compare(b.Errors, a.Errors), cmp.Compare(b.Count, a.Count))
		case SortP50:
			c = cmp.Compare(b.P50, a.P50)
		case SortP99:
			c = cmp.Compare(b.P99, a.P99)
		}
		return cmp.Or(c, name(a, b))
	})
	for _, t := range m.recent {
		if t.End >= m.now-recentWindow {
			sn.Slowest = append(sn.Slowest, t)
		}
	}
	slices.SortFunc(sn.Slowest, func(a, b TraceLine) int {
		return cmp.Or(cmp.Compare(b.Dur, a.Dur), cmp.Compare(a.ID, b.ID))
	})
	return sn
}

// percentile returns the nearest-rank p-th percentile of sorted.
func percentile(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
