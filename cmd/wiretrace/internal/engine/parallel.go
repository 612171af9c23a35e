package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/decode"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// batchPackets is how many packets, across all workers, one round of
// batches covers.
const batchPackets = 2048

// Parallel runs the pipeline with decode, reassembly and parsing sharded
// across worker goroutines and one correlate stage. Packets are sharded by
// a symmetric hash of their addresses (and TCP ports), so both directions
// of a connection meet in one worker. Every worker's output is tagged with
// the input position of the packet that caused it, and the correlate stage
// consumes it in that order: the spans and traces are the ones one worker
// gives, byte for byte, but for two cases where per-worker state shows:
// idle timeouts (each worker's clock advances with its own packets) and IP
// fragments of TCP segments (sharded by addresses alone, apart from their
// connection). TCP flow ids are the position of the connection's first
// packet plus one; UDP ones are numbered in order of first message.
//
// Run and Close must be called from one goroutine.
type Parallel struct {
	workers []*worker
	b       *correlate.Builder
	// Packets and Bytes count what was offered to Run.
	Packets uint64
	Bytes   uint64

	idx   uint64 // position of the next packet
	now   int64  // latest TCP packet time so far
	round []*inBatch
	done  chan struct{}
	ids   map[flowRef]uint64
	next  uint64
	flow  protocols.Flow
	msg   protocols.Message
	tls   *tls.Counters // shared by the workers' TLS parsers
}

type flowRef struct {
	worker int
	id     uint64
}

// NewParallel returns a runner with n workers (at least 1) that writes
// traces to sink.
func NewParallel(cfg *Config, sink correlate.Sink, n int) *Parallel {
	if cfg == nil {
		cfg = &Config{}
	}
	if n < 1 {
		n = 1
	}
	p := &Parallel{b: correlate.NewBuilder(&cfg.Correlate, sink), ids: map[flowRef]uint64{}, tls: &tls.Counters{}}
	for i := 0; i < n; i++ {
		w := &worker{id: i, in: make(chan *inBatch, 4), out: make(chan *outBatch, 4),
			free: make(chan *outBatch, 8), inFree: make(chan *inBatch, 8)}
		dc := cfg.DriverConfig()
		if cfg.Driver.Registry == nil {
			dc.Registry = cfg.RegistryCounting(p.tls)
		}
		w.drv = protocols.NewDriver(&dc, w)
		w.dec = decode.NewDecoder(&cfg.Decode)
		w.asm = decode.NewAssembler(&cfg.Assembler, w)
		w.conns = map[uint64]uint64{}
		for j := 0; j < 6; j++ {
			w.free <- &outBatch{}
			w.inFree <- &inBatch{}
		}
		p.workers = append(p.workers, w)
		go w.run()
	}
	p.round = make([]*inBatch, n)
	p.newRound()
	p.done = make(chan struct{})
	go p.merge()
	return p
}

func (p *Parallel) newRound() {
	for i, w := range p.workers {
		b := <-w.inFree
		b.data, b.pkts, b.flush = b.data[:0], b.pkts[:0], false
		p.round[i] = b
	}
}

func (p *Parallel) sendRound() {
	for i, w := range p.workers {
		w.in <- p.round[i]
	}
	p.newRound()
}

// Packet offers one packet; its Data is copied.
func (p *Parallel) Packet(pk *capture.Packet) {
	p.Packets++
	p.Bytes += uint64(pk.Length)
	h, tcp := shard(pk.LinkType, pk.Data)
	if tcp && pk.Timestamp > p.now {
		p.now = pk.Timestamp
	}
	b := p.round[h%uint32(len(p.workers))]
	off := len(b.data)
	b.data = append(b.data, pk.Data...)
	b.pkts = append(b.pkts, inPacket{idx: p.idx, off: off, n: len(pk.Data), now: p.now, p: *pk})
	p.idx++
	if p.idx%batchPackets == 0 {
		p.sendRound()
	}
}

