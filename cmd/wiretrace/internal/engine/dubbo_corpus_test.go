package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dubbo"
)

// deepflowDubboRe extracts what deepflow's expected results give for each
// message: type, request id, versions, service, method, trace id, status.
var deepflowDubboRe = regexp.MustCompile(`msg_type: (Request|Response), .*?request_id: (\d+), dubbo_version: "([^"]*)", service_name: "([^"]*)", service_version: "([^"]*)", method_name: "([^"]*)", trace_ids: PrioFields\(\[(?:PrioField \{ prio: \d+, field: "([^"]*)" \})?.*?status_code: (None|Some\((\d+)\))`)

// dubboMessages returns, per span, one line per message in deepflow's form:
// "Request 22872 2.0.2 my.demo.service.UserService 0.0.0 login trace=" and
// "Response 22872 20".
func dubboMessages(spans []*correlate.Span) []string {
	var out []string
	for _, s := range spans {
		a := func(k string) string {
			if v, ok := s.Attributes[k]; ok {
				return fmt.Sprint(v)
			}
			return ""
		}
		trace := s.Links["sw8_trace_id"]
		if trace == "" {
			trace = s.Links["eagleeye_trace_id"]
		}
		out = append(out, fmt.Sprintf("Request %s %s %s %s %s trace=%s", a("dubbo.request_id"), a("dubbo.version"),
			a("rpc.service"), a("dubbo.service.version"), a("rpc.method"), trace))
		if s.HasResponse {
			out = append(out, fmt.Sprintf("Response %s %s", a("dubbo.request_id"), a("dubbo.status_code")))
		}
	}
	return out
}

// TestDubboDeepflow compares each deepflow Dubbo capture with its .result:
// request id, Dubbo version, service, service version, method and trace id
// per request, status code per response.
func TestDubboDeepflow(t *testing.T) {
	dir := sharedTestdata(t)
	results := map[string]string{"dubbo_hessian2.pcap": "dubbo_hessian.result"}
	files, err := filepath.Glob(filepath.Join(dir, "deepflow/dubbo/*.pcap"))
	if err != nil || len(files) != 4 {
		t.Fatalf("deepflow Dubbo captures: %d, %v", len(files), err)
	}
	total, matched := 0, 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res := strings.TrimSuffix(f, ".pcap") + ".result"
			if r, ok := results[filepath.Base(f)]; ok {
				res = filepath.Join(filepath.Dir(f), r)
			}
			b, err := os.ReadFile(res)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, m := range deepflowDubboRe.FindAllStringSubmatch(string(b), -1) {
				if m[1] == "Request" {
					want = append(want, fmt.Sprintf("Request %s %s %s %s %s trace=%s", m[2], m[3], m[4], m[5], m[6], m[7]))
				} else {
					want = append(want, fmt.Sprintf("Response %s %s", m[2], m[9]))
				}
			}
			if len(want) == 0 {
				t.Fatal("no messages in the expected result")
			}
			cfg := &engine.Config{}
			cfg.Driver.Registry = protocols.NewRegistry(dubbo.Protocol)
			spans, _, e := replay(t, f, cfg)
			got := dubboMessages(spans)
			for i, w := range want {
				total++
				if i < len(got) && got[i] == w {
					matched++
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-deepflow +wiretrace):\n%s", diff)
			}
			if line := e.StatsLine(); !strings.Contains(line, "parse_errors=0") && strings.Contains(line, "parse_errors=") {
				t.Errorf("parse errors: %s", line)
			}
		})
	}
	t.Logf("deepflow Dubbo: %d of %d messages match", matched, total)
}
