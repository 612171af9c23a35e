package wiretrace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/decode"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/amqp"
	"github.com/wiretrace/wiretrace/protocols/dns"
	"github.com/wiretrace/wiretrace/protocols/dubbo"
	"github.com/wiretrace/wiretrace/protocols/http"
	"github.com/wiretrace/wiretrace/protocols/http2"
	"github.com/wiretrace/wiretrace/protocols/kafka"
	"github.com/wiretrace/wiretrace/protocols/memcached"
	"github.com/wiretrace/wiretrace/protocols/mongodb"
	"github.com/wiretrace/wiretrace/protocols/mqtt"
	"github.com/wiretrace/wiretrace/protocols/mysql"
	"github.com/wiretrace/wiretrace/protocols/nats"
	"github.com/wiretrace/wiretrace/protocols/openwire"
	"github.com/wiretrace/wiretrace/protocols/plugin"
	"github.com/wiretrace/wiretrace/protocols/postgresql"
	"github.com/wiretrace/wiretrace/protocols/redis"
	"github.com/wiretrace/wiretrace/protocols/stomp"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// Config configures a Pipeline. A nil *Config, and the zero value of every
// field, means the defaults. Each field is the Config of one stage; the
// fields an embedder usually sets are:
//
//   - Parser.XRequestIDHeaders: request-id headers that link spans
//     (default X-Request-Id);
//   - Correlate.LocalNets: the networks whose addresses are this site's
//     services;
//   - Driver.PortProtocols: protocol overrides by server port, naming a
//     protocol of the registry ("8080": "http");
//   - Correlate.Window and Correlate.MaxPendingSpans: how long, and how
//     many spans, a trace is held open;
//   - Correlate.NoTimingLinks and Correlate.TimingMinConfidence: the
//     timing-based parent links;
//   - Assembler.IdleTimeout: when an idle TCP connection ends;
//   - Decode.VXLANPorts: extra VXLAN ports;
//   - TLSKeys: TLS session secrets (OpenKeyLog) to decrypt with.
type Config struct {
	// Decode configures L2–L4 decoding and IP fragment reassembly.
	Decode decode.Config
	// Assembler configures TCP reassembly and connection timeouts.
	Assembler decode.AssemblerConfig
	// Driver configures protocol detection. Its Registry, when set,
	// replaces the registry built from Protocols, the plugins' and the
	// built-in protocols; its Parser field is ignored (Parser below is used).
	Driver protocols.DriverConfig
	// Parser configures the protocol parsers.
	Parser protocols.Config
	// Correlate configures span building, linking and trace windows. Its
	// Logger, when nil, is Logger below.
	Correlate correlate.Config
	// Protocols are extra protocols, sniffed after the built-in ones (see
	// DefaultProtocols), or instead of them with ReplaceProtocols.
	Protocols []*protocols.Protocol
	// ReplaceProtocols drops the built-in protocols: only Protocols (and
	// the plugins' protocols) are recognised.
	ReplaceProtocols bool
	// Plugins are WebAssembly plugins (protocols/plugin) opened by the
	// caller, who closes them after the pipeline: the protocols they parse
	// are sniffed after Protocols, and those that inspect are shown every
	// message (Driver.Inspector, unless set). One Plugin may serve several
	// pipelines at once. None, the default, costs nothing.
	Plugins []*plugin.Plugin
	// Logger receives lifecycle events and rate-limited anomalies, never
	// packets. Nil discards them.
	Logger *slog.Logger
	// TLSKeys, when set, gives TLS session secrets (an NSS key log, see
	// OpenKeyLog): the sessions it knows are decrypted and their plaintext
	// goes through the other protocols' parsers (HTTP/1.x, HTTP/2, gRPC,
	// ...). Sessions it does not know get handshake and encrypted spans.
	TLSKeys tls.KeySource
}