// Run reads src to its end as [Engine.Run] does.
func (p *Parallel) Run(src capture.Source, onErr func(error)) int {
	var pk capture.Packet
	nerr := 0
	for {
		err := src.ReadPacket(&pk)
		if err == nil {
			p.Packet(&pk)
			continue
		}
		if errors.Is(err, io.EOF) {
			return nerr
		}
		nerr++
		onErr(err)
		if nerr >= wiretrace.MaxSourceErrors {
			return nerr
		}
	}
}

// Close flushes every connection and trace and stops the workers.
func (p *Parallel) Close() error {
	p.sendRound()
	for i, w := range p.workers {
		b := p.round[i]
		b.flush, b.now = true, p.now
		w.in <- b
		close(w.in)
	}
	<-p.done
	return p.b.Flush()
}

// merge is the correlate stage: it takes one batch from every worker per
// round and replays their events in input order.
func (p *Parallel) merge() {
	defer close(p.done)
	outs := make([]*outBatch, len(p.workers))
	pos := make([]int, len(p.workers))
	for {
		for i, w := range p.workers {
			b, ok := <-w.out
			if !ok {
				return
			}
			outs[i], pos[i] = b, 0
		}
		flush := outs[0].flush
		for {
			best := -1
			var key uint64
			for i, b := range outs {
				if pos[i] >= len(b.events) {
					continue
				}
				e := &b.events[pos[i]]
				k := e.idx
				if flush && e.kind != evAdvance {
					// One Assembler flushes connections in order
					// of creation, then the driver its UDP flows.
					fe := &b.flows[e.ref]
					k = fe.born
					if fe.flowID&datagramFlag != 0 {
						k = datagramFlag | p.globalID(i, fe.flowID)
					}
				} else if flush {
					k = 0
				}
				if best < 0 || k < key {
					best, key = i, k
				}
			}
			if best < 0 {
				break
			}
			p.replay(best, outs[best], &outs[best].events[pos[best]])
			pos[best]++
		}
		for i, w := range p.workers {
			w.free <- outs[i]
		}
	}
}

// flowID returns the id of e's flow for the correlate stage: for TCP the
// position of the packet that opened the connection, plus one, so ids
// follow the order one Assembler numbers them in; for UDP the order of
// first message, with the driver's UDP flag.
func (p *Parallel) flowID(w int, e *flowEvent) uint64 {
	if e.flowID&datagramFlag == 0 {
		return e.born + 1
	}
	return p.globalID(w, e.flowID)
}

func (p *Parallel) globalID(w int, id uint64) uint64 {
	r := flowRef{w, id}
	g, ok := p.ids[r]
	if !ok {
		p.next++
		g = p.next
		if id&datagramFlag != 0 {
			g |= datagramFlag
		}
		p.ids[r] = g
	}
	return g
}

// datagramFlag marks UDP flow ids, as the driver does.
const datagramFlag = uint64(1) << 63

func (p *Parallel) replay(w int, b *outBatch, ev *event) {
	if ev.kind == evAdvance {
		p.b.Advance(ev.ts)
		return
	}
	e := &b.flows[ev.ref]
	switch ev.kind {
	case evMessage:
		p.flow = e.flow
		p.flow.ID = p.flowID(w, e)
		p.msg = e.msg
		p.msg.Attrs = b.attrs[e.a0:e.a1:e.a1]
		p.msg.Links = b.attrs[e.a1:e.l1:e.l1]
		p.b.Message(&p.flow, &p.msg)
	case evFlowEnd:
		p.flow = e.flow
		p.flow.ID = p.flowID(w, e)
		delete(p.ids, flowRef{w, e.flowID})
		p.b.FlowEnd(&p.flow, ev.ts)
	}
}

