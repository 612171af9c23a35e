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
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// gatewayNet is three namespaces on 10.241.8.0/24, no default route: a
// client (10.241.8.1/26) joined by a veth to a gateway (10.241.8.2/26 and
// 10.241.8.65/26), joined by another to a backend (10.241.8.66/26).
type gatewayNet struct{ client, gateway, backend string }

func newGatewayNet(t *testing.T) *gatewayNet {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN to create network namespaces, CAP_NET_RAW to capture)")
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	n := &gatewayNet{client: "wlive-c" + id, gateway: "wlive-g" + id, backend: "wlive-b" + id}
	t.Cleanup(func() {
		for _, ns := range []string{n.client, n.gateway, n.backend} {
			exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	for _, c := range [][]string{
		{"netns", "add", n.client}, {"netns", "add", n.gateway}, {"netns", "add", n.backend},
		{"link", "add", "wlc", "netns", n.client, "type", "veth", "peer", "name", "wlgc", "netns", n.gateway},
		{"link", "add", "wlgb", "netns", n.gateway, "type", "veth", "peer", "name", "wlb", "netns", n.backend},
		{"-n", n.client, "addr", "add", "10.241.8.1/26", "dev", "wlc"},
		{"-n", n.gateway, "addr", "add", "10.241.8.2/26", "dev", "wlgc"},
		{"-n", n.gateway, "addr", "add", "10.241.8.65/26", "dev", "wlgb"},
		{"-n", n.backend, "addr", "add", "10.241.8.66/26", "dev", "wlb"},
		{"-n", n.client, "link", "set", "wlc", "up"}, {"-n", n.gateway, "link", "set", "wlgc", "up"},
		{"-n", n.gateway, "link", "set", "wlgb", "up"}, {"-n", n.backend, "link", "set", "wlb", "up"},
		{"-n", n.client, "link", "set", "lo", "up"}, {"-n", n.gateway, "link", "set", "lo", "up"},
		{"-n", n.backend, "link", "set", "lo", "up"},
	} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	for _, ns := range []string{n.client, n.gateway, n.backend} {
		exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1").Run()
	}
	return n
}

// startGatewayNginx runs nginx in ns on 10.241.8.2:80, proxying to the
// backend at 10.241.8.66:8080 and adding X-Request-ID (one new upstream
// connection per request).
func startGatewayNginx(ctx context.Context, t *testing.T, ns string) {
	t.Helper()
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/nginx"); err != nil {
			t.Skip("nginx not installed (package nginx-light; .ci/run installs it)")
		}
		nginx = "/usr/sbin/nginx"
	}
	dir := t.TempDir()
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen 10.241.8.2:80;
        location / {
            proxy_pass http://10.241.8.66:8080;
            proxy_set_header X-Request-ID $request_id;
            add_header X-Request-ID $request_id always;
        }
    }
}
`, dir)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, nginx, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", path)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		var c net.Conn
		inNetns(t, ns, func() { c, err = net.DialTimeout("tcp4", "10.241.8.2:80", time.Second) })
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCaptureWorkersMatchesReplay captures a gateway's traffic — requests
// from a client to nginx, which adds X-Request-ID and opens a new upstream
// connection to a backend for each — with "capture --workers 2 -i any" and
// a filter that runs in the kernel, while tcpdump records the same
// interfaces and a UDP flood the filter excludes crosses them. The spans
// and their links (an inbound request and its upstream call mostly land on
// different workers) must equal those of replaying tcpdump's file, and the
// kernel must have kept the flood out of the sockets.
func TestCaptureWorkersMatchesReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers in network namespaces; skipped with -short")
	}
	for _, bin := range []string{"ip", "tcpdump"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (.ci/run installs it)", bin)
		}
	}
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) { testCaptureWorkers(t, workers) })
	}
}

func testCaptureWorkers(t *testing.T, workers int) {
	n := newGatewayNet(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var ln net.Listener
	inNetns(t, n.backend, func() {
		var err error
		if ln, err = net.Listen("tcp4", "10.241.8.66:8080"); err != nil {
			t.Error(err)
		}
	})
	if ln == nil {
		t.FailNow()
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "ok %s\n", r.Header.Get("X-Request-ID"))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	startGatewayNginx(ctx, t, n.gateway)

	exe := publicExe(t)
	dir := filepath.Dir(exe)
	const expr = "tcp port 80 or tcp port 8080"
	pcap := filepath.Join(dir, "tcpdump.pcap")
	// tcpdump is the reference: a small snaplen and a large buffer, or
	// libpcap's immediate-mode ring (one 256 KiB frame per packet at the
	// default snaplen) drops under load.
	td := exec.CommandContext(ctx, "ip", "netns", "exec", n.gateway, "tcpdump", "-i", "any", "-s", "4096", "-B", "65536", "-U", "--immediate-mode", "-w", pcap, expr)
	tdErr := &syncBuffer{}
	td.Stderr = tdErr
	if err := td.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		td.Process.Signal(os.Interrupt)
		td.Wait()
	}()
	live := wiretraceCmd(ctx, t, n.gateway, exe, nil, append([]string{"capture", "-i", "any", "--workers", strconv.Itoa(workers),
		"--format", "jsonl", "--metrics-addr", "127.0.0.1:0"}, strings.Fields(expr)...)...)
	var liveOut, liveErr syncBuffer
	live.Stdout, live.Stderr = &liveOut, &liveErr
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(tdErr.String(), "listening on"); {
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump did not start: %s", tdErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // the capture opens its sockets

	// A UDP flood from the client through the gateway's interface, which
	// the filter excludes.
	const flood = 5000
	inNetns(t, n.client, func() {
		c, err := net.ListenPacket("udp4", "10.241.8.1:0")
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		to := &net.UDPAddr{IP: net.IPv4(10, 241, 8, 2), Port: 9999}
		for range flood {
			c.WriteTo(make([]byte, 32), to)
		}
	})
	// Requests, one connection each, from the client, a few at a time so
	// that connections overlap. Every connection is dialled inside the
	// client's namespace (nsDialer): the test's goroutines run in the
	// host's.
	const requests = 24
	dial := nsDialer(t, n.client)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) { return dial(network, addr) }}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for i := range requests {
		path := fmt.Sprintf("/item/%d", i)
		want := http.StatusOK
		if i%6 == 5 {
			path, want = "/fail", http.StatusInternalServerError
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get("http://10.241.8.2" + path)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want || resp.Header.Get("X-Request-ID") == "" {
					err = fmt.Errorf("%s: status %d, X-Request-ID %q; want %d through nginx", path, resp.StatusCode, resp.Header.Get("X-Request-ID"), want)
				}
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
			}
		}()
		if i%3 == 2 {
			wg.Wait()
		}
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("requests failed: %v", failures)
	}
	time.Sleep(500 * time.Millisecond) // the last segments reach the rings
	// The metrics, scraped while the workers run, sum what the stats
	// line sums.
	m := regexp.MustCompile(`serving metrics on (http://\S+)`).FindStringSubmatch(liveErr.String())
	if m == nil {
		t.Fatalf("capture does not say where it serves metrics: %s", liveErr.String())
	}
	gwDial := nsDialer(t, n.gateway)
	scraper := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) { return gwDial(network, addr) }}}
	resp, err := scraper.Get(m[1])
	if err != nil {
		t.Fatalf("scrape %s: %v", m[1], err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"wiretrace_live_received", "wiretrace_live_kernel_drops", "wiretrace_spans"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics have no %s:\n%.2000s", want, body)
		}
	}
	live.Process.Signal(os.Interrupt)
	if err := live.Wait(); err != nil {
		t.Fatalf("capture --workers %d: %v\n%s", workers, err, liveErr.String())
	}
	td.Process.Signal(os.Interrupt)
	td.Wait()
	stats := liveErr.String()
	t.Logf("capture stats: %s", stats)

	if m := regexp.MustCompile(`(\d+) packets dropped by kernel`).FindStringSubmatch(tdErr.String()); m == nil || m[1] != "0" {
		t.Fatalf("tcpdump, the reference, lost packets (the comparison would be void): %s", tdErr.String())
	}
	replayOut := mustRun(t, "replay", "-q", "--format", "jsonl", pcap)
	liveSpans, replaySpans := parseJSONL(t, liveOut.String()), parseJSONL(t, replayOut)
	// Each request: the server span at nginx and its upstream call.
	if len(replaySpans) != 2*requests {
		t.Errorf("replay of tcpdump's file has %d spans, want %d", len(replaySpans), 2*requests)
	}
	linked := 0
	for _, s := range liveSpans {
		if s.LinkReason == "x_request_id" {
			linked++
		}
	}
	if linked != requests {
		t.Errorf("live: %d spans linked by X-Request-ID, want %d", linked, requests)
	}
	if diff := gocmp.Diff(scenarioViews(replaySpans), scenarioViews(liveSpans)); diff != "" {
		t.Errorf("live spans (%d workers) differ from the replay of tcpdump's capture (-replay +live):\n%s", workers, diff)
	}
	stat := func(name string) int64 {
		m := regexp.MustCompile(`\b` + name + `=(\d+)`).FindStringSubmatch(stats)
		if m == nil {
			t.Fatalf("stats line has no %s: %s", name, stats)
		}
		v, _ := strconv.ParseInt(m[1], 10, 64)
		return v
	}
	if !strings.Contains(stats, " filter=kernel ") {
		t.Errorf("stats line does not say the filter ran in the kernel: %s", stats)
	}
	if workers > 1 {
		if !strings.Contains(stats, fmt.Sprintf(" workers=%d ", workers)) {
			t.Errorf("stats line does not say workers=%d: %s", workers, stats)
		}
		if got := stat("live_merge_late"); got != 0 {
			t.Errorf("live_merge_late=%d", got)
		}
	}
	// PACKET_STATISTICS counts what passed the socket filter: the
	// requests' few hundred segments, none of the flood.
	if got := stat("live_received"); got >= flood || got < int64(6*requests) {
		t.Errorf("live_received=%d: want the TCP segments only (the kernel filter keeps %d UDP datagrams out)", got, flood)
	}
	if got := stat("live_kernel_drops"); got != 0 {
		t.Errorf("live_kernel_drops=%d", got)
	}
	if got := stat("filter_rejected"); got != 0 {
		t.Errorf("filter_rejected=%d: the user-space filter should see nothing to reject", got)
	}
}

// nsDialer returns a dial function whose connections are made inside
// namespace ns, by a goroutine locked to a thread that entered it. It ends
// with the test.
func nsDialer(t *testing.T, ns string) func(network, addr string) (net.Conn, error) {
	t.Helper()
	type req struct {
		network, addr string
		reply         chan dialResult
	}
	reqs := make(chan req)
	done := make(chan struct{})
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open("/var/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		ready <- err
		if err != nil {
			return
		}
		for {
			select {
			case r := <-reqs:
				c, err := net.DialTimeout(r.network, r.addr, 5*time.Second)
				r.reply <- dialResult{c, err}
			case <-done:
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		t.Fatalf("enter netns %s: %v", ns, err)
	}
	t.Cleanup(func() { close(done) })
	return func(network, addr string) (net.Conn, error) {
		r := req{network, addr, make(chan dialResult, 1)}
		select {
		case reqs <- r:
		case <-done:
			return nil, fmt.Errorf("netns %s: dialer stopped", ns)
		}
		res := <-r.reply
		return res.c, res.err
	}
}

type dialResult struct {
	c   net.Conn
	err error
}
