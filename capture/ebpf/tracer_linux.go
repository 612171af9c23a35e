//go:build linux && !noebpf

package ebpf

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/perf"
	"golang.org/x/sys/unix"
)

// Built reports whether this build has the eBPF programs (Linux, without
// the noebpf tag); without them Probe and Open always fail.
const Built = true

// syscalls are the syscalls whose enter and exit tracepoints are used.
var syscalls = [...]string{"write", "writev", "sendto", "sendmsg", "read", "readv", "recvfrom", "recvmsg"}

// tracefsDir is where tracefs is mounted when it is not yet.
const tracefsDir = "/sys/kernel/tracing"

type sys struct {
	objs    wtbpfObjects
	links   []link.Link
	rd      *perf.Reader
	flushed chan struct{}
	done    chan struct{}
}

// Probe reports whether Open can work here: nil when it can, else an error
// that wraps ErrNotSupported and says what is missing. It may mount
// tracefs.
func Probe(cfg *Config) error {
	_, err := probe(cfg)
	return err
}

// probe checks the kernel and returns the BTF to relocate against (nil:
// the kernel's own).
func probe(cfg *Config) (*btf.Spec, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	// Check the capabilities first: a capture with CAP_NET_RAW alone
	// must not call bpf(2) at all.
	if err := haveCaps(); err != nil {
		return nil, err
	}
	if err := features.HaveProgramType(ebpf.TracePoint); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			return nil, fmt.Errorf("%w: the kernel cannot load tracepoint programs: %v", ErrNotSupported, err)
		}
		return nil, fmt.Errorf("%w: loading a tracepoint program: %v (needs root, or CAP_BPF and CAP_PERFMON)", ErrNotSupported, err)
	}
	if err := features.HaveMapType(ebpf.PerfEventArray); err != nil {
		return nil, fmt.Errorf("%w: perf event arrays: %v", ErrNotSupported, err)
	}
	var spec *btf.Spec
	if cfg.BTFPath != "" {
		s, err := btf.LoadSpec(cfg.BTFPath)
		if err != nil {
			return nil, fmt.Errorf("ebpf: BTF file %s: %w", cfg.BTFPath, err)
		}
		spec = s
	} else if _, err := btf.LoadKernelSpec(); err != nil {
		return nil, fmt.Errorf("%w: no kernel BTF (/sys/kernel/btf/vmlinux; give a BTF file for this kernel instead): %v", ErrNotSupported, err)
	}
	dir, err := tracingDir()
	if err != nil {
		return nil, err
	}
	for _, tp := range []string{"syscalls/sys_enter_write", "syscalls/sys_exit_read"} {
		if _, err := os.Stat(dir + "/events/" + tp); err != nil {
			return nil, fmt.Errorf("%w: tracepoint %s missing (CONFIG_FTRACE_SYSCALLS): %v", ErrNotSupported, tp, err)
		}
	}
	return spec, nil
}

// Capabilities (linux/capability.h).
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// haveCaps checks that the effective capabilities allow loading tracing
// programs: CAP_SYS_ADMIN, or CAP_BPF and CAP_PERFMON (5.8+).
func haveCaps() error {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return fmt.Errorf("%w: reading capabilities: %v", ErrNotSupported, err)
	}
	eff, err := capEff(string(b))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotSupported, err)
	}
	if eff&(1<<capSysAdmin) != 0 || eff&(1<<capBPF) != 0 && eff&(1<<capPerfmon) != 0 {
		return nil
	}
	return fmt.Errorf("%w: needs root, or CAP_BPF and CAP_PERFMON (effective capabilities %#x)", ErrNotSupported, eff)
}

// tracingDir returns the tracefs directory, mounting tracefs on
// /sys/kernel/tracing when neither it nor debugfs's tracing is there.
func tracingDir() (string, error) {
	for _, d := range []string{tracefsDir, "/sys/kernel/debug/tracing"} {
		if _, err := os.Stat(d + "/events"); err == nil {
			return d, nil
		}
	}
	if err := unix.Mount("nodev", tracefsDir, "tracefs", 0, ""); err != nil {
		return "", fmt.Errorf("%w: tracefs not mounted and mounting it on %s failed: %v", ErrNotSupported, tracefsDir, err)
	}
	return tracefsDir, nil
}

