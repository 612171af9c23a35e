package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/api"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/metrics"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/store"
)

// DefaultListen is serve's default address: Jaeger's query port, so the
// Jaeger UI's and Grafana's defaults find it; loopback only.
const DefaultListen = "127.0.0.1:16686"

// serveFlags are the flags of serve beyond outputFlags and captureFlags.
type serveFlags struct {
	listen     string
	retention  time.Duration
	maxSpans   int
	apmQuery   string
	apmTimeout time.Duration
	filterExpr string

	// Fleet: --from reads an assembler's traces from a broker;
	// --agents-listen embeds a NATS JetStream server for agents.
	fleet        assembleFlags
	agentsListen string
	agentsStore  string
}

func registerServeFlags(cmd *cobra.Command, s *serveFlags, o *outputFlags, c *captureFlags) {
	o.register(cmd)
	c.register(cmd, nil)
	f := cmd.Flags()
	f.StringVar(&s.listen, "listen", DefaultListen, "serve the query API (and /metrics) on `ADDR`")
	f.DurationVar(&s.retention, "retention", store.DefaultRetention, "keep traces this long, in packet time back from the newest span")
	f.IntVar(&s.maxSpans, "store-max-spans", store.DefaultMaxSpans, "keep at most `N` spans; the oldest traces are evicted first")
	f.StringVar(&s.apmQuery, "apm-query", "", "merge the spans of the Jaeger query API at `URL` into GET /api/traces/{id}")
	f.DurationVar(&s.apmTimeout, "apm-timeout", 5*time.Second, "timeout of each --apm-query request")
	f.StringVar(&s.filterExpr, "filter", "", "replaying files, only packets matching the tcpdump filter `EXPR` (live, the trailing arguments are the filter)")
	f.StringVar(&s.agentsListen, "agents-listen", "", "fleet: embed a single-node NATS JetStream server on `ADDR` (host:port) for agents (--publish nats://ADDR) and assemble their records")
	f.StringVar(&s.agentsStore, "agents-store-dir", "", "fleet: JetStream storage `DIR` of --agents-listen (default: a temporary directory removed at exit)")
	s.fleet.register(cmd)
}

