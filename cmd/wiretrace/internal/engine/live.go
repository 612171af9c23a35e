package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/decode"
	"github.com/wiretrace/wiretrace/protocols"
)

// LiveSource is a packet source whose reads can time out: a capture.Live
// (one member of a PACKET_FANOUT group), or a filter in front of one.
type LiveSource interface {
	capture.Source
	// SetReadDeadline makes a blocked or later ReadPacket return an error
	// wrapping os.ErrDeadlineExceeded at t.
	SetReadDeadline(t time.Time) error
}

// Live merge parameters.
const (
	// liveBatchEvents is how many events a worker gathers before it hands
	// them to the correlate stage.
	liveBatchEvents = 512
	// liveBatchAge is the packet time after which a worker hands over a
	// batch that is not full.
	liveBatchAge = int64(20 * time.Millisecond)
	// liveBatches is how many batches each worker may have in flight: the
	// bound on the merge's memory. A worker that is that far ahead of the
	// slowest one waits, and its ring absorbs the difference (or the
	// kernel drops, counted in PACKET_STATISTICS).
	liveBatches = 8
	// DefaultLiveTick is how often an idle worker reports.
	DefaultLiveTick = 100 * time.Millisecond
	// DefaultLiveLag is how far behind the wall clock an idle worker
	// declares itself done: packets younger than that may still sit in a
	// TPACKET_V3 block the kernel has not handed over (it retires a block
	// after 50 ms).
	DefaultLiveLag = 200 * time.Millisecond
	// liveSlack is the disorder allowed within one socket's packets (two
	// CPUs queueing into one ring): a worker promises no event earlier
	// than its latest packet time minus this.
	liveSlack = int64(time.Millisecond)
)

// LiveConfig configures [NewLive]. Zero fields mean defaults.
type LiveConfig struct {
	// Tick is how often an idle worker reports progress. Default:
	// DefaultLiveTick.
	Tick time.Duration
	// Lag is how far behind Now an idle worker declares its packets done.
	// Default: DefaultLiveLag.
	Lag time.Duration
	// Now is the wall clock; default time.Now.
	Now func() time.Time
	// OnPacket, when set, sees every packet a worker reads, from that
	// worker's goroutine (the -w writer; it must lock).
	OnPacket func(p *capture.Packet)
	// OnError receives read errors other than the end of the capture, from
	// the workers' goroutines.
	OnError func(err error)
}

// Live runs one decode, reassembly and parse worker per live source (the
// sockets of one PACKET_FANOUT group, which keeps both directions of every
// flow on one socket) and one correlate stage fed by all of them, so that a
// trace whose inbound request and outbound calls were read by different
// workers still links.
//
// Each worker tags what it hands to the correlate stage with the time of the
// packet that caused it, and promises after each batch that nothing earlier
// than a watermark will follow: its latest packet time less a small slack
// while packets come, the wall clock less [LiveConfig.Lag] when its socket
// is idle. The correlate stage merges the workers' streams by that time: it
// takes the earliest head of all streams once every worker with nothing
// queued has promised at least that time. Each worker's own order is kept.
// An event earlier than one already taken from another worker (a broken
// promise: more disorder in a ring than the slack) is still processed, and
// counted as live_merge_late. Each worker may have liveBatches batches in
// flight; beyond that it waits, and the kernel ring absorbs the difference
// or drops (counted by PACKET_STATISTICS).
//
// Flow ids are the worker's, spread so that workers never share one.
type Live struct {
	cfg     LiveConfig
	workers []*liveWorker
	in      chan *liveBatch
	done    chan struct{}

	mu   sync.Mutex // guards b (merge goroutine vs. stats readers)
	b    *correlate.Builder
	late atomic.Uint64
	flow protocols.Flow
	msg  protocols.Message
}

type liveBatch struct {
	out    outBatch
	w      int
	mark   int64 // no later event of the worker is earlier
	final  bool  // the worker's last batch
	events []liveEvent
}

