package correlate

import (
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wiretrace/wiretrace/protocols"
)

// Config configures a Builder and its Linker. The zero value of each field
// is its default.
type Config struct {
	// LocalNets lists the address ranges local to the capture point; they
	// decide each span's side. Without them the side comes from the packet
	// direction the capture recorded, else it is "network".
	LocalNets []netip.Prefix
	// Window is how long, in packet time, a trace stays open after its last
	// span joined it; 0 means 5 seconds.
	Window time.Duration
	// MaxPendingSpans bounds the spans held in open traces; beyond it the
	// oldest traces are emitted early (counted). 0 means 262144.
	MaxPendingSpans int
	// MaxPendingRequests bounds the requests awaiting a response on one
	// connection; 0 means 1024. Older ones are ended as timeouts.
	MaxPendingRequests int
	// SeparateRequestIDAndTraceID keeps a 32-hex X-Request-ID apart from an
	// equal trace id. By default they are one key, since gateways often
	// generate the request id and applications reuse it as the trace id.
	SeparateRequestIDAndTraceID bool
	// NoTimingLinks turns off linking by timing (an outbound call made
	// while its host served an enclosing inbound request, with no key on
	// the wire).
	NoTimingLinks bool
	// TimingMinConfidence is the confidence (0..1) below which a timing
	// candidate is not linked and the span stays a root; 0 means 0.5, a
	// negative value accepts every candidate.
	TimingMinConfidence float64
	// Attributor, when set, names the local process and thread of each
	// span (attributes process.pid, thread.id, process.executable.name,
	// container.id) and lets the linker prefer the inbound request that
	// the same thread read (link reason same_thread) over timing alone,
	// and rule out candidates read by another process, or by another
	// thread of a process that keeps each request on one thread.
	Attributor Attributor
	// Seed perturbs generated ids; the same seed and input give the same
	// ids.
	Seed uint64
	// Logger receives lifecycle events; nil discards.
	Logger *slog.Logger
}

// Stats counts spans, traces and what was dropped or forced.
type Stats struct {
	Spans              uint64 // spans emitted
	Traces             uint64 // traces emitted
	Timeouts           uint64 // requests that got no response
	UnmatchedResponses uint64 // responses with no request (turned into partial spans)
	PendingOverflow    uint64 // requests ended early because too many were pending
	WindowForced       uint64 // traces emitted early to respect MaxPendingSpans
	LateSpans          uint64 // spans completed after the rest of their trace was emitted (output in a trace of their own)
	SinkErrors         uint64 // traces the sink failed to write
	TimingLinks        uint64 // spans linked by timing
	TimingRejected     uint64 // timing candidates below TimingMinConfidence (spans left roots)
	SameThreadLinks    uint64 // spans linked by same_thread (Config.Attributor)
	ThreadExcluded     uint64 // timing candidates ruled out because another process or thread read them
	// TimingParentsMissing counts, in a Relinker, timing parents named by
	// an agent that were not open when their child completed.
	TimingParentsMissing uint64
	// Duplicates counts, in a Relinker, spans dropped because their span
	// id was added before (a record delivered twice).
	Duplicates uint64
}

// Each calls f for each counter, in a fixed order.
func (s *Stats) Each(f func(name string, v uint64)) {
	f("spans", s.Spans)
	f("traces", s.Traces)
	f("timeouts", s.Timeouts)
	f("unmatched_responses", s.UnmatchedResponses)
	f("pending_overflow", s.PendingOverflow)
	f("window_forced", s.WindowForced)
	f("late_spans", s.LateSpans)
	f("sink_errors", s.SinkErrors)
	f("timing_links", s.TimingLinks)
	f("timing_rejected", s.TimingRejected)
	f("same_thread_links", s.SameThreadLinks)
	f("thread_excluded", s.ThreadExcluded)
	if s.TimingParentsMissing > 0 {
		f("timing_parents_missing", s.TimingParentsMissing)
	}
	if s.Duplicates > 0 {
		f("duplicate_spans", s.Duplicates)
	}
}

