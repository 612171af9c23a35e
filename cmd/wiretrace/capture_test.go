package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// TestMain lets the capture tests run this test binary as the wiretrace
// command with capture added (root.go gets newCaptureCmd at merge; then
// the tests can build bin/wiretrace instead).
func TestMain(m *testing.M) {
	if os.Getenv("WIRETRACE_TEST_MAIN") == "1" {
		root := newRootCmd()
		if err := root.Execute(); err != nil {
			fmt.Fprintln(os.Stderr, "wiretrace:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestReadBPFFile(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		wantLen  int
		wantErr  bool
	}{
		{"tcpdump", "# tcpdump -ddd udp\n2\n40 0 0 12\n6 0 0 262144\n", 2, false},
		{"count mismatch", "3\n40 0 0 12\n6 0 0 262144\n", 0, true},
		{"bad field", "1\n40 0 0 x\n", 0, true},
		{"empty", "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.bpf")
			os.WriteFile(path, []byte(tc.in), 0o644)
			got, err := readBPFFile(path)
			if (err != nil) != tc.wantErr || len(got) != tc.wantLen {
				t.Errorf("readBPFFile = %d instructions, %v; want %d, error %v", len(got), err, tc.wantLen, tc.wantErr)
			}
		})
	}
}

func TestCaptureFilterArgs(t *testing.T) {
	// A bad expression fails before any socket is opened, naming the token.
	root := newRootCmd()
	root.SetArgs([]string{"capture", "-i", "lo", "--duration", "200ms", "tcp", "prot", "80"})
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), `"prot"`) {
		t.Errorf("capture with a bad filter expression: %v, want an error naming \"prot\"", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("a live capture needs CAP_NET_RAW (run as root)")
	}
	// A good one is accepted and the capture ends with --duration.
	root = newRootCmd()
	var stderr strings.Builder
	root.SetArgs([]string{"capture", "-i", "lo", "--duration", "300ms", "tcp", "port", "1"})
	root.SetOut(io.Discard)
	root.SetErr(&stderr)
	if err := root.Execute(); err != nil {
		t.Fatalf("capture with a filter expression: %v", err)
	}
	if !strings.Contains(stderr.String(), "filter_rejected=") {
		t.Errorf("stats line has no filter counters: %s", stderr.String())
	}
}

// netnsPair is two network namespaces joined by veth wta (10.231.9.1) —
// wtb (10.231.9.2).
type netnsPair struct{ a, b string }

func newNetnsPair(t *testing.T, tools ...string) *netnsPair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN to create network namespaces, CAP_NET_RAW to capture)")
	}
	for _, tool := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (.ci/run installs it)", tool)
		}
	}
	id := strconv.Itoa(os.Getpid()) + strconv.Itoa(int(time.Now().UnixNano()%1000))
	n := &netnsPair{a: "wtca" + id, b: "wtcb" + id}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.a).Run()
		exec.Command("ip", "netns", "del", n.b).Run()
	})
	for _, c := range [][]string{
		{"netns", "add", n.a},
		{"netns", "add", n.b},
		{"link", "add", "wta", "netns", n.a, "type", "veth", "peer", "name", "wtb", "netns", n.b},
		{"-n", n.a, "addr", "add", "10.231.9.1/24", "dev", "wta"},
		{"-n", n.b, "addr", "add", "10.231.9.2/24", "dev", "wtb"},
		{"-n", n.a, "link", "set", "wta", "up"},
		{"-n", n.b, "link", "set", "wtb", "up"},
		{"-n", n.a, "link", "set", "lo", "up"},
		{"-n", n.b, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	return n
}

// inNetns runs f on an OS thread inside namespace ns; sockets f opens stay
// in it.
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	var wg sync.WaitGroup
	var err error
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		var fd int
		if fd, err = unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			return
		}
		defer unix.Close(fd)
		if err = unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return
		}
		f()
	}()
	wg.Wait()
	if err != nil {
		t.Fatalf("enter netns %s: %v", ns, err)
	}
}

