package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/wiretrace/wiretrace/correlate"
)

// Delivery is one record as a transport delivers it to an Assembler.
type Delivery struct {
	// Partition is the partition it was read from.
	Partition int
	// Data is the encoded record.
	Data []byte
	// Ack tells the broker the record is done with; Nak asks for it to
	// be delivered again (to whichever assembler then owns the
	// partition). Touch tells it the record is still being worked on
	// (it is held until its trace is final). Each may be nil.
	Ack, Nak, Touch func()
}

// Transport is what an Assembler needs of the broker besides deliveries:
// which partitions this instance owns now, and publishing (to forward
// records to the other partitions of their trace).
type Transport interface {
	Publisher
	// Owns reports whether this instance currently consumes partition p.
	Owns(p int) bool
}

// Config configures an Assembler.
type Config struct {
	// Correlate configures the Relinker (Window, MaxPendingSpans,
	// SeparateRequestIDAndTraceID, Seed). Agents must use the same
	// SeparateRequestIDAndTraceID and Seed.
	Correlate correlate.Config
	// Partitions is the number of partitions; 0 means DefaultPartitions.
	Partitions int
	// Lateness is how long a record waits after it arrived, and how far
	// in packet time the assembler stays behind its agents' progress,
	// before spans are replayed and windows close (see Tick): a span
	// that arrives less late than that is linked as if it had arrived in
	// order. 0 means 2 s.
	Lateness time.Duration
	// Logger receives lifecycle events; nil discards.
	Logger *slog.Logger
}

// Stats counts an Assembler's work.
type Stats struct {
	Records    uint64 // records received (each delivery)
	Malformed  uint64 // records that could not be decoded, skipped (acked)
	Foreign    uint64 // records of another format version, skipped (acked)
	Duplicates uint64 // records of a span already held (a copy on another partition, or redelivered)
	Forwarded  uint64 // records published to another partition of their trace
	ForwardErr uint64 // failed forwards (the record is not acked, so it comes back)
	Emitted    uint64 // spans emitted by this instance (it owned their trace)
	HandedOff  uint64 // spans whose trace another instance owns (not emitted here)
	Late       uint64 // records of a span whose trace was already emitted here (acked, not emitted again)
	// Announcements counts the key announcements received (the keys of
	// a component, from the assembler of another of its partitions).
	Announcements uint64
}

// Each calls f for each counter, in a fixed order.
func (s *Stats) Each(f func(name string, v uint64)) {
	f("records", s.Records)
	f("malformed_records", s.Malformed)
	f("foreign_records", s.Foreign)
	f("duplicate_records", s.Duplicates)
	f("forwarded", s.Forwarded)
	f("forward_errors", s.ForwardErr)
	f("emitted_spans", s.Emitted)
	f("handed_off_spans", s.HandedOff)
	f("late_records", s.Late)
	f("announcements", s.Announcements)
}

// Assembler links span records from agents into traces: the central side
// of a fleet. Records arrive by Deliver from any of the partitions this
// instance owns; Tick advances its clock; traces this instance owns go to
// the sink, and their records are acked after the sink took them. It is
// not safe for concurrent use: a transport serialises its calls.
type Assembler struct {
	cfg   Config
	tr    Transport
	sink  correlate.Sink
	rl    *correlate.Relinker
	log   *slog.Logger
	stats Stats

	keys   map[string]*comp
	recs   map[string]*rec // held records by span id
	unfed  []*rec          // records held for forwarding only, in arrival order
	window int64

	owned partSet    // partitions owned at the last Tick
	acks  []Delivery // of emitted traces, acked once the sink flushed
	fwdQ  []fwdItem  // forwards not yet published
	dirty []*comp    // components with keys to announce
	sweep int        // ticks since the last sweep of key-only components
	// Clock: each record matures Lateness after it arrived; an agent's
	// progress is the newest completion among its mature records.
	agents   map[string]*agentClock
	pend     []arrival // records not yet mature, in arrival order
	lastSeen time.Time // wall time of the latest arrival
	maxDone  int64     // newest mature completion of any agent
	err      error
}

