// Package engine wires the stages together for the CLI: capture packets are
// decoded, reassembled, parsed and turned into spans and traces.
package engine

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/decode"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dns"
	"github.com/wiretrace/wiretrace/protocols/http"
	"github.com/wiretrace/wiretrace/protocols/http2"
	"github.com/wiretrace/wiretrace/protocols/kafka"
	"github.com/wiretrace/wiretrace/protocols/mysql"
	"github.com/wiretrace/wiretrace/protocols/postgresql"
	"github.com/wiretrace/wiretrace/protocols/redis"
)

// Config gathers the stages' configurations.
type Config struct {
	Decode    decode.Config
	Assembler decode.AssemblerConfig
	Driver    protocols.DriverConfig
	Parser    protocols.Config
	Correlate correlate.Config
}

// Registry returns the protocols wiretrace knows, in sniffing priority.
func Registry() *protocols.Registry {
	// Text protocols first: Redis's inline commands look like HTTP/1
	// request lines, so HTTP must have the first look.
	return protocols.NewRegistry(http.Protocol, http2.Protocol, redis.Protocol,
		mysql.Protocol, postgresql.Protocol, kafka.Protocol, dns.Protocol)
}

// Engine runs packets through the pipeline.
type Engine struct {
	dec *decode.Decoder
	asm *decode.Assembler
	drv *protocols.Driver
	b   *correlate.Builder
	pkt decode.Packet
	// Packets and Bytes count what was offered to Packet.
	Packets uint64
	Bytes   uint64
}

// New returns an engine that writes traces to sink.
func New(cfg *Config, sink correlate.Sink) *Engine {
	if cfg == nil {
		cfg = &Config{}
	}
	e := &Engine{}
	e.b = correlate.NewBuilder(&cfg.Correlate, sink)
	dc := cfg.Driver
	if dc.Registry == nil {
		dc.Registry = Registry()
	}
	dc.Parser = &cfg.Parser
	e.drv = protocols.NewDriver(&dc, e.b)
	e.dec = decode.NewDecoder(&cfg.Decode)
	e.asm = decode.NewAssembler(&cfg.Assembler, e.drv)
	return e
}

// Packet processes one captured packet.
func (e *Engine) Packet(p *capture.Packet) {
	e.Packets++
	e.Bytes += uint64(p.Length)
	if err := e.dec.Decode(p, &e.pkt); err != nil {
		return // counted by the decoder
	}
	e.b.Advance(e.pkt.Timestamp)
	switch e.pkt.Proto {
	case decode.ProtoTCP:
		e.asm.Add(&e.pkt)
	case decode.ProtoUDP:
		e.drv.Datagram(&e.pkt)
	}
}

// Advance moves packet time to now (Unix ns) without a packet: idle
// connections and UDP flows end and trace windows close. A live capture
// calls it on a ticker during quiet periods.
func (e *Engine) Advance(now int64) {
	e.asm.Advance(now)
	e.drv.Advance(now)
	e.b.Advance(now)
}

// maxSourceErrors stops a run whose source keeps failing.
const maxSourceErrors = 1000

// Run reads src to its end. Errors from the source are passed to onErr and
// reading goes on (a capture.Merge drops a failed source and continues with
// the others); Run returns the number of such errors.
func (e *Engine) Run(src capture.Source, onErr func(error)) int {
	var p capture.Packet
	nerr := 0
	for {
		err := src.ReadPacket(&p)
		if err == nil {
			e.Packet(&p)
			continue
		}
		if errors.Is(err, io.EOF) {
			return nerr
		}
		nerr++
		onErr(err)
		if nerr >= maxSourceErrors {
			return nerr
		}
	}
}

// Close flushes every open connection and trace.
func (e *Engine) Close() error {
	e.asm.Flush()
	e.drv.Flush()
	return e.b.Flush()
}

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
func (e *Engine) EachParseError(f func(protocol string, v uint64)) { e.drv.EachParseError(f) }

// PendingSpans returns the spans held in open traces.
func (e *Engine) PendingSpans() int { return e.b.PendingSpans() }

// EachStat calls f for each counter of the stats line, in its order.
func (e *Engine) EachStat(add func(name string, v uint64)) {
	ds := e.dec.Stats()
	ds.Each(add)
	as := e.asm.Stats()
	as.Each(add)
	dr := e.drv.Stats()
	dr.Each(add)
	cs := e.b.Stats()
	cs.Each(add)
}