// StatsLine returns the counters summed over the workers, as
// [Engine.StatsLine] prints them.
func (p *Parallel) StatsLine() string {
	var names []string
	var vals []uint64
	for wi, w := range p.workers {
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
		ds := w.dec.Stats()
		ds.Each(add)
		as := w.asm.Stats()
		as.Each(add)
		dr := w.drv.Stats()
		dr.Each(add)
	}
	var b strings.Builder
	for i, n := range names {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", n, vals[i])
	}
	ts := p.tls.Stats()
	ts.Each(func(name string, v uint64) { fmt.Fprintf(&b, " %s=%d", name, v) })
	cs := p.b.Stats()
	cs.Each(func(name string, v uint64) { fmt.Fprintf(&b, " %s=%d", name, v) })
	return b.String()
}

type inPacket struct {
	idx    uint64
	off, n int
	now    int64 // the latest TCP packet time of all workers' packets
	p      capture.Packet
}

type inBatch struct {
	data  []byte
	pkts  []inPacket
	flush bool
	now   int64 // with flush: the latest TCP packet time
}

const (
	evAdvance = iota
	evMessage
	evFlowEnd
)

// event is one call a worker's pipeline made towards the correlate stage:
// an Advance (one per packet, so kept small) or, through ref, a message or
// flow end in the batch's flows.
type event struct {
	idx  uint64
	ts   int64
	ref  int32 // index in the batch's flows (evMessage, evFlowEnd)
	kind uint8
}

// flowEvent is the flow (and message) of a Message or FlowEnd event.
type flowEvent struct {
	flowID uint64 // the worker's
	born   uint64 // TCP: position of the packet that opened the connection
	flow   protocols.Flow
	msg    protocols.Message
	// a0:a1 and a1:l1 index the batch's attrs: the message's Attrs and
	// Links.
	a0, a1, l1 int
}

type outBatch struct {
	events []event
	flows  []flowEvent
	attrs  []protocols.Attr
	flush  bool
}

// worker is one shard: decoder, assembler and driver.
type worker struct {
	id     int
	in     chan *inBatch
	inFree chan *inBatch
	out    chan *outBatch
	free   chan *outBatch
	dec    *decode.Decoder
	asm    *decode.Assembler
	drv    *protocols.Driver
	pkt    decode.Packet
	cur    *outBatch
	idx    uint64
	conns  map[uint64]uint64 // open TCP connection id -> position of its first packet
}

// NewStream implements decode.StreamFactory: it notes where the connection
// started and hands it to the driver.
func (w *worker) NewStream(c *decode.Conn) decode.Stream {
	w.conns[c.ID] = w.idx
	return &connStream{Stream: w.drv.NewStream(c), w: w, id: c.ID}
}

// connStream forgets the connection in its worker after its Close.
type connStream struct {
	decode.Stream
	w  *worker
	id uint64
}

func (s *connStream) Close(ts int64, r decode.CloseReason) {
	s.Stream.Close(ts, r)
	delete(s.w.conns, s.id)
}

func (w *worker) run() {
	defer close(w.out)
	for in := range w.in {
		w.cur = <-w.free
		clear(w.cur.flows) // drop the references into the last batch
		w.cur.events, w.cur.flows, w.cur.attrs, w.cur.flush = w.cur.events[:0], w.cur.flows[:0], w.cur.attrs[:0], in.flush
		for i := range in.pkts {
			ip := &in.pkts[i]
			w.idx = ip.idx
			ip.p.Data = in.data[ip.off : ip.off+ip.n]
			if err := w.dec.Decode(&ip.p, &w.pkt); err != nil {
				continue
			}
			w.cur.events = append(w.cur.events, event{idx: w.idx, kind: evAdvance, ts: w.pkt.Timestamp})
			switch w.pkt.Proto {
			case decode.ProtoTCP:
				// The clock one Assembler would have: the latest time
				// of every TCP packet so far, not only this worker's.
				w.asm.SetNow(ip.now)
				w.asm.Add(&w.pkt)
			case decode.ProtoUDP:
				w.drv.Datagram(&w.pkt)
			}
		}
		if in.flush {
			w.asm.SetNow(in.now)
			w.asm.Flush()
			w.drv.Flush()
		}
		w.inFree <- in
		w.out <- w.cur
	}
}

