package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/watch"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/html"
	"github.com/wiretrace/wiretrace/correlate/jsonl"
	"github.com/wiretrace/wiretrace/correlate/otlp"
	"github.com/wiretrace/wiretrace/correlate/summary"
	"github.com/wiretrace/wiretrace/correlate/tree"
	"github.com/wiretrace/wiretrace/protocols/plugin"
)

// outputFlags are the flags shared by every command that emits traces.
type outputFlags struct {
	format        string
	output        string
	xRequestID    []string
	redactSQL     bool
	localNets     []string
	protocolPorts []string
	window        time.Duration
	idle          time.Duration
	maxPending    int
	timingLinks   bool
	timingMinConf float64
	configFile    string
	quiet         bool
	htmlMaxTraces int
	watch         bool

	otlpEndpoint string
	otlpHeaders  []string
	otlpInsecure bool
	serviceNames []string
	otlp         *otlp.Exporter // set by openSink when --otlp-endpoint is given
	vxlanPorts   []uint
	metricsAddr  string

	plugins       []string
	pluginTimeout time.Duration
	pluginMemory  uint
	loaded        []*plugin.Plugin // set by engineConfig; closePlugins closes them
	tlsKeylog     string

	// pub, when set, adds the fleet agent flags (--publish); agent is the
	// agent sink openTraceSink opened.
	pub   *publishFlags
	agent *agentSink
}

func (o *outputFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "tree", "output format: tree, jsonl, summary or html")
	f.StringVarP(&o.output, "output", "o", "-", "write output to `FILE` (- is stdout)")
	f.StringSliceVar(&o.xRequestID, "x-request-id-headers", nil, "request-id header `names`, case-insensitive, first present wins (config key http_log_x_request_id; default X-Request-ID)")
	f.BoolVar(&o.redactSQL, "redact-sql", false, "replace string and number literals in SQL text (db.query.text) with ?")
	f.StringSliceVar(&o.localNets, "local-net", nil, "`CIDR`s local to the capture point, which set each span's side (config key local_net)")
	f.StringSliceVar(&o.protocolPorts, "protocol", nil, "force a protocol on a server port, `PORT=NAME` (like tshark's decode-as)")
	f.DurationVar(&o.window, "trace-window", 5*time.Second, "how long, in packet time, a trace stays open after its last span")
	f.DurationVar(&o.window, "window", 5*time.Second, "alias of --trace-window")
	f.IntVar(&o.maxPending, "max-pending-spans", 0, "complete spans held in open traces before the oldest traces are emitted early (0: 262144)")
	f.BoolVar(&o.timingLinks, "timing-links", true, "link an outbound call with no key on the wire to the enclosing inbound request of its host")
	f.Float64Var(&o.timingMinConf, "timing-min-confidence", 0.5, "confidence (0..1) below which a timing candidate is not linked")
	f.DurationVar(&o.idle, "idle-timeout", 2*time.Minute, "packet time after which an idle connection ends and its unanswered requests become timeouts")
	f.StringVar(&o.configFile, "config", "", "read settings from the YAML `FILE` (keys are the long flag names); flags win")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "do not print the stats line")
	f.IntVar(&o.htmlMaxTraces, "html-max-traces", html.DefaultMaxTraces, "--format html: at most `N` traces in the page, failing ones first, then the slowest")
	f.BoolVar(&o.watch, "watch", false, "live table of calls per service pair and operation (q quits); with -o FILE the --format output is written too")
	f.StringVar(&o.otlpEndpoint, "otlp-endpoint", "", "also export spans over OTLP to `URL`: grpc://host:4317 or http://host:4318 (https://, grpcs:// for TLS)")
	f.StringArrayVar(&o.otlpHeaders, "otlp-header", nil, "send header `KEY=VALUE` with every OTLP request (repeatable)")
	f.BoolVar(&o.otlpInsecure, "otlp-insecure", false, "OTLP/gRPC in plaintext, without TLS (e.g. a loopback collector)")
	f.StringArrayVar(&o.serviceNames, "service-name", nil, "service name `ADDR=NAME` for an ip or ip:port, for OTLP, --format html and --watch (repeatable; default: the server's ip:port, a client's ip)")
	f.UintSliceVar(&o.vxlanPorts, "vxlan-port", nil, "UDP `PORT`s decoded as VXLAN besides 4789 (e.g. 8472, Linux's default)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on `ADDR`/metrics (e.g. 127.0.0.1:9464)")
	f.StringVar(&o.tlsKeylog, "tls-keylog", "", "decrypt TLS with the NSS key log `FILE` (SSLKEYLOGFILE); re-read as it grows")
	f.StringArrayVar(&o.plugins, "plugin", nil, "load the WebAssembly plugin `FILE.wasm`: link keys, attributes or a protocol (repeatable; see README, Plugins)")
	f.DurationVar(&o.pluginTimeout, "plugin-timeout", plugin.DefaultTimeout, "time limit of one plugin call; a call stopped is counted and its flow given up")
	f.UintVar(&o.pluginMemory, "plugin-memory", plugin.DefaultMemoryLimitPages/16, "memory limit of each plugin instance, in `MiB` (0: 64)")
}

