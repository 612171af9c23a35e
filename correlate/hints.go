package correlate

import (
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/btree"
	"github.com/wiretrace/wiretrace/protocols"
)

// Links decided when a span completes.
//
// Queue handoffs, Kafka offsets and timing have no key that both ends
// share exactly, or a key (a message payload digest) that would join
// unrelated traces if it were a group key. So they are decided when a span
// completes, against the spans then open: each child picks one parent
// (its hint) and only their two traces join. link uses the hint when no
// rule with a key on the wire gives a parent. A parent is open when its
// child completes: a timing parent encloses its child, and for the others
// whichever of the pair completes second finds the first.

// Attribute keys read here (OpenTelemetry messaging conventions, as the
// Kafka parser writes them).
const (
	attrOpType     = "messaging.operation.type"
	attrBatchCount = "messaging.batch.message_count"
)

// maxKafkaRange bounds the record count taken from a Produce span.
const maxKafkaRange = 1 << 20

// kafkaRange is a run of record offsets in one topic partition.
type kafkaRange struct {
	tp          string
	first, last int64
}

type kafkaEntry struct {
	kafkaRange
	s *Span
}

func kafkaLess(a, b kafkaEntry) bool {
	if a.tp != b.tp {
		return a.tp < b.tp
	}
	if a.first != b.first {
		return a.first < b.first
	}
	if a.s == nil || b.s == nil {
		return a.s == nil && b.s != nil
	}
	return a.s.seq < b.s.seq
}

// kafkaRole returns "send" for a Produce span, "receive" for a Fetch span,
// else "".
func kafkaRole(s *Span) string {
	if s.Protocol != "kafka" {
		return ""
	}
	v, _ := s.Attributes[attrOpType].(string)
	if v == "send" || v == "receive" {
		return v
	}
	return ""
}

// kafkaRanges returns the offset ranges of a Kafka span: each kafka_offset
// belongs to the kafka_topic_partition just before it ("42", or
// "36..41"). A Produce response gives the base offset of the records of a
// partition; when the message has one partition, the span's record count
// (messaging.batch.message_count) extends it.
func kafkaRanges(s *Span, role string) []kafkaRange {
	var out []kafkaRange
	tp := ""
	for _, a := range s.multi {
		switch a.Key {
		case protocols.LinkKafkaTopicPartition:
			tp = a.Str
		case protocols.LinkKafkaOffset:
			if tp == "" {
				continue
			}
			lo, hi, ok := parseOffsets(a.Str)
			if ok {
				out = append(out, kafkaRange{tp, lo, hi})
			}
			tp = ""
		}
	}
	if role == "send" && len(out) == 1 && onePartition(s) {
		if n, ok := s.Attributes[attrBatchCount].(int64); ok && n > 1 {
			out[0].last = out[0].first + min(n, maxKafkaRange) - 1
		}
	}
	return out
}

// onePartition reports whether every topic partition of s is the same
// (the record count is then that partition's).
func onePartition(s *Span) bool {
	tp := ""
	for _, a := range s.multi {
		if a.Key == protocols.LinkKafkaTopicPartition {
			if tp != "" && a.Str != tp {
				return false
			}
			tp = a.Str
		}
	}
	return true
}

// parseOffsets parses "42" or "36..41".
func parseOffsets(v string) (lo, hi int64, ok bool) {
	a, b, rng := strings.Cut(v, "..")
	lo, err := strconv.ParseInt(a, 10, 64)
	if err != nil || lo < 0 {
		return 0, 0, false
	}
	hi = lo
	if rng {
		if hi, err = strconv.ParseInt(b, 10, 64); err != nil || hi < lo {
			return 0, 0, false
		}
	}
	return lo, hi, true
}

// handoffValues returns a span's queue handoff values for key.
func handoffValues(s *Span, key string) []string {
	var out []string
	for _, a := range s.multi {
		if a.Key == key {
			out = append(out, a.Str)
		}
	}
	return out
}

