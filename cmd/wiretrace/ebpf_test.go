package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wiretrace/wiretrace/capture/ebpf"
)

// The eBPF test's namespaces and addresses (10.241.7.0/24, names
// webpf-*).
const (
	ebpfServerIP = "10.241.7.2"
	ebpfClientIP = "10.241.7.1"
)

// ebpfNetns creates a server and a client namespace joined by a veth pair
// and returns their names.
func ebpfNetns(t *testing.T) (srv, cli string) {
	t.Helper()
	id := strconv.Itoa(os.Getpid() % 100000)
	srv, cli = "webpf-s"+id, "webpf-c"+id
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", srv).Run()
		exec.Command("ip", "netns", "del", cli).Run()
	})
	for _, c := range [][]string{
		{"netns", "add", srv},
		{"netns", "add", cli},
		{"link", "add", "wpa", "netns", srv, "type", "veth", "peer", "name", "wpb", "netns", cli},
		{"-n", srv, "addr", "add", ebpfServerIP + "/24", "dev", "wpa"},
		{"-n", cli, "addr", "add", ebpfClientIP + "/24", "dev", "wpb"},
		{"-n", srv, "link", "set", "wpa", "up"},
		{"-n", cli, "link", "set", "wpb", "up"},
		{"-n", srv, "link", "set", "lo", "up"},
		{"-n", cli, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	return srv, cli
}

// startIn starts a long-running command in namespace ns, killed (SIGTERM,
// then SIGKILL) at cleanup; its output goes to log.
func startIn(t *testing.T, ns, log string, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", argv[0], err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); f.Close(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return cmd
}

// waitFor polls cond every 20ms for up to 15s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// packetSockets counts the packet sockets open in namespace ns.
func packetSockets(ns string) int {
	out, err := exec.Command("ip", "netns", "exec", ns, "cat", "/proc/net/packet").Output()
	if err != nil {
		return 0
	}
	return strings.Count(string(out), "\n") - 1
}

// appTruth is app.py's log: who handled each request and which request
// made each Redis call.
type appTruth struct {
	pid   int
	tid   map[string]int    // request id → thread
	calls map[string]string // "localport#n" → request id
}

func readAppLog(t *testing.T, path string) appTruth {
	t.Helper()
	tr := appTruth{tid: map[string]int{}, calls: map[string]string{}}
	f, err := os.Open(path)
	if err != nil {
		return tr // not yet written
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "ready":
			tr.pid, _ = strconv.Atoi(f[1])
		case len(f) == 4 && f[0] == "req":
			tr.tid[f[1]], _ = strconv.Atoi(f[3])
		case len(f) == 4 && f[0] == "call":
			tr.calls[f[2]+"#"+f[3]] = f[1]
		}
	}
	return tr
}

// linkScore is how the Redis spans of a capture were linked.
type linkScore struct {
	calls, correct, wrong, roots int
	reasons                      map[string]int
}

func (s linkScore) String() string {
	return fmt.Sprintf("%d calls: %d correct (%.3f), %d wrong, %d roots; precision %.3f; reasons %v",
		s.calls, s.correct, float64(s.correct)/float64(max(s.calls, 1)), s.wrong, s.roots,
		float64(s.correct)/float64(max(s.correct+s.wrong, 1)), s.reasons)
}

// requestOf returns the request id of each HTTP span (by span id) and of
// each Redis span (by span id, from the app's log: the n-th call on the
// connection from a local port).
func requestOf(spans []span, tr appTruth) map[string]string {
	rid := map[string]string{}
	byPort := map[int][]span{}
	for _, s := range spans {
		switch s.Protocol {
		case "http":
			if p, _ := s.Attributes["url.path"].(string); strings.HasPrefix(p, "/r/") {
				rid[s.SpanID] = strings.TrimPrefix(p, "/r/")
			}
		case "redis":
			byPort[s.Client.Port] = append(byPort[s.Client.Port], s)
		}
	}
	for port, list := range byPort {
		slices.SortFunc(list, func(a, b span) int { return int(a.StartNS - b.StartNS) })
		for n, s := range list {
			if id, ok := tr.calls[fmt.Sprintf("%d#%d", port, n)]; ok {
				rid[s.SpanID] = id
			}
		}
	}
	return rid
}

