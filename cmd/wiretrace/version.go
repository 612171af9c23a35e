package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/wiretrace/wiretrace/capture/ebpf"
)

// commit and date are set at build time with -ldflags "-X main.commit=...
// -X main.date=..." (make dist); when unset, "wiretrace version" falls back
// to the module version and the vcs settings Go stamps into the binary.
var (
	commit = ""
	date   = ""
)

// optionalParts lists the build-tag dependent parts of the binary and
// whether this build has them: the eBPF extension (Linux, without the
// noebpf tag).
func optionalParts() []string {
	e := "ebpf: no"
	if ebpf.Built {
		e = "ebpf: yes"
	}
	return []string{e, "wasm: no"}
}

// buildVersion returns the version, commit and build date of the binary:
// the -ldflags values when set, else what debug.ReadBuildInfo records
// (module version, vcs.revision with a "-dirty" suffix when vcs.modified,
// vcs.time); "unknown" for what neither has.
func buildVersion() (v, c, d string) {
	v, c, d = version, commit, date
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		var modified bool
		rev, vtime := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				vtime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if c == "" && rev != "" {
			c = rev
			if modified {
				c += "-dirty"
			}
		}
		if d == "" {
			d = vtime
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if c == "" {
		c = "unknown"
	}
	if d == "" {
		d = "unknown"
	}
	return v, c, d
}

// writeVersion prints what "wiretrace version" shows.
func writeVersion(w io.Writer) error {
	v, c, d := buildVersion()
	_, err := fmt.Fprintf(w, "wiretrace %s\ncommit: %s\nbuilt: %s\ngo: %s %s/%s\n%s\n",
		v, c, d, runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.Join(optionalParts(), ", "))
	return err
}