// handoff indexes a completed span's Kafka offsets and queue handoff
// values and decides its parent, or its children's, among open spans.
func (l *Linker) handoff(s *Span) {
	if len(s.multi) == 0 {
		return
	}
	switch role := kafkaRole(s); role {
	case "send":
		s.kafka = kafkaRanges(s, role)
		for _, r := range s.kafka {
			l.producers.Set(kafkaEntry{r, s})
			l.prodMax = max(l.prodMax, min(r.last-r.first, maxKafkaRange))
			scanKafka(l.fetches, r, l.fetchMax, func(e kafkaEntry) bool {
				if e.s.hint.parent == nil && e.s != s {
					l.setHint(e.s, s, ReasonKafka, 0)
				}
				return true
			})
		}
	case "receive":
		s.kafka = kafkaRanges(s, role)
		for _, r := range s.kafka {
			if s.hint.parent == nil {
				scanKafka(l.producers, r, l.prodMax, func(e kafkaEntry) bool {
					if e.s != s {
						l.setHint(s, e.s, ReasonKafka, 0)
						return false
					}
					return true
				})
			}
			l.fetches.Set(kafkaEntry{r, s})
			l.fetchMax = max(l.fetchMax, min(r.last-r.first, maxKafkaRange))
		}
	}

	sent := handoffValues(s, protocols.LinkHandoffSend)
	for _, v := range sent {
		list := l.sends[v]
		if len(list) >= maxCandidates {
			list = append(list[:0], list[1:]...)
		}
		l.sends[v] = append(list, s)
		s.handoffs = true
		for _, r := range l.recvs[v] {
			if r.hint.parent == nil && r != s && r.EndNS >= s.StartNS {
				l.setHint(r, s, ReasonQueue, 0)
			}
		}
	}
	for _, v := range handoffValues(s, protocols.LinkHandoffRecv) {
		if s.hint.parent == nil {
			var best *Span
			for _, p := range l.sends[v] {
				if p != s && p.StartNS <= s.EndNS && (best == nil || spanLess(best, p)) {
					best = p
				}
			}
			if best != nil {
				l.setHint(s, best, ReasonQueue, 0)
				continue
			}
		}
		if s.hint.parent != nil {
			continue
		}
		list := l.recvs[v]
		if len(list) >= maxCandidates {
			list = append(list[:0], list[1:]...)
		}
		l.recvs[v] = append(list, s)
		s.handoffs = true
	}
}

// scanKafka calls f for the entries of t in r's topic partition whose
// range overlaps r, lowest first offset first, examining at most
// maxCandidates; maxLen is the longest range in t.
func scanKafka(t *btree.BTreeG[kafkaEntry], r kafkaRange, maxLen int64, f func(kafkaEntry) bool) {
	n := 0
	t.Ascend(kafkaEntry{kafkaRange: kafkaRange{tp: r.tp, first: r.first - maxLen}}, func(e kafkaEntry) bool {
		if e.tp != r.tp || e.first > r.last || n >= maxCandidates {
			return false
		}
		n++
		if e.last >= r.first {
			return f(e)
		}
		return true
	})
}

// unindexHandoff removes an emitted span from the Kafka and queue indexes.
func (l *Linker) unindexHandoff(s *Span) {
	if s.kafka != nil {
		t := l.fetches
		if kafkaRole(s) == "send" {
			t = l.producers
		}
		for _, r := range s.kafka {
			t.Delete(kafkaEntry{r, s})
		}
		s.kafka = nil
	}
	if !s.handoffs {
		return
	}
	s.handoffs = false
	drop := func(m map[string][]*Span, key string) {
		for _, v := range handoffValues(s, key) {
			list := m[v]
			for i := 0; i < len(list); i++ {
				if list[i] == s {
					list = append(list[:i], list[i+1:]...)
					i--
				}
			}
			if len(list) == 0 {
				delete(m, v)
			} else {
				m[v] = list
			}
		}
	}
	drop(l.sends, protocols.LinkHandoffSend)
	drop(l.recvs, protocols.LinkHandoffRecv)
}

// setHint records p as s's proposed parent and joins their traces. A
// timing hint does not join two spans that both have keys (request ids,
// trace ids) of their own: their keys say they are different traces.
func (l *Linker) setHint(s, p *Span, reason string, conf float64) {
	s.hint = hint{parent: p, reason: reason, conf: conf}
	if (reason == ReasonTiming || reason == ReasonSameThread) && s.keyed && p.keyed {
		s.hint.nojoin = true
		return
	}
	l.joinHint(s, p)
}

// joinHint joins the traces of s and its hinted parent p.
func (l *Linker) joinHint(s, p *Span) {
	a, b := s.group, p.group
	if a == nil || b == nil || a == b || a.emitted || b.emitted {
		return
	}
	l.merge(a, b)
	l.touch(s.group)
}