// comp is a set of records connected by shared join keys: a superset of
// one or more traces.
type comp struct {
	keys  []string
	recs  map[string]*rec
	parts partSet // partitions of its keys
	// fwdTo is 1 + the owner partition every record was forwarded to.
	fwdTo int
	// told is how many of keys the other partitions were told of
	// (announcements), dirty that there are more to tell.
	told    int
	dirty   bool
	touched int64 // packet time it last changed, for expiry
	// lost is set when this instance stopped owning the component's
	// owner partition while holding it: its traces are not emitted here.
	lost bool
}

// rec is a record held until its trace is emitted (by this instance or
// its owner).
type rec struct {
	id     string
	keys   []string
	data   []byte
	done   int64
	sent   partSet // partitions known to have it
	queued partSet // partitions it is queued to be forwarded to
	dels   []Delivery
	// fed is set once the record went to the Relinker (this instance
	// owned its component then).
	fed bool
	// stale is set on a record held for forwarding when this instance
	// took over its owner partition: the previous owner may have written
	// its trace already, so it is fed only if it is delivered again.
	stale bool
}

// New returns an Assembler writing to sink.
func New(cfg *Config, tr Transport, sink correlate.Sink) (*Assembler, error) {
	a := &Assembler{tr: tr, keys: map[string]*comp{}, recs: map[string]*rec{}, agents: map[string]*agentClock{}}
	if cfg != nil {
		a.cfg = *cfg
	}
	if a.cfg.Partitions == 0 {
		a.cfg.Partitions = DefaultPartitions
	}
	if a.cfg.Partitions < 1 || a.cfg.Partitions > MaxPartitions {
		return nil, fmt.Errorf("fleet: %d partitions: want 1..%d", a.cfg.Partitions, MaxPartitions)
	}
	if a.cfg.Lateness <= 0 {
		a.cfg.Lateness = 2 * time.Second
	}
	a.log = a.cfg.Logger
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.sink = sink
	a.rl = correlate.NewRelinker(&a.cfg.Correlate, emitter{a})
	a.window = int64(a.cfg.Correlate.Window)
	if a.window <= 0 {
		a.window = int64(5 * time.Second)
	}
	return a, nil
}

// head is the part of a record an assembler reads before it knows it
// owns the record's trace.
type head struct {
	V     int      `json:"v"`
	Ann   bool     `json:"ann"`
	Keys  []string `json:"keys"`
	Agent string   `json:"agent"`
	Span  struct {
		SpanID string `json:"span_id"`
	} `json:"span"`
	State struct {
		DoneNS int64 `json:"done_ns"`
	} `json:"state"`
}

