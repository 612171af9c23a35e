// Package engine wires the stages together for the CLI: capture packets are
// decoded, reassembled, parsed and turned into spans and traces.
package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
)

// Config gathers the stages' configurations; it is wiretrace.Config.
type Config = wiretrace.Config

// Registry returns the protocols wiretrace knows, in sniffing priority.
func Registry() *protocols.Registry { return protocols.NewRegistry(wiretrace.DefaultProtocols()...) }

// Engine runs packets through the pipeline: a wiretrace.Pipeline that
// also counts what it was offered.
type Engine struct {
	p *wiretrace.Pipeline
	// Packets and Bytes count what was offered to Packet.
	Packets uint64
	Bytes   uint64
}

// New returns an engine that writes traces to sink. It panics on an
// invalid cfg (the CLI validates its flags first).
func New(cfg *Config, sink correlate.Sink) *Engine {
	p, err := wiretrace.New(cfg, sink)
	if err != nil {
		panic(err)
	}
	return &Engine{p: p}
}

// Pipeline returns the engine's pipeline.
func (e *Engine) Pipeline() *wiretrace.Pipeline { return e.p }

// Packet processes one captured packet.
func (e *Engine) Packet(p *capture.Packet) {
	e.Packets++
	e.Bytes += uint64(p.Length)
	e.p.CapturePacket(p)
}

// Advance moves packet time to now (Unix ns) without a packet: idle
// connections and UDP flows end and trace windows close. A live capture
// calls it on a ticker during quiet periods.
func (e *Engine) Advance(now int64) { e.p.AdvanceUnix(now) }

// Run reads src to its end. Errors from the source are passed to onErr and
// reading goes on (a capture.Merge drops a failed source and continues with
// the others); Run returns the number of such errors.
func (e *Engine) Run(src capture.Source, onErr func(error)) int {
	_, n := e.p.RunFunc(context.Background(), countingSource{src, e}, onErr)
	return n
}

// countingSource counts packets into the engine's Packets and Bytes.
type countingSource struct {
	capture.Source
	e *Engine
}

func (s countingSource) ReadPacket(p *capture.Packet) error {
	err := s.Source.ReadPacket(p)
	if err == nil {
		s.e.Packets++
		s.e.Bytes += uint64(p.Length)
	}
	return err
}

// Close flushes every open connection and trace.
func (e *Engine) Close() error { return e.p.Close() }

// StatsLine returns the one-line summary of counters: packets, bytes,
// flows, spans, traces, then every drop and error by reason.
func (e *Engine) StatsLine() string {
	var b strings.Builder
	e.EachStat(func(name string, v uint64) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", name, v)
	})
	return b.String()
}

// EachParseError calls f with the parse errors of each protocol that had
// any, in name order.
func (e *Engine) EachParseError(f func(protocol string, v uint64)) { e.p.EachParseError(f) }

// PendingSpans returns the spans held in open traces.
func (e *Engine) PendingSpans() int { return e.p.PendingSpans() }

// EachStat calls f for each counter of the stats line, in its order.
func (e *Engine) EachStat(add func(name string, v uint64)) {
	st := e.p.Stats()
	st.Each(add)
}