// pluginCache keeps compiled plugins for the life of the process, so that
// a plugin loaded again (serve's restarts, the tests' repeated commands)
// is not compiled again.
var pluginCache = plugin.NewCache()

// openPlugins loads the --plugin files.
func (o *outputFlags) openPlugins() error {
	if o.pluginMemory > 4096 {
		return fmt.Errorf("--plugin-memory %d: want at most 4096 MiB", o.pluginMemory)
	}
	pc := &plugin.Config{Timeout: o.pluginTimeout, MemoryLimitPages: uint32(o.pluginMemory * 16), Cache: pluginCache}
	names := map[string]string{}
	for _, path := range o.plugins {
		if path = strings.TrimSpace(path); path == "" {
			continue
		}
		p, err := plugin.Open(context.Background(), path, pc)
		if err != nil {
			o.closePlugins()
			return err
		}
		o.loaded = append(o.loaded, p)
		if prev, dup := names[p.Name()]; dup {
			o.closePlugins()
			return fmt.Errorf("--plugin %s: plugin %q is already loaded from %s", path, p.Name(), prev)
		}
		names[p.Name()] = path
	}
	return nil
}

// closePlugins releases the plugins engineConfig loaded.
func (o *outputFlags) closePlugins() {
	for _, p := range o.loaded {
		p.Close(context.Background())
	}
	o.loaded = nil
}