// Deliver takes one record, received at wall time now.
func (a *Assembler) Deliver(ctx context.Context, d Delivery, now time.Time) {
	a.stats.Records++
	var hd head
	err := json.Unmarshal(d.Data, &hd)
	switch {
	case err != nil || len(d.Data) > maxRecordSize:
		err = fmt.Errorf("fleet: record: %w: %v", ErrMalformed, err)
	case hd.V != Version:
		err = fmt.Errorf("fleet: record version %d (want %d): %w", hd.V, Version, ErrVersion)
	case hd.Ann && len(hd.Keys) <= maxKeys:
		a.announced(ctx, hd.Keys, d)
		return
	case len(hd.Span.SpanID) != 16 || !isHex(hd.Span.SpanID):
		err = fmt.Errorf("fleet: record: %w: no span or bad span_id", ErrMalformed)
	case len(hd.Keys) > maxKeys:
		err = fmt.Errorf("fleet: record: %w: %d keys", ErrMalformed, len(hd.Keys))
	}
	if err != nil {
		a.skip(d, err)
		return
	}
	id := hd.Span.SpanID
	if h := a.recs[id]; h != nil {
		a.stats.Duplicates++
		h.sent |= 1 << uint(d.Partition)
		c := a.keys[h.keys[0]]
		switch {
		case h.fed:
			h.dels = append(h.dels, d)
		case c != nil && a.tr.Owns(c.parts.min()):
			// This instance took over the owner partition and the
			// record comes again: the previous owner did not write
			// its trace.
			h.dels = append(h.dels, d)
			h.stale = false
			a.feedOne(c, h)
		default:
			ack(d) // held for forwarding only: the owner has its own copy
		}
		return
	}
	h := &rec{id: id, keys: hd.Keys, data: d.Data, done: hd.State.DoneNS, dels: []Delivery{d}}
	if len(h.keys) == 0 {
		h.keys = []string{"s:" + id}
	}
	h.sent = partsOf(h.keys, a.cfg.Partitions) | 1<<uint(d.Partition)
	a.recs[id] = h
	c := a.join(h)
	// Feed before forwarding: forward releases (acks) the records that
	// are held for forwarding only.
	if a.tr.Owns(c.parts.min()) {
		a.feed(c)
	} else {
		a.unfed = append(a.unfed, h)
	}
	a.forward(ctx, c, h)
	a.release(h, c.parts.min())
	c.touched = a.maxDone
	a.lastSeen = now
	ag := a.agents[hd.Agent]
	if ag == nil {
		if len(a.agents) >= maxAgents {
			a.forgetAgents(now, 0)
		}
		ag = &agentClock{}
		a.agents[hd.Agent] = ag
	}
	ag.last = now
	a.pend = append(a.pend, arrival{at: now, agent: ag, done: h.done})
}

// maxKeys bounds the join keys of a record.
const maxKeys = 1024

// skip counts and acks a record that cannot be used.
func (a *Assembler) skip(d Delivery, err error) {
	if errors.Is(err, ErrVersion) {
		a.stats.Foreign++
	} else {
		a.stats.Malformed++
	}
	a.log.Debug("skipped record", "partition", d.Partition, "err", err)
	ack(d)
}

// feed gives the Relinker every record of c not given yet.
func (a *Assembler) feed(c *comp) {
	for _, h := range c.recs {
		if !h.stale {
			a.feedOne(c, h)
		}
	}
}

// feedOne gives the Relinker one record.
func (a *Assembler) feedOne(c *comp, h *rec) {
	{
		if h.fed {
			return
		}
		h.fed = true
		r, err := Decode(h.data)
		if err != nil {
			delete(c.recs, h.id)
			delete(a.recs, h.id)
			for _, d := range h.dels {
				a.skip(d, err)
			}
			return
		}
		if !a.rl.Add(r.Span, r.State) {
			// Emitted here before: its trace is out.
			a.stats.Late++
			delete(c.recs, h.id)
			delete(a.recs, h.id)
			for _, d := range h.dels {
				ack(d)
			}
		}
	}
}

// release acks the deliveries of a record held for forwarding only once
// the owner of its trace has it.
func (a *Assembler) release(h *rec, owner int) {
	if h.fed || !h.sent.has(owner) {
		return
	}
	for _, d := range h.dels {
		ack(d)
	}
	h.dels = nil
}

func nak(d Delivery) {
	if d.Nak != nil {
		d.Nak()
	}
}

// fromPartition reports whether h was delivered from partition p.
func (h *rec) fromPartition(p int) bool {
	for _, d := range h.dels {
		if d.Partition == p {
			return true
		}
	}
	return false
}

// Touch tells the broker that every held record is still being worked on.
func (a *Assembler) Touch() {
	for _, h := range a.recs {
		for _, d := range h.dels {
			if d.Touch != nil {
				d.Touch()
			}
		}
	}
}

func ack(d Delivery) {
	if d.Ack != nil {
		d.Ack()
	}
}

