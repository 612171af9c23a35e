package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// run executes the CLI with args and returns stdout, stderr and the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), errb.String(), err
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run 'make update-golden' to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func testdata(name string) string { return filepath.Join("..", "..", "testdata", name) }

type span struct {
	TraceID      string            `json:"trace_id"`
	SpanID       string            `json:"span_id"`
	ParentSpanID string            `json:"parent_span_id"`
	Protocol     string            `json:"protocol"`
	Name         string            `json:"name"`
	Side         string            `json:"side"`
	StartNS      int64             `json:"start_ns"`
	EndNS        int64             `json:"end_ns"`
	Capture      string            `json:"capture"`
	Status       string            `json:"status"`
	Attributes   map[string]any    `json:"attributes"`
	Links        map[string]string `json:"links"`
	LinkReason   string            `json:"link_reason"`
	Client       struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	} `json:"client"`
	Server struct {
		IP   string `json:"ip"`
		Port int    `json:"port"`
	} `json:"server"`
}

func parseJSONL(t *testing.T, s string) []span {
	t.Helper()
	var out []span
	for i, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		var sp span
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sp); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		out = append(out, sp)
	}
	return out
}

func TestGoldenDemo(t *testing.T) {
	for _, format := range []string{"jsonl", "tree", "summary"} {
		t.Run(format, func(t *testing.T) {
			out, _, err := run(t, "replay", "-q", "--format", format, testdata("demo.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "demo.golden."+format, out)
		})
	}
}

// TestDemoTraces checks the demo's structure: three traces of three hops,
// client → nginx → backend → inventory, linked by X-Request-ID.
func TestDemoTraces(t *testing.T) {
	out, stderr, err := run(t, "replay", "--format", "jsonl", testdata("demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "packets=56 ") {
		t.Errorf("stats line: %s", stderr)
	}
	checkDemoSpans(t, out)
}

// checkDemoSpans checks the output of a replay of the demo traffic.
func checkDemoSpans(t *testing.T, out string) {
	t.Helper()
	for _, secret := range []string{"demo-secret-token", "session=demo-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("output contains the secret %q", secret)
		}
	}
	spans := parseJSONL(t, out)
	if len(spans) != 9 {
		t.Fatalf("got %d spans, want 9", len(spans))
	}
	byID := map[string]span{}
	traces := map[string][]span{}
	for _, s := range spans {
		byID[s.SpanID] = s
		traces[s.TraceID] = append(traces[s.TraceID], s)
	}
	if len(traces) != 3 {
		t.Fatalf("got %d traces, want 3", len(traces))
	}
	for id, ts := range traces {
		if len(ts) != 3 {
			t.Errorf("trace %s has %d spans", id, len(ts))
			continue
		}
		root, mid, leaf := ts[0], ts[1], ts[2]
		if root.ParentSpanID != "" || root.Server.Port != 80 {
			t.Errorf("trace %s: root %+v", id, root)
		}
		if mid.ParentSpanID != root.SpanID || mid.LinkReason != "x_request_id" || mid.Server.Port != 8080 {
			t.Errorf("trace %s: gateway→backend span %s parent %s reason %s", id, mid.Name, mid.ParentSpanID, mid.LinkReason)
		}
		if leaf.ParentSpanID != mid.SpanID || leaf.LinkReason != "x_request_id" || leaf.Server.Port != 9090 {
			t.Errorf("trace %s: backend→inventory span %s parent %s reason %s", id, leaf.Name, leaf.ParentSpanID, leaf.LinkReason)
		}
		rid := root.Links["x_request_id"]
		if len(rid) != 32 || mid.Links["x_request_id"] != rid || leaf.Links["x_request_id"] != rid {
			t.Errorf("trace %s: request ids %q %q %q", id, rid, mid.Links["x_request_id"], leaf.Links["x_request_id"])
		}
		if id != rid {
			t.Errorf("trace id %s: want the 32-hex request id %s as trace id", id, rid)
		}
	}
	var fail []string
	for _, s := range spans {
		if s.Status == "error" {
			fail = append(fail, s.Name)
		}
	}
	if diff := cmp.Diff([]string{"GET /api/fail", "GET /api/fail", "GET /inventory/fail"}, fail); diff != "" {
		t.Errorf("error spans (-want +got):\n%s", diff)
	}
}

// TestTwoCapturePoints replays the same traffic captured at the gateway and
// at the backend: the gateway→backend hop appears in both files and the two
// views are linked by TCP sequence number.
func TestTwoCapturePoints(t *testing.T) {
	out, _, err := run(t, "replay", "-q", "--format", "jsonl",
		testdata("two_points_gateway.pcap"), testdata("two_points_backend.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	spans := parseJSONL(t, out)
	byID := map[string]span{}
	traces := map[string]int{}
	for _, s := range spans {
		byID[s.SpanID] = s
		traces[s.TraceID]++
	}
	if len(spans) != 12 || len(traces) != 3 {
		t.Fatalf("got %d spans in %d traces, want 12 in 3", len(spans), len(traces))
	}
	seq := 0
	for _, s := range spans {
		if s.LinkReason != "tcp_seq" {
			continue
		}
		seq++
		p := byID[s.ParentSpanID]
		if p.Capture != "two_points_gateway.pcap" || s.Capture != "two_points_backend.pcap" {
			t.Errorf("tcp_seq link from %s to %s", s.Capture, p.Capture)
		}
		if p.Links["req_tcp_seq"] != s.Links["req_tcp_seq"] || p.Name != s.Name {
			t.Errorf("tcp_seq link between different exchanges: %s %s", p.Name, s.Name)
		}
	}
	if seq != 3 {
		t.Errorf("%d tcp_seq links, want 3", seq)
	}
	golden(t, "two_points.golden.tree", mustRun(t, "replay", "-q", "--format", "tree",
		testdata("two_points_gateway.pcap"), testdata("two_points_backend.pcap")))
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, _, err := run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pcap")
	os.WriteFile(junk, []byte("this is not a capture file at all"), 0o644)
	_, _, err := run(t, "replay", junk)
	if err == nil || !strings.Contains(err.Error(), "junk.pcap") {
		t.Errorf("junk input: err = %v, want an error naming the file", err)
	}
	// A capture cut in the middle of its last record: the complete
	// packets are still processed, the error names file and packet.
	b, err := os.ReadFile(testdata("demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, b[:len(b)-10], 0o644)
	out, stderr, err := run(t, "replay", "--format", "jsonl", cut)
	if err == nil {
		t.Error("truncated input: no error")
	}
	if !strings.Contains(stderr, "cut.pcap") || !strings.Contains(stderr, "packet 56") {
		t.Errorf("truncated input: stderr %q does not name the file and packet", stderr)
	}
	if n := len(parseJSONL(t, out)); n < 8 {
		t.Errorf("truncated input: %d spans, want the complete ones", n)
	}
	if _, _, err := run(t, "replay", "--format", "xml", testdata("demo.pcap")); err == nil {
		t.Error("--format xml accepted")
	}
}

func TestDeterministic(t *testing.T) {
	a := mustRun(t, "replay", "-q", "--format", "jsonl", testdata("demo.pcap"))
	b := mustRun(t, "replay", "-q", "--format", "jsonl", testdata("demo.pcap"))
	if a != b {
		t.Error("two replays of the same input differ")
	}
}
