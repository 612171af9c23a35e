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
	"github.com/wiretrace/wiretrace/protocols/kafka"
)

// kafkaConfig registers only Kafka, with the non-standard ports of the
// deepflow captures (tshark needs -d tcp.port==36333,kafka there too).
func kafkaConfig() *engine.Config {
	cfg := &engine.Config{}
	cfg.Driver.Registry = protocols.NewRegistry(kafka.Protocol)
	cfg.Driver.PortProtocols = map[uint16]string{36333: "kafka", 30120: "kafka"}
	return cfg
}

// deepflowKafkaRe extracts what deepflow's expected results give for each
// request: correlation id, API, version, topic and, for responses, status.
var deepflowKafkaRe = regexp.MustCompile(`msg_type: (Request|Response), correlation_id: Some\((\d+)\), api_key: (\w+), api_version: (\d+), client_id: "([^"]*)", topic_name: "([^"]*)".*? status: (\w+)`)

// deepflowStatus maps deepflow's response status to wiretrace's span status.
var deepflowStatus = map[string]string{"Ok": "ok", "ServerError": "error", "ClientError": "error"}

// kafkaMessages returns, per span, one line per message in deepflow's
// form: "Request 1 Produce v2 topic2 console-producer" and
// "Response 1 Produce v2 ok".
func kafkaMessages(spans []*correlate.Span) []string {
	var out []string
	for _, s := range spans {
		api, _ := s.Attributes["messaging.operation.name"].(string)
		topic, _ := s.Attributes["messaging.destination.name"].(string)
		client, _ := s.Attributes["messaging.client.id"].(string)
		out = append(out, fmt.Sprintf("Request %v %s v%v %s %s", s.Attributes["kafka.correlation_id"], api, s.Attributes["kafka.api_version"], topic, client))
		if s.HasResponse {
			out = append(out, fmt.Sprintf("Response %v %s v%v %s", s.Attributes["kafka.correlation_id"], api, s.Attributes["kafka.api_version"], s.Status))
		}
	}
	return out
}

// TestKafkaDeepflow compares each deepflow Kafka capture with its .result:
// correlation id, API key and version, topic and client id per request,
// and which requests got a response.
func TestKafkaDeepflow(t *testing.T) {
	dir := sharedTestdata(t)
	files, err := filepath.Glob(filepath.Join(dir, "deepflow/kafka/*.pcap"))
	if err != nil || len(files) < 10 {
		t.Fatalf("deepflow Kafka captures: %d, %v", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			res, err := os.ReadFile(strings.TrimSuffix(f, ".pcap") + ".result")
			if os.IsNotExist(err) {
				// 01-fetch-v12-perf has no result; it must still pair.
				spans, _, _ := replay(t, f, kafkaConfig())
				if len(spans) != 1 || !spans[0].HasResponse {
					t.Errorf("got %d spans, want 1 answered", len(spans))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			// deepflow lists messages in capture order; wiretrace's spans
			// put each response after its request.
			reqs := map[string]bool{}
			for _, m := range deepflowKafkaRe.FindAllStringSubmatch(string(res), -1) {
				if m[1] == "Request" {
					reqs[m[2]] = true
					want = append(want, fmt.Sprintf("Request %s %s v%s %s %s", m[2], m[3], m[4], m[6], m[5]))
				}
			}
			for _, m := range deepflowKafkaRe.FindAllStringSubmatch(string(res), -1) {
				if m[1] == "Response" {
					for i, w := range want {
						if strings.HasPrefix(w, "Request "+m[2]+" ") {
							want = append(want[:i+1], append([]string{fmt.Sprintf("Response %s %s v%s %s", m[2], m[3], m[4], deepflowStatus[m[7]])}, want[i+1:]...)...)
							break
						}
					}
				}
			}
			spans, _, _ := replay(t, f, kafkaConfig())
			got := kafkaMessages(spans)
			if len(want) == 0 {
				t.Fatal("no messages in the expected result")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-deepflow +wiretrace):\n%s", diff)
			}
		})
	}
}

