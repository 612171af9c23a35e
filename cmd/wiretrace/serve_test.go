package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServeReplay runs 'serve' on demo.pcap, queries the API and the
// metrics while it serves, then stops it by cancelling its context.
func TestServeReplay(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	cmd := newRootCmd()
	cmd.SetOut(io.Discard)
	cmd.SetErr(pw)
	cmd.SetArgs([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0",
		"--service-name", "10.231.7.3:8080=orders", testdata("demo.pcap")})
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var api, metrics, stats string
	for stats == "" && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "wiretrace: serving the query API on "):
			api = strings.TrimPrefix(line, "wiretrace: serving the query API on ")
		case strings.HasPrefix(line, "wiretrace: serving metrics on "):
			metrics = strings.TrimPrefix(line, "wiretrace: serving metrics on ")
		case strings.HasPrefix(line, "wiretrace: packets="):
			stats = line
		default:
			t.Errorf("unexpected stderr line %q", line)
		}
	}
	go io.Copy(io.Discard, pr)
	if api == "" || metrics == "" || !strings.Contains(stats, " store_spans=9 ") {
		t.Fatalf("api %q metrics %q stats %q", api, metrics, stats)
	}
	body := func(url string) string {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", url, resp.StatusCode, b)
		}
		return string(b)
	}
	if got := body(api + "/api/services"); !strings.Contains(got, `"orders"`) {
		t.Errorf("services: %s", got)
	}
	for _, url := range []string{metrics, api + "/metrics"} {
		if got := body(url); !strings.Contains(got, "wiretrace_store_spans 9\n") || !strings.Contains(got, "wiretrace_packets_total 56\n") {
			t.Errorf("%s lacks the store and packet counts", url)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func TestServeArgs(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"serve"}, "serve: give capture files or -i IFACE"},
		{[]string{"serve", "--service-name", "nope", "x.pcap"}, `--service-name "nope": want ADDR=NAME`},
		{[]string{"serve", "--service-name", "host=x", "x.pcap"}, `"host" is not an ip or ip:port`},
		{[]string{"serve", "-w", "x.pcapng", "x.pcap"}, "serve: -w writes a live capture; it needs -i"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "missing.pcap"}, "missing.pcap"},
	} {
		_, _, err := run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}

// TestReplayMetricsAddr: replay with --metrics-addr serves while it runs
// and stops cleanly.
func TestReplayMetricsAddr(t *testing.T) {
	_, errOut, err := run(t, "replay", "--metrics-addr", "127.0.0.1:0", "--format", "summary", testdata("demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "wiretrace: serving metrics on http://127.0.0.1:") || !strings.Contains(errOut, " spans=9 ") {
		t.Errorf("stderr: %s", errOut)
	}
}

// TestServeLive serves a live capture on the loopback interface: requests
// to a local HTTP server become spans the API finds, and the metrics count
// the packets.
func TestServeLive(t *testing.T) {
	if testing.Short() {
		t.Skip("live capture; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_RAW for AF_PACKET on lo)")
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}))
	defer backend.Close()
	port := backend.Listener.Addr().(*net.TCPAddr).Port

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	cmd := newRootCmd()
	cmd.SetOut(io.Discard)
	cmd.SetErr(pw)
	cmd.SetArgs([]string{"serve", "-i", "lo", "--listen", "127.0.0.1:0", "--window", "100ms",
		// On lo the capture sees each request leave: client-side spans,
		// which belong to the client's service, named by its IP.
		"--service-name", "127.0.0.1=local", "tcp", "port", strconv.Itoa(port)})
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var api string
	for api == "" && sc.Scan() {
		api, _ = strings.CutPrefix(sc.Text(), "wiretrace: serving the query API on ")
	}
	lines := make(chan string, 16)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if api == "" {
		t.Fatalf("serve did not start: %v", <-done)
	}
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/live/%d", backend.URL, i), nil)
		req.Header.Set("X-Request-ID", fmt.Sprintf("live-%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// Trace windows close on the live ticker (1s of quiet); poll.
	var ops string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(api + "/api/services/local/operations")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ops = string(b); strings.Count(ops, "GET /live/") == 3 {
			break
		}
	}
	if strings.Count(ops, "GET /live/") != 3 {
		t.Errorf("operations of local: %s", ops)
	}
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `wiretrace_protocol_spans_total{protocol="http",status="ok"} 3`) || !strings.Contains(string(b), "wiretrace_live_received_total") {
		t.Errorf("metrics lack the live spans and ring counters:\n%s", b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	var stats string
	for l := range lines {
		if strings.HasPrefix(l, "wiretrace: packets=") {
			stats = l
		}
	}
	if !strings.Contains(stats, " store_spans=3 ") {
		t.Errorf("stats line: %q", stats)
	}
}