// Open loads and attaches the BPF programs and starts reading their
// records. Close releases them. Errors wrap ErrNotSupported when the
// kernel or the privileges are lacking.
func Open(cfg *Config) (*Tracer, error) {
	kernelTypes, err := probe(cfg)
	if err != nil {
		return nil, err
	}
	t := newTracer(cfg)
	// Before 5.11 BPF memory counts against RLIMIT_MEMLOCK. Not
	// cilium/ebpf's rlimit package: its init calls bpf(2), and a capture
	// that does not use eBPF must not.
	lim := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		t.log.Info("ebpf: RLIMIT_MEMLOCK not raised", "err", err)
	}
	spec, err := loadWtbpf()
	if err != nil {
		return nil, fmt.Errorf("ebpf: %w", err)
	}
	if features.HaveProgramHelper(ebpf.TracePoint, asm.FnProbeReadKernel) != nil {
		// Before 5.5: bpf_probe_read reads kernel memory as well.
		for _, p := range spec.Programs {
			for i := range p.Instructions {
				ins := &p.Instructions[i]
				if ins.IsBuiltinCall() && ins.Constant == int64(asm.FnProbeReadKernel) {
					ins.Constant = int64(asm.FnProbeRead)
				}
			}
		}
	}
	opts := &ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{KernelTypes: kernelTypes}}
	s := &t.sys
	if err := spec.LoadAndAssign(&s.objs, opts); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("ebpf: loading the programs: %+v", ve)
		}
		return nil, fmt.Errorf("ebpf: loading the programs: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	var netns uint32
	if !t.cfg.AllNetNS {
		fi, err := os.Stat("/proc/thread-self/ns/net")
		if err != nil {
			return nil, fmt.Errorf("ebpf: network namespace: %w", err)
		}
		netns = uint32(fi.Sys().(*syscall.Stat_t).Ino)
	}
	if err := s.objs.Config.Put(uint32(0), netns); err != nil {
		return nil, fmt.Errorf("ebpf: config map: %w", err)
	}
	progs := map[string]*ebpf.Program{
		"write": s.objs.EnterWrite, "writev": s.objs.EnterWritev, "sendto": s.objs.EnterSendto, "sendmsg": s.objs.EnterSendmsg,
		"read": s.objs.EnterRead, "readv": s.objs.EnterReadv, "recvfrom": s.objs.EnterRecvfrom, "recvmsg": s.objs.EnterRecvmsg,
	}
	exits := map[string]*ebpf.Program{
		"write": s.objs.ExitWrite, "writev": s.objs.ExitWritev, "sendto": s.objs.ExitSendto, "sendmsg": s.objs.ExitSendmsg,
		"read": s.objs.ExitRead, "readv": s.objs.ExitReadv, "recvfrom": s.objs.ExitRecvfrom, "recvmsg": s.objs.ExitRecvmsg,
	}
	// Exits first, so that no enter is left without its exit.
	for _, name := range syscalls {
		l, err := link.Tracepoint("syscalls", "sys_exit_"+name, exits[name], nil)
		if err != nil {
			return nil, fmt.Errorf("ebpf: attaching syscalls:sys_exit_%s: %w", name, err)
		}
		s.links = append(s.links, l)
	}
	for _, name := range syscalls {
		l, err := link.Tracepoint("syscalls", "sys_enter_"+name, progs[name], nil)
		if err != nil {
			return nil, fmt.Errorf("ebpf: attaching syscalls:sys_enter_%s: %w", name, err)
		}
		s.links = append(s.links, l)
	}
	// sendfile64 is sendfile's tracepoint on 64-bit kernels; elsewhere
	// bytes sent with sendfile go unattributed.
	for _, tp := range []struct {
		name string
		prog *ebpf.Program
	}{{"sys_exit_sendfile64", s.objs.ExitSendfile64}, {"sys_enter_sendfile64", s.objs.EnterSendfile64}} {
		l, err := link.Tracepoint("syscalls", tp.name, tp.prog, nil)
		if err != nil {
			t.log.Info("ebpf: syscalls:"+tp.name+" not attached", "err", err)
			break
		}
		s.links = append(s.links, l)
	}
	if l, err := link.Tracepoint("sock", "inet_sock_set_state", s.objs.SockState, nil); err != nil {
		// Before 4.16: closed connections age out of the index instead.
		t.log.Info("ebpf: sock:inet_sock_set_state not attached", "err", err)
	} else {
		s.links = append(s.links, l)
	}
	s.rd, err = perf.NewReaderWithOptions(s.objs.Events, t.cfg.PerCPUBuffer, perf.ReaderOptions{WakeupEvents: 16})
	if err != nil {
		return nil, fmt.Errorf("ebpf: perf reader: %w", err)
	}
	s.flushed = make(chan struct{}, 1)
	s.done = make(chan struct{})
	go t.read()
	ok = true
	t.log.Info("ebpf: attached", "tracepoints", len(s.links), "netns", netns)
	return t, nil
}

// read moves records from the perf buffers into the index until Close.
func (t *Tracer) read() {
	s := &t.sys
	defer close(s.done)
	var rec perf.Record
	for {
		err := s.rd.ReadInto(&rec)
		switch {
		case err == nil:
			if rec.LostSamples > 0 {
				t.lost(rec.LostSamples)
				continue
			}
			t.handle(rec.RawSample)
		case errors.Is(err, perf.ErrFlushed):
			select {
			case s.flushed <- struct{}{}:
			default:
			}
		case errors.Is(err, perf.ErrClosed), errors.Is(err, os.ErrClosed):
			return
		default:
			t.log.Warn("ebpf: reading the perf buffers", "err", err)
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// sync waits, at most timeout, until the records in the perf buffers now
// have been read; false when it timed out.
func (s *sys) sync(timeout time.Duration) bool {
	if s.rd == nil {
		return true
	}
	select {
	case <-s.flushed:
	default:
	}
	if err := s.rd.Flush(); err != nil {
		return false
	}
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case <-s.flushed:
		return true
	case <-tm.C:
		return false
	}
}

func (s *sys) close() error {
	// Detaching waits for an RCU grace period per tracepoint: in
	// parallel, not one after the other (about 0.5s for all).
	errs := make([]error, len(s.links), len(s.links)+2)
	var wg sync.WaitGroup
	for i, l := range s.links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.Close()
		}()
	}
	wg.Wait()
	s.links = nil
	if s.rd != nil {
		errs = append(errs, s.rd.Close())
		<-s.done
		s.rd = nil
	}
	errs = append(errs, s.objs.Close())
	return errors.Join(errs...)
}
