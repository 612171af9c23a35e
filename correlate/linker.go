package correlate

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tidwall/btree"

	"github.com/wiretrace/wiretrace/protocols"
)

// group is a set of spans joined by shared keys: one trace in the making.
type group struct {
	id         uint64
	spans      []*Span
	keys       []linkKey
	incomplete int
	first      int64 // earliest span start
	last       int64 // packet time of the latest activity
	emitted    bool
	gone       bool // merged into another group
	// one and keyBuf back spans and keys while the group has one span
	// and at most three keys (most groups), saving their allocations.
	one    [1]*Span
	keyBuf [3]linkKey
}

// linkKey is a key spans are joined by: a request id (kind 'x'), a trace
// id ('t'), a custom key ('c', "key_NAME=value") or one TCP exchange
// ('q': the client, server and request
// sequence number of span s). No string is built per span.
type linkKey struct {
	kind byte
	id   string
	s    *Span
}

// strKey is a request id or trace id key, as Linker.keys holds it.
type strKey struct {
	kind byte
	id   string
}

// exchange names one request on the wire.
type exchange struct {
	client, server netip.AddrPort
	seq            uint32
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

	keys   map[strKey]*group    // request id and trace id keys
	seqs   map[exchange]*group  // TCP exchange keys
	seqs4  map[exchange4]*group // TCP exchange keys between IPv4 addresses
	keyBuf []linkKey            // reused by spanKeys
	// heapKept holds groups taken off byLast while scanning, reused.
	heapKept []*group
	seqBuf   []*Span   // reused by link
	byLast   groupHeap // open groups ordered by (last, id)
	nextID   uint64
	nextSeq  uint64
	pending  int // spans in open groups
	waiting  int // spans in open groups still waiting for their response
	now      int64
	scanned  int64
	err      error

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
	pivot      Span            // search key for byServer, reused
	cands      []timingCand    // reused by decideTiming
	migrating  map[uint32]bool // pids seen answering on another thread than the reading one (thread.go)
	prodMax    int64           // longest producer offset range indexed
	fetchMax   int64           // longest fetch offset range indexed

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
		keys:     make(map[strKey]*group),
		seqs:     make(map[exchange]*group),
		seqs4:    make(map[exchange4]*group),
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
	return l
}

