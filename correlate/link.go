package correlate

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/wiretrace/wiretrace/protocols"
)

// maxCandidates bounds the parent candidates examined per span and index.
const maxCandidates = 256

// link decides parents and the trace id of a finished group.
//
// Rules, in order; a span keeps the first parent a rule gives it:
//  1. The same exchange seen at several capture points (same client, server
//     and request sequence number) is one hop: the view nearest the client
//     (side "client", else the earliest) is the parent of the others
//     (tcp_seq).
//  2. The same exchange seen at several capture points through NAT (the
//     addresses and sequence numbers differ): a trace header names the
//     caller's span, so on a hop A→B, A's outbound request and B's inbound
//     request carry the same header (trace id and span id). Views at
//     different capture points with the same header, protocol and name,
//     where one encloses the other in time, are one hop: the enclosing one
//     is the parent (trace_header); a client view is never the child of a
//     server view. B's own calls carry another span id (B's client span)
//     and are linked to B's inbound span by rule 5.
//  3. A Kafka consumer span (Fetch) whose records carry the trace header
//     (trace id and span id) of a producer span (Produce) is its child
//     (trace_header); the earliest producer wins.
//  4. Parents chosen when the span completed (see hints.go): a Fetch whose
//     returned offsets contain records of a Produce is its child
//     (kafka_correlation); a span that received a queue handoff value is
//     the child of the span that sent it (queue_handoff).
//  5. A span S sent by host H is the child of the span P served by H that
//     carries the same X-Request-ID (x_request_id) or the same trace id
//     (trace_header) and encloses S in time. When several qualify, the one
//     seen at S's capture point, then the latest to start, wins. When none
//     encloses S, a span served by H with the same key that started before
//     S is its parent the same way (a fire-and-forget call made after the
//     response, or one that outlives it). A message a broker delivered
//     to host H (a span with no request that received a queue handoff
//     value: a NATS MSG, an MQTT PUBLISH from the broker, a Redis pub/sub
//     message) counts as served by H, so a consumer's calls that carry the
//     message's trace id or request id hang under the delivery. With side
//     information, a server span and a client span of the same capture
//     point also qualify when their addresses differ (NAT, several
//     interfaces).
//  6. Same thread (with Config.Attributor): an outbound span with no
//     parent yet is the child of the enclosing inbound span of its host
//     that the thread which sent it had read, when exactly one such span
//     was open when it completed (same_thread; see thread.go).
//  7. Timing: an outbound span with no parent yet is the child of the
//     enclosing inbound span of its host chosen when it completed, if that
//     span is in the trace (timing, with attribute
//     wiretrace.link.confidence). With Config.Attributor, candidates read
//     by another process, or by another thread of a process that keeps
//     each request on one thread, are not considered.
//
// The trace id is the trace id adopted from a trace header of the earliest
// span that carries one, else a 32-hex X-Request-ID (unless
// Config.SeparateRequestIDAndTraceID), else one derived from the first
// root's span id.
func (l *Linker) link(g *group) *Trace {
	spans := g.spans
	slices.SortFunc(spans, func(a, b *Span) int {
		return cmp.Or(cmp.Compare(a.StartNS, b.StartNS), cmp.Compare(a.SpanID, b.SpanID))
	})
	for _, s := range spans {
		s.Parent, s.ParentSpanID, s.LinkReason = nil, "", ""
	}

	// Rule 1: several views of one exchange. The spans with a sequence
	// number, stably sorted by exchange, give each exchange's views in
	// span order; exchanges are independent, so their order is not.
	seqs := l.seqBuf[:0]
	for _, s := range spans {
		if _, ok := s.Links["req_tcp_seq"]; ok {
			seqs = append(seqs, s)
		}
	}
	if len(seqs) > 1 {
		slices.SortStableFunc(seqs, compareExchange)
	}
	for i, j := 0, 0; i < len(seqs); i = j {
		for j = i + 1; j < len(seqs) && compareExchange(seqs[i], seqs[j]) == 0; j++ {
		}
		views := seqs[i:j]
		if len(views) < 2 {
			continue
		}
		primary := views[0]
		for _, v := range views[1:] {
			if v.Side == SideClient && primary.Side != SideClient {
				primary = v
			}
		}
		for _, v := range views {
			if v != primary && v.Capture != primary.Capture {
				setParent(v, primary, ReasonTCPSeq)
			}
		}
	}
	clear(seqs)
	l.seqBuf = seqs[:0]

	// Rule 2: one hop seen through NAT, by identical trace headers.
	byHdr := make(map[string][]*Span)
	var hdrOrder []string
	for _, s := range spans {
		k := headerKey(s)
		if k == "" {
			continue
		}
		if _, ok := byHdr[k]; !ok {
			hdrOrder = append(hdrOrder, k)
		}
		byHdr[k] = append(byHdr[k], s)
	}
	for _, k := range hdrOrder {
		list := byHdr[k]
		for j, v := range list {
			if v.Parent != nil || kafkaRole(v) != "" {
				continue
			}
			for i := j - 1; i >= 0 && j-i <= maxCandidates; i-- {
				u := list[i]
				if u.Capture == v.Capture || u.Protocol != v.Protocol || u.Name != v.Name ||
					kafkaRole(u) != "" || !encloses(u, v) ||
					u.Side == SideServer && v.Side == SideClient || isAncestor(v, u) {
					continue
				}
				setParent(v, u, ReasonTraceHeader)
				break
			}
		}
	}

	// Rule 3: a Kafka consumer whose records carry a producer's header.
	for _, k := range hdrOrder {
		var producer *Span
		for _, s := range byHdr[k] {
			switch kafkaRole(s) {
			case "send":
				if producer == nil {
					producer = s
				}
			case "receive":
				if producer != nil && s.Parent == nil && !isAncestor(s, producer) {
					setParent(s, producer, ReasonTraceHeader)
				}
			}
		}
	}

	// Rule 4: Kafka offsets and queue handoffs, decided at completion.
	for _, s := range spans {
		if h := s.hint; s.Parent == nil && h.parent != nil && h.reason != ReasonTiming && h.reason != ReasonSameThread &&
			h.parent.group == g && !isAncestor(s, h.parent) {
			setParent(s, h.parent, h.reason)
		}
	}

	// Rule 5: the span served by the sender that shares a key. Candidates
	// come from two indexes sorted by start time (spans is), and at most
	// maxCandidates of each are examined per span, so a hostile flood of
	// spans sharing one key costs O(n log n), not O(n²). A trace small
	// enough that no index could exceed maxCandidates is scanned instead,
	// in the same order, without building the indexes.
	small := len(spans) <= maxCandidates/2
	var byServer map[netip.Addr][]*Span
	var byView map[string][]*Span
	if !small {
		byServer = make(map[netip.Addr][]*Span)
		byView = make(map[string][]*Span)
	}
	for _, p := range spans {
		if small {
			break
		}
		byServer[p.ServerAddr.Addr()] = append(byServer[p.ServerAddr.Addr()], p)
		if p.delivery() {
			// A message delivered to a consumer is what the
			// consumer's host serves: its calls hang under it.
			byServer[p.ClientAddr.Addr()] = append(byServer[p.ClientAddr.Addr()], p)
		}
		if p.Side == SideServer {
			byView[p.Capture] = append(byView[p.Capture], p)
		}
	}
	for _, s := range spans {
		if s.Parent != nil {
			continue
		}
		var best, late *Span
		bestReason, lateReason := "", ""
		visit := func(p *Span, sameHost bool) {
			if p == s {
				return
			}
			if !sameHost && (p.Capture != s.Capture || s.Side != SideClient) {
				return
			}
			reason := sharedKey(p, s)
			if reason == "" || isAncestor(s, p) {
				return
			}
			if !encloses(p, s) {
				// A call that outlives the request it was made for
				// (fire-and-forget): the key still names its parent.
				if sameHost && (late == nil || better(p, late, s)) {
					late, lateReason = p, reason
				}
				return
			}
			if best == nil || better(p, best, s) {
				best, bestReason = p, reason
			}
		}
		consider := func(list []*Span, sameHost bool) {
			i, _ := slices.BinarySearchFunc(list, s.StartNS+1, startCmp)
			for n := 0; i > 0 && n < maxCandidates; n++ {
				i--
				visit(list[i], sameHost)
			}
		}
		if small {
			host := s.ClientAddr.Addr()
			i, _ := slices.BinarySearchFunc(spans, s.StartNS+1, startCmp)
			for j := i - 1; j >= 0; j-- {
				if p := spans[j]; p.ServerAddr.Addr() == host || p.delivery() && p.ClientAddr.Addr() == host {
					visit(p, true)
				}
			}
			if s.Side == SideClient {
				for j := i - 1; j >= 0; j-- {
					if p := spans[j]; p.Side == SideServer && p.Capture == s.Capture {
						visit(p, false)
					}
				}
			}
		} else {
			consider(byServer[s.ClientAddr.Addr()], true)
			if s.Side == SideClient {
				consider(byView[s.Capture], false)
			}
		}
		if best == nil {
			best, bestReason = late, lateReason
		}
		if best != nil {
			setParent(s, best, bestReason)
		}
	}

	// Rule 6: the inbound request the same thread read, decided at
	// completion.
	for _, s := range spans {
		if h := s.hint; s.Parent == nil && h.parent != nil && h.reason == ReasonSameThread &&
			h.parent.group == g && !isAncestor(s, h.parent) {
			setParent(s, h.parent, ReasonSameThread)
			l.stats.SameThreadLinks++
		}
	}

	// Rule 7: timing, decided at completion.
	for _, s := range spans {
		if h := s.hint; s.Parent == nil && h.parent != nil && h.reason == ReasonTiming &&
			h.parent.group == g && !isAncestor(s, h.parent) {
			setParent(s, h.parent, ReasonTiming)
			s.Attributes[AttrLinkConfidence] = h.conf
			l.stats.TimingLinks++
		}
	}

	// Trace id.
	id := ""
	for _, s := range spans {
		if s.adopted != "" && !s.adoptedFromRequestID {
			id = s.adopted
			break
		}
	}
	for _, s := range spans {
		if id == "" && s.adopted != "" {
			id = s.adopted
		}
	}
	if id == "" {
		root := spans[0]
		for _, s := range spans {
			if s.Parent == nil {
				root = s
				break
			}
		}
		id = traceIDFrom(l.cfg.Seed, root.SpanID)
	}
	for _, s := range spans {
		s.TraceID = id
	}
	return &Trace{ID: id, Spans: spans}
}