// otlpConfig turns the OTLP flags into the exporter's Config.
func (o *outputFlags) otlpConfig() (*otlp.Config, error) {
	cfg := &otlp.Config{Endpoint: o.otlpEndpoint, Insecure: o.otlpInsecure}
	for _, h := range o.otlpHeaders {
		k, v, ok := strings.Cut(h, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("--otlp-header %q: want KEY=VALUE", h)
		}
		if cfg.Headers == nil {
			cfg.Headers = map[string]string{}
		}
		cfg.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	names, err := o.serviceNameMap()
	if err != nil {
		return nil, err
	}
	cfg.ServiceNames = names
	return cfg, nil
}

// serviceNameMap turns --service-name ADDR=NAME flags into the address
// (ip or ip:port) → name map that OTLP, the HTML report, --watch and serve
// use.
func (o *outputFlags) serviceNameMap() (map[string]string, error) {
	return parseServiceNames(o.serviceNames)
}

// sinkStats adds the sinks' counters (the OTLP exporter's) and the
// plugins' (plugin_NAME_COUNTER) to add.
func (o *outputFlags) sinkStats(add func(name string, v uint64)) {
	if o.agent != nil {
		o.agent.each(add)
	}
	if o.otlp != nil {
		st := o.otlp.Stats()
		st.Each(add)
	}
	o.pluginStats(add)
}

// pluginStats adds the loaded plugins' counters, as plugin_NAME_COUNTER,
// to add (the stats line and the metrics).
func (o *outputFlags) pluginStats(add func(name string, v uint64)) {
	for _, p := range o.loaded {
		st := p.Stats()
		prefix := "plugin_" + strings.ReplaceAll(p.Name(), "-", "_") + "_"
		st.Each(func(name string, v uint64) { add(prefix+name, v) })
	}
}

// engineConfig turns flags (the config file already applied, see
// applyConfigFile) into the stages' Config.
func (o *outputFlags) engineConfig(cmd *cobra.Command) (*engine.Config, error) {
	cfg := &engine.Config{}
	cfg.Parser.RedactSQL = o.redactSQL
	for _, h := range o.xRequestID {
		if h = strings.TrimSpace(h); h != "" {
			cfg.Parser.XRequestIDHeaders = append(cfg.Parser.XRequestIDHeaders, h)
		}
	}
	for _, n := range o.localNets {
		if strings.TrimSpace(n) == "" {
			continue
		}
		p, err := parsePrefix(n)
		if err != nil {
			return nil, err
		}
		cfg.Correlate.LocalNets = append(cfg.Correlate.LocalNets, p)
	}
	if err := o.openPlugins(); err != nil {
		return nil, err
	}
	cfg.Plugins = o.loaded
	reg := cfg.Registry()
	for _, pp := range o.protocolPorts {
		port, name, ok := strings.Cut(pp, "=")
		n, err := strconv.ParseUint(port, 10, 16)
		if !ok || err != nil {
			o.closePlugins()
			return nil, fmt.Errorf("--protocol %q: want PORT=NAME", pp)
		}
		if reg.Lookup(name) == nil {
			o.closePlugins()
			return nil, fmt.Errorf("--protocol %q: unknown protocol %q (see 'wiretrace protocols')", pp, name)
		}
		if cfg.Driver.PortProtocols == nil {
			cfg.Driver.PortProtocols = map[uint16]string{}
		}
		cfg.Driver.PortProtocols[uint16(n)] = name
	}
	cfg.Correlate.Window = o.window
	cfg.Correlate.MaxPendingSpans = o.maxPending
	cfg.Correlate.NoTimingLinks = !o.timingLinks
	if o.timingMinConf < 0 || o.timingMinConf > 1 {
		o.closePlugins()
		return nil, fmt.Errorf("--timing-min-confidence %v: want 0..1", o.timingMinConf)
	}
	cfg.Correlate.TimingMinConfidence = o.timingMinConf
	if o.timingMinConf == 0 {
		cfg.Correlate.TimingMinConfidence = -1 // accept every candidate
	}
	cfg.Assembler.IdleTimeout = o.idle
	for _, p := range o.vxlanPorts {
		if p == 0 || p > 65535 {
			o.closePlugins()
			return nil, fmt.Errorf("--vxlan-port %d: not a UDP port", p)
		}
		cfg.Decode.VXLANPorts = append(cfg.Decode.VXLANPorts, uint16(p))
	}
	if o.tlsKeylog != "" {
		kl, err := wiretrace.OpenKeyLog(o.tlsKeylog)
		if err != nil {
			return nil, fmt.Errorf("--tls-keylog: %w", err)
		}
		cfg.TLSKeys = kl
	}
	return cfg, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("--local-net %q: not a CIDR or address", s)
}

// openTraceSink opens the fleet agent with --publish, else the output
// (openSink).
func (o *outputFlags) openTraceSink(cmd *cobra.Command, cfg *correlate.Config) (correlate.Sink, error) {
	if o.pub == nil || o.pub.publish == "" {
		return o.openSink(cmd.OutOrStdout())
	}
	if o.watch {
		return nil, errors.New("--publish and --watch: choose one")
	}
	a, err := o.pub.openAgent(cmd, cfg)
	if err != nil {
		return nil, err
	}
	o.agent = a
	return a, nil
}

// openSink opens the output and the sink for the chosen format and, with
// --otlp-endpoint, the OTLP exporter beside it.
func (o *outputFlags) openSink(stdout io.Writer) (correlate.Sink, error) {
	if o.otlpEndpoint == "" {
		return o.openFormat(stdout)
	}
	cfg, err := o.otlpConfig()
	if err != nil {
		return nil, err
	}
	exp, err := otlp.Open(cfg)
	if err != nil {
		return nil, err
	}
	s, err := o.openFormat(stdout)
	if err != nil {
		exp.Close()
		return nil, err
	}
	o.otlp = exp
	return correlate.Tee(s, exp), nil
}

// openFormat opens the output and the sink for the chosen format.
func (o *outputFlags) openFormat(stdout io.Writer) (correlate.Sink, error) {
	var w io.Writer = nopCloser{stdout}
	if o.output != "" && o.output != "-" {
		f, err := os.Create(o.output)
		if err != nil {
			return nil, fmt.Errorf("output: %w", err)
		}
		w = f
	}
	switch o.format {
	case "jsonl", "json":
		return jsonl.New(w), nil
	case "tree":
		return tree.New(w), nil
	case "summary":
		return summary.New(w), nil
	case "html":
		names, err := o.serviceNameMap()
		if err != nil {
			return nil, err
		}
		return html.New(w, &html.Config{MaxTraces: o.htmlMaxTraces, ServiceNames: names}), nil
	}
	if c, ok := w.(io.Closer); ok {
		c.Close()
	}
	return nil, fmt.Errorf("--format %q: want tree, jsonl, summary or html", o.format)
}

// progressSource updates the progress bar as packets are read.
type progressSource struct {
	capture.Source
	prog           *progress
	packets, bytes uint64
}

func (p *progressSource) ReadPacket(pkt *capture.Packet) error {
	p.prog.update(p.packets, p.bytes)
	err := p.Source.ReadPacket(pkt)
	if err == nil {
		p.packets++
		p.bytes += uint64(pkt.Length)
	}
	return err
}

// runner is the single-goroutine engine or the sharded one (--workers).
type runner interface {
	Run(src capture.Source, onErr func(error)) int
	Close() error
	StatsLine() string
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func newReplayCmd() *cobra.Command {
	var o outputFlags
	var pf perfFlags
	var filterExpr string
	o.pub = &publishFlags{}
	cmd := &cobra.Command{
		Use:   "replay [flags] FILE...",
		Short: "Replay pcap/pcapng files (optionally .gz) and print the traces",
		Long: `Replay reads capture files (pcap or pcapng, optionally gzip-compressed),
merges them in timestamp order, and prints the traces they contain. Each
span's capture field is the name of the file it was seen in.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stop, err := pf.start()
			if err != nil {
				return err
			}
			rerr := runReplay(cmd, &o, args, filterExpr, pf.workers)
			if err := stop(); rerr == nil {
				rerr = err
			}
			return rerr
		},
	}
	o.register(cmd)
	o.pub.register(cmd)
	pf.register(cmd)
	cmd.Flags().StringVar(&filterExpr, "filter", "", "only packets matching the tcpdump filter `EXPR` (see 'wiretrace filter')")
	return cmd
}

func runReplay(cmd *cobra.Command, o *outputFlags, files []string, filterExpr string, workers int) error {
	cfg, err := o.engineConfig(cmd)
	if err != nil {
		return err
	}
	defer o.closePlugins()
	var srcs []capture.Source
	var total int64
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	for _, f := range files {
		src, err := capture.OpenFile(f, nil)
		if err != nil {
			return err
		}
		if fi, err := os.Stat(f); err == nil {
			total += fi.Size()
		}
		srcs = append(srcs, src)
	}
	var sink correlate.Sink
	var view *watch.View
	if o.watch {
		view, sink, err = o.openWatch(cmd, nil)
	} else {
		sink, err = o.openTraceSink(cmd, &cfg.Correlate)
	}
	if err != nil {
		return err
	}
	var src capture.Source = capture.Merge(srcs...)
	// With --metrics-addr the engine runs under a lock that scrapes take
	// between packets.
	var p *pipeline
	if o.metricsAddr != "" {
		if workers > 1 {
			sink.Close()
			return errors.New("--metrics-addr works with --workers 1 only, for now")
		}
		p = &pipeline{}
		m := p.newMetrics(nil, o.pluginStats)
		sink = m.Sink(sink)
		src = &unlockedReads{Source: src, mu: &p.mu}
		stopMetrics, err := serveMetrics(cmd, o.metricsAddr, m)
		if err != nil {
			sink.Close()
			return err
		}
		defer stopMetrics()
	}
	var eng runner
	var single *engine.Engine
	if workers > 1 {
		eng = engine.NewParallel(cfg, sink, workers)
	} else {
		single = engine.New(cfg, sink)
		eng = single
	}
	stderr := cmd.ErrOrStderr()
	var prog *progress
	if total > 64<<20 && isTerminal(stderr) && view == nil {
		prog = newProgress(stderr, total)
	}
	var fs *filter.Source
	if filterExpr != "" {
		f, err := filter.New(filterExpr, capture.LinkTypeEthernet)
		if err != nil {
			return err
		}
		fs = filter.NewSource(src, f)
		src = fs
	}
	if view != nil {
		src = &quitSource{Source: src, quit: view.Quit()}
	}
	if prog != nil {
		src = &progressSource{Source: src, prog: prog}
	}
	if p != nil {
		p.eng, p.fs = single, fs
		p.mu.Lock()
	}
	bad := eng.Run(src, func(err error) { fmt.Fprintln(stderr, "wiretrace:", err) })
	if p != nil {
		p.mu.Unlock()
		// Flush under the lock too: scrapes may still come.
		p.mu.Lock()
		defer p.mu.Unlock()
	}
	if prog != nil {
		prog.done()
	}
	ferr := eng.Close()
	cerr := sink.Close()
	if !o.quiet {
		line := eng.StatsLine()
		if fs != nil {
			fs.Each(func(name string, v uint64) { line += fmt.Sprintf(" %s=%d", name, v) })
		}
		o.sinkStats(func(name string, v uint64) { line += fmt.Sprintf(" %s=%d", name, v) })
		fmt.Fprintln(stderr, "wiretrace:", line)
	}
	switch {
	case ferr != nil:
		return ferr
	case cerr != nil:
		return cerr
	case bad > 0:
		return fmt.Errorf("%d input error(s); the rest of the input was processed", bad)
	}
	return nil
}