// applyTiming gives s the timing parent an agent chose for it (SpanState)
// when no other hint was found and the parent is open.
func (l *Linker) applyTiming(s *Span) {
	if s.timingParent == "" || s.hint.parent != nil {
		return
	}
	p := l.byID[s.timingParent]
	if p == nil || p == s {
		l.stats.TimingParentsMissing++
		return
	}
	s.hint = hint{parent: p, reason: ReasonTiming, conf: s.timingConf, nojoin: !s.timingJoin}
	if s.timingJoin {
		l.joinHint(s, p)
	}
}

// timingCand is a timing parent candidate and its weight.
type timingCand struct {
	p *Span
	w float64
}

// Timing evidence weights.
const (
	// timingPrior is the confidence of a timing link with one candidate:
	// enclosure alone does not prove causation (a background task).
	timingPrior = 0.95
	// wRecent favours the inbound request whose last byte arrived most
	// recently before the call left: the handler that just started.
	wRecent = 1.5
	// wEarly penalises a candidate whose request had not fully arrived
	// when the call left.
	wEarly = 0.25
	// wSibling favours the candidate that the previous call on the same
	// connection was linked to, by a key or by timing (a handler making
	// sequential calls keeps its connection).
	wSibling = 4
)

// decideTiming picks, for an outbound span that completed, the inbound
// span of its client host (at the same capture point, so on one clock)
// that encloses it, and records it as a timing hint with a confidence.
//
// Candidates are the spans served by the host that started before s and
// had not answered before s ended (so a call made after the response,
// fire-and-forget, is not attached). When one of them shares a key with s
// (request id, trace id), s is linked by that key and timing stays out. Each weighs 1, times wRecent for the
// latest request to have fully arrived before s left, times wEarly if its
// request was still arriving, times wSibling if the previous call on s's
// connection, which ended before s started, is linked to it. The
// confidence is timingPrior times the best weight over the sum: two
// equally plausible concurrent requests give about 0.57, three about 0.41.
// At most maxCandidates spans are examined.
func (l *Linker) decideTiming(s *Span) {
	if !l.timing || s.Side == SideServer || s.noRequest || s.hint.parent != nil {
		return
	}
	t := l.byServer[hostKey{s.Capture, s.ClientAddr.Addr()}]
	if t == nil {
		return
	}
	prev := l.lastOnFlow[flowKey{s.Capture, s.FlowID}]
	if prev != nil && (prev == s || prev.EndNS > s.StartNS) {
		prev = nil
	}
	// With threads known (Config.Attributor), candidates read by another
	// process or thread are ruled out and one read by the sending thread
	// is the parent (thread.go).
	st, threads := l.reqTaskOf(s)
	same, nSame := -1, 0
	cands := l.cands[:0]
	recent := -1
	n := 0
	wired := false
	l.pivot.StartNS, l.pivot.seq = s.StartNS-1, math.MaxUint64
	t.Descend(&l.pivot, func(p *Span) bool {
		if n >= maxCandidates {
			return false
		}
		n++
		if p == s || p.FlowID == s.FlowID || p.noRequest {
			return true
		}
		if p.complete && (!p.HasResponse || p.EndNS < s.EndNS) {
			return true
		}
		if sharedKey(p, s) != "" {
			// A key on the wire links s to its parent.
			wired = true
			return false
		}
		if threads {
			switch l.threadOf(st, p) {
			case threadOther:
				l.stats.ThreadExcluded++
				return true
			case threadSame:
				same = len(cands)
				nSame++
			}
		}
		w := 1.0
		if p.reqEnd > s.StartNS {
			w *= wEarly
		} else if recent < 0 || p.reqEnd > cands[recent].p.reqEnd {
			recent = len(cands)
		}
		if prev != nil && (prev.hint.parent == p || prev.Parent == p || sharedKey(p, prev) != "") {
			w *= wSibling
		}
		cands = append(cands, timingCand{p, w})
		return true
	})
	l.cands = cands[:0]
	if wired || len(cands) == 0 {
		return
	}
	if nSame == 1 {
		l.setHint(s, cands[same].p, ReasonSameThread, 1)
		return
	}
	if recent >= 0 {
		cands[recent].w *= wRecent
	}
	best, sum := 0, 0.0
	for i, c := range cands {
		sum += c.w
		// Descending order: on equal weight the later start wins.
		if c.w > cands[best].w {
			best = i
		}
	}
	conf := math.Round(timingPrior*cands[best].w/sum*100) / 100
	if conf < l.minConf {
		l.stats.TimingRejected++
		return
	}
	l.setHint(s, cands[best].p, ReasonTiming, conf)
}