// join adds h to the component of its keys, merging components.
func (a *Assembler) join(h *rec) *comp {
	var c *comp
	for _, k := range h.keys {
		o := a.keys[k]
		switch {
		case o == nil:
			if c == nil {
				c = &comp{recs: map[string]*rec{}}
			}
			a.keys[k] = c
			c.keys = append(c.keys, k)
			c.parts |= 1 << uint(Partition(k, a.cfg.Partitions))
		case c == nil:
			c = o
		case o != c:
			c = a.merge(c, o)
		}
	}
	if h.id != "" {
		c.recs[h.id] = h
	}
	return c
}

// merge joins two components, the smaller into the larger.
func (a *Assembler) merge(x, y *comp) *comp {
	if len(x.keys)+len(x.recs) < len(y.keys)+len(y.recs) {
		x, y = y, x
	}
	for _, k := range y.keys {
		a.keys[k] = x
	}
	x.keys = append(x.keys, y.keys...)
	for id, r := range y.recs {
		x.recs[id] = r
	}
	x.parts |= y.parts
	if x.fwdTo != y.fwdTo {
		x.fwdTo = 0
	}
	x.told = 0
	x.lost = x.lost || y.lost
	return x
}

// mine returns the partitions of c this instance owns.
func (a *Assembler) mine(p partSet) partSet {
	var m partSet
	p.each(func(i int) {
		if a.tr.Owns(i) {
			m |= 1 << uint(i)
		}
	})
	return m
}

// forward queues the records of c for its owner partition, when another
// instance owns it: every record of c once the owner changed, else h. It
// marks c for an announcement when it has keys the other partitions of c
// were not told of (FlushForwards sends them).
func (a *Assembler) forward(ctx context.Context, c *comp, h *rec) {
	if len(c.keys) > c.told && c.parts&^a.mine(c.parts) != 0 {
		if !c.dirty {
			c.dirty = true
			a.dirty = append(a.dirty, c)
		}
	}
	owner := c.parts.min()
	if a.tr.Owns(owner) {
		return
	}
	add := func(r *rec) {
		bit := partSet(1) << uint(owner)
		if (r.sent|r.queued)&bit != 0 {
			return
		}
		r.queued |= bit
		a.fwdQ = append(a.fwdQ, fwdItem{Message{Partition: owner, Data: r.data}, r})
	}
	if c.fwdTo != owner+1 {
		for _, r := range c.recs {
			add(r)
		}
		c.fwdTo = owner + 1
	} else if h != nil {
		add(h)
	}
	if len(a.fwdQ) >= maxForwardBatch {
		a.FlushForwards(ctx)
	}
}

// announced takes an announcement: the keys of a component as another
// assembler knows them. Its keys join the components here, so that every
// partition of a component learns all of its keys and computes the same
// owner; records held here then go to that owner.
func (a *Assembler) announced(ctx context.Context, keys []string, d Delivery) {
	a.stats.Announcements++
	ack(d)
	if len(keys) == 0 {
		return
	}
	c := a.join(&rec{keys: keys})
	c.touched = a.maxDone
	if a.tr.Owns(c.parts.min()) {
		a.feed(c)
	}
	a.forward(ctx, c, nil)
	for _, r := range c.recs {
		a.release(r, c.parts.min())
	}
}

// announce queues, for each component with keys not yet told, an
// announcement of its keys to each of its partitions this instance does
// not own.
func (a *Assembler) announce() {
	for _, c := range a.dirty {
		c.dirty = false
		if len(c.keys) == 0 || a.keys[c.keys[0]] != c || len(c.keys) <= c.told {
			continue // merged away, or emptied
		}
		keys := c.keys
		if len(keys) > maxKeys {
			keys = keys[:maxKeys]
		}
		b, err := json.Marshal(struct {
			V    int      `json:"v"`
			Ann  bool     `json:"ann"`
			Keys []string `json:"keys"`
		}{Version, true, keys})
		if err != nil {
			continue
		}
		c.told = len(c.keys)
		(c.parts &^ a.mine(c.parts)).each(func(p int) {
			a.fwdQ = append(a.fwdQ, fwdItem{m: Message{Partition: p, Data: b}})
		})
	}
	clear(a.dirty)
	a.dirty = a.dirty[:0]
}

