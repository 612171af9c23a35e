package store

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/btree"
	"github.com/wiretrace/wiretrace/correlate"
)

// Defaults of Config fields.
const (
	DefaultRetention = time.Hour
	DefaultMaxSpans  = 1 << 20
)

// Config configures a Store. The zero value of each field is its default.
type Config struct {
	// Retention is how long, in packet time back from the newest span end
	// seen, a trace is kept after its last span ended; 0 means 1h.
	Retention time.Duration
	// MaxSpans bounds the spans kept; beyond it the traces that started
	// first are evicted. 0 means 1048576.
	MaxSpans int
	// Names maps addresses to service names.
	Names Names
}

// Names maps addresses to service names. A key is an address with a port
// ("10.0.0.3:8080") or without ("10.0.0.3"); the key with the port wins.
//
// A span's service is the service that the capture point observed
// handling it: the client's for client-side spans (the capture point sits
// at the client), the server's for server-side and network spans. Without
// a name, a server is named by "ip:port" (the port tells services on one
// host apart) and a client by its ip (its port is ephemeral).
type Names map[string]string

// Server returns the server's service name of sp.
func (n Names) Server(sp *correlate.Span) string {
	ap := serverAddr(sp)
	if name, ok := n.lookup(ap); ok {
		return name
	}
	return ap.String()
}

// Client returns the client's service name of sp.
func (n Names) Client(sp *correlate.Span) string {
	ap := clientAddr(sp)
	if name, ok := n.lookup(ap); ok {
		return name
	}
	if ap.IsValid() {
		return ap.Addr().String()
	}
	return sp.Client.IP
}

// serverAddr returns sp's server address, from the span-format fields when
// the span was not built by this process (decoded from JSON Lines, say).
func serverAddr(sp *correlate.Span) netip.AddrPort {
	if sp.ServerAddr.IsValid() {
		return sp.ServerAddr
	}
	return netip.AddrPortFrom(parseAddr(sp.Server.IP), uint16(sp.Server.Port))
}

// clientAddr is serverAddr for the client end.
func clientAddr(sp *correlate.Span) netip.AddrPort {
	if sp.ClientAddr.IsValid() {
		return sp.ClientAddr
	}
	return netip.AddrPortFrom(parseAddr(sp.Client.IP), uint16(sp.Client.Port))
}

// Service returns the service sp belongs to: the client's for a
// client-side span, else the server's.
func (n Names) Service(sp *correlate.Span) string {
	if sp.Side == correlate.SideClient {
		return n.Client(sp)
	}
	return n.Server(sp)
}

func (n Names) has(ap netip.AddrPort) bool {
	_, ok := n.lookup(ap)
	return ok
}

func (n Names) lookup(ap netip.AddrPort) (string, bool) {
	if len(n) == 0 || !ap.IsValid() {
		return "", false
	}
	if name, ok := n[ap.String()]; ok {
		return name, true
	}
	name, ok := n[ap.Addr().String()]
	return name, ok
}

