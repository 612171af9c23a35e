package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// perfFlags are replay's performance flags: worker count and profiles.
type perfFlags struct {
	workers    int
	cpuProfile string
	memProfile string
}

func (p *perfFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&p.workers, "workers", 1, "decode, reassemble and parse on `N` goroutines (flows sharded by address hash); the output is the same for any N")
	f.StringVar(&p.cpuProfile, "cpuprofile", "", "write a CPU profile to `FILE`")
	f.StringVar(&p.memProfile, "memprofile", "", "write a heap profile to `FILE` at the end")
}

// start begins the CPU profile; the returned function ends it and writes
// the heap profile.
func (p *perfFlags) start() (stop func() error, err error) {
	if p.workers < 1 || p.workers > 256 {
		return nil, fmt.Errorf("--workers %d: want 1 to 256", p.workers)
	}
	var cpu *os.File
	if p.cpuProfile != "" {
		if cpu, err = os.Create(p.cpuProfile); err != nil {
			return nil, fmt.Errorf("cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, fmt.Errorf("cpuprofile: %w", err)
		}
	}
	return func() error {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				return fmt.Errorf("cpuprofile: %w", err)
			}
		}
		if p.memProfile != "" {
			f, err := os.Create(p.memProfile)
			if err != nil {
				return fmt.Errorf("memprofile: %w", err)
			}
			runtime.GC()
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				f.Close()
				return fmt.Errorf("memprofile: %w", err)
			}
			return f.Close()
		}
		return nil
	}, nil
}
