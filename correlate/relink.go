package correlate

import (
	"container/heap"
	"net/netip"
	"slices"
	"strconv"

	"github.com/wiretrace/wiretrace/protocols"
)

// SpanState is what a linker knows of a span beyond the span format and
// needs again when the span is linked a second time, elsewhere: an agent
// (one capture point) sends it with the span so that an assembler
// ([Relinker]) that gathers the spans of every capture point links them as
// one process reading every capture would.
//
// Timing links need the open spans of the capture point when the span
// completed, which only the agent sees; the agent's choice travels as
// TimingParent. Every other rule depends only on the spans' keys and is
// decided again by the Relinker.
type SpanState struct {
	// HasResponse reports whether a response was seen.
	HasResponse bool `json:"has_response,omitempty"`
	// DoneNS is the packet time at which the span completed (its
	// response, or the time it was ended as a timeout).
	DoneNS int64 `json:"done_ns"`
	// Multi holds every value of the multi-valued link keys in wire
	// order: Kafka topic partitions and offsets, queue handoff values.
	Multi []protocols.Attr `json:"multi,omitempty"`
	// TimingParent is the span id of the enclosing inbound span the agent
	// chose by timing, TimingConfidence its confidence, and TimingJoin
	// whether the hint joins the two traces (it does not when both spans
	// have keys of their own).
	TimingParent     string  `json:"timing_parent,omitempty"`
	TimingConfidence float64 `json:"timing_confidence,omitempty"`
	TimingJoin       bool    `json:"timing_join,omitempty"`
}

// State returns the linker state of s, for a Relinker elsewhere. Call it
// on spans a Builder emitted.
func (s *Span) State() SpanState {
	st := SpanState{HasResponse: s.HasResponse, DoneNS: s.done}
	if len(s.multi) > 0 {
		st.Multi = slices.Clone(s.multi)
	}
	if h := s.hint; h.reason == ReasonTiming && h.parent != nil {
		st.TimingParent = h.parent.SpanID
		st.TimingConfidence = h.conf
		st.TimingJoin = !h.nojoin
	}
	return st
}

// Relinker links spans that Builders elsewhere built: it is the assembler
// side of a fleet. Spans are added with their SpanState in any order;
// Advance replays their start and completion in packet-time order through
// a Linker, so traces, parents, link reasons and trace ids are those one
// Builder gives on all the captures together (provided every span of a
// trace arrived before the packet time passed its completion; see
// Advance). Timing links come from the agents (SpanState.TimingParent);
// every other rule is decided here. It is not safe for concurrent use.
type Relinker struct {
	cfg    Config
	l      *Linker
	stats  *Stats
	q      eventQueue
	seq    uint64
	seen   map[string]struct{}
	order  []string // seen span ids, oldest first, for the bound
	oldest int
	now    int64
}

// maxSeen bounds the span ids a Relinker remembers to drop duplicates.
const maxSeen = 1 << 18

// NewRelinker returns a Relinker that emits traces to sink. Of cfg, it uses
// Window, MaxPendingSpans, SeparateRequestIDAndTraceID, Seed and Logger.
func NewRelinker(cfg *Config, sink Sink) *Relinker {
	r := &Relinker{stats: &Stats{}, seen: make(map[string]struct{})}
	if cfg != nil {
		r.cfg = *cfg
	}
	r.l = newLinker(&r.cfg, sink, r.stats)
	r.l.relink = true
	r.l.byID = make(map[string]*Span)
	return r
}

// Add queues a span and its state. The span's linking results (trace id,
// parent, link reason, timing confidence attribute) are ignored and
// decided again. It returns false, and drops the span, when a span with
// the same id was added before (a record delivered twice).
func (r *Relinker) Add(s *Span, st SpanState) bool {
	if _, dup := r.seen[s.SpanID]; dup {
		r.stats.Duplicates++
		return false
	}
	r.remember(s.SpanID)
	s.TraceID, s.ParentSpanID, s.LinkReason, s.Parent = "", "", "", nil
	if s.Attributes == nil {
		s.Attributes = map[string]any{}
	}
	if s.Links == nil {
		s.Links = map[string]string{}
	}
	delete(s.Attributes, AttrLinkConfidence)
	if !s.ClientAddr.IsValid() {
		s.ClientAddr = endpointAddr(s.Client)
	}
	if !s.ServerAddr.IsValid() {
		s.ServerAddr = endpointAddr(s.Server)
	}
	if v, ok := s.Links["req_tcp_seq"]; ok {
		n, _ := strconv.ParseUint(v, 10, 32)
		s.ReqSeq = uint32(n)
	}
	s.HasResponse = st.HasResponse
	s.multi = st.Multi
	if len(s.multi) > maxMultiLinks {
		s.multi = s.multi[:maxMultiLinks]
	}
	s.timingParent, s.timingConf, s.timingJoin = st.TimingParent, st.TimingConfidence, st.TimingJoin
	s.complete, s.late, s.hint, s.group = false, false, hint{}, nil
	done := max(st.DoneNS, s.EndNS, s.StartNS)
	r.seq++
	heap.Push(&r.q, event{t: s.StartNS, seq: r.seq, s: s})
	r.seq++
	heap.Push(&r.q, event{t: done, seq: r.seq, s: s, done: true})
	return true
}