// liveEvent is an event and the packet time it sorts by.
type liveEvent struct {
	at int64
}

type liveWorker struct {
	*worker
	src   LiveSource
	mu    sync.Mutex // guards the decoder, assembler and driver
	pk    capture.Packet
	free  chan *liveBatch
	batch *liveBatch
	first int64 // packet time of the batch's first event
	last  int64 // latest packet time
	idle  int64 // latest time advanced to while idle
	at    int64 // packet time of the events being made
	err   error
}

// NewLive starts one worker per source and the correlate stage writing to
// sink. Call Wait to run it to the end of the sources.
func NewLive(cfg *Config, sink correlate.Sink, srcs []LiveSource, lc *LiveConfig) *Live {
	if cfg == nil {
		cfg = &Config{}
	}
	l := &Live{in: make(chan *liveBatch, len(srcs)*liveBatches), done: make(chan struct{})}
	if lc != nil {
		l.cfg = *lc
	}
	if l.cfg.Tick <= 0 {
		l.cfg.Tick = DefaultLiveTick
	}
	if l.cfg.Lag <= 0 {
		l.cfg.Lag = DefaultLiveLag
	}
	if l.cfg.Now == nil {
		l.cfg.Now = time.Now
	}
	cc := cfg.Correlate
	if cc.Logger == nil {
		cc.Logger = cfg.Logger
	}
	l.b = correlate.NewBuilder(&cc, sink)
	for i, src := range srcs {
		w := &worker{id: i, conns: map[uint64]uint64{}}
		dc := cfg.Driver
		if dc.Registry == nil {
			dc.Registry = cfg.Registry()
		}
		pc := cfg.Parser
		dc.Parser = &pc
		lw := &liveWorker{worker: w, src: src, free: make(chan *liveBatch, liveBatches)}
		w.drv = protocols.NewDriver(&dc, lw)
		w.dec = decode.NewDecoder(&cfg.Decode)
		w.asm = decode.NewAssembler(&cfg.Assembler, w)
		for range liveBatches {
			lw.free <- &liveBatch{w: i}
		}
		l.workers = append(l.workers, lw)
	}
	for _, w := range l.workers {
		go w.run(l)
	}
	go l.merge()
	return l
}

// Wait blocks until every source has ended (io.EOF, after its context is
// cancelled) and the correlate stage has taken everything, then flushes
// every open trace to the sink. It returns the sink's error and the first
// read error of each worker.
func (l *Live) Wait() error {
	<-l.done
	l.mu.Lock()
	err := l.b.Flush()
	l.mu.Unlock()
	errs := []error{err}
	for _, w := range l.workers {
		errs = append(errs, w.err)
	}
	return errors.Join(errs...)
}

// Message implements protocols.Handler for the worker's driver.
func (w *liveWorker) Message(f *protocols.Flow, m *protocols.Message) {
	w.worker.Message(f, m)
	w.batch.events = append(w.batch.events, liveEvent{at: w.at})
}

// FlowEnd implements protocols.Handler for the worker's driver.
func (w *liveWorker) FlowEnd(f *protocols.Flow, ts int64) {
	w.worker.FlowEnd(f, ts)
	w.batch.events = append(w.batch.events, liveEvent{at: w.at})
}

// advanceEvent moves the correlate stage's packet time to ts; consecutive
// ones (packets that made no message) are folded into one.
func (w *liveWorker) advanceEvent(ts int64) {
	if n := len(w.cur.events); n > 0 && w.cur.events[n-1].kind == evAdvance {
		if ts > w.cur.events[n-1].ts {
			w.cur.events[n-1].ts = ts
			w.batch.events[len(w.batch.events)-1].at = ts
		}
		return
	}
	w.cur.events = append(w.cur.events, event{kind: evAdvance, ts: ts})
	w.batch.events = append(w.batch.events, liveEvent{at: ts})
}

