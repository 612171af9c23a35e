package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
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
capture field is the interface name. SIGINT or SIGTERM, -c or --duration
stop the capture; open traces are flushed and the stats line (kernel drops
included) is printed.`,
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
	f.IntVar(&c.workers, "workers", 1, "pipelines fed by PACKET_FANOUT (only 1 for now)")
	f.StringVar(&c.bpfFile, "bpf-file", "", "attach the classic BPF program in `FILE` ('tcpdump -ddd' output)")
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
	// A filter expression is compiled to classic BPF and run on each
	// packet as the ring hands it over (VLAN tags re-inserted, cooked
	// headers built), so it sees what tcpdump's would; --bpf-file
	// programs run in the kernel.
	flt, err := compileFilter(args)
	if err != nil {
		return err
	}
	if c.workers != 1 {
		// Per-worker pipelines would split the flows a trace links (an
		// inbound request and its outbound calls) over workers; that needs
		// a shared correlate stage first.
		return fmt.Errorf("capture: --workers %d: only 1 is supported for now", c.workers)
	}
	cfg, err := o.engineConfig(cmd)
	if err != nil {
		return err
	}
	lc, err := c.liveConfig()
	if err != nil {
		return err
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
	live, err := capture.OpenLive(ctx, lc)
	if err != nil {
		return err
	}
	defer live.Close()
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
	var src capture.Source = live
	var p *pipeline
	if o.metricsAddr != "" {
		p = &pipeline{}
		m := p.newMetrics(nil, func(f func(string, uint64)) { st := live.Stats(); st.Each(f) })
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
	if flt != nil {
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
		st := live.Stats()
		st.Each(func(name string, v uint64) { fmt.Fprintf(&b, " %s=%d", name, v) })
		fmt.Fprintf(&b, " ring=%s", st.Version)
		if fs != nil {
			fs.Each(func(name string, v uint64) { fmt.Fprintf(&b, " %s=%d", name, v) })
		}
		o.sinkStats(func(name string, v uint64) { fmt.Fprintf(&b, " %s=%d", name, v) })
		fmt.Fprintln(stderr, "wiretrace:", b.String())
	}
	return errors.Join(rerr, ferr, cerr, werr)
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
