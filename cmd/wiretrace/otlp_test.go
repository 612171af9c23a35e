package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestReplayOTLP replays the demo to an in-process OTLP/HTTP receiver and
// checks the stats line and the flag errors.
func TestReplayOTLP(t *testing.T) {
	var spans, calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil || r.Header.Get("X-Token") != "t1" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				spans.Add(int64(len(ss.GetSpans())))
			}
		}
	}))
	defer srv.Close()
	_, stderr, err := run(t, "replay", "--format", "summary", "--otlp-endpoint", srv.URL, "--otlp-header", "X-Token=t1", testdata("demo.pcap"))
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	if spans.Load() != 9 {
		t.Errorf("receiver got %d spans in %d requests, want 9", spans.Load(), calls.Load())
	}
	for _, want := range []string{"otlp_spans_sent=9", "otlp_spans_dropped=0", "otlp_requests_failed=0", "otlp_retries=0"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stats line lacks %s:\n%s", want, stderr)
		}
	}

	for _, tt := range []struct{ args, wantErr string }{
		{"--otlp-endpoint ftp://x:1", `unknown scheme "ftp"`},
		{"--otlp-endpoint http://x:1 --otlp-header nokey", `--otlp-header "nokey": want KEY=VALUE`},
		{"--otlp-endpoint http://x:1 --service-name 10.0.0.1", `--service-name "10.0.0.1": want ADDR=NAME`},
		{"--otlp-endpoint http://x:1 --service-name web=x", `is not an ip or ip:port`},
	} {
		args := append([]string{"replay", "-q"}, strings.Fields(tt.args)...)
		_, _, err := run(t, append(args, testdata("demo.pcap"))...)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err = %v, want %q", tt.args, err, tt.wantErr)
		}
	}
}

// jaegerBinary returns the Jaeger all-in-one binary: $WIRETRACE_JAEGER, or
// bin/jaeger as built by tools/jaeger/build.sh.
func jaegerBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WIRETRACE_JAEGER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("WIRETRACE_JAEGER=%s: %v", p, err)
		}
		return p
	}
	p, _ := filepath.Abs(filepath.Join("..", "..", "bin", "jaeger"))
	if _, err := os.Stat(p); err != nil {
		t.Skip("Jaeger all-in-one not available: run tools/jaeger/build.sh (builds bin/jaeger) or set WIRETRACE_JAEGER")
	}
	return p
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// jaeger is a running all-in-one on loopback.
type jaeger struct {
	otlpGRPC, otlpHTTP, query string
	log                       *bytes.Buffer
}