// Builder pairs requests with responses into spans. It implements
// protocols.Handler.
type Builder struct {
	cfg    Config
	linker *Linker
	flows  map[uint64]*flowState
	stats  *Stats
}

var _ protocols.Handler = (*Builder)(nil)

type flowState struct {
	pending []*Span // requests awaiting a response, oldest first
	count   int
	// client and server are the flow's endpoints in the span format,
	// made once per flow.
	client, server Endpoint
}

// match returns the index of the pending request a response answers: the
// one with the same id on multiplexed protocols, else the oldest; -1 when
// there is none.
func (fs *flowState) match(m *protocols.Message) int {
	if !m.HasID {
		if len(fs.pending) > 0 {
			return 0
		}
		return -1
	}
	for i, s := range fs.pending {
		if s.hasReqID && s.reqID == m.ID {
			return i
		}
	}
	return -1
}

// NewBuilder returns a Builder that emits traces to sink.
func NewBuilder(cfg *Config, sink Sink) *Builder {
	b := &Builder{flows: make(map[uint64]*flowState), stats: &Stats{}}
	if cfg != nil {
		b.cfg = *cfg
	}
	if b.cfg.MaxPendingRequests <= 0 {
		b.cfg.MaxPendingRequests = 1024
	}
	if b.cfg.Logger == nil {
		b.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b.linker = newLinker(&b.cfg, sink, b.stats)
	return b
}

// Stats returns the counters so far.
func (b *Builder) Stats() Stats { return *b.stats }

// PendingSpans returns the spans held in open traces, not yet emitted.
func (b *Builder) PendingSpans() int { return b.linker.pending }

// Advance moves packet time to now (Unix ns) and emits the traces whose
// window has closed.
func (b *Builder) Advance(now int64) { b.linker.advance(now) }

// Flush ends every pending request as a timeout and emits every open trace.
// Call it after the decode assembler's Flush.
func (b *Builder) Flush() error {
	// In flow id order, so that output does not depend on map order.
	ids := make([]uint64, 0, len(b.flows))
	for id := range b.flows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		for _, s := range b.flows[id].pending {
			b.timeout(s)
		}
		delete(b.flows, id)
	}
	return b.linker.flush()
}

// Message implements protocols.Handler.
func (b *Builder) Message(f *protocols.Flow, m *protocols.Message) {
	b.linker.advance(m.End)
	fs := b.flows[f.ID]
	if fs == nil {
		fs = &flowState{
			client: Endpoint{IP: f.Client.Addr().String(), Port: int(f.Client.Port())},
			server: Endpoint{IP: f.Server.Addr().String(), Port: int(f.Server.Port())},
		}
		b.flows[f.ID] = fs
	}
	switch m.Kind {
	case protocols.Request:
		s := b.newSpan(f, fs, m)
		if m.NoResponse {
			s.complete = true
			s.Status = statusOf(s, m)
			b.linker.add(s)
			b.linker.completed(s)
			return
		}
		if len(fs.pending) >= b.cfg.MaxPendingRequests {
			b.stats.PendingOverflow++
			old := fs.pending[0]
			fs.pending = fs.pending[1:]
			b.timeout(old)
		}
		fs.pending = append(fs.pending, s)
		b.linker.add(s)
	case protocols.Response:
		if m.Unsolicited {
			s := b.newSpan(f, fs, m)
			s.HasResponse = true
			s.respSeq = m.Seq
			s.noRequest = true
			s.Status = statusOf(s, m)
			s.complete = true
			b.linker.add(s)
			b.linker.completed(s)
			return
		}
		var s *Span
		if i := fs.match(m); i >= 0 {
			s = fs.pending[i]
			fs.pending = slices.Delete(fs.pending, i, i+1)
		} else {
			b.stats.UnmatchedResponses++
			s = b.newSpan(f, fs, m)
			s.Name = s.Protocol + " response"
			s.partial = true
			s.noRequest = true
			b.linker.add(s)
		}
		s.EndNS = m.End
		if s.EndNS < s.StartNS {
			s.EndNS = s.StartNS
		}
		s.HasResponse = true
		s.respSeq = m.Seq
		if !f.Datagram {
			s.Links["resp_tcp_seq"] = strconv.FormatUint(uint64(m.Seq), 10)
		}
		for _, a := range m.Attrs {
			s.Attributes[a.Key] = attrValue(a)
		}
		if m.Partial {
			s.partial = true
		}
		newKeys := addLinks(s, m.Links)
		s.Status = statusOf(s, m)
		s.complete = true
		if newKeys {
			b.linker.rekey(s)
		}
		b.linker.completed(s)
	}
}

