package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/api"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

// demoStore replays testdata/demo.pcap into a store: three traces
// curl → nginx (10.231.7.2:80) → backend (10.231.7.3:8080) → inventory
// (10.231.7.4:9090), the backend named "orders".
func demoStore(t *testing.T) *store.Store {
	t.Helper()
	st := store.New(&store.Config{Names: store.Names{"10.231.7.3:8080": "orders"}})
	src, err := capture.OpenFile(filepath.Join("..", "..", "..", "..", "testdata", "demo.pcap"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	eng := engine.New(nil, st)
	if n := eng.Run(src, func(err error) { t.Error(err) }); n != 0 {
		t.Fatalf("%d input errors", n)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	if got := st.Stats().Spans; got != 9 {
		t.Fatalf("store has %d spans, want 9", got)
	}
	return st
}

// Times of demo.pcap, Unix µs: the first request starts at
// 1795597076880182 and the last one ends before 1795597077400000.
const (
	demoStart = "1795597076000000"
	demoEnd   = "1795597078000000"
	trace1    = "9a1eba409747ad59acdd23798022154d"
)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, b)
	}
	return out.Bytes()
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q", url, ct)
	}
	return resp.StatusCode, b
}

// TestGrafanaRequests replays the requests Grafana's Jaeger data source
// (public/app/plugins/datasource/jaeger/datasource.ts) and the Jaeger UI
// send, with their exact encodings (encodeURIComponent of the service,
// lookback=custom, empty minDuration/maxDuration).
func TestGrafanaRequests(t *testing.T) {
	srv := httptest.NewServer(api.New(&api.Config{Store: demoStore(t)}))
	defer srv.Close()
	tests := []struct {
		name, path string
		code       int
	}{
		{"services", "/api/services", 200},
		{"operations", "/api/services/orders/operations", 200},
		{"operations_encoded_address", "/api/services/10.231.7.2%3A80/operations", 200},
		{"operations_unknown", "/api/services/nope/operations", 200},
		{"operations_v2", "/api/operations?service=orders&spanKind=server", 200},
		{"search_grafana", "/api/traces?service=orders&operation=GET%20%2Fapi%2Forders%2F42&start=" + demoStart + "&end=" + demoEnd + "&lookback=custom", 200},
		{"search_jaeger_ui", "/api/traces?end=" + demoEnd + "&limit=20&lookback=1h&maxDuration&minDuration&service=10.231.7.2%3A80&start=" + demoStart, 200},
		{"search_limit", "/api/traces?service=10.231.7.2%3A80&start=" + demoStart + "&end=" + demoEnd + "&limit=1", 200},
		{"search_min_duration", "/api/traces?service=orders&start=" + demoStart + "&end=" + demoEnd + "&minDuration=800us", 200},
		{"search_tags", "/api/traces?service=10.231.7.4%3A9090&tags=%7B%22http.response.status_code%22%3A%22503%22%7D&start=" + demoStart + "&end=" + demoEnd, 200},
		{"search_lookback_packet_time", "/api/traces?service=orders&limit=20&lookback=1h", 200},
		{"search_outside_range", "/api/traces?service=orders&start=1000000&end=2000000&lookback=custom", 200},
		{"search_by_trace_ids", "/api/traces?traceID=" + trace1 + "&traceID=ffff", 200},
		{"search_bad_start", "/api/traces?service=orders&start=yesterday", 400},
		{"search_bad_duration", "/api/traces?service=orders&minDuration=fast", 400},
		{"trace", "/api/traces/" + trace1, 200},
		{"trace_upper_case", "/api/traces/" + strings.ToUpper(trace1), 200},
		{"trace_not_found", "/api/traces/0123456789abcdef0123456789abcdef", 404},
		{"trace_malformed", "/api/traces/xyz", 400},
		{"dependencies", "/api/dependencies?endTs=1795597078000&lookback=604800000", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := get(t, srv.URL+tt.path)
			if code != tt.code {
				t.Errorf("status %d, want %d: %s", code, tt.code, b)
			}
			golden(t, tt.name, indent(t, b))
		})
	}
}