func parseAddr(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

// Stats counts what the store holds and evicted. Traces and Spans are
// current values; the others only grow.
type Stats struct {
	Traces           uint64 // traces held now
	Spans            uint64 // spans held now
	TracesWritten    uint64 // traces written (merges included)
	EvictedRetention uint64 // traces evicted because they were older than Retention
	EvictedLimit     uint64 // traces evicted to stay within MaxSpans
	EvictedSpans     uint64 // spans of the evicted traces
}

// Each calls f for each counter, in a fixed order.
func (s Stats) Each(f func(name string, v uint64)) {
	f("store_traces", s.Traces)
	f("store_spans", s.Spans)
	f("store_traces_written", s.TracesWritten)
	f("store_evicted_retention", s.EvictedRetention)
	f("store_evicted_limit", s.EvictedLimit)
	f("store_evicted_spans", s.EvictedSpans)
}

// entry is one stored trace.
type entry struct {
	id         string
	start, end int64
	spans      []*correlate.Span
}

// Store is an in-memory span store. The zero value is not usable; call New.
type Store struct {
	mu       sync.RWMutex
	cfg      Config
	byID     map[string]*entry
	byTime   *btree.BTreeG[*entry]        // ordered by (start, id)
	ops      map[string]map[Operation]int // by service
	spans    int
	newest   int64
	longest  int64 // the longest end-start of a stored trace, for scans
	stats    Stats
	retainNS int64
}

var _ correlate.Sink = (*Store)(nil)

// New returns an empty store.
func New(cfg *Config) *Store {
	s := &Store{byID: make(map[string]*entry), ops: make(map[string]map[Operation]int)}
	if cfg != nil {
		s.cfg = *cfg
	}
	if s.cfg.Retention <= 0 {
		s.cfg.Retention = DefaultRetention
	}
	if s.cfg.MaxSpans <= 0 {
		s.cfg.MaxSpans = DefaultMaxSpans
	}
	s.retainNS = int64(s.cfg.Retention)
	s.byTime = btree.NewBTreeGOptions(func(a, b *entry) bool {
		if a.start != b.start {
			return a.start < b.start
		}
		return a.id < b.id
	}, btree.Options{NoLocks: true})
	return s
}

// Names returns the store's address-to-service map.
func (s *Store) Names() Names { return s.cfg.Names }

// WriteTrace implements correlate.Sink: it stores t (merging it into a
// stored trace with the same id), then evicts what falls out of the
// bounds. The store keeps t's spans.
func (s *Store) WriteTrace(t *correlate.Trace) error {
	if len(t.Spans) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.TracesWritten++
	e := s.byID[t.ID]
	if e != nil {
		s.byTime.Delete(e)
	} else {
		e = &entry{id: t.ID, start: math.MaxInt64, end: math.MinInt64}
		s.byID[t.ID] = e
	}
	for _, sp := range t.Spans {
		e.spans = append(e.spans, sp)
		e.start = min(e.start, sp.StartNS)
		e.end = max(e.end, sp.EndNS)
		s.newest = max(s.newest, sp.EndNS)
		s.addOp(sp, 1)
	}
	slices.SortStableFunc(e.spans, func(a, b *correlate.Span) int { return cmp.Compare(a.StartNS, b.StartNS) })
	s.spans += len(t.Spans)
	s.longest = max(s.longest, e.end-e.start)
	s.byTime.Set(e)
	s.evict()
	return nil
}

// Close implements correlate.Sink; the store stays readable.
func (s *Store) Close() error { return nil }

func (s *Store) addOp(sp *correlate.Span, d int) {
	svc := s.cfg.Names.Service(sp)
	m := s.ops[svc]
	if m == nil {
		if d < 0 {
			return
		}
		m = make(map[Operation]int)
		s.ops[svc] = m
	}
	op := Operation{Name: sp.Name, Kind: SpanKind(sp)}
	m[op] += d
	if m[op] <= 0 {
		delete(m, op)
		if len(m) == 0 {
			delete(s.ops, svc)
		}
	}
}

// evict drops traces older than the retention, then the oldest while there
// are too many spans.
func (s *Store) evict() {
	cutoff := s.newest - s.retainNS
	var old []*entry
	s.byTime.Scan(func(e *entry) bool {
		if e.start >= cutoff {
			return false
		}
		if e.end < cutoff {
			old = append(old, e)
		}
		return true
	})
	for _, e := range old {
		s.remove(e)
		s.stats.EvictedRetention++
	}
	for s.spans > s.cfg.MaxSpans {
		e, ok := s.byTime.Min()
		if !ok {
			break
		}
		s.remove(e)
		s.stats.EvictedLimit++
	}
}

func (s *Store) remove(e *entry) {
	s.byTime.Delete(e)
	delete(s.byID, e.id)
	for _, sp := range e.spans {
		s.addOp(sp, -1)
	}
	s.spans -= len(e.spans)
	s.stats.EvictedSpans += uint64(len(e.spans))
}

// Stats returns the counters so far.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := s.stats
	st.Traces = uint64(len(s.byID))
	st.Spans = uint64(s.spans)
	return st
}

// Newest returns the newest span end seen (Unix ns), 0 before any span.
func (s *Store) Newest() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.newest
}

// Trace returns the stored trace with the given id (32 hex, case
// insensitive; shorter ids are left-padded with zeros).
func (s *Store) Trace(id string) (*correlate.Trace, bool) {
	id = NormalizeTraceID(id)
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.byID[id]
	if e == nil {
		return nil, false
	}
	return e.trace(), true
}

func (e *entry) trace() *correlate.Trace {
	return &correlate.Trace{ID: e.id, Spans: slices.Clone(e.spans)}
}

// NormalizeTraceID lower-cases id and left-pads it with zeros to 32 hex
// digits (Jaeger drops leading zeros of 64-bit-high trace ids).
func NormalizeTraceID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) < 32 {
		id = strings.Repeat("0", 32-len(id)) + id
	}
	return id
}

// Query selects traces: a trace matches when one of its spans matches every
// set field.
type Query struct {
	// Service is the span's service (see Names); "" matches any.
	Service string
	// Operation is the span's name; "" matches any.
	Operation string
	// Start and End bound the span's start (Unix ns, inclusive); 0 means
	// unbounded.
	Start, End int64
	// MinDuration and MaxDuration bound the span's duration; 0 means
	// unbounded.
	MinDuration, MaxDuration time.Duration
	// Tags must all equal the span's attributes or links (compared as
	// text), or its status ("status", "error" = "true"/"false").
	Tags map[string]string
	// Limit is the most traces returned; 0 means 20.
	Limit int
}