// FlowEnd implements protocols.Handler: requests still waiting end as
// timeouts.
func (b *Builder) FlowEnd(f *protocols.Flow, ts int64) {
	b.linker.advance(ts)
	fs := b.flows[f.ID]
	if fs == nil {
		return
	}
	for _, s := range fs.pending {
		b.timeout(s)
	}
	delete(b.flows, f.ID)
}

func (b *Builder) timeout(s *Span) {
	b.stats.Timeouts++
	s.Status = StatusTimeout
	if s.partial {
		s.Status = StatusPartial
	}
	s.complete = true
	b.linker.completed(s)
}

func (b *Builder) newSpan(f *protocols.Flow, fs *flowState, m *protocols.Message) *Span {
	fs.count++
	proto := f.Protocol
	if m.Protocol != "" {
		proto = m.Protocol
	}
	s := &Span{
		Protocol:   proto,
		Name:       m.Name,
		StartNS:    m.Start,
		EndNS:      m.End,
		reqEnd:     m.End,
		ClientAddr: f.Client,
		ServerAddr: f.Server,
		Client:     fs.client,
		Server:     fs.server,
		Capture:    f.Capture,
		FlowID:     f.ID,
		ReqSeq:     m.Seq,
		Attributes: make(map[string]any, len(m.Attrs)+2),
		Links:      make(map[string]string, len(m.Links)+2),
		partial:    m.Partial,
		index:      fs.count,
		reqID:      m.ID,
		hasReqID:   m.HasID && m.Kind == protocols.Request,
	}
	if s.Name == "" {
		s.Name = proto
	}
	s.Side = b.side(f, m)
	for _, a := range m.Attrs {
		s.Attributes[a.Key] = attrValue(a)
	}
	addTunnelAttrs(s.Attributes, f)
	if m.Kind == protocols.Request && !f.Datagram {
		// UDP has no sequence numbers: every datagram would share one
		// key and join unrelated exchanges into one trace.
		s.Links["req_tcp_seq"] = strconv.FormatUint(uint64(m.Seq), 10)
	}
	if m.HasID && f.IDLink != "" {
		s.Links[f.IDLink] = strconv.FormatUint(m.ID, 10)
	}
	addLinks(s, m.Links)
	s.SpanID = spanID(b.cfg.Seed, s.Capture, f.Client, f.Server, m.Seq, m.Start, fs.count)
	return s
}

func (b *Builder) side(f *protocols.Flow, m *protocols.Message) string {
	cl, sl := b.local(f.Client.Addr()), b.local(f.Server.Addr())
	switch {
	case cl && !sl:
		return SideClient
	case sl && !cl:
		return SideServer
	}
	if m.Kind == protocols.Request {
		switch {
		case m.Outbound:
			return SideClient
		case m.Inbound:
			return SideServer
		}
	}
	if cl && sl {
		return SideClient
	}
	return SideNetwork
}

