package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestWatchUnderTmux runs 'replay --watch' in a detached tmux session of
// fixed size, reads the screen, quits with q and reads the stats line.
func TestWatchUnderTmux(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Skip("tmux not installed (Debian package tmux): the full-screen --watch view is not tested")
	}
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "wiretrace")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	demo, _ := filepath.Abs(testdata("demo.pcap"))
	sock := filepath.Join(dir, "tmux.sock")
	tm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, append([]string{"-S", sock, "-f", "/dev/null"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// A private server (its own socket), killed at the end.
	tm("new-session", "-d", "-s", "w", "-x", "160", "-y", "40", "sh")
	t.Cleanup(func() { exec.Command(tmux, "-S", sock, "kill-server").Run() })
	tm("set-option", "-t", "w", "remain-on-exit", "on")
	statusFile := filepath.Join(dir, "status")
	tm("respawn-pane", "-k", "-t", "w", "-e", "TERM=xterm-256color",
		"sh -c '"+bin+" replay --watch "+demo+"; echo $? > "+statusFile+"'")

	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		var screen string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			screen = tm("capture-pane", "-p", "-J", "-t", "w")
			if ok(screen) {
				return screen
			}
		}
		t.Fatalf("timed out waiting for %s; screen:\n%s", what, screen)
		return ""
	}
	screen := waitFor("the table", func(s string) bool { return strings.Contains(s, "press q to quit") })
	for _, want := range []string{
		"CLIENT", "REQ/S", "P99",
		"GET /api/orders/42", "POST /api/checkout", "GET /api/fail",
		"GET /inventory/42", "POST /inventory/widget-7/reserve", "GET /inventory/fail",
		"SLOWEST RECENT TRACES", "9a1eba409747ad59acdd23798022154d",
	} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	rows := 0
	for _, l := range strings.Split(screen, "\n") {
		if strings.HasPrefix(l, "10.231.7.") && strings.Contains(l, " http ") {
			rows++
		}
	}
	if rows != 9 {
		t.Errorf("%d table rows, want 9 (3 operations on each of 3 hops):\n%s", rows, screen)
	}
	// Sort by p99: the slowest operation comes first.
	tm("send-keys", "-t", "w", "9")
	waitFor("sort by p99", func(s string) bool { return strings.Contains(s, "sorted by p99") })
	tm("send-keys", "-t", "w", "q")
	// Wait for the status file the pane's shell writes when wiretrace
	// exits: tmux's own pane_dead/pane_dead_status flags were seen to lag
	// or stay empty under load. CI machines are slow under the race
	// detector, hence the generous deadline.
	var status string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if b, err := os.ReadFile(statusFile); err == nil && strings.HasSuffix(string(b), "\n") {
			status = strings.TrimSpace(string(b))
			break
		}
	}
	if status == "" {
		ps, _ := exec.Command("ps", "-eo", "pid,ppid,stat,wchan:20,args").CombinedOutput()
		t.Fatalf("wiretrace did not exit within 60 s of q; screen:\n%s\nprocesses:\n%s",
			tm("capture-pane", "-p", "-J", "-S", "-200", "-t", "w"), ps)
	}
	// The pane's history too: the stats line is long and wraps.
	screen = tm("capture-pane", "-p", "-J", "-S", "-200", "-t", "w")
	if !strings.Contains(screen, "wiretrace: packets=56") || !strings.Contains(screen, " spans=9 traces=3 ") {
		t.Errorf("stats line missing or wrong:\n%s", screen)
	}
	if n, err := strconv.Atoi(status); err != nil || n != 0 {
		t.Errorf("exit status %q, want 0", status)
	}
	os.Remove(sock)
}
