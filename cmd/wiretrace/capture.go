package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/ebpf"
	"github.com/wiretrace/wiretrace/capture/filter"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/metrics"
	"github.com/wiretrace/wiretrace/correlate"
	"golang.org/x/net/bpf"
)

// captureFlags are the flags of the capture command beyond outputFlags.
type captureFlags struct {
	interfaces []string
	snaplen    int
	bufferKiB  int
	count      int64
	duration   time.Duration
	noPromisc  bool
	write      string
	workers    int
	bpfFile    string
	ebpf       string
	btfFile    string
}

// advanceEvery is how often packet time is moved on when no packet arrives.
const advanceEvery = time.Second

func newCaptureCmd() *cobra.Command {
	var o outputFlags
	var c captureFlags
	o.pub = &publishFlags{}
	cmd := &cobra.Command{
		Use:   "capture -i IFACE[,IFACE...] [flags] [FILTER EXPRESSION...]",
		Short: "Capture live traffic with AF_PACKET and print the traces",
		Long: `Capture reads packets from network interfaces (AF_PACKET with a
TPACKET_V3 ring; classic BPF filters only, so CAP_NET_RAW is enough) and
prints the traces they contain, as replay does for files. Each span's
capture field is the interface name. The filter expression runs in the
kernel wherever its program can be exact (the stats line says filter=...).
--workers N spreads flows over N sockets of one PACKET_FANOUT group, each
with its own decode/reassembly/parse worker, feeding one correlate stage.
SIGINT or SIGTERM, -c or --duration stop the capture; open traces are
flushed and the stats line (kernel drops summed over the sockets) is
printed.

With --ebpf auto (the default) or on, and a kernel that can (4.14 or
newer with BTF, root), syscall tracepoints name the process and thread
that wrote or read each request and response: spans get process.pid,
thread.id, process.executable.name and container.id, and an outbound
call is linked to the inbound request the same thread read (link_reason
same_thread) before timing is tried. auto says in one line when the
kernel cannot and goes on without; on fails instead.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCapture(cmd, &o, &c, args)
		},
	}
	c.register(cmd, []string{"any"})
	o.register(cmd)
	o.pub.register(cmd)
	return cmd
}

// register adds the capture flags to cmd; ifaces is -i's default.
func (c *captureFlags) register(cmd *cobra.Command, ifaces []string) {
	f := cmd.Flags()
	f.StringSliceVarP(&c.interfaces, "interface", "i", ifaces, "capture on `IFACE`s (comma-separated; any = all, as Linux cooked v2)")
	f.IntVarP(&c.snaplen, "snapshot-length", "s", capture.DefaultSnaplen, "keep at most `BYTES` of each packet")
	f.IntVarP(&c.bufferKiB, "buffer-size", "B", capture.DefaultRingSize>>10, "ring size per interface in `KiB` (as tcpdump -B)")
	f.Int64VarP(&c.count, "count", "c", 0, "stop after `N` packets")
	f.DurationVar(&c.duration, "duration", 0, "stop after this long")
	f.BoolVarP(&c.noPromisc, "no-promiscuous-mode", "p", false, "do not put the interfaces into promiscuous mode")
	f.StringVarP(&c.write, "write", "w", "", "also write the packets to `FILE` (pcapng)")
	f.IntVar(&c.workers, "workers", 1, "decode/reassembly/parse workers, one PACKET_FANOUT socket each, feeding one correlate stage")
	f.StringVar(&c.bpfFile, "bpf-file", "", "attach the classic BPF program in `FILE` ('tcpdump -ddd' output)")
	f.StringVar(&c.ebpf, "ebpf", ebpfAuto, "process and thread of each span from eBPF tracepoints: `MODE` auto (when the kernel can), on (or fail) or off")
	f.StringVar(&c.btfFile, "btf-file", "", "BTF of the running kernel in `FILE`, for --ebpf on kernels without /sys/kernel/btf/vmlinux")
}

// compileFilter compiles a filter expression given as trailing arguments;
// nil when there are none.
func compileFilter(args []string) (*filter.Filter, error) {
	if len(args) == 0 {
		return nil, nil
	}
	return filter.New(strings.Join(args, " "), capture.LinkTypeEthernet)
}

// liveConfig turns the flags into a capture.LiveConfig.
func (c *captureFlags) liveConfig() (*capture.LiveConfig, error) {
	lc := &capture.LiveConfig{
		Interfaces: c.interfaces,
		Snaplen:    c.snaplen,
		RingSize:   c.bufferKiB << 10,
		NoPromisc:  c.noPromisc,
	}
	if c.bpfFile != "" {
		var err error
		if lc.Filter, err = readBPFFile(c.bpfFile); err != nil {
			return nil, err
		}
	}
	return lc, nil
}

func runCapture(cmd *cobra.Command, o *outputFlags, c *captureFlags, args []string) error {
	// A filter expression is compiled to classic BPF and attached to the
	// sockets, so the kernel drops what it rejects, wherever the kernel's
	// view of the packet lets the program be exact (filter.LivePlan); the
	// rest is matched in user space on the frames as delivered (VLAN tags
	// re-inserted, cooked headers built), as tcpdump's filter would.
	// With --bpf-file, that program runs in the kernel and the expression,
	// if any, in user space.
	flt, err := compileFilter(args)
	if err != nil {
		return err
	}
	if c.workers < 1 {
		return fmt.Errorf("capture: --workers %d: want at least 1", c.workers)
	}
	cfg, err := o.engineConfig(cmd)
	if err != nil {
		return err
	}
	defer o.closePlugins()
	lc, err := c.liveConfig()
	if err != nil {
		return err
	}
	var plan *filter.LivePlan
	if flt != nil && c.bpfFile == "" {
		plan = flt.PlanLive(c.snaplen)
		plan.Configure(lc, c.snaplen)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.duration)
		defer cancel()
	}
	// q in the --watch view stops the capture as a signal would.
	ctx, quit := context.WithCancel(ctx)
	defer quit()
	tracer, err := openEBPF(c.ebpf, c.btfFile, &cfg.Correlate, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer tracer.Close()
	lc.Workers = c.workers
	lives, err := capture.OpenLiveWorkers(ctx, lc)
	if err != nil && plan != nil && errors.Is(err, syscall.EINVAL) {
		// A kernel that refuses the program (an ancillary load it
		// does not know): filter in user space.
		fmt.Fprintf(cmd.ErrOrStderr(), "wiretrace: the kernel refused the filter program (%v); filtering in user space\n", err)
		plan = nil
		lc.Filter, lc.CookedFilter = nil, nil
		lives, err = capture.OpenLiveWorkers(ctx, lc)
	}
	if err != nil {
		return err
	}
	defer func() {
		for _, l := range lives {
			l.Close()
		}
	}()
	var pw *capture.PcapngWriter
	if c.write != "" {
		f, err := os.Create(c.write)
		if err != nil {
			return fmt.Errorf("capture: -w: %w", err)
		}
		defer f.Close()
		if pw, err = capture.NewPcapngWriter(f, c.snaplen); err != nil {
			return err
		}
	}
	var sink correlate.Sink
	if o.watch {
		_, sink, err = o.openWatch(cmd, quit)
	} else {
		sink, err = o.openTraceSink(cmd, &cfg.Correlate)
	}
	if err != nil {
		return err
	}
	liveStats := func() capture.LiveStats { return sumLiveStats(lives) }
	where := filterWhere(flt, plan, c.bpfFile != "")
	if c.workers > 1 {
		return runCaptureWorkers(cmd, o, c, cfg, lives, flt, plan, sink, pw, quit, where, tracer)
	}
	live := lives[0]
	var src capture.Source = live
	var p *pipeline
	if o.metricsAddr != "" {
		p = &pipeline{}
		m := p.newMetrics(nil, func(f func(string, uint64)) { st := live.Stats(); st.Each(f) },
			func(f func(string, uint64)) { ebpfStats(tracer, f) }, o.pluginStats)
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
	var fs *filter.Source
	if plan != nil {
		fs = filter.NewLiveSource(src, plan)
		src = fs
	} else if flt != nil {
		fs = filter.NewSource(src, flt)
		src = fs
	}
	var feed packetFeed = eng
	if p != nil {
		p.eng, p.fs = eng, fs
		src, feed = &lockedReads{Source: src, mu: &p.mu}, p
	}
	rerr := readLive(src, live, feed, pw, c.count)
	if p != nil {
		// Flush under the lock: scrapes may still come.
		p.mu.Lock()
		defer p.mu.Unlock()
	}
	live.Close()
	ferr := eng.Close()
	cerr := sink.Close()
	var werr error
	if pw != nil {
		werr = pw.Flush()
	}
	if !o.quiet {
		var b strings.Builder
		b.WriteString(eng.StatsLine())
		writeLiveStats(&b, liveStats(), where, fs)
		o.sinkStats(func(name string, v uint64) { fmt.Fprintf(&b, " %s=%d", name, v) })
		ebpfStats(tracer, func(name string, v uint64) { fmt.Fprintf(&b, " %s=%d", name, v) })
		fmt.Fprintln(stderr, "wiretrace:", b.String())
	}
	return errors.Join(rerr, ferr, cerr, werr)
}

// sumLiveStats adds up the counters of the fanout workers' sockets.
func sumLiveStats(lives []*capture.Live) capture.LiveStats {
	var out capture.LiveStats
	for _, l := range lives {
		s := l.Stats()
		out.Received += s.Received
		out.Delivered += s.Delivered
		out.KernelDrops += s.KernelDrops
		out.Freezes += s.Freezes
		if out.Version == capture.RingUnknown {
			out.Version = s.Version
		}
	}
	return out
}

// filterWhere says where the filter runs, for the stats line: "kernel",
// "user", or per socket kind ("ethernet:kernel,cooked:user"); "" without
// a filter.
func filterWhere(flt *filter.Filter, plan *filter.LivePlan, bpfFile bool) string {
	switch {
	case plan != nil:
		e, c := plan.Where(capture.LinkTypeEthernet), plan.Where(capture.LinkTypeLinuxSLL2)
		if e == c {
			return e
		}
		return "ethernet:" + e + ",cooked:" + c
	case flt != nil && bpfFile:
		return "kernel(bpf-file)+user"
	case flt != nil:
		return "user"
	case bpfFile:
		return "kernel(bpf-file)"
	}
	return ""
}

// writeLiveStats appends the live counters, the ring, where the filter ran
// and the user-space filter's counters (summed over fss) to the stats line.
func writeLiveStats(b *strings.Builder, st capture.LiveStats, where string, fss ...*filter.Source) {
	st.Each(func(name string, v uint64) { fmt.Fprintf(b, " %s=%d", name, v) })
	fmt.Fprintf(b, " ring=%s", st.Version)
	if where != "" {
		fmt.Fprintf(b, " filter=%s", where)
	}
	var rejected, unfilterable uint64
	n := 0
	for _, fs := range fss {
		if fs != nil {
			rejected += fs.Rejected
			unfilterable += fs.Unfilterable
			n++
		}
	}
	if n > 0 {
		fmt.Fprintf(b, " filter_rejected=%d filter_unfilterable=%d", rejected, unfilterable)
	}
}

// deadlineSource is a worker's source (maybe filtered) with its socket's
// read deadline.
type deadlineSource struct {
	capture.Source
	live *capture.Live
}

func (d deadlineSource) SetReadDeadline(t time.Time) error { return d.live.SetReadDeadline(t) }

// liveMetricsSource is the metrics' view of the workers' engine, set once
// it exists (before the metrics server starts).
type liveMetricsSource struct{ l *engine.Live }

func (s *liveMetricsSource) EachStat(f func(string, uint64))       { s.l.EachStat(f) }
func (s *liveMetricsSource) EachParseError(f func(string, uint64)) { s.l.EachParseError(f) }
func (s *liveMetricsSource) PendingSpans() int                     { return s.l.PendingSpans() }

// runCaptureWorkers runs one decode/reassembly/parse worker per fanout
// socket and one correlate stage (engine.Live). -w writes the packets of
// all workers to one file, in the order they are read (across workers,
// not sorted by time); -c stops once that many packets were read (a few
// more may already be in the workers).
func runCaptureWorkers(cmd *cobra.Command, o *outputFlags, c *captureFlags, cfg *engine.Config, lives []*capture.Live,
	flt *filter.Filter, plan *filter.LivePlan, sink correlate.Sink, pw *capture.PcapngWriter, quit func(), where string,
	tracer *ebpf.Tracer) error {
	srcs := make([]engine.LiveSource, len(lives))
	fss := make([]*filter.Source, len(lives))
	for i, l := range lives {
		var src capture.Source = l
		if flt != nil {
			// A Filter is not safe for concurrent use: one per worker.
			f, err := filter.New(flt.String(), capture.LinkTypeEthernet)
			if err != nil {
				return err
			}
			if plan != nil {
				fss[i] = filter.NewLiveSource(src, f.PlanLive(c.snaplen))
			} else {
				fss[i] = filter.NewSource(src, f)
			}
			src = fss[i]
		}
		srcs[i] = deadlineSource{Source: src, live: l}
	}
	lc := &engine.LiveConfig{}
	if o.metricsAddr == "" {
		return runWorkers(cmd, o, c, cfg, lives, srcs, fss, sink, pw, quit, where, lc, nil, tracer)
	}
	ms := &liveMetricsSource{}
	m := metrics.New(&metrics.Config{Source: ms, Extra: []func(func(string, uint64)){
		func(f func(string, uint64)) { st := sumLiveStats(lives); st.Each(f) },
		func(f func(string, uint64)) { ebpfStats(tracer, f) }, o.pluginStats}})
	var stopMetrics func() error
	defer func() {
		if stopMetrics != nil {
			stopMetrics()
		}
	}()
	return runWorkers(cmd, o, c, cfg, lives, srcs, fss, m.Sink(sink), pw, quit, where, lc, func(l *engine.Live) error {
		ms.l = l // before the server starts: no scrape sees it unset
		var err error
		stopMetrics, err = serveMetrics(cmd, o.metricsAddr, m)
		return err
	}, tracer)
}

func runWorkers(cmd *cobra.Command, o *outputFlags, c *captureFlags, cfg *engine.Config, lives []*capture.Live,
	srcs []engine.LiveSource, fss []*filter.Source, sink correlate.Sink, pw *capture.PcapngWriter, quit func(),
	where string, lc *engine.LiveConfig, started func(*engine.Live) error, tracer *ebpf.Tracer) error {
	var (
		mu   sync.Mutex
		n    int64
		werr error
	)
	lc.OnPacket = func(p *capture.Packet) {
		if pw == nil && c.count == 0 {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if pw != nil && werr == nil {
			werr = pw.WritePacket(p)
		}
		n++
		if c.count > 0 && n >= c.count {
			quit()
		}
	}
	// A read error ends the capture, as it does with one worker; Wait
	// returns it.
	lc.OnError = func(error) { quit() }
	eng := engine.NewLive(cfg, sink, srcs, lc)
	var serr error
	if started != nil {
		if serr = started(eng); serr != nil {
			quit()
		}
	}
	eerr := eng.Wait()
	for _, l := range lives {
		l.Close()
	}
	cerr := sink.Close()
	var ferr error
	if pw != nil {
		ferr = pw.Flush()
	}
	if !o.quiet {
		var b strings.Builder
		b.WriteString(eng.StatsLine())
		fmt.Fprintf(&b, " workers=%d", len(lives))
		writeLiveStats(&b, sumLiveStats(lives), where, fss...)
		o.sinkStats(func(name string, v uint64) { fmt.Fprintf(&b, " %s=%d", name, v) })
		ebpfStats(tracer, func(name string, v uint64) { fmt.Fprintf(&b, " %s=%d", name, v) })
		fmt.Fprintln(cmd.ErrOrStderr(), "wiretrace:", b.String())
	}
	mu.Lock()
	defer mu.Unlock()
	return errors.Join(serr, eerr, cerr, werr, ferr)
}

// readLive feeds packets from src (live, maybe filtered) to eng until the
// capture ends or count packets were read, moving packet time on when no
// packet arrives.
// packetFeed is what readLive feeds: an engine, or a pipeline that locks
// it.
type packetFeed interface {
	Packet(p *capture.Packet)
	Advance(now int64)
}

func readLive(src capture.Source, live *capture.Live, eng packetFeed, pw *capture.PcapngWriter, count int64) error {
	var p capture.Packet
	var n int64
	live.SetReadDeadline(time.Now().Add(advanceEvery))
	for count == 0 || n < count {
		err := src.ReadPacket(&p)
		switch {
		case err == nil:
			n++
			if pw != nil {
				if err := pw.WritePacket(&p); err != nil {
					return err
				}
			}
			eng.Packet(&p)
		case errors.Is(err, os.ErrDeadlineExceeded):
			eng.Advance(time.Now().UnixNano())
			live.SetReadDeadline(time.Now().Add(advanceEvery))
		case errors.Is(err, io.EOF):
			return nil
		default:
			return err
		}
	}
	return nil
}

// readBPFFile reads a classic BPF program in 'tcpdump -ddd' form: the
// instruction count, then one "code jt jf k" line per instruction, all
// decimal. Lines starting with '#' are comments.
func readBPFFile(path string) ([]bpf.RawInstruction, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--bpf-file: %w", err)
	}
	prog, err := filter.ParseDdd(string(b))
	if err != nil {
		return nil, fmt.Errorf("--bpf-file: %s: %w", path, err)
	}
	return prog, nil
}