// startCmp compares a span's start with a time, for binary searches.
func startCmp(p *Span, t int64) int { return cmp.Compare(p.StartNS, t) }

// compareExchange orders spans by their exchange on the wire (client,
// server, request sequence number).
func compareExchange(a, b *Span) int {
	return cmp.Or(a.ClientAddr.Compare(b.ClientAddr), a.ServerAddr.Compare(b.ServerAddr), cmp.Compare(a.ReqSeq, b.ReqSeq))
}

// headerKey returns the trace header a span carries, as kind, trace id and
// span id (the caller's span), or "".
func headerKey(s *Span) string {
	for _, h := range [...]string{"traceparent", "b3", "uber"} {
		t, sp := s.Links[h+"_trace_id"], s.Links[h+"_span_id"]
		if t != "" && sp != "" {
			return h + ":" + t + "/" + sp
		}
	}
	if t := s.Links["sw8_trace_id"]; t != "" {
		return "sw8:" + t + "/" + s.Links["sw8_segment_id"] + "/" + s.Links["sw8_span_id"]
	}
	return ""
}

func setParent(s, p *Span, reason string) {
	s.Parent, s.ParentSpanID, s.LinkReason = p, p.SpanID, reason
}

// encloses reports whether p's exchange contains s's in time. A span with
// no response is open-ended.
func encloses(p, s *Span) bool {
	if p.StartNS > s.StartNS {
		return false
	}
	return !p.HasResponse || p.EndNS >= s.EndNS
}

