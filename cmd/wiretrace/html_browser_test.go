package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium returns the path of a headless-capable Chromium, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (Debian package chromium): the HTML report is not checked in a browser")
	return ""
}

// browse runs headless Chromium on a file with extra flags and returns
// stdout.
func browse(t *testing.T, bin, file string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir()}
	args = append(args, extra...)
	args = append(args, "file://"+file)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "Uncaught") {
		t.Errorf("JavaScript error in the console:\n%s", s)
	}
	return string(out)
}

func count(dom, pattern string) int {
	return len(regexp.MustCompile(pattern).FindAllStringIndex(dom, -1))
}

func TestHTMLReportInBrowser(t *testing.T) {
	bin := chromium(t)
	for _, tc := range []struct {
		name                                string
		files                               []string
		services, traces, spans, rows, bars int
		tcpSeqBars                          int
	}{
		// demo: curl → nginx → backend → inventory, 3 traces of 3 hops;
		// the slowest trace's waterfall is shown first.
		{name: "demo", files: []string{"demo.pcap"}, services: 4, traces: 3, spans: 9, rows: 3, bars: 3},
		// two capture points: the gateway → backend hop is seen twice and
		// drawn as two lanes of one waterfall row.
		{name: "two_points", files: []string{"two_points_gateway.pcap", "two_points_backend.pcap"},
			services: 4, traces: 3, spans: 12, rows: 3, bars: 4, tcpSeqBars: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			report := filepath.Join(dir, "report.html")
			args := []string{"replay", "-q", "--format", "html", "-o", report}
			for _, f := range tc.files {
				args = append(args, testdata(f))
			}
			if _, stderr, err := run(t, args...); err != nil {
				t.Fatalf("replay: %v\n%s", err, stderr)
			}
			page, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			// Self-contained: nothing is fetched.
			if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`).Find(page); m != nil {
				t.Errorf("the page refers to the network: %s", m)
			}
			abs, _ := filepath.Abs(report)
			dom := browse(t, bin, abs, "--enable-logging=stderr", "--v=0", "--dump-dom")
			for _, c := range []struct {
				what    string
				pattern string
				want    int
			}{
				{"rendered", `<body[^>]*data-rendered="1"`, 1},
				{"no JavaScript errors", `<body[^>]*data-errors="0"`, 1},
				{"services in the map", `<g class="node( err)?( selected)?" data-service=`, tc.services},
				{"trace rows", `<tr class="trace-row`, tc.rows},
				{"waterfall bars", `class="span-bar `, tc.bars},
				{"tcp_seq lanes", `data-link-reason="tcp_seq"`, tc.tcpSeqBars},
				{"service count", `id="n-services">` + itoa(tc.services) + `<`, 1},
				{"trace count", `id="n-traces">` + itoa(tc.traces) + `<`, 1},
				{"span count", `id="n-spans">` + itoa(tc.spans) + `<`, 1},
			} {
				if got := count(dom, c.pattern); got != c.want {
					t.Errorf("%s: %d matches of %q, want %d", c.what, got, c.pattern, c.want)
				}
			}
			if t.Failed() {
				t.Logf("DOM:\n%s", dom)
			}
			// A screenshot to look at: kept in bin/ when it exists (make
			// build), else in the test's temp dir.
			shotDir := dir
			if fi, err := os.Stat(filepath.Join("..", "..", "bin")); err == nil && fi.IsDir() {
				shotDir, _ = filepath.Abs(filepath.Join("..", "..", "bin"))
			}
			shot := filepath.Join(shotDir, "html-report-"+tc.name+".png")
			browse(t, bin, abs, "--hide-scrollbars", "--window-size=1400,900", "--screenshot="+shot)
			if fi, err := os.Stat(shot); err != nil || fi.Size() < 10000 {
				t.Errorf("screenshot %s: %v (size %v)", shot, err, fi)
			}
			t.Logf("screenshot: %s", shot)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