// kafkaCounts gives, per Kafka capture, tshark's message count (INDEX.md,
// "Kafka msgs=N") and the requests and responses wiretrace finds.
var kafkaCounts = []struct {
	file            string
	tshark          int
	requests, resps int
	why             string
}{
	{"arkime/kafka/kafka.pcap", 1, 1, 0, ""},
	{"deepflow/kafka/00-produce-v2.pcap", 2, 1, 1, ""},
	{"deepflow/kafka/00-produce-v7-sw8.pcap", 2, 1, 1, ""},
	{"deepflow/kafka/00-produce-v9.pcap", 2, 1, 1, ""},
	{"deepflow/kafka/01-fetch-v12-ok.pcap", 2, 1, 1, ""},
	{"deepflow/kafka/01-fetch-v12-perf.pcap", 2, 1, 1, ""},
	{"deepflow/kafka/01-fetch-v12-unknown.pcap", 2, 1, 1, ""},
	{"deepflow/kafka/11-join-group-v7.pcap", 2, 1, 1, ""},
	{"deepflow/kafka/13-leave-group-v4.pcap", 2, 1, 1, ""},
	{"deepflow/kafka/14-sync-group-v5.pcap", 2, 1, 1, ""},
	{"deepflow/kafka/18-api-versions-v3.pcap", 2, 1, 1, ""},
	{"deepflow/kafka/mixed-with-unsupported.pcap", 6, 3, 3, ""},
	{"go-sniffer/kafka/kafka.pcap", 4, 2, 2, ""},
	{"ndpi/kafka/kafka.pcapng", 28, 14, 11, "3 responses (ids 131, 140, 141) arrive after more than the 2 min idle timeout, or before any request, on connections whose requests were not captured: those connections carry only server bytes, which Sniff cannot recognise (responses have no recognisable header)"},
}

// TestKafkaCorpusCounts checks the number of Kafka messages per capture
// against tshark's, and that no replay stops a flow with a parse error.
func TestKafkaCorpusCounts(t *testing.T) {
	dir := sharedTestdata(t)
	for _, c := range kafkaCounts {
		t.Run(c.file, func(t *testing.T) {
			spans, errs, e := replay(t, filepath.Join(dir, c.file), kafkaConfig())
			if len(errs) > 0 {
				t.Logf("input errors: %v", errs)
			}
			reqs, resps := len(spans), 0
			for _, s := range spans {
				if s.HasResponse {
					resps++
				}
				if s.Protocol != "kafka" {
					t.Errorf("span %q has protocol %q", s.Name, s.Protocol)
				}
			}
			if reqs != c.requests || resps != c.resps {
				t.Errorf("got %d requests, %d responses; want %d, %d", reqs, resps, c.requests, c.resps)
			}
			if c.why == "" && reqs+resps != c.tshark {
				t.Errorf("%d messages, tshark %d", reqs+resps, c.tshark)
			}
			if line := e.StatsLine(); strings.Contains(line, "parse_errors=") && !strings.Contains(line, "parse_errors=0") {
				t.Errorf("parse errors: %s", line)
			}
		})
	}
}

// TestKafkaLinks checks the trace context read from record headers and the
// produce offsets of the corpus.
func TestKafkaLinks(t *testing.T) {
	dir := sharedTestdata(t)
	spans, _, _ := replay(t, filepath.Join(dir, "deepflow/kafka/00-produce-v7-sw8.pcap"), kafkaConfig())
	if len(spans) != 1 {
		t.Fatalf("got %d spans", len(spans))
	}
	s := spans[0]
	// deepflow's result: trace id bb79fa34-..., span id 0d8ce61a-...-0.
	want := map[string]string{
		"sw8_trace_id":   "bb79fa34-d03f-4bc2-8fa9-979af7877426",
		"sw8_segment_id": "0d8ce61a-ef2a-4e23-b8f4-2c59e3f44d48",
		"sw8_span_id":    "0",
	}
	for k, v := range want {
		if s.Links[k] != v {
			t.Errorf("links[%s] = %q, want %q", k, s.Links[k], v)
		}
	}
	// deepflow's resource "quickstart-events-0:7": partition 0, offset 7.
	if s.Attributes["messaging.kafka.offset"] != int64(7) || s.Attributes["messaging.destination.partition.id"] != "0" || s.Status != correlate.StatusOK {
		t.Errorf("attributes %v, status %s", s.Attributes, s.Status)
	}
}
