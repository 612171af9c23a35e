package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
)

// TestLiveScenario runs testdata/gen/scenario.sh — nginx, the shop service
// and real MariaDB, PostgreSQL and Redis servers in network namespaces —
// while "wiretrace capture -i br0" and tcpdump record the same bridge, and
// checks that the live spans equal those of replaying tcpdump's file, and
// that both have the scenario's structure.
func TestLiveScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers in network namespaces; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN for ip netns, CAP_NET_RAW to capture)")
	}
	for _, tool := range []struct{ bin, pkg string }{
		{"ip", "iproute2"}, {"nginx", "nginx-light"}, {"tcpdump", "tcpdump"}, {"curl", "curl"},
		{"setpriv", "util-linux"}, {"go", "Go"}, {"mariadbd", "mariadb-server"},
		{"mariadb-install-db", "mariadb-server"}, {"redis-server", "redis-server"},
	} {
		if _, err := exec.LookPath(tool.bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool.bin); err != nil {
				t.Skipf("%s not installed (package %s; .ci/run installs it)", tool.bin, tool.pkg)
			}
		}
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres"); len(m) == 0 {
		t.Skip("postgres not installed (package postgresql; .ci/run installs it)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "testdata", "gen", "scenario.sh"))
	// SIGTERM lets the script kill its servers and delete its namespaces.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	cmd.Env = append(os.Environ(), "WTSCEN_OUT="+dir, "WTSCEN_WIRETRACE="+self, "WIRETRACE_TEST_MAIN=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scenario.sh: %v\n%s", err, out)
	}
	t.Logf("scenario.sh took %v", time.Since(start).Round(time.Millisecond))
	liveOut, err := os.ReadFile(filepath.Join(dir, "scenario.live.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	replayOut := mustRun(t, "replay", "-q", "--format", "jsonl", filepath.Join(dir, "scenario.pcap"))
	t.Run("replay", func(t *testing.T) { checkScenarioSpans(t, replayOut) })
	t.Run("live", func(t *testing.T) { checkScenarioSpans(t, string(liveOut)) })
	got, want := scenarioViews(parseJSONL(t, string(liveOut))), scenarioViews(parseJSONL(t, replayOut))
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("live spans differ from the replay of tcpdump's capture (-replay +live):\n%s", diff)
	}
}

// scenarioView is what must match between a live capture and a replay of
// the same traffic: not ids, capture names, side or times. A span is named
// by its connection and its rank on it (Key), its parent and its trace's
// root likewise.
type scenarioView struct {
	Key, Parent, Root                  string
	Protocol, Name, Status, LinkReason string
}

func scenarioViews(spans []span) []scenarioView {
	conn := func(s span) string {
		return fmt.Sprintf("%s:%d>%s:%d", s.Client.IP, s.Client.Port, s.Server.IP, s.Server.Port)
	}
	idx := make([]int, len(spans))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := spans[a], spans[b]
		return cmp.Or(cmp.Compare(conn(x), conn(y)), cmp.Compare(x.StartNS, y.StartNS), cmp.Compare(x.Name, y.Name))
	})
	key := map[string]string{}
	rank := map[string]int{}
	for _, i := range idx {
		s := spans[i]
		key[s.SpanID] = fmt.Sprintf("%s#%d", conn(s), rank[conn(s)])
		rank[conn(s)]++
	}
	byID := map[string]span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	var out []scenarioView
	for _, i := range idx {
		s := spans[i]
		r := s
		for n := 0; r.ParentSpanID != "" && n < 64; n++ {
			r = byID[r.ParentSpanID]
		}
		out = append(out, scenarioView{
			Key: key[s.SpanID], Parent: key[s.ParentSpanID], Root: key[r.SpanID],
			Protocol: s.Protocol, Name: s.Name, Status: s.Status, LinkReason: s.LinkReason,
		})
	}
	return out
}