func newServeCmd() *cobra.Command {
	var s serveFlags
	var o outputFlags
	var c captureFlags
	cmd := &cobra.Command{
		Use:   "serve [flags] FILE... | serve -i IFACE [flags] [FILTER EXPRESSION...]",
		Short: "Keep traces in memory and serve them with Jaeger's query API",
		Long: `Serve feeds the traces of capture files (replayed once, in timestamp
order) or of a live capture (-i) into an in-memory store and serves it over
HTTP on --listen: Jaeger's query API (/api/traces, /api/services, ...) for
the Jaeger UI and Grafana's Jaeger data source, trace completion
(POST /api/v1/traces/complete with an OTLP/JSON trace) and Prometheus
metrics (/metrics; also on --metrics-addr when set). It runs until SIGINT
or SIGTERM.

A span's service is the name --service-name gives its address, else the
server's ip:port (server-side and network spans) or the client's ip
(client-side spans). The store keeps --retention of packet time back from
the newest span and at most --store-max-spans spans.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runServe(cmd, &s, &o, &c, args)
		},
	}
	registerServeFlags(cmd, &s, &o, &c)
	return cmd
}

// parseServiceNames parses ADDR=NAME pairs.
func parseServiceNames(pairs []string) (store.Names, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	n := store.Names{}
	for _, p := range pairs {
		addr, name, ok := strings.Cut(strings.TrimSpace(p), "=")
		addr, name = strings.TrimSpace(addr), strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("--service-name %q: want ADDR=NAME", p)
		}
		if ap, err := netip.ParseAddrPort(addr); err == nil {
			n[ap.String()] = name
		} else if a, err := netip.ParseAddr(addr); err == nil {
			n[a.String()] = name
		} else {
			return nil, fmt.Errorf("--service-name %q: %q is not an ip or ip:port", p, addr)
		}
	}
	return n, nil
}

// pipeline is an engine whose counters can be scraped while it runs: the
// engine runs under mu, and metrics read it under mu.
type pipeline struct {
	mu  sync.Mutex
	eng *engine.Engine
	// fs, when set, is a filter whose counters follow the engine's; it
	// must run under mu too.
	fs *filter.Source
}

// Packet processes a packet under mu.
func (p *pipeline) Packet(pkt *capture.Packet) {
	p.mu.Lock()
	p.eng.Packet(pkt)
	p.mu.Unlock()
}

// Advance moves packet time under mu.
func (p *pipeline) Advance(now int64) {
	p.mu.Lock()
	p.eng.Advance(now)
	p.mu.Unlock()
}

// EachStat implements metrics.Source (the caller holds mu).
func (p *pipeline) EachStat(f func(string, uint64)) {
	p.eng.EachStat(f)
	if p.fs != nil {
		p.fs.Each(f)
	}
}

// EachParseError implements metrics.Source (the caller holds mu).
func (p *pipeline) EachParseError(f func(string, uint64)) { p.eng.EachParseError(f) }

// PendingSpans implements metrics.Source (the caller holds mu).
func (p *pipeline) PendingSpans() int { return p.eng.PendingSpans() }

// newMetrics returns metrics reading p under its lock.
func (p *pipeline) newMetrics(names store.Names, extra ...func(func(string, uint64))) *metrics.Metrics {
	return metrics.New(&metrics.Config{Source: p, Lock: &p.mu, Names: names, Extra: extra})
}

// unlockedReads releases mu while the wrapped source blocks in a read, so
// that scrapes get in between packets of a run holding mu.
type unlockedReads struct {
	capture.Source
	mu *sync.Mutex
}

func (u *unlockedReads) ReadPacket(p *capture.Packet) error {
	u.mu.Unlock()
	defer u.mu.Lock()
	return u.Source.ReadPacket(p)
}

// lockedReads holds mu while the wrapped source reads (its own reads,
// below an unlockedReads, release it).
type lockedReads struct {
	capture.Source
	mu *sync.Mutex
}

func (l *lockedReads) ReadPacket(p *capture.Packet) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Source.ReadPacket(p)
}

// startHTTP serves h on addr until ctx ends; it returns the bound address
// and a function that waits for the server to stop.
func startHTTP(ctx context.Context, addr string, h http.Handler) (net.Addr, func() error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	wait := func() error {
		close(stopped)
		return <-done
	}
	return ln.Addr(), wait, nil
}

func runServe(cmd *cobra.Command, s *serveFlags, o *outputFlags, c *captureFlags, args []string) error {
	if s.fleet.from != "" || s.agentsListen != "" {
		if len(args) > 0 || cmd.Flags().Changed("interface") {
			return errors.New("serve: --from and --agents-listen serve fleet data; give no capture files or -i")
		}
		return runServeFleet(cmd, s, o)
	}
	live := cmd.Flags().Changed("interface")
	if !live && len(args) == 0 {
		return errors.New("serve: give capture files or -i IFACE")
	}
	if c.workers != 1 {
		return fmt.Errorf("serve: --workers %d: only 1 is supported for now", c.workers)
	}
	if !live && c.write != "" {
		return errors.New("serve: -w writes a live capture; it needs -i")
	}
	cfg, err := o.engineConfig(cmd)
	if err != nil {
		return err
	}
	defer o.closePlugins()
	names, err := parseServiceNames(o.serviceNames)
	if err != nil {
		return err
	}
	var flt *filter.Filter
	if live {
		flt, err = compileFilter(args)
	} else if s.filterExpr != "" {
		flt, err = filter.New(s.filterExpr, capture.LinkTypeEthernet)
	}
	if err != nil {
		return err
	}
	st := store.New(&store.Config{Retention: s.retention, MaxSpans: s.maxSpans, Names: names})
	sinks := []correlate.Sink{st}
	if cmd.Flags().Changed("output") || cmd.Flags().Changed("format") {
		out, err := o.openSink(cmd.OutOrStdout())
		if err != nil {
			return err
		}
		sinks = append(sinks, out)
	}
	sink := correlate.Tee(sinks...)
	stderr := cmd.ErrOrStderr()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.duration)
		defer cancel()
	}

	p := &pipeline{}
	extra := []func(func(string, uint64)){func(f func(string, uint64)) { st.Stats().Each(f) }}
	var liveSrc *capture.Live
	var pw *capture.PcapngWriter
	var src capture.Source
	if live {
		lc, err := c.liveConfig()
		if err != nil {
			return err
		}
		tracer, err := openEBPF(c.ebpf, c.btfFile, &cfg.Correlate, stderr)
		if err != nil {
			return err
		}
		defer tracer.Close()
		extra = append(extra, func(f func(string, uint64)) { ebpfStats(tracer, f) })
		if liveSrc, err = capture.OpenLive(ctx, lc); err != nil {
			return err
		}
		defer liveSrc.Close()
		extra = append(extra, func(f func(string, uint64)) { ls := liveSrc.Stats(); ls.Each(f) })
		src = liveSrc
		if c.write != "" {
			wf, err := os.Create(c.write)
			if err != nil {
				return fmt.Errorf("serve: -w: %w", err)
			}
			defer wf.Close()
			if pw, err = capture.NewPcapngWriter(wf, c.snaplen); err != nil {
				return err
			}
		}
	} else {
		var srcs []capture.Source
		defer func() {
			for _, s := range srcs {
				s.Close()
			}
		}()
		for _, f := range args {
			fsrc, err := capture.OpenFile(f, nil)
			if err != nil {
				return err
			}
			srcs = append(srcs, fsrc)
		}
		src = capture.Merge(srcs...)
	}
	src = &unlockedReads{Source: src, mu: &p.mu}
	if flt != nil {
		p.fs = filter.NewSource(src, flt)
		src = p.fs
	}
	m := p.newMetrics(names, append(extra, o.pluginStats)...)
	p.eng = engine.New(cfg, m.Sink(sink))

	mux := http.NewServeMux()
	mux.Handle("/api/", api.New(&api.Config{Store: st, APMQuery: s.apmQuery, APMTimeout: s.apmTimeout}))
	mux.Handle("/metrics", m.Handler())
	addr, wait, err := startHTTP(ctx, s.listen, mux)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wiretrace: serving the query API on http://%s\n", addr)
	waits := []func() error{wait}
	if o.metricsAddr != "" {
		mstop, err := serveMetrics(cmd, o.metricsAddr, m)
		if err != nil {
			wait()
			return err
		}
		waits = append(waits, mstop)
	}

	var rerr error
	if live {
		rerr = readLive(&lockedReads{Source: src, mu: &p.mu}, liveSrc, p, pw, c.count)
		liveSrc.Close()
		if pw != nil {
			rerr = errors.Join(rerr, pw.Flush())
		}
	} else {
		p.mu.Lock()
		bad := p.eng.Run(src, func(err error) { fmt.Fprintln(stderr, "wiretrace:", err) })
		p.mu.Unlock()
		if bad > 0 {
			rerr = fmt.Errorf("%d input error(s); the rest of the input was processed", bad)
			fmt.Fprintln(stderr, "wiretrace:", rerr)
		}
	}
	p.mu.Lock()
	ferr := p.eng.Close()
	var b strings.Builder
	p.EachStat(func(name string, v uint64) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", name, v)
	})
	p.mu.Unlock()
	for _, x := range extra {
		x(func(name string, v uint64) { fmt.Fprintf(&b, " %s=%d", name, v) })
	}
	if !o.quiet {
		fmt.Fprintln(stderr, "wiretrace:", b.String())
	}
	if !live {
		// The replay is done: keep serving until told to stop.
		<-ctx.Done()
	}
	stop()
	var werrs []error
	for _, w := range waits {
		werrs = append(werrs, w())
	}
	cerr := sink.Close()
	if live {
		return errors.Join(rerr, ferr, cerr, errors.Join(werrs...))
	}
	return errors.Join(ferr, cerr, errors.Join(werrs...))
}

// serveMetrics serves m's /metrics on addr until the returned stop is
// called.
func serveMetrics(cmd *cobra.Command, addr string, m *metrics.Metrics) (stop func() error, err error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	maddr, wait, err := startHTTP(ctx, addr, mux)
	if err != nil {
		cancel()
		return nil, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wiretrace: serving metrics on http://%s/metrics\n", maddr)
	return func() error {
		cancel()
		return wait()
	}, nil
}
