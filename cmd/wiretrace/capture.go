package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
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
	f := cmd.Flags()
	f.StringSliceVarP(&c.interfaces, "interface", "i", []string{"any"}, "capture on `IFACE`s (comma-separated; any = all, as Linux cooked v2)")
	f.IntVarP(&c.snaplen, "snapshot-length", "s", capture.DefaultSnaplen, "keep at most `BYTES` of each packet")
	f.IntVarP(&c.bufferKiB, "buffer-size", "B", capture.DefaultRingSize>>10, "ring size per interface in `KiB` (as tcpdump -B)")
	f.Int64VarP(&c.count, "count", "c", 0, "stop after `N` packets")
	f.DurationVar(&c.duration, "duration", 0, "stop after this long")
	f.BoolVarP(&c.noPromisc, "no-promiscuous-mode", "p", false, "do not put the interfaces into promiscuous mode")
	f.StringVarP(&c.write, "write", "w", "", "also write the packets to `FILE` (pcapng)")
	f.IntVar(&c.workers, "workers", 1, "pipelines fed by PACKET_FANOUT (only 1 for now)")
	f.StringVar(&c.bpfFile, "bpf-file", "", "attach the classic BPF program in `FILE` ('tcpdump -ddd' output)")
	o.register(cmd)
	return cmd
}

func runCapture(cmd *cobra.Command, o *outputFlags, c *captureFlags, args []string) error {
	if len(args) > 0 {
		// TODO(merge): compile with filter.Compile(strings.Join(args, " "), link, snaplen).
		return errors.New("capture: filter expressions need capture/filter, which is not merged yet; use --bpf-file with 'tcpdump -ddd' output")
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
	lc := &capture.LiveConfig{
		Interfaces: c.interfaces,
		Snaplen:    c.snaplen,
		RingSize:   c.bufferKiB << 10,
		NoPromisc:  c.noPromisc,
	}
	if c.bpfFile != "" {
		if lc.Filter, err = readBPFFile(c.bpfFile); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.duration)
		defer cancel()
	}
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
	sink, err := o.openSink(cmd.OutOrStdout())
	if err != nil {
		return err
	}
	eng := engine.New(cfg, sink)
	stderr := cmd.ErrOrStderr()
	rerr := readLive(live, eng, pw, c.count)
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
		fmt.Fprintln(stderr, "wiretrace:", b.String())
	}
	return errors.Join(rerr, ferr, cerr, werr)
}

// readLive feeds packets to eng until the capture ends or count packets
// were read, moving packet time on when no packet arrives.
func readLive(live *capture.Live, eng *engine.Engine, pw *capture.PcapngWriter, count int64) error {
	var p capture.Packet
	var n int64
	live.SetReadDeadline(time.Now().Add(advanceEvery))
	for count == 0 || n < count {
		err := live.ReadPacket(&p)
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
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--bpf-file: %w", err)
	}
	defer f.Close()
	var prog []bpf.RawInstruction
	want := -1
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		fields := strings.Fields(s)
		bad := func() error {
			return fmt.Errorf("--bpf-file: %s:%d: want 'code jt jf k' (tcpdump -ddd), got %q", path, line, s)
		}
		if want < 0 {
			if len(fields) != 1 {
				return nil, bad()
			}
			v, err := strconv.ParseUint(fields[0], 10, 16)
			if err != nil || v == 0 {
				return nil, bad()
			}
			want = int(v)
			continue
		}
		if len(fields) != 4 {
			return nil, bad()
		}
		var v [4]uint64
		for i, bits := range []int{16, 8, 8, 32} {
			if v[i], err = strconv.ParseUint(fields[i], 10, bits); err != nil {
				return nil, bad()
			}
		}
		prog = append(prog, bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--bpf-file: %w", err)
	}
	if want < 0 || len(prog) != want {
		return nil, fmt.Errorf("--bpf-file: %s: header says %d instructions, found %d", path, want, len(prog))
	}
	return prog, nil
}