// maxForwardBatch is the forwards queued before they are published.
const maxForwardBatch = 512

// fwdItem is a queued forward.
type fwdItem struct {
	m Message
	r *rec
}

// FlushForwards publishes the queued forwards in one batch. Run calls it
// whenever no delivery is waiting; Tick and Flush call it too.
func (a *Assembler) FlushForwards(ctx context.Context) {
	a.announce()
	if len(a.fwdQ) == 0 {
		return
	}
	msgs := make([]Message, len(a.fwdQ))
	for i, f := range a.fwdQ {
		msgs[i] = f.m
	}
	err := a.tr.Publish(ctx, msgs)
	if err != nil {
		a.stats.ForwardErr += uint64(len(msgs))
		a.log.Warn("forward", "records", len(msgs), "err", err)
	} else {
		a.stats.Forwarded += uint64(len(msgs))
	}
	for _, f := range a.fwdQ {
		if f.r == nil {
			continue // an announcement
		}
		bit := partSet(1) << uint(f.m.Partition)
		f.r.queued &^= bit
		c := a.keys[f.r.keys[0]]
		if err != nil {
			if c != nil {
				c.fwdTo, c.told = 0, 0 // again with the next record
			}
			continue
		}
		f.r.sent |= bit
		if c != nil && a.recs[f.r.id] == f.r {
			a.release(f.r, c.parts.min())
		}
	}
	clear(a.fwdQ)
	a.fwdQ = a.fwdQ[:0]
}

// agentClock is an agent's progress as this assembler sees it.
type agentClock struct {
	last   time.Time // wall time of its latest record
	mature int64     // newest completion among its mature records
}

// arrival is a record waiting to mature.
type arrival struct {
	at    time.Time
	agent *agentClock
	done  int64
}

// maxAgents bounds the agents whose clocks are kept.
const maxAgents = 1 << 14

// forgetAgents drops the clocks of agents quiet for longer than d.
func (a *Assembler) forgetAgents(now time.Time, d time.Duration) {
	for name, ag := range a.agents {
		if now.Sub(ag.last) >= d {
			delete(a.agents, name)
		}
	}
}

// Tick advances the assembler's clock to wall time now, and replays spans
// and emits traces up to it. A record matures Lateness after it arrived
// (so that its copies forwarded by other assemblers arrive too). Packet
// time is then the least progress (newest mature completion) of the
// agents that sent records within the last Lateness, minus Lateness;
// agents quiet for longer have sent everything they had. When every agent
// is quiet, packet time moves on with the wall clock from the newest
// completion. Joins never depend on this clock; it only decides when a
// trace is final.
func (a *Assembler) Tick(now time.Time) {
	a.FlushForwards(context.Background())
	a.checkOwnership()
	late := a.cfg.Lateness
	n := 0
	for _, e := range a.pend {
		if now.Sub(e.at) < late {
			break
		}
		e.agent.mature = max(e.agent.mature, e.done)
		a.maxDone = max(a.maxDone, e.done)
		n++
	}
	a.pend = a.pend[n:]
	if a.maxDone == 0 {
		return
	}
	t := int64(math.MaxInt64)
	active := false
	for _, ag := range a.agents {
		if now.Sub(ag.last) >= late {
			continue
		}
		active = true
		t = min(t, ag.mature-int64(late))
	}
	if !active {
		t = a.maxDone + int64(now.Sub(a.lastSeen)) - 2*int64(late)
	}
	if len(a.agents) > 64 {
		a.forgetAgents(now, 10*time.Minute)
	}
	a.rl.Advance(t)
	a.expire(t)
	a.commit()
}

// Flusher is a sink that can push what it wrote to its destination
// (jsonl.Writer, tree.Writer, correlate.Tee of them).
type Flusher interface {
	Flush() error
}