func (b *Builder) local(a netip.Addr) bool {
	for _, p := range b.cfg.LocalNets {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// addTunnelAttrs describes the flow's tunnel, if any: network.tunnel.type
// ("vxlan", "gre", ...), network.tunnel.id (VNI, key, TEID, ... when the
// encapsulation has one) and network.tunnel.outer.src/dst (the outer IP
// header's addresses, src on the client's side).
func addTunnelAttrs(attrs map[string]any, f *protocols.Flow) {
	t := f.Tunnel
	if t.Depth == 0 {
		return
	}
	attrs["network.tunnel.type"] = t.Kind.String()
	if t.HasID {
		attrs["network.tunnel.id"] = int64(t.ID)
	}
	if src := t.Src(); src.IsValid() {
		attrs["network.tunnel.outer.src"] = src.String()
		attrs["network.tunnel.outer.dst"] = t.Dst().String()
	}
}

func attrValue(a protocols.Attr) any {
	if a.IsInt {
		return a.Int
	}
	return a.Str
}

func statusOf(s *Span, m *protocols.Message) string {
	switch {
	case m.Kind == protocols.Response && m.Status == protocols.StatusError:
		return StatusError
	case s.partial:
		return StatusPartial
	}
	return StatusOK
}

// Bounds of custom correlation keys (protocols.LinkKeyPrefix) per span: how
// many, and how long a name and a value may be; others are ignored.
const (
	maxCustomLinks    = 8
	maxCustomKeyLen   = 64
	maxCustomValueLen = 256
)

// maxMultiLinks bounds the values of multi-valued link keys kept per span
// (Kafka topic partitions and offsets, queue handoffs).
const maxMultiLinks = 64

// addLinks records the correlation keys of a message in the span's links,
// interpreting trace headers. Keys already present (from the request) win.
// Every value of a multi-valued key (Kafka topic partition and offset,
// queue handoff) is also kept, in order, for matching. It reports whether
// a key was added.
func addLinks(s *Span, links []protocols.Attr) bool {
	added := false
	keep := func(k, v string) {
		if v != "" && len(s.multi) < maxMultiLinks {
			s.multi = append(s.multi, protocols.Attr{Key: k, Str: v})
			added = true
		}
	}
	set := func(k, v string) {
		if v == "" {
			return
		}
		if _, ok := s.Links[k]; !ok {
			s.Links[k] = v
			added = true
		}
	}
	// setContext records a trace header's ids as <prefix>_trace_id,
	// <prefix>_span_id and <prefix>_parent_span_id (empty ones are skipped).
	setContext := func(prefix string, tc traceContext) {
		set(prefix+"_trace_id", tc.traceID)
		set(prefix+"_span_id", tc.spanID)
		set(prefix+"_parent_span_id", tc.parentID)
	}
	for _, l := range links {
		v := strings.TrimSpace(l.Str)
		switch l.Key {
		case protocols.LinkXRequestID:
			set("x_request_id", v)
		case protocols.LinkTraceparent:
			if tc, ok := parseTraceparent(v); ok {
				setContext("traceparent", tc)
			}
		case protocols.LinkB3:
			if tc, ok := parseB3Single(v); ok {
				setContext("b3", tc)
			}
		case protocols.LinkB3TraceID:
			if id, ok := normTraceID(v); ok {
				set("b3_trace_id", id)
			}
		case protocols.LinkB3SpanID:
			if id, ok := padHex(v, 16); ok {
				set("b3_span_id", id)
			}
		case protocols.LinkB3ParentID:
			if id, ok := padHex(v, 16); ok {
				set("b3_parent_span_id", id)
			}
		case protocols.LinkUberTraceID:
			if tc, ok := parseUberTraceID(v); ok {
				setContext("uber", tc)
			}
		case protocols.LinkKafkaTopicPartition, protocols.LinkKafkaOffset,
			protocols.LinkHandoffSend, protocols.LinkHandoffRecv:
			set(l.Key, v)
			keep(l.Key, v)
		case protocols.LinkSW8:
			if t, seg, sp, ok := parseSW8(v); ok {
				set("sw8_trace_id", t)
				set("sw8_segment_id", seg)
				set("sw8_span_id", sp)
			}
		case protocols.LinkEagleEyeTraceID:
			if validEagleEye(v) {
				set("eagleeye_trace_id", v)
			}
		default:
			if strings.HasPrefix(l.Key, protocols.LinkKeyPrefix) && len(l.Key) > len(protocols.LinkKeyPrefix) &&
				len(l.Key) <= maxCustomKeyLen && len(v) <= maxCustomValueLen && s.custom < maxCustomLinks {
				if _, ok := s.Links[l.Key]; !ok && v != "" {
					s.custom++
					set(l.Key, v)
				}
			}
		}
	}
	return added
}