// DefaultProtocols returns the built-in protocols in sniffing priority: text
// protocols first, since Redis's inline commands look like HTTP/1 request
// lines and HTTP must have the first look; TLS (a ClientHello) next; NATS
// before Redis, whose inline INFO and PING it also sends; memcached after
// Redis, whose inline "GET key" it shares (its port hint puts it first on
// 11211). The slice is new on each call.
func DefaultProtocols() []*protocols.Protocol {
	return []*protocols.Protocol{http.Protocol, http2.Protocol, tls.Protocol, nats.Protocol, redis.Protocol,
		memcached.Protocol, mysql.Protocol, postgresql.Protocol, kafka.Protocol, mqtt.Protocol,
		amqp.Protocol, stomp.Protocol, openwire.Protocol, dubbo.Protocol, mongodb.Protocol, dns.Protocol}
}

// Registry returns the protocol registry cfg selects: Driver.Registry when
// set, otherwise the built-in protocols (unless ReplaceProtocols) followed
// by Protocols. A nil cfg gives the built-in protocols.
//
// With TLSKeys, the built-in TLS protocol (tls.Protocol) in it is replaced by
// one that decrypts with those keys and parses the plaintext with the
// registry's protocols, and the built-in MySQL and PostgreSQL protocols by
// ones whose connections, after their SSLRequest, are read by such a TLS
// parser whose plaintext continues the database protocol
// (protocols.Config.StartTLS). The latter replacement happens without
// keys too: those connections then give the TLS handshake span and
// encrypted exchanges.
func (c *Config) Registry() *protocols.Registry { return c.RegistryCounting(nil) }

// RegistryCounting is Registry with the built-in TLS protocol counting into
// counters (when not nil): for embedders that run their own protocols.Driver
// and want the TLS counters a Pipeline reports in Stats.
func (c *Config) RegistryCounting(counters *tls.Counters) *protocols.Registry {
	var reg *protocols.Registry
	switch {
	case c == nil:
		reg = protocols.NewRegistry(DefaultProtocols()...)
	case c.Driver.Registry != nil:
		reg = c.Driver.Registry
	default:
		reg = protocols.NewRegistry(c.protocols()...)
	}
	var keys tls.KeySource
	if c != nil {
		keys = c.TLSKeys
	}
	list := reg.Protocols()
	found := false
	tc := &tls.Config{Keys: keys, Inner: reg, Counters: counters}
	for i, p := range list {
		switch p {
		case tls.Protocol:
			if keys == nil && counters == nil {
				continue // tls.Protocol already is that parser
			}
			list[i] = tls.New(tc)
			found = true
		case mysql.Protocol, postgresql.Protocol:
			list[i] = startTLS(p, tc)
			found = true
		}
	}
	if !found {
		return reg
	}
	return protocols.NewRegistry(list...)
}

// startTLS returns p whose parsers hand the TLS that follows an in-band
// upgrade (an SSLRequest) to a TLS parser with tc's keys and counters (see
// protocols.Config.StartTLS).
func startTLS(p *protocols.Protocol, tc *tls.Config) *protocols.Protocol {
	q := *p
	q.New = func(pc *protocols.Config) protocols.Parser {
		var c protocols.Config
		if pc != nil {
			c = *pc
		}
		c.StartTLS = func(inner protocols.Parser, name string) protocols.Parser {
			return tls.NewUpgrade(pc, tc, inner, name)
		}
		return p.New(&c)
	}
	return &q
}

// protocols lists the protocols of the registry, in priority order.
func (c *Config) protocols() []*protocols.Protocol {
	var ps []*protocols.Protocol
	if !c.ReplaceProtocols {
		ps = DefaultProtocols()
	}
	ps = append(ps, c.Protocols...)
	for _, p := range c.Plugins {
		if p != nil && p.Protocol() != nil {
			ps = append(ps, p.Protocol())
		}
	}
	return ps
}

// DriverConfig returns the protocol driver's configuration that cfg
// selects: Driver with its Registry (see Registry), Parser and, when
// Driver.Inspector is not set and a plugin inspects, an Inspector of the
// plugins. Every pipeline, and each worker of a parallel one, uses it.
func (c *Config) DriverConfig() protocols.DriverConfig {
	if c == nil {
		c = &Config{}
	}
	dc := c.Driver
	dc.Registry = c.Registry()
	pc := c.Parser
	dc.Parser = &pc
	if dc.Inspector == nil {
		if in := plugin.NewInspector(c.Plugins...); in != nil {
			dc.Inspector = in
		}
	}
	return dc
}