// better reports whether candidate a is a better parent for s than b.
func better(a, b, s *Span) bool {
	aSame, bSame := a.Capture == s.Capture, b.Capture == s.Capture
	if aSame != bSame {
		return aSame
	}
	if a.StartNS != b.StartNS {
		return a.StartNS > b.StartNS
	}
	return a.SpanID < b.SpanID
}

// sharedKey returns the link reason for a key that p and s share, or "".
// A database span's keys come from comments in its query text (or, for
// MongoDB, its command's comment field), so its reason is sql_comment.
func sharedKey(p, s *Span) string {
	reason := ""
	switch {
	case usableRequestID(s.Links["x_request_id"]) && s.Links["x_request_id"] == p.Links["x_request_id"]:
		reason = ReasonXRequestID
	case s.adopted != "" && s.adopted == p.adopted:
		reason = ReasonTraceHeader
	case sharesCustomKey(p, s):
		reason = ReasonLinkKey
	default:
		return ""
	}
	if _, ok := s.Attributes["db.query.text"]; ok {
		return ReasonSQLComment
	}
	if s.Attributes["db.system.name"] == "mongodb" {
		return ReasonSQLComment // from the command's comment field
	}
	return reason
}

// delivery reports whether s is a message a broker pushed to a consumer
// (a span with no request that received a queue handoff value).
func (s *Span) delivery() bool {
	if !s.noRequest || !s.HasResponse {
		return false
	}
	for _, a := range s.multi {
		if a.Key == protocols.LinkHandoffRecv {
			return true
		}
	}
	return false
}

// isAncestor reports whether a is p or one of p's ancestors.
func isAncestor(a, p *Span) bool {
	for i := 0; p != nil && i < 1<<16; i++ {
		if p == a {
			return true
		}
		p = p.Parent
	}
	return false
}
