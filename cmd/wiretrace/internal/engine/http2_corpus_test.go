package engine_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/http2"
)

// http2Corpus lists every HTTP/2 and gRPC capture of the shared corpus with
// the number of requests tshark finds (header blocks with a :method field,
// decoded with the INDEX.md decode-as port) and, where wiretrace differs,
// why.
var http2Corpus = []struct {
	file   string
	tshark int
	want   int
	why    string
}{
	{"arkime/http2/http2-nghttp2.pcap", 2, 2, ""}, // one pushed
	{"deepflow/http/grpc-segmented.pcap", 1, 1, ""},
	{"deepflow/http/grpc-server-stream.pcap", 1, 1, ""},
	{"deepflow/http/grpc-service-name.pcap", 1, 1, ""},
	{"deepflow/http/grpc-unary.pcap", 1, 1, ""},
	{"deepflow/http/grpc-unknown.pcap", 1, 1, ""},
	{"deepflow/http/h2c_ascii.pcap", 1, 1, ""},
	{"deepflow/http/http2-multi.pcap", 2, 2, ""},
	{"deepflow/http/httpv2-stream-id.pcap", 1, 1, ""},
	{"ndpi/http2/http2.pcapng", 1, 1, ""},
	{"packt-grpc/grpc/bidi_streaming.pcapng", 1, 1, ""},
	{"packt-grpc/grpc/client_streaming.pcapng", 1, 1, ""},
	{"packt-grpc/grpc/server_streaming.pcapng", 1, 1, ""},
	{"packt-grpc/grpc/unary.pcapng", 1, 1, ""},
	{"suricata-verify/http2/bug-5929-02.pcap", 1, 1, ""},
	{"suricata-verify/http2/http2-authority-mismatch.pcap", 1, 1, ""},
	{"suricata-verify/http2/http2-bugfixes.pcap", 4, 4, ""},
	{"suricata-verify/http2/http2-continuation.pcap", 1, 1, ""},
	{"suricata-verify/http2/http2-errorcode.pcap", 2, 1,
		"the client-to-proxy connection starts with an HTTP/1.1 CONNECT and carries HTTP/2 inside the tunnel; only the proxy-to-server connection sniffs as HTTP/2 (tshark counts both with decode-as on both ports)"},
	{"suricata-verify/http2/http2-deflate.pcap", 0, 0, "h2c upgrade from HTTP/1.1 (not supported; tshark decodes nothing either)"},
	{"suricata-verify/http2/http2-keywords2.pcap", 0, 0, "h2c upgrade from HTTP/1.1 (not supported; tshark decodes nothing either)"},
	{"suricata-verify/http2/http2-range.pcap", 0, 0, "h2c upgrade from HTTP/1.1 (not supported; tshark decodes nothing either)"},
}

func http2Replay(t *testing.T, path string) []*correlate.Span {
	cfg := &engine.Config{}
	cfg.Driver.Registry = protocols.NewRegistry(http2.Protocol)
	spans, errs, e := replay(t, path, cfg)
	for _, err := range errs {
		t.Errorf("%s: %v", path, err)
	}
	if line := e.StatsLine(); !strings.Contains(line, "parse_errors=0") {
		t.Errorf("%s: parse errors: %s", path, line)
	}
	return spans
}

// TestCorpusHTTP2Counts checks that wiretrace finds as many HTTP/2
// requests as tshark in every HTTP/2 and gRPC capture.
func TestCorpusHTTP2Counts(t *testing.T) {
	dir := sharedTestdata(t)
	for _, c := range http2Corpus {
		spans := http2Replay(t, filepath.Join(dir, c.file))
		if len(spans) != c.want {
			t.Errorf("%s: %d spans, want %d (tshark %d)", c.file, len(spans), c.want, c.tshark)
		}
		if c.want != c.tshark {
			t.Logf("%s: %d spans, tshark %d: %s", c.file, len(spans), c.tshark, c.why)
		}
		for _, s := range spans {
			if isGRPC := s.Attributes["rpc.system"] == "grpc"; isGRPC != (s.Protocol == "grpc") {
				t.Errorf("%s: span %q protocol %s with rpc.system %v", c.file, s.Name, s.Protocol, s.Attributes["rpc.system"])
			}
		}
	}
}

var (
	deepflowReqRe  = regexp.MustCompile(`msg_type: Request, stream_id: Some\((\d+)\).*?path: "([^"]*)"`)
	deepflowRespRe = regexp.MustCompile(`msg_type: (?:Response|Session), stream_id: Some\((\d+)\).*? status_code: Some\((\d+)\).*?grpc_status_code: (None|Some\((\d+)\))`)
)

// deepflowHTTP2Disagreements replaces deepflow's expected values where
// they differ from wiretrace's, with the reason.
var deepflowHTTP2Disagreements = map[string]struct {
	want []string
	why  string
}{
	"grpc-server-stream.pcap": {
		[]string{"req /timeseriesquery.TimeSeriesQueryService/ServerStreamQuery", "resp 200 grpc=0"},
		"deepflow reports the server stream as several Session messages (the first with :status 200) and a final " +
			"Response without stream id carrying grpc_status_code 0; wiretrace reports one response with both",
	},
}

// TestDeepflowHTTP2 compares request paths, HTTP status and gRPC status
// with deepflow's expected results (spans do not carry the stream id, so
// the stream ids deepflow lists are not compared).
func TestDeepflowHTTP2(t *testing.T) {
	dir := sharedTestdata(t)
	files, _ := filepath.Glob(filepath.Join(dir, "deepflow", "http", "*.result"))
	checked := 0
	for _, res := range files {
		capture := strings.TrimSuffix(res, ".result") + ".pcap"
		b, err := os.ReadFile(res)
		if err != nil || !strings.Contains(string(b), "version: V2") {
			continue
		}
		if _, err := os.Stat(capture); err != nil {
			continue // grpc-server-stream-as-unary.result: same capture, other deepflow mode
		}
		checked++
		t.Run(filepath.Base(capture), func(t *testing.T) {
			var want, got []string
			for _, m := range deepflowReqRe.FindAllStringSubmatch(string(b), -1) {
				want = append(want, "req "+m[2])
			}
			for _, m := range deepflowRespRe.FindAllStringSubmatch(string(b), -1) {
				want = append(want, "resp "+m[2]+" grpc="+m[4])
			}
			for _, s := range http2Replay(t, capture) {
				path := ""
				if s.Protocol == "grpc" && s.Attributes["rpc.method"] != nil {
					path = "/" + s.Name
				} else if p, ok := s.Attributes["url.path"].(string); ok {
					path = p
				}
				got = append(got, "req "+path)
				if code, ok := s.Attributes["http.response.status_code"].(int64); ok {
					g := ""
					if v, ok := s.Attributes["rpc.grpc.status_code"].(int64); ok {
						g = strconv.FormatInt(v, 10)
					}
					got = append(got, "resp "+strconv.FormatInt(code, 10)+" grpc="+g)
				}
			}
			if d, ok := deepflowHTTP2Disagreements[filepath.Base(capture)]; ok {
				t.Logf("deepflow %v, using %v: %s", want, d.want, d.why)
				want = d.want
			}
			slices.Sort(want)
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-deepflow +wiretrace):\n%s", diff)
			}
		})
	}
	if checked < 8 {
		t.Errorf("only %d deepflow HTTP/2 results checked", checked)
	}
}