func startJaeger(t *testing.T, bin string) *jaeger {
	t.Helper()
	p := freePorts(t, 7)
	j := &jaeger{otlpGRPC: p[0], otlpHTTP: p[1], query: p[2], log: &bytes.Buffer{}}
	cmd := exec.Command(bin,
		"--collector.otlp.grpc.host-port="+p[0],
		"--collector.otlp.http.host-port="+p[1],
		"--query.http-server.host-port="+p[2],
		"--query.grpc-server.host-port="+p[3],
		"--admin.http.host-port="+p[4],
		"--collector.grpc-server.host-port="+p[5],
		"--collector.http-server.host-port="+p[6],
	)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "SPAN_STORAGE_TYPE=memory")
	cmd.Stdout = j.log
	cmd.Stderr = j.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start jaeger: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("jaeger log:\n%s", tail(j.log.String(), 4000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + j.query + "/api/services")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", j.otlpGRPC); err == nil {
				c.Close()
				if c, err := net.Dial("tcp", j.otlpHTTP); err == nil {
					c.Close()
					return j
				}
			}
		}
		select {
		case <-exited:
			t.Fatalf("jaeger exited:\n%s", tail(j.log.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger not ready after 30s:\n%s", tail(j.log.String(), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// jaegerTrace is the part of the query API's trace JSON the test reads.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		StartTime     int64  `json:"startTime"` // µs
		Duration      int64  `json:"duration"`  // µs
		ProcessID     string `json:"processID"`
		References    []struct {
			RefType string `json:"refType"`
			TraceID string `json:"traceID"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		Tags []struct {
			Key   string `json:"key"`
			Type  string `json:"type"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// getTrace polls the query API until the trace has want spans.
func (j *jaeger) getTrace(t *testing.T, id string, want int) jaegerTrace {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got struct {
			Data []jaegerTrace `json:"data"`
		}
		resp, err := http.Get("http://" + j.query + "/api/traces/" + id)
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
		}
		if err == nil && len(got.Data) == 1 && len(got.Data[0].Spans) >= want {
			return got.Data[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("trace %s: not %d spans after 20s (last: %v, %+v)", id, want, err, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestJaeger replays the demo into a real Jaeger all-in-one over OTLP/gRPC
// and OTLP/HTTP and reads the traces back from its query API.
func TestJaeger(t *testing.T) {
	bin := jaegerBinary(t)
	for _, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) {
			j := startJaeger(t, bin)
			endpoint := "grpc://" + j.otlpGRPC
			if proto == "http" {
				endpoint = "http://" + j.otlpHTTP
			}
			stdout, stderr, err := run(t, "replay", "--format", "jsonl", "--otlp-endpoint", endpoint, "--otlp-insecure",
				"--service-name", "10.231.7.2:80=gateway", "--service-name", "10.231.7.3=orders", testdata("demo.pcap"))
			if err != nil {
				t.Fatalf("replay: %v\n%s", err, stderr)
			}
			if !strings.Contains(stderr, "otlp_spans_sent=9 otlp_spans_dropped=0") {
				t.Errorf("stats line: %s", stderr)
			}
			spans := parseJSONL(t, stdout)
			byTrace := map[string][]span{}
			for _, s := range spans {
				byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
			}
			if len(byTrace) != 3 {
				t.Fatalf("demo has %d traces, want 3", len(byTrace))
			}
			service := map[string]string{"10.231.7.2:80": "gateway", "10.231.7.3:8080": "orders", "10.231.7.4:9090": "10.231.7.4:9090"}
			for id, want := range byTrace {
				got := j.getTrace(t, id, len(want))
				if got.TraceID != id || len(got.Spans) != 3 {
					t.Errorf("trace %s: got id %s with %d spans, want 3", id, got.TraceID, len(got.Spans))
				}
				type row struct{ Span, Parent, RefType, Name, Service, Status, Kind string }
				var wantRows, gotRows []row
				for _, s := range want {
					r := row{Span: s.SpanID, Parent: s.ParentSpanID, Name: s.Name, Service: service[fmt.Sprintf("%s:%d", s.Server.IP, s.Server.Port)], Status: s.Status, Kind: "server"}
					if r.Parent != "" {
						r.RefType = "CHILD_OF"
					}
					wantRows = append(wantRows, r)
				}
				for _, s := range got.Spans {
					r := row{Span: s.SpanID, Name: s.OperationName, Service: got.Processes[s.ProcessID].ServiceName}
					for _, ref := range s.References {
						if ref.TraceID == id {
							r.Parent, r.RefType = ref.SpanID, ref.RefType
						}
					}
					tags := map[string]any{}
					for _, tg := range s.Tags {
						tags[tg.Key] = tg.Value
						if tg.Key == "http.response.status_code" && tg.Type != "int64" {
							t.Errorf("span %s: http.response.status_code type %s, want int64", s.SpanID, tg.Type)
						}
					}
					r.Status, _ = tags["wiretrace.status"].(string)
					r.Kind, _ = tags["span.kind"].(string)
					if tags["wiretrace.capture"] != "demo.pcap" || tags["wiretrace.link.x_request_id"] != id {
						t.Errorf("span %s: tags %v", s.SpanID, tags)
					}
					if r.Parent != "" && tags["wiretrace.link_reason"] != "x_request_id" {
						t.Errorf("span %s: wiretrace.link_reason = %v", s.SpanID, tags["wiretrace.link_reason"])
					}
					if r.Status == "error" && tags["error"] != true {
						t.Errorf("span %s: error tag = %v, want true", s.SpanID, tags["error"])
					}
					gotRows = append(gotRows, r)
				}
				sortRows := func(rs []row) { sort.Slice(rs, func(a, b int) bool { return rs[a].Span < rs[b].Span }) }
				sortRows(wantRows)
				sortRows(gotRows)
				t.Logf("trace %s from Jaeger: %+v", id, gotRows)
				if diff := cmp.Diff(wantRows, gotRows); diff != "" {
					t.Errorf("trace %s (-want +got):\n%s", id, diff)
				}
				// Timestamps: Jaeger keeps microseconds.
				for _, s := range got.Spans {
					for _, w := range want {
						if w.SpanID == s.SpanID && (s.StartTime != w.StartNS/1000 || s.Duration != (w.EndNS-w.StartNS)/1000) {
							t.Errorf("span %s: start %d dur %d µs, want %d %d", s.SpanID, s.StartTime, s.Duration, w.StartNS/1000, (w.EndNS-w.StartNS)/1000)
						}
					}
				}
			}
		})
	}
}