// commit flushes the sink and acks the records of the traces it took. A
// sink that cannot flush (it writes at Close, or exports on its own) has
// its records acked as it takes them.
func (a *Assembler) commit() {
	if len(a.acks) == 0 {
		return
	}
	if f, ok := a.sink.(Flusher); ok {
		if err := f.Flush(); err != nil {
			// Not acked: the records come back after the ack wait.
			a.log.Warn("sink flush", "err", err)
			if a.err == nil {
				a.err = err
			}
			a.acks = a.acks[:0]
			return
		}
	}
	for _, d := range a.acks {
		ack(d)
	}
	a.acks = a.acks[:0]
}

// checkOwnership marks the components whose owner partition this
// instance no longer owns (the assemblers rebalanced): their traces go to
// the new owner, which gets the records again (nak).
func (a *Assembler) checkOwnership() {
	var now partSet
	for p := 0; p < a.cfg.Partitions; p++ {
		if a.tr.Owns(p) {
			now |= 1 << uint(p)
		}
	}
	lost, gained := a.owned&^now, now&^a.owned
	a.owned = now
	if lost|gained == 0 {
		return
	}
	for _, c := range a.keys {
		switch o := c.parts.min(); {
		case lost.has(o):
			c.lost = true
		case gained.has(o):
			for _, h := range c.recs {
				if !h.fed {
					h.stale = true
				}
			}
		}
	}
}

// expire forgets the records held for forwarding only whose completion
// is more than a window before packet time t.
func (a *Assembler) expire(t int64) {
	n := 0
	for _, h := range a.unfed {
		if h.done+a.window > t {
			break
		}
		n++
		if h.fed || a.recs[h.id] != h {
			continue
		}
		a.drop(h)
		for _, d := range h.dels {
			// Not forwarded to the owner (forward errors): deliver
			// again.
			if d.Nak != nil {
				d.Nak()
			}
		}
	}
	a.unfed = a.unfed[n:]
	if a.sweep++; a.sweep >= 16 {
		a.sweep = 0
		for k, c := range a.keys {
			if len(c.recs) == 0 && c.touched+a.window < t {
				delete(a.keys, k)
			}
		}
	}
}

// drop forgets a held record.
func (a *Assembler) drop(h *rec) {
	delete(a.recs, h.id)
	c := a.keys[h.keys[0]]
	if c == nil {
		return
	}
	delete(c.recs, h.id)
	if len(c.recs) == 0 {
		for _, k := range c.keys {
			if a.keys[k] == c {
				delete(a.keys, k)
			}
		}
	}
}

// Flush replays everything and emits every held trace (at the end of a
// batch, --exit-when-idle).
func (a *Assembler) Flush() error {
	a.FlushForwards(context.Background())
	err := a.rl.Flush()
	for _, h := range a.unfed {
		if a.recs[h.id] == h && !h.fed {
			a.drop(h)
			for _, d := range h.dels {
				if d.Nak != nil {
					d.Nak()
				}
			}
		}
	}
	a.unfed = nil
	a.commit()
	return errors.Join(err, a.err)
}

// Held returns the records held, not yet emitted or handed off.
func (a *Assembler) Held() int { return len(a.recs) }

// Stats returns the counters so far.
func (a *Assembler) Stats() Stats { return a.stats }

// RelinkerStats returns the linker's counters.
func (a *Assembler) RelinkerStats() correlate.Stats { return a.rl.Stats() }

// emitter receives the Relinker's traces: those this instance owns go to
// the sink.
type emitter struct{ a *Assembler }

