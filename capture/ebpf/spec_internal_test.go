//go:build linux && !noebpf

package ebpf

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// TestSpecPortable checks the committed BPF object against what Linux 4.14
// offers, so that the portable design does not rot unnoticed: tracepoint
// programs only, at most 4096 instructions each, and only helpers of 4.14
// (bpf_probe_read_kernel, 5.5, is rewritten to bpf_probe_read at load).
func TestSpecPortable(t *testing.T) {
	spec, err := loadWtbpf()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[asm.BuiltinFunc]bool{
		asm.FnMapLookupElem: true, asm.FnMapUpdateElem: true, asm.FnMapDeleteElem: true,
		asm.FnProbeRead: true, asm.FnProbeReadKernel: true, asm.FnKtimeGetNs: true,
		asm.FnGetCurrentPidTgid: true, asm.FnGetCurrentComm: true, asm.FnGetCurrentTask: true,
		asm.FnPerfEventOutput: true,
	}
	if want := 2*(len(syscalls)+1) + 1; len(spec.Programs) != want { // + sendfile64, inet_sock_set_state
		t.Errorf("%d programs, want %d", len(spec.Programs), want)
	}
	for name, p := range spec.Programs {
		if p.Type != ebpf.TracePoint {
			t.Errorf("%s: type %v, want TracePoint", name, p.Type)
		}
		if n := len(p.Instructions); n > 4096 {
			t.Errorf("%s: %d instructions, 4.14 allows 4096", name, n)
		}
		for _, ins := range p.Instructions {
			if ins.IsBuiltinCall() && !allowed[asm.BuiltinFunc(ins.Constant)] {
				t.Errorf("%s: calls %v, not in Linux 4.14", name, asm.BuiltinFunc(ins.Constant))
			}
		}
	}
	for _, m := range spec.Maps {
		switch m.Type {
		case ebpf.Hash, ebpf.Array, ebpf.PerCPUArray, ebpf.PerfEventArray:
		default:
			t.Errorf("map %s: type %v", m.Name, m.Type)
		}
	}
}