// TestJaegerShape checks the fields the Jaeger UI and Grafana read.
func TestJaegerShape(t *testing.T) {
	srv := httptest.NewServer(api.New(&api.Config{Store: demoStore(t)}))
	defer srv.Close()
	_, b := get(t, srv.URL+"/api/traces/"+trace1)
	var resp struct {
		Data []struct {
			TraceID string
			Spans   []struct {
				TraceID, SpanID, OperationName, ProcessID string
				References                                []struct{ RefType, TraceID, SpanID string }
				StartTime, Duration                       int64
			}
			Processes map[string]struct{ ServiceName string }
		}
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Data) != 1 || len(resp.Data[0].Spans) != 3 {
		t.Fatalf("want one trace of 3 spans: %s", b)
	}
	tr := resp.Data[0]
	var got []string
	for _, sp := range tr.Spans {
		ref := "root"
		if len(sp.References) == 1 && sp.References[0].RefType == "CHILD_OF" && sp.References[0].TraceID == trace1 {
			ref = "child"
		}
		got = append(got, fmt.Sprintf("%s %s %s %dµs", tr.Processes[sp.ProcessID].ServiceName, sp.OperationName, ref, sp.Duration))
	}
	want := []string{
		"10.231.7.2:80 GET /api/orders/42 root 2202µs",
		"orders GET /api/orders/42 child 932µs",
		"10.231.7.4:9090 GET /inventory/42 child 243µs",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
}

// apmTrace is what a fake APM (Jaeger query API) returns for trace1: the
// backend's server span and its client call to the inventory service,
// which the network span 10.231.7.3 → 10.231.7.4:9090 records.
func apmTrace() string {
	return `{"data":[{"traceID":"` + trace1 + `","spans":[
 {"traceID":"` + trace1 + `","spanID":"00000000000000a1","operationName":"GET /api/orders/{id}","references":[],"startTime":1795597076881400,"duration":850,"tags":[{"key":"span.kind","type":"string","value":"server"}],"processID":"p1"},
 {"traceID":"` + trace1 + `","spanID":"a2","operationName":"GET inventory","references":[{"refType":"CHILD_OF","traceID":"` + trace1 + `","spanID":"00000000000000a1"}],"startTime":1795597076881900,"duration":300,"tags":[{"key":"span.kind","type":"string","value":"client"},{"key":"server.address","type":"string","value":"10.231.7.4"},{"key":"server.port","type":"int64","value":9090}],"processID":"p1"}
],"processes":{"p1":{"serviceName":"orders","tags":[{"key":"telemetry.sdk.language","type":"string","value":"go"}]}}}],"total":1,"limit":0,"offset":0,"errors":null}`
}

func TestAPMMerge(t *testing.T) {
	var asked []string
	apm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Path)
		if r.URL.Path != "/api/traces/"+trace1 {
			http.Error(w, `{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}`, 404)
			return
		}
		io.WriteString(w, apmTrace())
	}))
	defer apm.Close()
	srv := httptest.NewServer(api.New(&api.Config{Store: demoStore(t), APMQuery: apm.URL + "/"}))
	defer srv.Close()
	code, b := get(t, srv.URL+"/api/traces/"+trace1)
	if code != 200 {
		t.Fatalf("status %d: %s", code, b)
	}
	golden(t, "apm_merge", indent(t, b))
	// Our trace the APM does not know is served alone.
	if code, _ := get(t, srv.URL+"/api/traces/e9317536a8acd9ba8e2b02258004b22b"); code != 200 {
		t.Errorf("trace unknown to the APM: status %d", code)
	}
	if diff := cmp.Diff([]string{"/api/traces/" + trace1, "/api/traces/e9317536a8acd9ba8e2b02258004b22b"}, asked); diff != "" {
		t.Errorf("APM requests (-want +got):\n%s", diff)
	}
}

func TestAPMTimeout(t *testing.T) {
	release := make(chan struct{})
	apm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer apm.Close()
	defer close(release)
	srv := httptest.NewServer(api.New(&api.Config{Store: demoStore(t), APMQuery: apm.URL, APMTimeout: 50 * time.Millisecond}))
	defer srv.Close()
	code, b := get(t, srv.URL+"/api/traces/"+trace1)
	if code != 200 {
		t.Fatalf("status %d: %s", code, b)
	}
	var resp api.Response
	var traces []api.Trace
	resp.Data = &traces
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	if len(traces) != 1 || len(traces[0].Spans) != 3 || len(traces[0].Warnings) != 1 || !strings.Contains(traces[0].Warnings[0], "apm query") {
		t.Errorf("want our 3 spans and one apm warning: %s", b)
	}
}
