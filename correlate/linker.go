package correlate

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/tidwall/btree"
)

// group is a set of spans joined by shared keys: one trace in the making.
type group struct {
	id         uint64
	spans      []*Span
	keys       []string
	incomplete int
	first      int64 // earliest span start
	last       int64 // packet time of the latest activity
	emitted    bool
}

// Linker groups spans into traces by shared keys, links parents and emits
// traces when their window closes. It is created by NewBuilder.
type Linker struct {
	cfg      *Config
	sink     Sink
	stats    *Stats
	window   int64
	maxSpans int

	keys    map[string]*group
	byLast  *btree.BTreeG[*group] // open groups ordered by (last, id)
	nextID  uint64
	pending int
	now     int64
	scanned int64
	err     error
}

func newLinker(cfg *Config, sink Sink, stats *Stats) *Linker {
	l := &Linker{
		cfg:      cfg,
		sink:     sink,
		stats:    stats,
		window:   int64(cfg.Window),
		maxSpans: cfg.MaxPendingSpans,
		keys:     make(map[string]*group),
	}
	if l.window <= 0 {
		l.window = int64(5 * time.Second)
	}
	if l.maxSpans <= 0 {
		l.maxSpans = 1 << 18
	}
	l.byLast = btree.NewBTreeGOptions(func(a, b *group) bool {
		if a.last != b.last {
			return a.last < b.last
		}
		return a.id < b.id
	}, btree.Options{NoLocks: true})
	return l
}

// spanKeys lists the keys a span can be joined by.
func (l *Linker) spanKeys(s *Span) []string {
	var ks []string
	if v := s.Links["x_request_id"]; usableRequestID(v) {
		ks = append(ks, "x:"+v)
		if !l.cfg.SeparateRequestIDAndTraceID && len(v) == 32 && isHex(v) {
			ks = append(ks, "t:"+toLower(v))
		}
	}
	s.adopted, s.adoptedFromRequestID = "", false
	for _, k := range [...]string{"traceparent_trace_id", "b3_trace_id", "uber_trace_id"} {
		if v := s.Links[k]; v != "" {
			ks = append(ks, "t:"+v)
			if s.adopted == "" {
				s.adopted = v
			}
		}
	}
	if v := s.Links["sw8_trace_id"]; v != "" {
		id := traceIDFrom(0, "sw8:"+v)
		ks = append(ks, "t:"+id)
		if s.adopted == "" {
			s.adopted = id
		}
	}
	if s.adopted == "" && !l.cfg.SeparateRequestIDAndTraceID {
		// A gateway-generated 32-hex request id serves as the trace id,
		// so the trace can be found by the id in the gateway's logs.
		if v := s.Links["x_request_id"]; len(v) == 32 && isHex(v) && !isZero(v) {
			s.adopted = toLower(v)
			s.adoptedFromRequestID = true
		}
	}
	if _, ok := s.Links["req_tcp_seq"]; ok {
		ks = append(ks, seqKey(s))
	}
	return ks
}

// usableRequestID rejects request ids that cannot identify one request:
// placeholders such as "-" or "null" that some proxies send, which would
// otherwise join unrelated requests into one giant trace.
func usableRequestID(v string) bool {
	if len(v) < 4 {
		return false
	}
	switch toLower(v) {
	case "null", "none", "undefined", "unknown", "nil", "empty":
		return false
	}
	return true
}

func seqKey(s *Span) string {
	return fmt.Sprintf("q:%s|%s|%d", s.ClientAddr, s.ServerAddr, s.ReqSeq)
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func (l *Linker) touch(g *group) {
	l.byLast.Delete(g)
	if l.now > g.last {
		g.last = l.now
	}
	l.byLast.Set(g)
}

// add registers a new span (its request seen, maybe not yet complete).
func (l *Linker) add(s *Span) {
	l.nextID++
	g := &group{id: l.nextID, spans: []*Span{s}, first: s.StartNS, last: l.now}
	if !s.complete {
		g.incomplete = 1
	}
	s.group = g
	l.pending++
	l.byLast.Set(g)
	l.join(s, g)
	l.enforceBound()
}

// rekey joins s by keys it learnt from its response.
func (l *Linker) rekey(s *Span) {
	if s.group == nil || s.group.emitted {
		return
	}
	l.join(s, s.group)
}

func (l *Linker) join(s *Span, g *group) {
	for _, k := range l.spanKeys(s) {
		g = s.group
		other, ok := l.keys[k]
		switch {
		case !ok:
			l.keys[k] = g
			g.keys = append(g.keys, k)
		case other != g:
			l.merge(other, g)
		}
	}
}

// merge joins two open groups, keeping the larger one.
func (l *Linker) merge(a, b *group) {
	if len(a.spans) < len(b.spans) || len(a.spans) == len(b.spans) && a.id > b.id {
		a, b = b, a
	}
	l.byLast.Delete(a)
	l.byLast.Delete(b)
	for _, s := range b.spans {
		s.group = a
	}
	a.spans = append(a.spans, b.spans...)
	for _, k := range b.keys {
		l.keys[k] = a
	}
	a.keys = append(a.keys, b.keys...)
	a.incomplete += b.incomplete
	a.first = min(a.first, b.first)
	a.last = max(a.last, b.last)
	l.byLast.Set(a)
}

// completed records that s has its response or ended.
func (l *Linker) completed(s *Span) {
	g := s.group
	if g == nil {
		return
	}
	if g.emitted {
		l.stats.LateSpans++
		return
	}
	g.incomplete--
	l.touch(g)
}

// advance moves packet time forward and emits closed traces.
func (l *Linker) advance(now int64) {
	if now <= l.now {
		return
	}
	l.now = now
	// Scan at most every window/8 of packet time.
	if l.now-l.scanned < l.window/8 {
		return
	}
	l.scanned = l.now
	var ready []*group
	l.byLast.Scan(func(g *group) bool {
		if g.last+l.window > l.now {
			return false
		}
		if g.incomplete <= 0 {
			ready = append(ready, g)
		}
		return true
	})
	l.emit(ready)
}

// enforceBound emits the least recently active traces while too many spans
// are pending.
func (l *Linker) enforceBound() {
	if l.pending <= l.maxSpans {
		return
	}
	var ready []*group
	n := l.pending
	l.byLast.Scan(func(g *group) bool {
		if n <= l.maxSpans*7/8 {
			return false
		}
		ready = append(ready, g)
		n -= len(g.spans)
		return true
	})
	l.stats.WindowForced += uint64(len(ready))
	l.emit(ready)
}

// flush emits every open trace.
func (l *Linker) flush() error {
	var all []*group
	l.byLast.Scan(func(g *group) bool {
		all = append(all, g)
		return true
	})
	l.emit(all)
	return l.err
}

// emit links and writes groups, in order of their first span.
func (l *Linker) emit(gs []*group) {
	if len(gs) == 0 {
		return
	}
	slices.SortFunc(gs, func(a, b *group) int {
		return cmp.Or(cmp.Compare(a.first, b.first), cmp.Compare(a.id, b.id))
	})
	for _, g := range gs {
		l.byLast.Delete(g)
		for _, k := range g.keys {
			if l.keys[k] == g {
				delete(l.keys, k)
			}
		}
		g.emitted = true
		l.pending -= len(g.spans)
		t := l.link(g)
		l.stats.Traces++
		l.stats.Spans += uint64(len(t.Spans))
		if err := l.sink.WriteTrace(t); err != nil {
			l.stats.SinkErrors++
			if l.err == nil {
				l.err = err
			}
		}
		g.spans, g.keys = nil, nil
	}
}