// Find returns the traces matching q, the most recently started first.
func (s *Store) Find(q *Query) []*correlate.Trace {
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*correlate.Trace
	visit := func(e *entry) bool {
		if q.Start != 0 && e.start < q.Start-s.longest {
			return false // no span of this or earlier traces starts late enough
		}
		if s.match(e, q) {
			out = append(out, e.trace())
		}
		return len(out) < limit
	}
	if q.End != 0 {
		s.byTime.Descend(&entry{start: q.End, id: "\xff"}, visit)
	} else {
		s.byTime.Reverse(visit)
	}
	return out
}

func (s *Store) match(e *entry, q *Query) bool {
	for _, sp := range e.spans {
		if q.Start != 0 && sp.StartNS < q.Start || q.End != 0 && sp.StartNS > q.End {
			continue
		}
		d := time.Duration(sp.Duration())
		if q.MinDuration > 0 && d < q.MinDuration || q.MaxDuration > 0 && d > q.MaxDuration {
			continue
		}
		if q.Operation != "" && sp.Name != q.Operation {
			continue
		}
		if q.Service != "" && s.cfg.Names.Service(sp) != q.Service {
			continue
		}
		if !matchTags(sp, q.Tags) {
			continue
		}
		return true
	}
	return false
}

func matchTags(sp *correlate.Span, tags map[string]string) bool {
	for k, want := range tags {
		var got string
		switch {
		case k == "error":
			got = "false"
			if sp.Status == correlate.StatusError {
				got = "true"
			}
		case k == "status":
			got = sp.Status
		default:
			if v, ok := sp.Attributes[k]; ok {
				got = text(v)
			} else if v, ok := sp.Links[k]; ok {
				got = v
			} else {
				return false
			}
		}
		if got != want {
			return false
		}
	}
	return true
}

// Services returns the services of the stored spans, sorted.
func (s *Store) Services() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.ops))
	for svc := range s.ops {
		out = append(out, svc)
	}
	slices.Sort(out)
	return out
}

// Operation is a span name and the kind of the spans that have it.
type Operation struct {
	Name string
	// Kind is "client" for client-side spans, else "server" (see
	// SpanKind).
	Kind string
}

// SpanKind returns the kind of sp as seen from its service (see Names):
// "client" for a client-side span, else "server".
func SpanKind(sp *correlate.Span) string {
	if sp.Side == correlate.SideClient {
		return "client"
	}
	return "server"
}

// Operations returns the span names of service's stored spans, sorted.
func (s *Store) Operations(service string) []string {
	var out []string
	for _, op := range s.OperationKinds(service) {
		if len(out) == 0 || out[len(out)-1] != op.Name {
			out = append(out, op.Name)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// OperationKinds returns the operations of service's stored spans, sorted
// by name, then kind.
func (s *Store) OperationKinds(service string) []Operation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Operation, 0, len(s.ops[service]))
	for op := range s.ops[service] {
		out = append(out, op)
	}
	slices.SortFunc(out, func(a, b Operation) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind))
	})
	return out
}

// Dependency is a count of calls from one service to another.
type Dependency struct {
	Parent, Child string
	CallCount     uint64
}

// Dependencies counts the calls seen in the traces that started in
// [start, end] (Unix ns; 0 = unbounded): one per span, from its client's
// service (Parent) to its server's (Child). A client without a configured
// name is named after the one service its address serves, if there is
// exactly one. Sorted by parent, then child.
func (s *Store) Dependencies(start, end int64) []Dependency {
	s.mu.RLock()
	defer s.mu.RUnlock()
	type key struct{ p, c string }
	counts := map[key]uint64{}
	// An unnamed client is named after the service it serves, when its
	// address serves exactly one: calls then chain service to service.
	served := map[netip.Addr]string{}
	var spans []*correlate.Span
	s.byTime.Scan(func(e *entry) bool {
		if end != 0 && e.start > end {
			return false
		}
		if start != 0 && e.start < start {
			return true
		}
		for _, sp := range e.spans {
			spans = append(spans, sp)
			a, svc := serverAddr(sp).Addr(), s.cfg.Names.Server(sp)
			if prev, ok := served[a]; ok && prev != svc {
				svc = ""
			}
			served[a] = svc
		}
		return true
	})
	for _, sp := range spans {
		client := s.cfg.Names.Client(sp)
		if ca := clientAddr(sp); !s.cfg.Names.has(ca) {
			if svc := served[ca.Addr()]; svc != "" {
				client = svc
			}
		}
		counts[key{client, s.cfg.Names.Server(sp)}]++
	}
	out := make([]Dependency, 0, len(counts))
	for k, n := range counts {
		out = append(out, Dependency{Parent: k.p, Child: k.c, CallCount: n})
	}
	slices.SortFunc(out, func(a, b Dependency) int {
		return cmp.Or(cmp.Compare(a.Parent, b.Parent), cmp.Compare(a.Child, b.Child))
	})
	return out
}

// text formats an attribute value for tag comparison.
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}
