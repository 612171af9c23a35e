package correlate

import (
	"cmp"
	"fmt"
	"net/netip"
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

// hostKey names a host as seen at one capture point.
type hostKey struct {
	capture string
	addr    netip.Addr
}

// flowKey names a connection as seen at one capture point.
type flowKey struct {
	capture string
	flow    uint64
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
	nextSeq uint64
	pending int // spans in open groups
	waiting int // spans in open groups still waiting for their response
	now     int64
	scanned int64
	err     error

	// Indexes of the spans in open groups for the links decided when a
	// span completes (see hints.go).
	timing     bool
	minConf    float64
	byServer   map[hostKey]*btree.BTreeG[*Span] // by (StartNS, seq)
	lastOnFlow map[flowKey]*Span                // latest completed span per connection
	sends      map[string][]*Span               // queue handoff values sent
	recvs      map[string][]*Span               // queue handoff values received, no parent yet
	producers  *btree.BTreeG[kafkaEntry]
	fetches    *btree.BTreeG[kafkaEntry]
	pivot      Span         // search key for byServer, reused
	cands      []timingCand // reused by decideTiming
	prodMax    int64        // longest producer offset range indexed
	fetchMax   int64        // longest fetch offset range indexed

	// relink is set for a Relinker's linker: spans arrive complete from
	// agents, timing hints come with them (SpanState) and byID finds
	// their parents.
	relink bool
	byID   map[string]*Span
}

func newLinker(cfg *Config, sink Sink, stats *Stats) *Linker {
	l := &Linker{
		cfg:      cfg,
		sink:     sink,
		stats:    stats,
		window:   int64(cfg.Window),
		maxSpans: cfg.MaxPendingSpans,
		keys:     make(map[string]*group),
		timing:   !cfg.NoTimingLinks,
		minConf:  cfg.TimingMinConfidence,

		byServer:   make(map[hostKey]*btree.BTreeG[*Span]),
		lastOnFlow: make(map[flowKey]*Span),
		sends:      make(map[string][]*Span),
		recvs:      make(map[string][]*Span),
		producers:  btree.NewBTreeGOptions(kafkaLess, btree.Options{NoLocks: true}),
		fetches:    btree.NewBTreeGOptions(kafkaLess, btree.Options{NoLocks: true}),
	}
	if l.minConf == 0 {
		l.minConf = 0.5
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
	s.keyed = len(ks) > 0
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
	l.nextSeq++
	s.seq = l.nextSeq
	g := &group{id: l.nextID, spans: []*Span{s}, first: s.StartNS, last: l.now}
	if !s.complete {
		g.incomplete = 1
		l.waiting++
	}
	s.group = g
	l.pending++
	l.byLast.Set(g)
	l.join(s, g)
	if l.relink {
		l.byID[s.SpanID] = s
	} else if !s.noRequest {
		k := hostKey{s.Capture, s.ServerAddr.Addr()}
		t := l.byServer[k]
		if t == nil {
			t = btree.NewBTreeGOptions(spanLess, btree.Options{NoLocks: true})
			l.byServer[k] = t
		}
		t.Set(s)
	}
	l.enforceBound()
}

// spanLess orders spans by start time, then insertion.
func spanLess(a, b *Span) bool {
	if a.StartNS != b.StartNS {
		return a.StartNS < b.StartNS
	}
	return a.seq < b.seq
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

// completed records that s has its response or ended, and decides the
// parents that depend on what is open now (queue handoff, Kafka offsets,
// timing), joining their traces.
func (l *Linker) completed(s *Span) {
	g := s.group
	if g == nil || g.emitted {
		// Not reached: only complete spans are emitted, but count it
		// rather than lose track.
		l.stats.LateSpans++
		return
	}
	if s.late {
		l.stats.LateSpans++
	}
	g.incomplete--
	l.waiting--
	s.done = l.now
	l.touch(g)
	l.handoff(s)
	if l.relink {
		l.applyTiming(s)
		return
	}
	l.decideTiming(s)
	if !s.noRequest {
		l.lastOnFlow[flowKey{s.Capture, s.FlowID}] = s
	}
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

// enforceBound emits the least recently active traces while too many
// complete spans are pending. Spans still waiting for their response are
// not counted (the Builder holds them too, bounded by MaxPendingRequests)
// and are not emitted: they stay open in a trace of their own (late).
func (l *Linker) enforceBound() {
	if l.pending-l.waiting <= l.maxSpans {
		return
	}
	var ready []*group
	n := l.pending - l.waiting
	l.byLast.Scan(func(g *group) bool {
		if n <= l.maxSpans*7/8 {
			return false
		}
		if len(g.spans) > g.incomplete {
			ready = append(ready, g)
			n -= len(g.spans) - g.incomplete
		}
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
		held := l.hold(g)
		l.pending -= len(g.spans)
		for _, s := range g.spans {
			l.unindex(s)
		}
		for _, s := range held {
			l.join(s, s.group)
		}
		if len(g.spans) == 0 {
			continue
		}
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

// hold moves the spans of g still waiting for their response into a new
// open group, so that each span is output once, complete. It returns them.
func (l *Linker) hold(g *group) []*Span {
	if g.incomplete <= 0 {
		return nil
	}
	var held []*Span
	kept := g.spans[:0]
	for _, s := range g.spans {
		if s.complete {
			kept = append(kept, s)
		} else {
			held = append(held, s)
		}
	}
	g.spans, g.incomplete = kept, 0
	l.nextID++
	h := &group{id: l.nextID, spans: held, incomplete: len(held), first: held[0].StartNS, last: l.now}
	for _, s := range held {
		s.group, s.late = h, true
		h.first = min(h.first, s.StartNS)
	}
	l.byLast.Set(h)
	return held
}

// unindex removes an emitted span from the completion-time indexes.
func (l *Linker) unindex(s *Span) {
	if l.relink {
		if l.byID[s.SpanID] == s {
			delete(l.byID, s.SpanID)
		}
	} else if !s.noRequest {
		k := hostKey{s.Capture, s.ServerAddr.Addr()}
		if t := l.byServer[k]; t != nil {
			t.Delete(s)
			if t.Len() == 0 {
				delete(l.byServer, k)
			}
		}
		fk := flowKey{s.Capture, s.FlowID}
		if l.lastOnFlow[fk] == s {
			delete(l.lastOnFlow, fk)
		}
	}
	l.unindexHandoff(s)
}
