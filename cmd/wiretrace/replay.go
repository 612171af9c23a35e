package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/jsonl"
	"github.com/wiretrace/wiretrace/correlate/summary"
	"github.com/wiretrace/wiretrace/correlate/tree"
)

// outputFlags are the flags shared by every command that emits traces.
type outputFlags struct {
	format        string
	output        string
	xRequestID    []string
	localNets     []string
	protocolPorts []string
	window        time.Duration
	idle          time.Duration
	configFile    string
	quiet         bool
	metricsAddr   string
}

func (o *outputFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.format, "format", "tree", "output format: tree, jsonl or summary")
	f.StringVarP(&o.output, "output", "o", "-", "write output to `FILE` (- is stdout)")
	f.StringSliceVar(&o.xRequestID, "x-request-id-headers", nil, "request-id header `names`, case-insensitive, first present wins (config key http_log_x_request_id; default X-Request-ID)")
	f.StringSliceVar(&o.localNets, "local-net", nil, "`CIDR`s local to the capture point, which set each span's side (config key local_net)")
	f.StringSliceVar(&o.protocolPorts, "protocol", nil, "force a protocol on a server port, `PORT=NAME` (like tshark's decode-as)")
	f.DurationVar(&o.window, "window", 5*time.Second, "how long, in packet time, a trace stays open after its last span")
	f.DurationVar(&o.idle, "idle-timeout", 2*time.Minute, "packet time after which an idle connection ends and its unanswered requests become timeouts")
	f.StringVar(&o.configFile, "config", "", "read settings from the YAML `FILE` (keys are the long flag names); flags win")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "do not print the stats line")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on `ADDR`/metrics (e.g. 127.0.0.1:9464)")
}

// engineConfig turns flags (the config file already applied, see
// applyConfigFile) into the stages' Config.
func (o *outputFlags) engineConfig(cmd *cobra.Command) (*engine.Config, error) {
	cfg := &engine.Config{}
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
	reg := engine.Registry()
	for _, pp := range o.protocolPorts {
		port, name, ok := strings.Cut(pp, "=")
		n, err := strconv.ParseUint(port, 10, 16)
		if !ok || err != nil {
			return nil, fmt.Errorf("--protocol %q: want PORT=NAME", pp)
		}
		if reg.Lookup(name) == nil {
			return nil, fmt.Errorf("--protocol %q: unknown protocol %q (see 'wiretrace protocols')", pp, name)
		}
		if cfg.Driver.PortProtocols == nil {
			cfg.Driver.PortProtocols = map[uint16]string{}
		}
		cfg.Driver.PortProtocols[uint16(n)] = name
	}
	cfg.Correlate.Window = o.window
	cfg.Assembler.IdleTimeout = o.idle
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

// openSink opens the output and the sink for the chosen format.
func (o *outputFlags) openSink(stdout io.Writer) (correlate.Sink, error) {
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
	}
	if c, ok := w.(io.Closer); ok {
		c.Close()
	}
	return nil, fmt.Errorf("--format %q: want tree, jsonl or summary", o.format)
}

// progressSource updates the progress bar as packets are read.
type progressSource struct {
	capture.Source
	eng  *engine.Engine
	prog *progress
}

func (p *progressSource) ReadPacket(pkt *capture.Packet) error {
	p.prog.update(p.eng.Packets, p.eng.Bytes)
	return p.Source.ReadPacket(pkt)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func newReplayCmd() *cobra.Command {
	var o outputFlags
	var filterExpr string
	cmd := &cobra.Command{
		Use:   "replay [flags] FILE...",
		Short: "Replay pcap/pcapng files (optionally .gz) and print the traces",
		Long: `Replay reads capture files (pcap or pcapng, optionally gzip-compressed),
merges them in timestamp order, and prints the traces they contain. Each
span's capture field is the name of the file it was seen in.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd, &o, args, filterExpr)
		},
	}
	o.register(cmd)
	cmd.Flags().StringVar(&filterExpr, "filter", "", "only packets matching the tcpdump filter `EXPR` (see 'wiretrace filter')")
	return cmd
}

func runReplay(cmd *cobra.Command, o *outputFlags, files []string, filterExpr string) error {
	cfg, err := o.engineConfig(cmd)
	if err != nil {
		return err
	}
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
	sink, err := o.openSink(cmd.OutOrStdout())
	if err != nil {
		return err
	}
	var src capture.Source = capture.Merge(srcs...)
	// With --metrics-addr the engine runs under a lock that scrapes take
	// between packets.
	var p *pipeline
	if o.metricsAddr != "" {
		p = &pipeline{}
		m := p.newMetrics(nil)
		sink = m.Sink(sink)
		src = &unlockedReads{Source: src, mu: &p.mu}
		stopMetrics, err := serveMetrics(cmd, o.metricsAddr, m)
		if err != nil {
			sink.Close()
			return err
		}
		defer stopMetrics()
	}
	eng := engine.New(cfg, sink)
	stderr := cmd.ErrOrStderr()
	var prog *progress
	if total > 64<<20 && isTerminal(stderr) {
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
	if prog != nil {
		src = &progressSource{Source: src, eng: eng, prog: prog}
	}
	if p != nil {
		p.eng, p.fs = eng, fs
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