// Validate reports the first inconsistency in c: a nil or unnamed protocol,
// two protocols of one name, or a port override naming an unknown protocol.
// New calls it.
func (c *Config) Validate() error {
	if c == nil {
		return nil
	}
	seen := map[string]bool{}
	if c.Driver.Registry == nil {
		for i, p := range c.Protocols {
			switch {
			case p == nil:
				return fmt.Errorf("wiretrace: config: Protocols[%d] is nil", i)
			case p.Name == "":
				return fmt.Errorf("wiretrace: config: Protocols[%d] has no name", i)
			case p.New == nil && p.NewDatagram == nil:
				return fmt.Errorf("wiretrace: config: protocol %q (Protocols[%d]) has neither New nor NewDatagram", p.Name, i)
			}
		}
		for i, p := range c.Plugins {
			if p == nil {
				return fmt.Errorf("wiretrace: config: Plugins[%d] is nil", i)
			}
		}
		for _, p := range c.protocols() {
			if seen[p.Name] {
				return fmt.Errorf("wiretrace: config: protocol %q registered twice", p.Name)
			}
			seen[p.Name] = true
		}
	}
	reg := c.Registry()
	for port, name := range c.Driver.PortProtocols {
		if reg.Lookup(name) == nil {
			return fmt.Errorf("wiretrace: config: port %d: unknown protocol %q", port, name)
		}
	}
	if t := c.Correlate.TimingMinConfidence; t > 1 {
		return fmt.Errorf("wiretrace: config: TimingMinConfidence %v: want at most 1", t)
	}
	return nil
}

// Pipeline turns packets into traces: it decodes them, reassembles TCP,
// parses protocol messages, pairs them into spans and links spans into
// traces, which it writes to its sink. Packet time is its only clock.
//
// A Pipeline is not safe for concurrent use: call its methods from one
// goroutine (or under one lock). It starts no goroutines. Two pipelines
// share nothing and may run side by side.
type Pipeline struct {
	dec    *decode.Decoder
	asm    *decode.Assembler
	drv    *protocols.Driver
	b      *correlate.Builder
	log    *slog.Logger
	pkt    decode.Packet
	cp     capture.Packet
	closed bool
	cerr   error
	tls    *tls.Counters
}

