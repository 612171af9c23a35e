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
	"github.com/wiretrace/wiretrace/protocols/mongodb"
)

// mongoConfig registers only MongoDB.
func mongoConfig() *engine.Config {
	cfg := &engine.Config{}
	cfg.Driver.Registry = protocols.NewRegistry(mongodb.Protocol)
	return cfg
}

// deepflowMongoRe extracts what deepflow's expected results give for each
// message: type, request id (the reply's responseTo), opcode name, the
// request document's first key, and status.
var deepflowMongoRe = regexp.MustCompile(`msg_type: (Request|Response), .*?request_id: (\d+), .*?op_code_name: "(\w+)", request: "(?:\{ \\"(\w+)\\")?.*?status: (\w+)`)

// mongoMessages returns, per span, deepflow's form of its messages:
// "Request 40 OP_MSG find" and "Response 40 OP_MSG ok".
func mongoMessages(spans []*correlate.Span) []string {
	var out []string
	for _, s := range spans {
		op, _ := s.Attributes["mongodb.opcode"].(string)
		name, _ := s.Attributes["db.operation.name"].(string)
		out = append(out, fmt.Sprintf("Request %v %s %s", s.Attributes["mongodb.request_id"], op, name))
		if s.HasResponse {
			out = append(out, fmt.Sprintf("Response %v %s", s.Attributes["mongodb.request_id"], s.Status))
		}
	}
	return out
}

// TestMongoDBDeepflow compares the deepflow MongoDB captures with their
// .result: per request its id, opcode and command; per reply its status.
func TestMongoDBDeepflow(t *testing.T) {
	dir := sharedTestdata(t)
	total, matched := 0, 0
	for _, name := range []string{"mongo-msg", "mongo"} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, "deepflow/mongo", name+".pcap")
			res, err := os.ReadFile(strings.TrimSuffix(f, ".pcap") + ".result")
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, m := range deepflowMongoRe.FindAllStringSubmatch(string(res), -1) {
				if m[1] == "Request" {
					want = append(want, fmt.Sprintf("Request %s %s %s", m[2], m[3], m[4]))
				} else {
					want = append(want, fmt.Sprintf("Response %s %s", m[2], map[string]string{"Ok": "ok", "ClientError": "error", "ServerError": "error"}[m[5]]))
				}
			}
			if len(want) == 0 {
				t.Fatal("no messages in the expected result")
			}
			spans, _, _ := replay(t, f, mongoConfig())
			got := mongoMessages(spans)
			for i, w := range want {
				total++
				if i < len(got) && got[i] == w {
					matched++
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-deepflow +wiretrace):\n%s", diff)
			}
		})
	}
	t.Logf("deepflow MongoDB: %d of %d messages match", matched, total)
}

// mongoCounts gives, per MongoDB capture, tshark's message count (tshark
// -d tcp.port==<port>,mongo -Y mongo: Debian's tshark gives 27017 to TLS)
// and the requests and replies wiretrace finds.
var mongoCounts = []struct {
	file            string
	tshark          int
	requests, resps int
	why             string
}{
	{"arkime/mongodb/mongo.pcap", 4, 4, 0, ""},
	{"deepflow/mongo/mongo-msg.pcap", 2, 1, 1, ""},
	{"deepflow/mongo/mongo.pcap", 30, 15, 15, ""},
	{"ndpi/mongodb/mongodb.pcap", 4, 4, 0, ""},
	{"ndpi/mongodb/mongo_false_positive.pcapng", 0, 0, 0, ""},
	{"packetbeat/mongodb/mongo_3.0_session.pcap", 48, 24, 24, ""},
	{"packetbeat/mongodb/mongo_one_row.pcap", 2, 1, 1, ""},
	{"packetbeat/mongodb/mongodb_create_collection.pcap", 8, 4, 4, ""},
	{"packetbeat/mongodb/mongodb_find.pcap", 4, 2, 2, ""},
	{"packetbeat/mongodb/mongodb_insert_duplicate_key.pcap", 6, 3, 3, ""},
	{"packetbeat/mongodb/mongodb_inserts.pcap", 10, 5, 5, ""},
	{"packetbeat/mongodb/mongodb_more_rows.pcap", 2, 1, 1, ""},
	{"packetbeat/mongodb/mongodb_reply_request_reply.pcap", 3, 1, 2, ""},
	{"packetbeat/mongodb/mongodb_use_db.pcap", 2, 1, 1, ""},
}

// TestMongoDBCorpusCounts checks the number of MongoDB messages per
// capture against tshark's, and that no replay stops a flow with a parse
// error.
func TestMongoDBCorpusCounts(t *testing.T) {
	dir := sharedTestdata(t)
	for _, c := range mongoCounts {
		t.Run(c.file, func(t *testing.T) {
			spans, _, e := replay(t, filepath.Join(dir, c.file), mongoConfig())
			reqs, resps := 0, 0
			for _, s := range spans {
				if s.HasResponse {
					resps++
				}
				// A reply whose request was not captured is a span of
				// its own, with no request attributes.
				if _, ok := s.Attributes["mongodb.request_id"]; ok {
					reqs++
				}
			}
			if reqs != c.requests || resps != c.resps {
				t.Errorf("got %d requests, %d replies; want %d, %d", reqs, resps, c.requests, c.resps)
			}
			if c.why == "" && reqs+resps != c.tshark {
				t.Errorf("%d messages, tshark %d", reqs+resps, c.tshark)
			}
			if m := parseErrorsRe.FindStringSubmatch(e.StatsLine()); m == nil || m[1] != "0" {
				t.Errorf("parse errors: %s", e.StatsLine())
			}
		})
	}
}