// wiretraceCmd returns a command running this test binary as wiretrace
// inside namespace ns, prefixed by wrap (setpriv, strace).
func wiretraceCmd(ctx context.Context, t *testing.T, ns, exe string, wrap []string, args ...string) *exec.Cmd {
	argv := append([]string{"netns", "exec", ns}, wrap...)
	argv = append(argv, exe)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, "ip", argv...)
	cmd.Env = append(os.Environ(), "WIRETRACE_TEST_MAIN=1")
	return cmd
}

// publicExe copies this test binary where an unprivileged uid can run it.
func publicExe(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "wiretrace-capture-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "wiretrace")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// sendUDPFor sends a datagram to dst from namespace ns every 10ms until
// ctx is done.
func sendUDPFor(ctx context.Context, t *testing.T, ns, dst string) {
	inNetns(t, ns, func() {
		c, err := net.ListenPacket("udp4", ":0")
		if err != nil {
			return
		}
		to, _ := net.ResolveUDPAddr("udp4", dst)
		go func() {
			defer c.Close()
			for ctx.Err() == nil {
				c.WriteTo([]byte("ping"), to)
				time.Sleep(10 * time.Millisecond)
			}
		}()
	})
}

// TestCaptureNetRawOnly runs capture as an unprivileged uid holding only
// CAP_NET_RAW (ambient), under strace, and checks that it captures and
// never calls bpf(2).
func TestCaptureNetRawOnly(t *testing.T) {
	n := newNetnsPair(t, "setpriv", "strace")
	exe := publicExe(t)
	dir := filepath.Dir(exe)
	trace := filepath.Join(dir, "strace.out")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sendUDPFor(ctx, t, n.b, "10.231.9.1:9999")
	setpriv := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all,+net_raw", "--ambient-caps=-all,+net_raw", "--bounding-set=-all,+net_raw"}

	t.Run("net_raw", func(t *testing.T) {
		// strace runs as root and follows setpriv into the capture.
		wrap := append([]string{"strace", "-f", "-e", "trace=bpf", "-o", trace}, setpriv...)
		out, err := wiretraceCmd(ctx, t, n.a, exe, wrap, "capture", "-i", "wta", "--duration", "1s", "--format", "jsonl").CombinedOutput()
		if err != nil {
			t.Fatalf("capture with CAP_NET_RAW only: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "live_delivered=") || strings.Contains(string(out), "live_delivered=0 ") {
			t.Errorf("no packets captured:\n%s", out)
		}
		st, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(st), "bpf(") {
			t.Errorf("capture called bpf(2):\n%s", st)
		}
	})
	t.Run("no caps", func(t *testing.T) {
		wrap := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"--inh-caps=-all", "--bounding-set=-all"}
		out, err := wiretraceCmd(ctx, t, n.a, exe, wrap, "capture", "-i", "wta", "--duration", "1s").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "CAP_NET_RAW") || !strings.Contains(string(out), "setcap cap_net_raw+ep") {
			t.Errorf("capture without CAP_NET_RAW: %v, want an error naming the capability and setcap:\n%s", err, out)
		}
	})
}