// Forget lets a span with this id be added again (its trace was handed
// to another assembler and the record may come back).
func (r *Relinker) Forget(id string) { delete(r.seen, id) }

func (r *Relinker) remember(id string) {
	if len(r.order) < maxSeen {
		r.order = append(r.order, id)
	} else {
		delete(r.seen, r.order[r.oldest])
		r.order[r.oldest] = id
		r.oldest = (r.oldest + 1) % maxSeen
	}
	r.seen[id] = struct{}{}
}

func endpointAddr(e Endpoint) netip.AddrPort {
	a, err := netip.ParseAddr(e.IP)
	if err != nil || e.Port < 0 || e.Port > 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, uint16(e.Port))
}

// Advance replays the queued starts and completions up to packet time now,
// in time order, and emits the traces whose window closed. A span added
// later with a start or completion before now is replayed at now: its
// trace may already be out, and it then forms a trace of its own. The
// caller chooses now behind the newest packet time it has seen by its
// lateness allowance.
func (r *Relinker) Advance(now int64) {
	for r.q.Len() > 0 && r.q[0].t <= now {
		r.step(heap.Pop(&r.q).(event))
	}
	r.l.advance(now)
	r.now = max(r.now, now)
}

func (r *Relinker) step(e event) {
	r.l.advance(e.t)
	if !e.done {
		r.l.add(e.s)
		return
	}
	e.s.complete = true
	r.l.completed(e.s)
}

// Flush replays everything queued and emits every open trace.
func (r *Relinker) Flush() error {
	for r.q.Len() > 0 {
		r.step(heap.Pop(&r.q).(event))
	}
	return r.l.flush()
}

// Queued returns the spans added and not yet replayed to completion.
func (r *Relinker) Queued() int {
	n := 0
	for _, e := range r.q {
		if e.done {
			n++
		}
	}
	return n
}

// PendingSpans returns the spans held in open traces, not yet emitted.
func (r *Relinker) PendingSpans() int { return r.l.pending }

// Stats returns the counters so far.
func (r *Relinker) Stats() Stats { return *r.stats }

// event is the start or the completion of a queued span.
type event struct {
	t    int64
	seq  uint64
	s    *Span
	done bool
}

// eventQueue is a min-heap of events by (t, starts before completions,
// span id, seq).
type eventQueue []event

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if a.t != b.t {
		return a.t < b.t
	}
	if a.done != b.done {
		return !a.done
	}
	if a.s.SpanID != b.s.SpanID {
		return a.s.SpanID < b.s.SpanID
	}
	return a.seq < b.seq
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// JoinKeys returns the keys by which s may join spans of other capture
// points in a Relinker with the same cfg: its request id and trace ids
// ("x:", "t:"), custom keys ("c:"), the TCP sequence of its request ("q:"), its Kafka topic
// partitions ("k:", a coarse key: offsets decide within it) and its queue
// handoff values ("h:"). Two spans that a Relinker puts in one trace are
// connected through a chain of spans sharing such keys, or through a
// timing hint (SpanState.TimingParent), which the caller keys itself.
func JoinKeys(cfg *Config, s *Span) []string {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	l := Linker{cfg: &c}
	adopted, fromRID, keyed := s.adopted, s.adoptedFromRequestID, s.keyed
	var ks []string
	for _, k := range l.spanKeys(s) {
		ks = append(ks, k.String())
	}
	s.adopted, s.adoptedFromRequestID, s.keyed = adopted, fromRID, keyed
	for _, a := range s.multi {
		switch a.Key {
		case protocols.LinkKafkaTopicPartition:
			ks = append(ks, "k:"+a.Str)
		case protocols.LinkHandoffSend, protocols.LinkHandoffRecv:
			ks = append(ks, "h:"+a.Str)
		}
	}
	slices.Sort(ks)
	return slices.Compact(ks)
}