// Message implements protocols.Handler.
func (w *worker) Message(f *protocols.Flow, m *protocols.Message) {
	b := w.cur
	a0 := len(b.attrs)
	b.attrs = append(b.attrs, m.Attrs...)
	a1 := len(b.attrs)
	b.attrs = append(b.attrs, m.Links...)
	b.events = append(b.events, event{idx: w.idx, kind: evMessage, ref: int32(len(b.flows))})
	b.flows = append(b.flows, flowEvent{flowID: f.ID, born: w.conns[f.ID], flow: *f, msg: *m, a0: a0, a1: a1, l1: len(b.attrs)})
	e := &b.flows[len(b.flows)-1]
	e.msg.Attrs, e.msg.Links = nil, nil
}

// FlowEnd implements protocols.Handler.
func (w *worker) FlowEnd(f *protocols.Flow, ts int64) {
	b := w.cur
	b.events = append(b.events, event{idx: w.idx, kind: evFlowEnd, ts: ts, ref: int32(len(b.flows))})
	b.flows = append(b.flows, flowEvent{flowID: f.ID, born: w.conns[f.ID], flow: *f})
}

// shard returns a hash of the packet's endpoints that is the same for both
// directions: addresses and ports for TCP (but IP fragments), addresses
// alone otherwise (UDP datagrams may come in fragments). Frames it cannot
// read hash to 0. tcp reports an IP packet that carries TCP.
func shard(lt capture.LinkType, b []byte) (h uint32, tcp bool) {
	var et uint16
	switch lt {
	case capture.LinkTypeEthernet:
		if len(b) < 14 {
			return 0, false
		}
		et, b = binary.BigEndian.Uint16(b[12:]), b[14:]
		for (et == 0x8100 || et == 0x88a8) && len(b) >= 4 {
			et, b = binary.BigEndian.Uint16(b[2:]), b[4:]
		}
	case capture.LinkTypeLinuxSLL:
		if len(b) < 16 {
			return 0, false
		}
		et, b = binary.BigEndian.Uint16(b[14:]), b[16:]
	case capture.LinkTypeLinuxSLL2:
		if len(b) < 20 {
			return 0, false
		}
		et, b = binary.BigEndian.Uint16(b[0:]), b[20:]
	case capture.LinkTypeNull, capture.LinkTypeLoop:
		if len(b) < 4 {
			return 0, false
		}
		b = b[4:]
		et = ipEtherType(b)
	case capture.LinkTypeRaw, capture.LinkTypeIPv4, capture.LinkTypeIPv6:
		et = ipEtherType(b)
	default:
		return 0, false
	}
	var src, dst []byte
	var proto byte
	var l4 []byte
	frag := false
	switch et {
	case 0x0800:
		if len(b) < 20 {
			return 0, false
		}
		ihl := int(b[0]&0x0f) * 4
		src, dst, proto = b[12:16], b[16:20], b[9]
		frag = binary.BigEndian.Uint16(b[6:])&0x3fff != 0
		if ihl >= 20 && len(b) >= ihl {
			l4 = b[ihl:]
		}
	case 0x86dd:
		if len(b) < 40 {
			return 0, false
		}
		src, dst, proto, l4 = b[8:24], b[24:40], b[6], b[40:]
		frag = proto == 44
	default:
		return 0, false
	}
	h = hashBytes(src) + hashBytes(dst)
	if proto == 6 && !frag && len(l4) >= 4 {
		sp, dp := uint32(binary.BigEndian.Uint16(l4)), uint32(binary.BigEndian.Uint16(l4[2:]))
		h += mix(hashBytes(src)^sp) + mix(hashBytes(dst)^dp)
	}
	return mix(h), proto == 6 && !frag
}

func ipEtherType(b []byte) uint16 {
	if len(b) > 0 && b[0]>>4 == 6 {
		return 0x86dd
	}
	return 0x0800
}

func hashBytes(b []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	return h
}

func mix(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	return h ^ h>>16
}
