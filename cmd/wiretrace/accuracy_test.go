package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAccuracyHarness runs the smallest make accuracy configuration
// (testdata/gen/accuracy.sh: nginx, two Go backends, MariaDB and Redis in
// network namespaces; one client, 50 requests, enough that one unlucky
// fire-and-forget call does not decide the result) with this binary as
// wiretrace, so CI exercises the harness, and checks the edges a key on
// the wire decides and the traces at concurrency 1.
func TestAccuracyHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers in network namespaces; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN for ip netns, CAP_NET_RAW to capture)")
	}
	for _, tool := range []struct{ bin, pkg string }{
		{"ip", "iproute2"}, {"nginx", "nginx-light"}, {"tcpdump", "tcpdump"}, {"go", "Go"},
		{"mariadbd", "mariadb-server"}, {"mariadb-install-db", "mariadb-server"}, {"redis-server", "redis-server"},
	} {
		if _, err := exec.LookPath(tool.bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool.bin); err != nil {
				t.Skipf("%s not installed (package %s; .ci/run installs it)", tool.bin, tool.pkg)
			}
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "testdata", "gen", "accuracy.sh"), "-n", "50", "-c", "1")
	// SIGTERM lets the script kill its servers and delete its namespaces.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	cmd.Env = append(os.Environ(), "WIRETRACE="+self, "WIRETRACE_TEST_MAIN=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("accuracy.sh: %v\n%s", err, out)
	}
	t.Logf("accuracy.sh took %v", time.Since(start).Round(time.Millisecond))
	for _, c := range []struct {
		row string
		min float64
	}{
		{"precision, wire links (all)", 1},
		{"recall, wire: http", 1},
		{"recall, wire: mysql", 1},
		{"precision, timing links", 0.95},
		// 0.987 on make accuracy's 300-request runs on an idle machine;
		// under CI's load (race detector, other packages in parallel) the
		// fire-and-forget calls overlap the next request more often: 0.94
		// seen on 50 requests. The gate is for a broken linker, not a
		// benchmark; the README's table is the measurement.
		{"traces correct but fire-and-forget", 0.90},
	} {
		got, ok := tableCell(string(out), c.row)
		if !ok {
			t.Errorf("no row %q in the table:\n%s", c.row, out)
			continue
		}
		if got < c.min {
			t.Errorf("%s = %.3f, want >= %.3f\n%s", c.row, got, c.min, out)
		}
	}
}

// tableCell returns the ratio in the first column of the scorer's row
// named row.
func tableCell(out, row string) (float64, bool) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) < 3 || strings.TrimSpace(f[1]) != row {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(f[2] + " x")[0], 64)
		return v, err == nil
	}
	return 0, false
}
