//go:build !linux || noebpf

package ebpf

import (
	"fmt"
	"runtime"
	"time"
)

// Built reports whether this build has the eBPF programs (Linux, without
// the noebpf tag); without them Probe and Open always fail.
const Built = false

// reason says why this build has no eBPF.
func reason() string {
	if runtime.GOOS != "linux" {
		return "eBPF needs Linux, this is " + runtime.GOOS
	}
	return "built with the noebpf tag"
}

type sys struct{}

func (sys) sync(time.Duration) bool { return true }
func (sys) close() error            { return nil }

// Probe reports whether Open can work here: nil when it can, else an error
// that wraps ErrNotSupported and says why.
func Probe(cfg *Config) error { return fmt.Errorf("%w: %s", ErrNotSupported, reason()) }

// Open loads and attaches the BPF programs and starts reading their
// records. Close releases them.
func Open(cfg *Config) (*Tracer, error) { return nil, Probe(cfg) }