// spanKeys lists the keys a span can be joined by. The slice is reused by
// the next call.
func (l *Linker) spanKeys(s *Span) []linkKey {
	ks := l.keyBuf[:0]
	if v := s.Links["x_request_id"]; usableRequestID(v) {
		ks = append(ks, linkKey{kind: 'x', id: v})
		if !l.cfg.SeparateRequestIDAndTraceID && len(v) == 32 && isHex(v) {
			ks = append(ks, linkKey{kind: 't', id: toLower(v)})
		}
	}
	s.adopted, s.adoptedFromRequestID = "", false
	for _, k := range [...]string{"traceparent_trace_id", "b3_trace_id", "uber_trace_id"} {
		if v := s.Links[k]; v != "" {
			ks = append(ks, linkKey{kind: 't', id: v})
			if s.adopted == "" {
				s.adopted = v
			}
		}
	}
	if v := s.Links["sw8_trace_id"]; v != "" {
		id := traceIDFrom(0, "sw8:"+v)
		ks = append(ks, linkKey{kind: 't', id: id})
		if s.adopted == "" {
			s.adopted = id
		}
	}
	if v := s.Links["eagleeye_trace_id"]; v != "" {
		id := traceIDFrom(0, "eagleeye:"+v)
		ks = append(ks, linkKey{kind: 't', id: id})
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
	if s.custom > 0 {
		ks = append(ks, customKeys(s)...)
	}
	s.keyed = len(ks) > 0
	if _, ok := s.Links["req_tcp_seq"]; ok {
		ks = append(ks, seqKey(s))
	}
	l.keyBuf = ks
	return ks
}

// customKeys returns the join keys of s's custom correlation keys
// (protocols.LinkKeyPrefix) with a usable value, in name order.
func customKeys(s *Span) []linkKey {
	var ks []linkKey
	for k, v := range s.Links {
		if strings.HasPrefix(k, protocols.LinkKeyPrefix) && usableRequestID(v) {
			ks = append(ks, linkKey{kind: 'c', id: k + "=" + v})
		}
	}
	slices.SortFunc(ks, func(a, b linkKey) int { return strings.Compare(a.id, b.id) })
	return ks
}

// sharesCustomKey reports whether p and s carry a custom correlation key
// of the same name and a usable, equal value.
func sharesCustomKey(p, s *Span) bool {
	if p.custom == 0 || s.custom == 0 {
		return false
	}
	for k, v := range s.Links {
		if strings.HasPrefix(k, protocols.LinkKeyPrefix) && usableRequestID(v) && p.Links[k] == v {
			return true
		}
	}
	return false
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

// String returns the key as text, "KIND:ID" ("q:CLIENT|SERVER|SEQ" for an
// exchange), for JoinKeys.
func (k linkKey) String() string {
	if k.kind == 'q' {
		return fmt.Sprintf("q:%s|%s|%d", k.s.ClientAddr, k.s.ServerAddr, k.s.ReqSeq)
	}
	return string(k.kind) + ":" + k.id
}

// seqKey is the key of s's exchange on the wire.
func seqKey(s *Span) linkKey {
	return linkKey{kind: 'q', s: s}
}

// exchangeOf returns s's exchange on the wire.
func exchangeOf(s *Span) exchange {
	return exchange{s.ClientAddr, s.ServerAddr, s.ReqSeq}
}

// exchange4 is an exchange between two IPv4 addresses (not IPv4-mapped
// IPv6 ones), in a quarter of the space.
type exchange4 struct {
	client, server [4]byte
	cport, sport   uint16
	seq            uint32
}

// exchange4Of returns s's exchange as an exchange4, if it is one.
func exchange4Of(s *Span) (exchange4, bool) {
	c, v := s.ClientAddr, s.ServerAddr
	if !c.Addr().Is4() || !v.Addr().Is4() {
		return exchange4{}, false
	}
	return exchange4{c.Addr().As4(), v.Addr().As4(), c.Port(), v.Port(), s.ReqSeq}, true
}

// group returns the open group that holds key k.
func (l *Linker) group(k linkKey) (*group, bool) {
	if k.kind == 'q' {
		if e, ok := exchange4Of(k.s); ok {
			g, ok := l.seqs4[e]
			return g, ok
		}
		g, ok := l.seqs[exchangeOf(k.s)]
		return g, ok
	}
	g, ok := l.keys[strKey{k.kind, k.id}]
	return g, ok
}

// setGroup records that key k belongs to g.
func (l *Linker) setGroup(k linkKey, g *group) {
	if k.kind == 'q' {
		if e, ok := exchange4Of(k.s); ok {
			l.seqs4[e] = g
		} else {
			l.seqs[exchangeOf(k.s)] = g
		}
	} else {
		l.keys[strKey{k.kind, k.id}] = g
	}
}

// dropKey forgets key k if it belongs to g.
func (l *Linker) dropKey(k linkKey, g *group) {
	if k.kind == 'q' {
		if e, ok := exchange4Of(k.s); ok {
			if l.seqs4[e] == g {
				delete(l.seqs4, e)
			}
		} else if e := exchangeOf(k.s); l.seqs[e] == g {
			delete(l.seqs, e)
		}
	} else if sk := (strKey{k.kind, k.id}); l.keys[sk] == g {
		delete(l.keys, sk)
	}
}

// toLower returns s with ASCII upper case letters lowered; s itself, with
// no allocation, when it has none.
func toLower(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func (l *Linker) touch(g *group) {
	if l.now > g.last {
		g.last = l.now
		l.byLast.push(g)
	}
}

// add registers a new span (its request seen, maybe not yet complete).
func (l *Linker) add(s *Span) {
	l.nextID++
	l.nextSeq++
	s.seq = l.nextSeq
	g := &group{id: l.nextID, first: s.StartNS, last: l.now}
	g.one[0] = s
	g.spans, g.keys = g.one[:], g.keyBuf[:0]
	if !s.complete {
		g.incomplete = 1
		l.waiting++
	}
	s.group = g
	l.pending++
	l.byLast.push(g)
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
		other, ok := l.group(k)
		switch {
		case !ok:
			l.setGroup(k, g)
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
	b.gone = true
	for _, s := range b.spans {
		s.group = a
	}
	a.spans = append(a.spans, b.spans...)
	for _, k := range b.keys {
		l.setGroup(k, a)
	}
	a.keys = append(a.keys, b.keys...)
	a.incomplete += b.incomplete
	a.first = min(a.first, b.first)
	if b.last > a.last {
		a.last = b.last
		l.byLast.push(a)
	}
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
	l.attribute(s)
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
	kept := l.heapKept[:0]
	for {
		g := l.byLast.min()
		if g == nil || g.last+l.window > l.now {
			break
		}
		l.byLast.pop()
		if g.incomplete <= 0 {
			ready = append(ready, g)
		} else {
			kept = append(kept, g)
		}
	}
	for _, g := range kept {
		l.byLast.push(g)
	}
	clear(kept)
	l.heapKept = kept[:0]
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
	kept := l.heapKept[:0]
	n := l.pending - l.waiting
	for n > l.maxSpans*7/8 {
		g := l.byLast.min()
		if g == nil {
			break
		}
		l.byLast.pop()
		if len(g.spans) > g.incomplete {
			ready = append(ready, g)
			n -= len(g.spans) - g.incomplete
		} else {
			kept = append(kept, g)
		}
	}
	for _, g := range kept {
		l.byLast.push(g)
	}
	clear(kept)
	l.heapKept = kept[:0]
	l.stats.WindowForced += uint64(len(ready))
	l.emit(ready)
}

// flush emits every open trace.
func (l *Linker) flush() error {
	all := l.byLast.drain()
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
		for _, k := range g.keys {
			l.dropKey(k, g)
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
	l.byLast.push(h)
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

// groupHeap orders open groups by (last, id), the order in which their
// windows close: a binary heap of entries with lazy deletion. A group gets
// an entry when it is created and each time its last activity moves; an
// entry whose group has since moved, merged or been emitted is stale and
// dropped when it reaches the top. Compared to a search tree it costs no
// deletion per activity, and a new entry (the latest activity) usually
// stays where it is appended.
type groupHeap struct {
	h []heapEntry
	// compactAt is the length beyond which stale entries are dropped.
	compactAt int
}

type heapEntry struct {
	last int64
	id   uint64
	g    *group
}

func (e *heapEntry) valid() bool {
	return !e.g.emitted && !e.g.gone && e.g.last == e.last
}

func (e *heapEntry) less(f *heapEntry) bool {
	if e.last != f.last {
		return e.last < f.last
	}
	return e.id < f.id
}

// push adds an entry for g at its current last activity.
func (q *groupHeap) push(g *group) {
	if len(q.h) >= q.compactAt {
		q.compact()
	}
	q.h = append(q.h, heapEntry{last: g.last, id: g.id, g: g})
	q.up(len(q.h) - 1)
}

// min returns the group with the lowest (last, id), dropping stale
// entries, or nil.
func (q *groupHeap) min() *group {
	for len(q.h) > 0 {
		if q.h[0].valid() {
			return q.h[0].g
		}
		q.pop()
	}
	return nil
}

// pop removes the top entry.
func (q *groupHeap) pop() {
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = heapEntry{}
	q.h = q.h[:n]
	if n > 0 {
		q.down(0)
	}
}

// drain returns every open group and empties the heap.
func (q *groupHeap) drain() []*group {
	var all []*group
	for i := range q.h {
		if q.h[i].valid() {
			all = append(all, q.h[i].g)
		}
	}
	clear(q.h)
	q.h = q.h[:0]
	return all
}

// compact drops stale entries and restores the heap order.
func (q *groupHeap) compact() {
	kept := q.h[:0]
	for _, e := range q.h {
		if e.valid() {
			kept = append(kept, e)
		}
	}
	clear(q.h[len(kept):])
	q.h = kept
	for i := len(q.h)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
	q.compactAt = max(2*len(q.h), 1024)
}

func (q *groupHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.h[i].less(&q.h[p]) {
			return
		}
		q.h[i], q.h[p] = q.h[p], q.h[i]
		i = p
	}
}

func (q *groupHeap) down(i int) {
	n := len(q.h)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && q.h[c+1].less(&q.h[c]) {
			c++
		}
		if !q.h[c].less(&q.h[i]) {
			return
		}
		q.h[i], q.h[c] = q.h[c], q.h[i]
		i = c
	}
}