// take gets an empty batch (waiting while liveBatches are in flight).
func (w *liveWorker) take() {
	w.batch = <-w.free
	w.batch.out.events, w.batch.out.flows, w.batch.out.attrs = w.batch.out.events[:0], w.batch.out.flows[:0], w.batch.out.attrs[:0]
	w.batch.events = w.batch.events[:0]
	w.batch.final = false
	w.cur = &w.batch.out
	w.first = 0
}

// send hands the batch to the correlate stage with watermark mark.
func (w *liveWorker) send(l *Live, mark int64, final bool) {
	w.batch.mark, w.batch.final = mark, final
	l.in <- w.batch
	if !final {
		w.take()
	}
}

func (w *liveWorker) run(l *Live) {
	w.take()
	tick := l.cfg.Tick
	lag := l.cfg.Lag.Nanoseconds()
	w.src.SetReadDeadline(l.cfg.Now().Add(tick))
	nerr := 0
	for {
		err := w.src.ReadPacket(&w.pk)
		switch {
		case err == nil:
			if l.cfg.OnPacket != nil {
				l.cfg.OnPacket(&w.pk)
			}
			w.mu.Lock()
			w.packet(&w.pk)
			w.mu.Unlock()
			if len(w.batch.events) >= liveBatchEvents || (w.first != 0 && w.last-w.first >= liveBatchAge) {
				w.send(l, w.last-liveSlack, false)
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The ring is empty: everything up to now, less what a
			// block may still hold, has been read.
			now := l.cfg.Now()
			mark := now.UnixNano() - lag
			if mark > w.last {
				w.mu.Lock()
				w.at, w.idle = mark, mark
				w.asm.Advance(mark)
				w.drv.Advance(mark)
				w.mu.Unlock()
				w.advanceEvent(mark)
			} else {
				mark = w.last - liveSlack
			}
			w.send(l, mark, false)
			w.src.SetReadDeadline(now.Add(tick))
		case errors.Is(err, io.EOF):
			w.mu.Lock()
			w.at = max(w.last, w.idle)
			w.asm.Flush()
			w.drv.Flush()
			w.mu.Unlock()
			w.send(l, 0, true)
			return
		default:
			nerr++
			if w.err == nil {
				w.err = err
			}
			if l.cfg.OnError != nil {
				l.cfg.OnError(err)
			}
			if nerr >= 1000 {
				w.send(l, 0, true)
				return
			}
		}
	}
}

// packet decodes and processes one packet (under mu).
func (w *liveWorker) packet(pk *capture.Packet) {
	if err := w.dec.Decode(pk, &w.pkt); err != nil {
		return
	}
	ts := w.pkt.Timestamp
	w.at = ts
	if ts > w.last {
		w.last = ts
	}
	if w.first == 0 {
		w.first = ts
	}
	w.advanceEvent(ts)
	switch w.pkt.Proto {
	case decode.ProtoTCP:
		w.asm.Add(&w.pkt)
	case decode.ProtoUDP:
		w.drv.Datagram(&w.pkt)
	}
}

// liveQueue is what the correlate stage holds of one worker.
type liveQueue struct {
	batches []*liveBatch // received, in order; the first is being read
	pos     int          // next event of batches[0]
	mark    int64
	final   bool
}

func (q *liveQueue) head() (int64, bool) {
	for len(q.batches) > 0 {
		if b := q.batches[0]; q.pos < len(b.events) {
			return b.events[q.pos].at, true
		}
		return 0, false
	}
	return 0, false
}

// merge is the correlate stage.
func (l *Live) merge() {
	defer close(l.done)
	qs := make([]liveQueue, len(l.workers))
	open := len(l.workers)
	var lastAt int64
	lastW := -1
	recv := func(b *liveBatch) {
		q := &qs[b.w]
		q.batches = append(q.batches, b)
		if b.final {
			q.final = true
			open--
		} else if b.mark > q.mark {
			q.mark = b.mark
		}
	}
	for {
		// Retire read batches.
		for i := range qs {
			q := &qs[i]
			for len(q.batches) > 0 && q.pos >= len(q.batches[0].events) {
				l.workers[i].free <- q.batches[0]
				q.batches = q.batches[1:]
				q.pos = 0
			}
		}
		best := -1
		var at int64
		for i := range qs {
			if h, ok := qs[i].head(); ok && (best < 0 || h < at) {
				best, at = i, h
			}
		}
		if best < 0 {
			if open == 0 {
				return
			}
			recv(<-l.in)
			continue
		}
		// Every worker with nothing queued must have promised at least at.
		wait := false
		for i := range qs {
			q := &qs[i]
			if i == best || q.final || len(q.batches) > 0 {
				continue
			}
			if q.mark < at {
				wait = true
				break
			}
		}
		if wait {
			recv(<-l.in)
			continue
		}
		// Take every event of best up to the next promise it needs.
		q := &qs[best]
		b := q.batches[0]
		l.mu.Lock()
		e := &b.out.events[q.pos]
		if e.kind != evAdvance && at < lastAt && lastW != best {
			l.late.Add(1)
		}
		if at > lastAt {
			lastAt = at
		}
		lastW = best
		l.replay(best, &b.out, e)
		l.mu.Unlock()
		q.pos++
	}
}

// globalID spreads worker w's flow id so that no two workers share one,
// keeping the driver's UDP flag.
func (l *Live) globalID(w int, id uint64) uint64 {
	n := uint64(len(l.workers))
	return ((id&^datagramFlag)*n + uint64(w)) | id&datagramFlag
}

func (l *Live) replay(w int, b *outBatch, e *event) {
	switch e.kind {
	case evAdvance:
		l.b.Advance(e.ts)
	case evMessage:
		f := &b.flows[e.ref]
		l.flow = f.flow
		l.flow.ID = l.globalID(w, f.flowID)
		l.msg = f.msg
		l.msg.Attrs = b.attrs[f.a0:f.a1:f.a1]
		l.msg.Links = b.attrs[f.a1:f.l1:f.l1]
		l.b.Message(&l.flow, &l.msg)
	case evFlowEnd:
		f := &b.flows[e.ref]
		l.flow = f.flow
		l.flow.ID = l.globalID(w, f.flowID)
		l.b.FlowEnd(&l.flow, e.ts)
	}
}

// EachStat calls f for each counter of the stats line, summed over the
// workers, then live_merge_late. Safe while the workers run.
func (l *Live) EachStat(f func(name string, v uint64)) {
	var names []string
	var vals []uint64
	for wi, w := range l.workers {
		i := 0
		add := func(name string, v uint64) {
			if wi == 0 {
				names = append(names, name)
				vals = append(vals, v)
			} else {
				vals[i] += v
			}
			i++
		}
		w.mu.Lock()
		ds, as, dr := w.dec.Stats(), w.asm.Stats(), w.drv.Stats()
		w.mu.Unlock()
		ds.Each(add)
		as.Each(add)
		dr.Each(add)
	}
	for i, n := range names {
		f(n, vals[i])
	}
	l.mu.Lock()
	cs := l.b.Stats()
	l.mu.Unlock()
	cs.Each(f)
	f("live_merge_late", l.late.Load())
}

// StatsLine returns the counters as [Engine.StatsLine] prints them.
func (l *Live) StatsLine() string {
	var b strings.Builder
	l.EachStat(func(name string, v uint64) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", name, v)
	})
	return b.String()
}

// EachParseError calls f with the parse errors of each protocol summed over
// the workers, in name order. Safe while the workers run.
func (l *Live) EachParseError(f func(protocol string, v uint64)) {
	sum := map[string]uint64{}
	for _, w := range l.workers {
		w.mu.Lock()
		w.drv.EachParseError(func(p string, v uint64) { sum[p] += v })
		w.mu.Unlock()
	}
	names := make([]string, 0, len(sum))
	for n := range sum {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f(n, sum[n])
	}
}

// PendingSpans returns the spans held in open traces. Safe while the
// workers run.
func (l *Live) PendingSpans() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.PendingSpans()
}