// TestCaptureMatchesReplay captures an HTTP exchange live while tcpdump
// records the same interface, and checks that the live spans equal the
// spans of replaying tcpdump's file.
func TestCaptureMatchesReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers in network namespaces; skipped with -short")
	}
	n := newNetnsPair(t, "tcpdump", "curl")
	exe := publicExe(t)
	dir := filepath.Dir(exe)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var ln net.Listener
	inNetns(t, n.a, func() {
		var err error
		if ln, err = net.Listen("tcp4", "10.231.9.1:8080"); err != nil {
			t.Error(err)
		}
	})
	if ln == nil {
		t.FailNow()
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "hello")
	})}
	go srv.Serve(ln)
	defer srv.Close()

	pcap := filepath.Join(dir, "tcpdump.pcap")
	td := exec.CommandContext(ctx, "ip", "netns", "exec", n.a, "tcpdump", "-i", "wta", "-U", "--immediate-mode", "-w", pcap, "tcp")
	tdErr := &syncBuffer{}
	td.Stderr = tdErr
	if err := td.Start(); err != nil {
		t.Fatal(err)
	}
	// --ebpf off: the eBPF programs are loaded before the packet socket is
	// opened, about 0.1s, but seconds in a -race build under load, more
	// than the wait below allows.
	live := wiretraceCmd(ctx, t, n.a, exe, nil, "capture", "-i", "wta", "--format", "jsonl", "--duration", "4s", "-q", "--ebpf", "off")
	var liveOut syncBuffer
	live.Stdout, live.Stderr = &liveOut, os.Stderr
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(tdErr.String(), "listening on"); {
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not start: %s", tdErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the capture opens its socket
	for _, path := range []string{"/a", "/missing", "/b"} {
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", n.b, "curl", "-sS",
			"-H", "X-Request-ID: req"+strings.TrimPrefix(path, "/"), "http://10.231.9.1:8080"+path).CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s: %v\n%s", path, err, out)
		}
	}
	if err := live.Wait(); err != nil {
		t.Fatalf("capture: %v", err)
	}
	td.Process.Signal(os.Interrupt)
	td.Wait()

	replayOut, _, err := run(t, "replay", "-q", "--format", "jsonl", pcap)
	if err != nil {
		t.Fatal(err)
	}
	got, want := comparable(parseJSONL(t, liveOut.String())), comparable(parseJSONL(t, replayOut))
	if len(want) != 3 {
		t.Errorf("replay of tcpdump's file has %d spans, want 3:\n%s", len(want), replayOut)
	}
	// Each packet socket timestamps outgoing packets itself, so the two
	// captures' times differ by microseconds; compare them with a tolerance.
	// Side differs by design: live capture knows each packet's direction
	// (server here), tcpdump's pcap does not (network).
	const tolerance = 200 // µs
	for i := range min(len(got), len(want)) {
		if d := got[i].Start - want[i].Start; d < -tolerance || d > tolerance {
			t.Errorf("span %d: live start %dµs, replay %dµs", i, got[i].Start, want[i].Start)
		}
		if d := got[i].End - want[i].End; d < -tolerance || d > tolerance {
			t.Errorf("span %d: live end %dµs, replay %dµs", i, got[i].End, want[i].End)
		}
		if got[i].Side != "server" || want[i].Side != "network" {
			t.Errorf("span %d: live side %q, replay side %q; want server and network", i, got[i].Side, want[i].Side)
		}
		got[i].Start, got[i].End, got[i].Side = 0, 0, ""
		want[i].Start, want[i].End, want[i].Side = 0, 0, ""
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("live spans differ from replay of tcpdump's capture (-replay +live):\n%s", diff)
	}
}

// spanView is what must match between live capture and replay: span and
// trace ids and the capture name depend on the capture point's name.
type spanView struct {
	Name, Protocol, Side, Status string
	Client, Server               string
	Start, End                   int64
	HasParent                    bool
}

func comparable(spans []span) []spanView {
	var out []spanView
	for _, s := range spans {
		out = append(out, spanView{
			Name: s.Name, Protocol: s.Protocol, Side: s.Side, Status: s.Status,
			Client:    fmt.Sprintf("%s:%d", s.Client.IP, s.Client.Port),
			Server:    fmt.Sprintf("%s:%d", s.Server.IP, s.Server.Port),
			Start:     s.StartNS / 1000, // tcpdump's pcap has microseconds
			End:       s.EndNS / 1000,
			HasParent: s.ParentSpanID != "",
		})
	}
	return out
}

// syncBuffer is a bytes buffer safe for a writer and a concurrent reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