// New returns a pipeline that writes traces to sink. A nil cfg means the
// defaults. The sink is not closed by the pipeline: close it after Close.
func New(cfg *Config, sink correlate.Sink) (*Pipeline, error) {
	if sink == nil {
		return nil, errors.New("wiretrace: nil sink")
	}
	if cfg == nil {
		cfg = &Config{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pipeline{log: log, tls: &tls.Counters{}}
	cc := cfg.Correlate
	if cc.Logger == nil {
		cc.Logger = cfg.Logger
	}
	p.b = correlate.NewBuilder(&cc, sink)
	dc := cfg.DriverConfig()
	dc.Registry = cfg.RegistryCounting(p.tls)
	p.drv = protocols.NewDriver(&dc, p.b)
	p.dec = decode.NewDecoder(&cfg.Decode)
	p.asm = decode.NewAssembler(&cfg.Assembler, p.drv)
	return p, nil
}

// Packet processes one packet from the embedder's own source: ts is its
// capture time, link says how to decode data (capture.LinkTypeEthernet for
// Ethernet frames), data holds the captured bytes and wireLen the frame's
// length on the wire (wireLen > len(data) means the capture cut it; 0 means
// len(data)). data is not kept after the call. A packet that cannot be
// decoded is counted in Stats, not reported.
func (p *Pipeline) Packet(ts time.Time, link capture.LinkType, data []byte, wireLen int) {
	if wireLen <= 0 {
		wireLen = len(data)
	}
	p.cp = capture.Packet{Timestamp: ts.UnixNano(), Data: data, Length: wireLen, LinkType: link}
	p.CapturePacket(&p.cp)
	p.cp.Data = nil
}

// CapturePacket processes one packet read from a capture.Source, keeping
// its capture point name (two-point captures) and direction. pk is not kept
// after the call.
func (p *Pipeline) CapturePacket(pk *capture.Packet) {
	if p.closed {
		return
	}
	if err := p.dec.Decode(pk, &p.pkt); err != nil {
		return // counted by the decoder
	}
	p.b.Advance(p.pkt.Timestamp)
	switch p.pkt.Proto {
	case decode.ProtoTCP:
		p.asm.Add(&p.pkt)
	case decode.ProtoUDP:
		p.drv.Datagram(&p.pkt)
	}
}

// Advance moves packet time to now without a packet: idle connections and
// UDP flows end and trace windows close. A live source calls it on a ticker
// during quiet periods; a file replay never needs it.
func (p *Pipeline) Advance(now time.Time) { p.AdvanceUnix(now.UnixNano()) }

// AdvanceUnix is Advance with now in Unix nanoseconds.
func (p *Pipeline) AdvanceUnix(now int64) {
	if p.closed {
		return
	}
	p.asm.Advance(now)
	p.drv.Advance(now)
	p.b.Advance(now)
}

// MaxSourceErrors is how many read errors Run tolerates from one source
// before it gives up.
const MaxSourceErrors = 1000

// Run reads src to its end (io.EOF) and processes every packet; it does not
// close src, nor the pipeline. A read error is logged and reading goes on
// (a capture.Merge drops a failed source and continues with the others);
// Run then returns an error wrapping the first one, after the rest of the
// input. Cancelling ctx stops Run between packets with ctx.Err(); a read
// that blocks (a live capture) returns at the source's own timeout.
func (p *Pipeline) Run(ctx context.Context, src capture.Source) error {
	var first error
	_, n := p.RunFunc(ctx, src, func(err error) {
		if first == nil {
			first = err
		}
		p.log.Warn("wiretrace: read error", "err", err)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("wiretrace: %d read error(s), the rest of the input was processed; first: %w", n, first)
	}
	return nil
}

// RunFunc is Run with read errors passed to onErr instead of the logger. It
// returns the number of packets read and of errors.
func (p *Pipeline) RunFunc(ctx context.Context, src capture.Source, onErr func(error)) (packets uint64, errs int) {
	var pk capture.Packet
	done := ctx.Done()
	for {
		if done != nil && packets%256 == 0 {
			select {
			case <-done:
				return packets, errs
			default:
			}
		}
		err := src.ReadPacket(&pk)
		if err == nil {
			packets++
			p.CapturePacket(&pk)
			continue
		}
		if errors.Is(err, io.EOF) {
			return packets, errs
		}
		errs++
		onErr(err)
		if errs >= MaxSourceErrors {
			return packets, errs
		}
	}
}

// Close ends every open connection and flow (pending requests become
// timeouts or partial spans) and writes every open trace to the sink. It
// returns the sink's first write error. Close is idempotent; later calls
// return the same error, and packets offered after it are ignored. It does
// not close the sink.
func (p *Pipeline) Close() error {
	if p.closed {
		return p.cerr
	}
	p.closed = true
	p.asm.Flush()
	p.drv.Flush()
	p.cerr = p.b.Flush()
	return p.cerr
}

// PendingSpans returns the number of spans held in open traces.
func (p *Pipeline) PendingSpans() int { return p.b.PendingSpans() }

// EachParseError calls f with the parse errors of each protocol that had
// any, in name order.
func (p *Pipeline) EachParseError(f func(protocol string, v uint64)) { p.drv.EachParseError(f) }

// Stats holds every stage's counters.
type Stats struct {
	Decode    decode.DecoderStats
	Assembler decode.AssemblerStats
	Driver    protocols.DriverStats
	TLS       tls.Stats
	Correlate correlate.Stats
}

// Each calls f for every counter in a fixed order: decoding (packets and
// bytes first), reassembly, protocols, TLS, correlation. The names are
// snake_case and stable; they make up the CLI's stats line.
func (s *Stats) Each(f func(name string, v uint64)) {
	s.Decode.Each(f)
	s.Assembler.Each(f)
	s.Driver.Each(f)
	s.TLS.Each(f)
	s.Correlate.Each(f)
}

// Stats returns a copy of the counters.
func (p *Pipeline) Stats() Stats {
	return Stats{Decode: p.dec.Stats(), Assembler: p.asm.Stats(), Driver: p.drv.Stats(),
		TLS: p.tls.Stats(), Correlate: p.b.Stats()}
}