func scoreLinks(spans []span, tr appTruth) linkScore {
	rid := requestOf(spans, tr)
	sc := linkScore{reasons: map[string]int{}}
	for _, s := range spans {
		want, ok := rid[s.SpanID]
		if s.Protocol != "redis" || !ok {
			continue
		}
		sc.calls++
		sc.reasons[s.LinkReason]++
		switch got, ok := rid[s.ParentSpanID]; {
		case s.ParentSpanID == "":
			sc.roots++
		case ok && got == want:
			sc.correct++
		default:
			sc.wrong++
		}
	}
	return sc
}

// TestEBPFThreads runs app.py (a thread-per-connection Python HTTP server
// calling Redis through a shared connection pool) in a network namespace,
// loads it from another, and captures its traffic twice at once, with and
// without --ebpf. With eBPF every span must name the app's pid and the
// thread that handled the request, and linking the Redis calls (no key on
// the wire: only timing, or the thread) must be better than timing alone.
// It logs both accuracies and the requests/s without capture, with a cBPF
// capture and with an eBPF one (WIRETRACE_EBPF_REQUESTS scales the load,
// WIRETRACE_EBPF_ROUNDS repeats the requests/s measurement, and
// WIRETRACE_EBPF_OUT names a directory to keep the captures' spans in).
func TestEBPFThreads(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers in network namespaces; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN for ip netns, CAP_BPF and CAP_PERFMON for eBPF)")
	}
	for _, tool := range []struct{ bin, pkg string }{{"ip", "iproute2"}, {"python3", "python3"}, {"redis-server", "redis-server"}} {
		if _, err := exec.LookPath(tool.bin); err != nil {
			t.Skipf("%s not installed (package %s; .ci/run installs it)", tool.bin, tool.pkg)
		}
	}
	if err := ebpf.Probe(nil); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("the kernel cannot run the eBPF extension: %v", err)
		}
		t.Fatal(err)
	}
	perConn := 25
	if v, err := strconv.Atoi(os.Getenv("WIRETRACE_EBPF_REQUESTS")); err == nil && v > 0 {
		perConn = v
	}
	const conc = 8
	exe := publicExe(t)
	dir := t.TempDir()
	gen, err := filepath.Abs(filepath.Join("..", "..", "testdata", "gen", "ebpf"))
	if err != nil {
		t.Fatal(err)
	}
	srv, cli := ebpfNetns(t)

	startIn(t, srv, filepath.Join(dir, "redis.log"), "redis-server", "--bind", ebpfServerIP, "--port", "6379",
		"--save", "", "--appendonly", "no", "--protected-mode", "no", "--dir", dir)
	waitFor(t, "redis-server", func() bool {
		out, _ := exec.Command("ip", "netns", "exec", srv, "bash", "-c", "exec 3<>/dev/tcp/"+ebpfServerIP+"/6379").CombinedOutput()
		return len(out) == 0
	})

	// capture starts a wiretrace capture of the server namespace;
	// stop ends it and returns its spans and stderr.
	capture := func(name string, args ...string) (stop func() ([]span, string)) {
		out, errOut := &syncBuffer{}, &syncBuffer{}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		before := packetSockets(srv)
		cmd := wiretraceCmd(ctx, t, srv, exe, nil, append([]string{"capture", "-i", "any", "--format", "jsonl",
			"--local-net", ebpfServerIP + "/32"}, args...)...)
		cmd.Stdout, cmd.Stderr = out, errOut
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, name+" capture's packet socket", func() bool { return packetSockets(srv) > before })
		time.Sleep(200 * time.Millisecond)
		return func() ([]span, string) {
			defer cancel()
			cmd.Process.Signal(os.Interrupt)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("%s capture: %v\n%s", name, err, errOut.String())
			}
			if d := os.Getenv("WIRETRACE_EBPF_OUT"); d != "" {
				// Keep each capture's spans for a look.
				os.WriteFile(filepath.Join(d, strings.NewReplacer(" ", "_", ",", "").Replace(name)+".jsonl"), []byte(out.String()), 0o644)
			}
			return parseJSONL(t, out.String()), errOut.String()
		}
	}
	load := func(prefix string) float64 {
		out, err := exec.Command("ip", "netns", "exec", cli, "python3", filepath.Join(gen, "load.py"),
			"--target", ebpfServerIP+":8080", "--conc", strconv.Itoa(conc), "--requests", strconv.Itoa(perConn),
			"--prefix", prefix, "--timeout", "60").CombinedOutput()
		if err != nil {
			t.Fatalf("load.py: %v\n%s", err, out)
		}
		f := strings.Fields(string(out))
		if len(f) != 6 || f[1] != strconv.Itoa(conc*perConn) {
			t.Fatalf("load.py did not complete its requests: %s", out)
		}
		rps, _ := strconv.ParseFloat(f[5], 64)
		return rps
	}

	// Both captures see the app's Redis connections open.
	stopOn := capture("eBPF", "--ebpf", "on")
	stopOff := capture("cBPF", "--ebpf", "off")
	stopAll := capture("cBPF, every timing candidate", "--ebpf", "off", "--timing-min-confidence", "0")
	// The app runs in a container's cgroup when cgroup v2 can be written
	// (removed after the app is killed: cleanups run last-in first-out).
	cid := strings.Repeat("e1b2", 16)
	cgroup := ""
	for _, root := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(root + "/cgroup.procs"); err != nil {
			continue
		}
		d := filepath.Join(root, "webpf-docker-"+cid+".scope")
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Logf("no container cgroup: %v", err)
			break
		}
		t.Cleanup(func() {
			for i := 0; i < 100 && os.Remove(d) != nil; i++ {
				time.Sleep(50 * time.Millisecond)
			}
		})
		cgroup = d
		break
	}
	appLog := filepath.Join(dir, "app.log")
	startIn(t, srv, filepath.Join(dir, "app.out"), "python3", filepath.Join(gen, "app.py"),
		"--listen", ebpfServerIP+":8080", "--redis", ebpfServerIP+":6379", "--log", appLog)
	waitFor(t, "app.py", func() bool { return readAppLog(t, appLog).pid != 0 })
	if cgroup != "" {
		pid := readAppLog(t, appLog).pid
		if err := os.WriteFile(cgroup+"/cgroup.procs", []byte(strconv.Itoa(pid)), 0); err != nil {
			t.Logf("no container cgroup: %v", err)
			cgroup = ""
		}
	}
	load("a")
	// The captures read what their rings hold (a capture stops reading at
	// SIGINT): 2s is ample for these few thousand packets even under -race.
	time.Sleep(2 * time.Second)
	onSpans, onErr := stopOn()
	offSpans, _ := stopOff()
	allSpans, _ := stopAll()
	truth := readAppLog(t, appLog)

	on, off, all := scoreLinks(onSpans, truth), scoreLinks(offSpans, truth), scoreLinks(allSpans, truth)
	t.Logf("Redis calls linked with eBPF:    %v", on)
	t.Logf("Redis calls linked without eBPF: %v", off)
	t.Logf("same, every timing candidate:    %v", all)
	t.Logf("eBPF capture: %s", strings.TrimSpace(onErr))
	if want := conc * perConn * 2; on.calls != want || off.calls != want {
		t.Errorf("Redis spans matched to the app's log: %d with eBPF, %d without; want %d", on.calls, off.calls, want)
	}
	if float64(on.correct) < 0.95*float64(on.calls) {
		t.Errorf("with eBPF %d of %d Redis calls linked to their request, want >= 95%%", on.correct, on.calls)
	}
	for _, o := range []linkScore{off, all} {
		if on.correct < o.correct || on.wrong > o.wrong {
			t.Errorf("eBPF made linking worse: with %v; without %v", on, o)
		}
	}

	// Every span of the eBPF capture names the app and the thread of its
	// request; those of the cBPF one name nothing.
	rid := requestOf(onSpans, truth)
	checked := 0
	for _, s := range onSpans {
		id, ok := rid[s.SpanID]
		if !ok {
			continue
		}
		checked++
		pid, _ := s.Attributes["process.pid"].(float64)
		tid, _ := s.Attributes["thread.id"].(float64)
		comm, _ := s.Attributes["process.executable.name"].(string)
		if int(pid) != truth.pid || int(tid) != truth.tid[id] || comm != "python3" {
			t.Errorf("%s %s (request %s): pid %v tid %v comm %q; want pid %d tid %d comm python3",
				s.Protocol, s.Name, id, s.Attributes["process.pid"], s.Attributes["thread.id"], comm, truth.pid, truth.tid[id])
		}
		if cgroup != "" && s.Attributes["container.id"] != cid {
			t.Errorf("%s %s: container.id %v, want %s", s.Protocol, s.Name, s.Attributes["container.id"], cid)
		}
	}
	if checked != conc*perConn*3 {
		t.Errorf("checked %d spans of the eBPF capture, want %d", checked, conc*perConn*3)
	}
	for _, s := range offSpans {
		if _, ok := s.Attributes["process.pid"]; ok {
			t.Fatalf("--ebpf off: span %s has process.pid", s.Name)
		}
	}

	// Overhead: requests/s with no capture, a cBPF capture, an eBPF one,
	// WIRETRACE_EBPF_ROUNDS times in turn (default 1); the medians.
	rounds := 1
	if v, err := strconv.Atoi(os.Getenv("WIRETRACE_EBPF_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	var base, cbpf, withEBPF []float64
	for r := 0; r < rounds; r++ {
		base = append(base, load(fmt.Sprintf("b%d-", r)))
		stop := capture("cBPF overhead", "--ebpf", "off", "-q")
		cbpf = append(cbpf, load(fmt.Sprintf("c%d-", r)))
		stop()
		stop = capture("eBPF overhead", "--ebpf", "on", "-q")
		withEBPF = append(withEBPF, load(fmt.Sprintf("d%d-", r)))
		stop()
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	t.Logf("requests/s (%d connections x %d requests, median of %d): no capture %.0f, capture --ebpf off %.0f, capture --ebpf on %.0f",
		conc, perConn, rounds, median(base), median(cbpf), median(withEBPF))
}

// TestEBPFModes checks --ebpf's three modes where the extension cannot
// run: an unprivileged capture with CAP_NET_RAW only (and a bad mode).
// auto says so in one line and captures; on fails naming what is missing;
// off says nothing. None of them calls bpf(2).
func TestEBPFModes(t *testing.T) {
	if _, _, err := run(t, "capture", "-i", "lo", "--ebpf", "maybe", "--duration", "1ms"); err == nil ||
		!strings.Contains(err.Error(), `--ebpf "maybe": want auto, on or off`) {
		t.Errorf("--ebpf maybe: err = %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (ip netns, setpriv to drop to CAP_NET_RAW)")
	}
	for _, tool := range []string{"ip", "setpriv", "strace"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (.ci/run installs it)", tool)
		}
	}
	srv, _ := ebpfNetns(t)
	exe := publicExe(t)
	trace := filepath.Join(filepath.Dir(exe), "strace.out")
	setpriv := []string{"strace", "-f", "-e", "trace=bpf", "-o", trace,
		"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all,+net_raw", "--ambient-caps=-all,+net_raw", "--bounding-set=-all,+net_raw"}
	for _, tc := range []struct {
		mode    string
		wantErr bool
		want    string // in the output
		lines   int    // lines mentioning eBPF
	}{
		{"auto", false, "wiretrace: eBPF extension off (no process attribution): ebpf: not supported: needs root, or CAP_BPF and CAP_PERFMON", 1},
		{"on", true, "--ebpf on: ebpf: not supported: needs root, or CAP_BPF and CAP_PERFMON", 1},
		{"off", false, "", 0},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := wiretraceCmd(ctx, t, srv, exe, setpriv, "capture", "-i", "wpa", "--duration", "200ms", "--ebpf", tc.mode).CombinedOutput()
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v\n%s", err, tc.wantErr, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			if n := strings.Count(string(out), "eBPF") + strings.Count(string(out), "--ebpf"); n != tc.lines {
				t.Errorf("%d mentions of eBPF, want %d:\n%s", n, tc.lines, out)
			}
			if !tc.wantErr && !strings.Contains(string(out), "live_delivered=") {
				t.Errorf("no stats line: the capture did not run:\n%s", out)
			}
			st, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(st), "bpf(") {
				t.Errorf("called bpf(2):\n%s", st)
			}
		})
	}
}
