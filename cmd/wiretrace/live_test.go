package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestLiveDemo records the demo traffic anew — curl, nginx and two Go
// services in network namespaces, captured by tcpdump on their bridge —
// and checks that the replay gives the same three 3-hop traces as the
// bundled capture.
func TestLiveDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers in network namespaces; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN for ip netns, CAP_NET_RAW for tcpdump)")
	}
	for _, bin := range []string{"nginx", "tcpdump", "ip", "go"} {
		if _, err := exec.LookPath(bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + bin); err != nil {
				t.Skipf("%s not installed (.ci/run installs it)", bin)
			}
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "testdata", "gen", "demo.sh"))
	cmd.Env = append(os.Environ(), "WTDEMO_OUT="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("demo.sh: %v\n%s", err, out)
	}
	jsonl := mustRun(t, "replay", "-q", "--format", "jsonl", filepath.Join(dir, "demo.pcap"))
	checkDemoSpans(t, jsonl)
}
