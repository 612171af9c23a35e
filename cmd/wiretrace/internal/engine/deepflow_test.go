package engine_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
)

// deepflowTraceRe extracts the trace id and span id that deepflow's
// expected results list for each HTTP request (from the sw8 header).
var deepflowTraceRe = regexp.MustCompile(`msg_type: Request.*?trace_ids: PrioFields\(\[PrioField \{ prio: \d+, field: "([^"]+)" \}\]\), span_id: PrioField \{ prio: \d+, field: "([^"]*)" \}`)

// TestDeepflowTraceIDs compares the trace ids wiretrace reads from sw8
// headers with the ones deepflow publishes for the same captures.
func TestDeepflowTraceIDs(t *testing.T) {
	dir := sharedTestdata(t)
	for _, tc := range []struct {
		file string
		port uint16
	}{
		{"deepflow/http/sw8.pcap", 20880},
		{"deepflow/http/client-ip.pcap", 8080},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			res, err := os.ReadFile(filepath.Join(dir, tc.file[:len(tc.file)-len(".pcap")]+".result"))
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, m := range deepflowTraceRe.FindAllStringSubmatch(string(res), -1) {
				want = append(want, m[1]+" "+m[2])
			}
			if len(want) == 0 {
				t.Fatal("no trace ids in the expected result")
			}
			cfg := &engine.Config{}
			cfg.Driver.PortProtocols = map[uint16]string{tc.port: "http"}
			spans, _, _ := replay(t, filepath.Join(dir, tc.file), cfg)
			var got []string
			for _, s := range spans {
				if id := s.Links["sw8_trace_id"]; id != "" {
					got = append(got, id+" "+s.Links["sw8_segment_id"]+"-"+s.Links["sw8_span_id"])
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("sw8 ids (-deepflow +wiretrace):\n%s", diff)
			}
		})
	}
}

// TestIstioRequestIDs checks the X-Request-ID and B3 ids of an Envoy
// sidecar's TCP-fragmented request.
func TestIstioRequestIDs(t *testing.T) {
	dir := sharedTestdata(t)
	cfg := &engine.Config{}
	cfg.Driver.PortProtocols = map[uint16]string{9080: "http"}
	spans, _, _ := replay(t, filepath.Join(dir, "deepflow/http/istio-tcp-frag.pcap"), cfg)
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	s := spans[0]
	want := map[string]string{
		"x_request_id":      "46364834-4fb8-9692-a5d6-ab638447a787",
		"b3_trace_id":       "744a02a3033b7d5960cd96456ba069a0",
		"b3_span_id":        "03df9f227df14072",
		"b3_parent_span_id": "60cd96456ba069a0",
	}
	for k, v := range want {
		if s.Links[k] != v {
			t.Errorf("links[%s] = %q, want %q", k, s.Links[k], v)
		}
	}
	if s.TraceID != "744a02a3033b7d5960cd96456ba069a0" {
		t.Errorf("trace id %s, want the adopted B3 trace id", s.TraceID)
	}
	if s.Name != "GET /productpage" {
		t.Errorf("name %q", s.Name)
	}
}