func (e emitter) WriteTrace(t *correlate.Trace) error {
	a := e.a
	if len(t.Spans) == 0 {
		return nil
	}
	var c *comp
	hs := make([]*rec, 0, len(t.Spans))
	for _, s := range t.Spans {
		h := a.recs[s.SpanID]
		if h == nil {
			continue
		}
		hs = append(hs, h)
		if c == nil {
			c = a.keys[h.keys[0]]
		}
	}
	owner := 0
	if c != nil {
		owner = c.parts.min()
	}
	var err error
	if c == nil || a.tr.Owns(owner) && !c.lost {
		err = a.sink.WriteTrace(t)
		if err != nil && a.err == nil {
			a.err = err
		}
		a.stats.Emitted += uint64(len(t.Spans))
		for _, h := range hs {
			a.acks = append(a.acks, h.dels...)
		}
	} else {
		a.stats.HandedOff += uint64(len(t.Spans))
		for _, h := range hs {
			a.rl.Forget(h.id)
			switch {
			case h.fromPartition(owner):
				// This instance no longer owns that partition
				// (rebalanced): its new owner gets the record again,
				// as a new copy (Kafka cannot redeliver one record
				// without replaying the partition from it), else by
				// a nak.
				err := a.tr.Publish(context.Background(), []Message{{Partition: owner, Data: h.data}})
				for _, d := range h.dels {
					if err != nil && d.Partition == owner {
						nak(d)
					} else {
						ack(d)
					}
				}
			case h.sent.has(owner):
				for _, d := range h.dels {
					ack(d)
				}
			default:
				// The forward failed: try once more, else have it
				// delivered again.
				err := a.tr.Publish(context.Background(), []Message{{Partition: owner, Data: h.data}})
				for _, d := range h.dels {
					if err != nil {
						nak(d)
					} else {
						ack(d)
					}
				}
			}
		}
	}
	for _, h := range hs {
		delete(a.recs, h.id)
		if c != nil {
			delete(c.recs, h.id)
		}
	}
	if c != nil && len(c.recs) == 0 {
		for _, k := range c.keys {
			if a.keys[k] == c {
				delete(a.keys, k)
			}
		}
	}
	return err
}

func (e emitter) Close() error { return nil }

// Consumer is a Transport that also delivers the records of the
// partitions this instance owns.
type Consumer interface {
	Transport
	// Deliveries returns the channel records arrive on.
	Deliveries() <-chan Delivery
}

// RunConfig configures Run.
type RunConfig struct {
	// ExitWhenIdle, when set, makes Run flush everything and return once
	// no record has arrived for that long.
	ExitWhenIdle time.Duration
	// Tick is how often the clock advances; 0 means 250 ms.
	Tick time.Duration
	// TouchEvery is how often held records are reported in progress to
	// the broker; 0 means 5 s.
	TouchEvery time.Duration
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
}

// Run feeds a from c until ctx is done or, with ExitWhenIdle, until no
// record arrived for that long; then it flushes every held trace (and
// acks their records). It returns the first sink error.
func Run(ctx context.Context, a *Assembler, c Consumer, cfg *RunConfig) error {
	var rc RunConfig
	if cfg != nil {
		rc = *cfg
	}
	if rc.Tick <= 0 {
		rc.Tick = 250 * time.Millisecond
	}
	if rc.TouchEvery <= 0 {
		rc.TouchEvery = 5 * time.Second
	}
	if rc.Now == nil {
		rc.Now = time.Now
	}
	tick := time.NewTicker(rc.Tick)
	defer tick.Stop()
	last := rc.Now()
	lastTouch := last
	in := c.Deliveries()
	for {
		select {
		case <-ctx.Done():
			return a.Flush()
		case d, ok := <-in:
			if !ok {
				return a.Flush()
			}
			last = rc.Now()
			a.Deliver(ctx, d, last)
			if len(in) == 0 {
				a.FlushForwards(ctx)
			}
		case <-tick.C:
			now := rc.Now()
			a.Tick(now)
			if now.Sub(lastTouch) >= rc.TouchEvery {
				a.Touch()
				lastTouch = now
			}
			if rc.ExitWhenIdle > 0 && now.Sub(last) >= rc.ExitWhenIdle {
				return a.Flush()
			}
		}
	}
}
