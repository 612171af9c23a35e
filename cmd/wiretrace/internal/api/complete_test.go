package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/api"
)

// otlpTrace is an APM's trace1 in OTLP/JSON: the backend's server span and
// its client call to inventory (10.231.7.4:9090), whose time encloses the
// network span of that call.
const otlpTrace = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"orders"}}]},
 "scopeSpans":[{"scope":{"name":"net/http"},"spans":[
  {"traceId":"9a1eba409747ad59acdd23798022154d","spanId":"00000000000000a1","name":"GET /api/orders/{id}","kind":2,
   "startTimeUnixNano":"1795597076881400000","endTimeUnixNano":"1795597076882250000"},
  {"traceId":"9a1eba409747ad59acdd23798022154d","spanId":"00000000000000a2","parentSpanId":"00000000000000a1","name":"GET inventory","kind":3,
   "startTimeUnixNano":"1795597076881900000","endTimeUnixNano":"1795597076882200000",
   "attributes":[{"key":"url.full","value":{"stringValue":"http://10.231.7.4:9090/inventory/42"}}]}
 ]}]}]}`

type otlpDoc struct {
	ResourceSpans []struct {
		Resource struct {
			Attributes []struct {
				Key   string
				Value map[string]any
			}
		}
		ScopeSpans []struct {
			Scope struct{ Name string }
			Spans []struct {
				TraceID      string `json:"traceId"`
				SpanID       string `json:"spanId"`
				ParentSpanID string `json:"parentSpanId"`
				Name         string
				Kind         int
				Status       struct{ Code int }
			}
		}
	}
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// summary lists "service scope name id←parent" per span, sorted.
func summary(t *testing.T, b []byte) []string {
	t.Helper()
	var d otlpDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	var out []string
	for _, rs := range d.ResourceSpans {
		svc := ""
		for _, a := range rs.Resource.Attributes {
			if a.Key == "service.name" {
				svc, _ = a.Value["stringValue"].(string)
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				if sp.TraceID != "9a1eba409747ad59acdd23798022154d" {
					t.Errorf("span %s: traceId %q", sp.SpanID, sp.TraceID)
				}
				out = append(out, svc+" | "+ss.Scope.Name+" | "+sp.Name+" | "+sp.SpanID+"←"+sp.ParentSpanID)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestComplete(t *testing.T) {
	srv := httptest.NewServer(api.New(&api.Config{Store: demoStore(t)}))
	defer srv.Close()
	code, b := post(t, srv.URL+"/api/v1/traces/complete", otlpTrace)
	if code != 200 {
		t.Fatalf("status %d: %s", code, b)
	}
	want := []string{
		"10.231.7.2:80 | wiretrace | GET /api/orders/42 | 18d5892f83f5418c←",
		"10.231.7.4:9090 | wiretrace | GET /inventory/42 | c57759c12ac5271a←00000000000000a2",
		"orders | net/http | GET /api/orders/{id} | 00000000000000a1←",
		"orders | net/http | GET inventory | 00000000000000a2←00000000000000a1",
		"orders | wiretrace | GET /api/orders/42 | bf6fa25a2e4adb61←18d5892f83f5418c",
	}
	if diff := cmp.Diff(want, summary(t, b)); diff != "" {
		t.Errorf("completed trace (-want +got):\n%s", diff)
	}
	golden(t, "complete", indent(t, b))

	// Completing the completed trace adds nothing.
	code, b2 := post(t, srv.URL+"/api/v1/traces/complete", string(b))
	if code != 200 {
		t.Fatalf("second completion: status %d: %s", code, b2)
	}
	if diff := cmp.Diff(want, summary(t, b2)); diff != "" {
		t.Errorf("completed twice (-want +got):\n%s", diff)
	}
}

func TestCompleteErrors(t *testing.T) {
	srv := httptest.NewServer(api.New(&api.Config{Store: demoStore(t), MaxBody: 1 << 10}))
	defer srv.Close()
	tests := []struct {
		name, body string
		code       int
		msg        string
	}{
		{"not json", "{", 400, "api: otlp json"},
		{"bad id", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`, 400, "traceId"},
		{"wrong type", `{"resourceSpans":7}`, 400, "api: otlp json"},
		{"too large", `{"resourceSpans":[` + strings.Repeat(" ", 2<<10) + `]}`, 413, "reading body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := post(t, srv.URL+"/api/v1/traces/complete", tt.body)
			if code != tt.code || !strings.Contains(string(b), tt.msg) {
				t.Errorf("got %d %s, want %d containing %q", code, b, tt.code, tt.msg)
			}
		})
	}
	// Only POST completes; nothing else writes.
	resp, err := http.Get(srv.URL + "/api/v1/traces/complete")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET complete: %d", resp.StatusCode)
	}
}
