package engine_test

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
)

// sharedTestdata returns ../shared/testdata beside the repository, or skips.
func sharedTestdata(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "..", "..", "shared", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "INDEX.md")); err != nil {
		t.Skipf("public capture corpus not found at %s (it sits beside the repository as ../shared/testdata): %v", dir, err)
	}
	return dir
}

// collect is a sink that keeps every span.
type collect struct{ spans []*correlate.Span }

func (c *collect) WriteTrace(t *correlate.Trace) error {
	c.spans = append(c.spans, t.Spans...)
	return nil
}
func (c *collect) Close() error { return nil }

// replay runs one file through the engine and returns its spans and the
// input errors reported.
func replay(t *testing.T, path string, cfg *engine.Config) ([]*correlate.Span, []error, *engine.Engine) {
	t.Helper()
	src, err := capture.OpenFile(path, nil)
	if err != nil {
		return nil, []error{err}, nil
	}
	defer src.Close()
	sink := &collect{}
	e := engine.New(cfg, sink)
	var errs []error
	e.Run(capture.Merge(src), func(err error) { errs = append(errs, err) })
	if err := e.Close(); err != nil {
		t.Fatalf("%s: close: %v", path, err)
	}
	return sink.spans, errs, e
}

// indexRow is one capture listed in INDEX.md.
type indexRow struct {
	path     string
	httpReq  int // -1 when the row gives no HTTP/1 request count
	decodeAs string
}

// parseErrorsRe reads the parse error count from an engine's stats line.
var parseErrorsRe = regexp.MustCompile(`\bparse_errors=(\d+)`)

var (
	reqRe      = regexp.MustCompile(`HTTP/1 req=(\d+)`)
	decodeAsRe = regexp.MustCompile("-d tcp.port==(\\d+),http")
)

func readIndex(t *testing.T, dir string) []indexRow {
	f, err := os.Open(filepath.Join(dir, "INDEX.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []indexRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "|")
		if len(cols) < 10 || !strings.HasPrefix(strings.TrimSpace(cols[1]), "`") {
			continue
		}
		r := indexRow{path: strings.Trim(strings.TrimSpace(cols[1]), "`"), httpReq: -1}
		if m := reqRe.FindStringSubmatch(cols[7]); m != nil {
			r.httpReq, _ = strconv.Atoi(m[1])
		}
		if m := decodeAsRe.FindStringSubmatch(cols[7]); m != nil {
			r.decodeAs = m[1]
		}
		rows = append(rows, r)
	}
	return rows
}

// TestCorpusReplay replays every public capture: no panic, bounded memory,
// errors only as clear input errors that name the file.
func TestCorpusReplay(t *testing.T) {
	dir := sharedTestdata(t)
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".pcap") || strings.HasSuffix(p, ".pcapng") || strings.HasSuffix(p, ".cap")) {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 300 {
		t.Fatalf("found only %d captures under %s", len(files), dir)
	}
	var peak uint64
	bad := 0
	for _, f := range files {
		_, errs, _ := replay(t, f, nil)
		for _, err := range errs {
			bad++
			if !strings.Contains(err.Error(), filepath.Base(f)) {
				t.Errorf("%s: error does not name the file: %v", f, err)
			}
			if !errors.Is(err, capture.ErrTruncated) && !errors.Is(err, capture.ErrFormat) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: unexpected error kind: %v", f, err)
			}
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	t.Logf("%d captures replayed, %d input errors, peak heap %d MiB", len(files), bad, peak>>20)
	if peak > 1<<30 {
		t.Errorf("peak heap %d MiB: memory is not bounded", peak>>20)
	}
}

// httpCountExceptions lists captures whose HTTP/1 request count differs
// from tshark's, and why.
var httpCountExceptions = map[string]string{
	"zeek/link-encap/mixed-vlan-mpls.pcap":                       "frame 37 is \"GET /\" with no version (an HTTP/0.9 simple request), which the HTTP/1 parser does not take; the MPLS frames (telnet) are decoded",
	"suricata-verify/http/http-connect_http-connect-simple.pcap": "the request sent inside the CONNECT tunnel is not parsed: a tunnel usually carries TLS, and wiretrace stops parsing HTTP after a successful CONNECT",
	"zeek/http/methods.pcap":                                     "49 deliberately broken request lines (missing spaces, cut versions, non-ASCII methods): wiretrace reports the well-formed ones and counts the rest as parse errors; tshark accepts 27 and Zeek's expected http.log 38, so no two parsers agree",
	"zeek/tcp/retransmit-timeout.pcapng":                         "the request is retransmitted 300 s later, after the 2 min idle timeout ended the connection, so it counts as a new request",
}

// zeekHTTPLogRows returns the number of requests in Zeek's expected
// http.log beside the capture, or -1.
func zeekHTTPLogRows(capturePath string) int {
	logs, _ := filepath.Glob(capturePath + ".expected.*http.log")
	if len(logs) != 1 {
		return -1
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		return -1
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "uid\t") {
			continue
		}
		n++
	}
	return n
}

// TestCorpusHTTPCounts checks that for every HTTP/1.x capture wiretrace
// finds as many requests as tshark.
func TestCorpusHTTPCounts(t *testing.T) {
	dir := sharedTestdata(t)
	rows := readIndex(t, dir)
	checked := 0
	var mismatches []string
	for _, r := range rows {
		if r.httpReq < 0 {
			continue
		}
		cfg := &engine.Config{}
		if r.decodeAs != "" {
			port, _ := strconv.Atoi(r.decodeAs)
			cfg.Driver.PortProtocols = map[uint16]string{uint16(port): "http"}
		}
		spans, _, _ := replay(t, filepath.Join(dir, r.path), cfg)
		got := 0
		for _, s := range spans {
			if s.Protocol == "http" && s.Attributes["http.request.method"] != nil {
				got++
			}
		}
		checked++
		if got != r.httpReq && got == zeekHTTPLogRows(filepath.Join(dir, r.path)) {
			t.Logf("%s: got %d like Zeek's expected http.log; tshark finds %d", r.path, got, r.httpReq)
			continue
		}
		if got != r.httpReq {
			why, ok := httpCountExceptions[r.path]
			if !ok {
				mismatches = append(mismatches, r.path+": got "+strconv.Itoa(got)+", tshark "+strconv.Itoa(r.httpReq))
			} else {
				t.Logf("%s: got %d, tshark %d: %s", r.path, got, r.httpReq, why)
			}
		}
	}
	slices.Sort(mismatches)
	for _, m := range mismatches {
		t.Error(m)
	}
	t.Logf("%d HTTP/1.x captures checked, %d mismatches", checked, len(mismatches))
	if checked < 90 {
		t.Errorf("only %d HTTP/1.x captures found in INDEX.md", checked)
	}
}
