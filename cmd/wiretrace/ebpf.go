package main

import (
	"fmt"
	"io"
	"net/netip"

	"github.com/wiretrace/wiretrace/capture/ebpf"
	"github.com/wiretrace/wiretrace/correlate"
)

// eBPF modes of --ebpf.
const (
	ebpfAuto = "auto"
	ebpfOn   = "on"
	ebpfOff  = "off"
)

// attributor gives correlate the tasks an eBPF tracer saw.
type attributor struct{ t *ebpf.Tracer }

func (a attributor) Task(from, to netip.AddrPort, seq uint32, sent bool) (correlate.Task, bool) {
	t, ok := a.t.Lookup(from, to, seq, sent)
	return correlate.Task{PID: t.PID, TID: t.TID, Comm: t.Comm, ContainerID: t.ContainerID}, ok
}

// openEBPF starts the eBPF extension as --ebpf says: off, never; on, or
// fail with the reason; auto, when it starts, else one line on stderr
// with the reason and the capture goes on without it. On success cfg's Attributor
// is set; the tracer (nil when off) must be closed.
func openEBPF(mode, btfPath string, cfg *correlate.Config, stderr io.Writer) (*ebpf.Tracer, error) {
	switch mode {
	case ebpfOff:
		return nil, nil
	case ebpfAuto, ebpfOn:
	default:
		return nil, fmt.Errorf("--ebpf %q: want auto, on or off", mode)
	}
	t, err := ebpf.Open(&ebpf.Config{BTFPath: btfPath})
	if err != nil {
		// auto never stops a capture that works without eBPF: a kernel
		// without support (ErrNotSupported), and as well one whose
		// verifier or tracepoints refuse the programs.
		if mode == ebpfAuto {
			fmt.Fprintf(stderr, "wiretrace: eBPF extension off (no process attribution): %v\n", err)
			return nil, nil
		}
		return nil, fmt.Errorf("--ebpf %s: %w", mode, err)
	}
	cfg.Attributor = attributor{t}
	return t, nil
}

// ebpfStats adds the tracer's counters (none when t is nil).
func ebpfStats(t *ebpf.Tracer, f func(string, uint64)) {
	if t == nil {
		return
	}
	st := t.Stats()
	st.Each(f)
}
