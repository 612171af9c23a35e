package engine_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/amqp"
)

// amqpCaptures are the AMQP captures of the shared corpus with deepflow's
// expected results (deepflow/amqp/*.result); ndpi/amqp is TestAMQPNdpi's.
var amqpCaptures = []string{
	"deepflow/amqp/amqp-error.pcap",
	"deepflow/amqp/amqp1.pcap",
	"deepflow/amqp/amqp2.pcap",
	"deepflow/amqp/amqp3.pcap",
}

var (
	dfMsgType  = regexp.MustCompile(`msg_type: (\w+), resp_status: (\w+)`)
	dfMethod   = regexp.MustCompile(`frame_type: Method, .*?class_id: (\w+), method_id: (\w+)`)
	dfReqType  = regexp.MustCompile(`req_type: Some\("(\w+)\.(\w+)"\)`)
	dfTraceID  = regexp.MustCompile(`frame_type: Header, .*?trace_ids: PrioFields\(\[PrioField \{ prio: \d+, field: "([0-9a-f]+)" \}\]\)`)
	camelSplit = regexp.MustCompile(`([a-z])([A-Z])`)
)

// amqpName turns deepflow's "Exchange", "DeclareOk" into "exchange.declare-ok".
func amqpName(class, method string) string {
	return strings.ToLower(class) + "." + strings.ToLower(camelSplit.ReplaceAllString(method, "$1-$2"))
}

// readDeepflowAMQP returns the operations deepflow reports, in order: each
// request ("queue.declare ok", "exchange.declare error": the status of the
// response that follows it) and each publish, deliver and return
// ("basic.publish"), and the trace ids of content headers. A server close
// that answered a request is reported by deepflow as that request's
// response and again as a request of its own; wiretrace folds the two, so
// the second is skipped.
func readDeepflowAMQP(t *testing.T, path string) (ops, traceIDs []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lastReq := -1
	prevCloseErr := false
	for sc.Scan() {
		line := sc.Text()
		mt := dfMsgType.FindStringSubmatch(line)
		if mt == nil {
			continue
		}
		if m := dfTraceID.FindStringSubmatch(line); m != nil {
			traceIDs = append(traceIDs, m[1])
		}
		meth := dfMethod.FindStringSubmatch(line)
		closeErr := false
		switch {
		case mt[1] == "Request":
			rt := dfReqType.FindStringSubmatch(line)
			if rt == nil {
				break
			}
			if prevCloseErr && rt[2] == "Close" {
				break
			}
			ops = append(ops, amqpName(rt[1], rt[2])+" ok")
			lastReq = len(ops) - 1
		case mt[1] == "Response":
			if lastReq >= 0 && mt[2] != "Ok" {
				ops[lastReq] = strings.TrimSuffix(ops[lastReq], " ok") + " error"
			}
			closeErr = mt[2] != "Ok" && meth != nil && meth[2] == "Close"
			lastReq = -1
		case meth != nil && (meth[2] == "Publish" || meth[2] == "Deliver" || meth[2] == "Return"):
			st := "ok"
			if mt[2] != "Ok" {
				st = "error"
			}
			ops = append(ops, amqpName(meth[1], meth[2])+" "+st)
		}
		prevCloseErr = closeErr
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ops, traceIDs
}

// TestAMQPCorpus replays deepflow's AMQP captures and compares the
// operations, their outcome and the trace ids of message headers
// (traceparent in amqp2, sw8 in amqp3) with
// deepflow's expected results.
func TestAMQPCorpus(t *testing.T) {
	dir := sharedTestdata(t)
	files, _ := filepath.Glob(filepath.Join(dir, "deepflow", "amqp", "*.pcap"))
	if len(files) != len(amqpCaptures) {
		t.Errorf("%d AMQP captures in deepflow/amqp, %d listed", len(files), len(amqpCaptures))
	}
	for _, file := range amqpCaptures {
		t.Run(file, func(t *testing.T) {
			cfg := &engine.Config{}
			cfg.Driver.Registry = protocols.NewRegistry(amqp.Protocol)
			spans, errs, e := replay(t, filepath.Join(dir, file), cfg)
			if e == nil {
				t.Fatalf("%v", errs)
			}
			if m := parseErrorsRe.FindStringSubmatch(e.StatsLine()); m == nil || m[1] != "0" {
				t.Errorf("parse errors: %v", m)
			}
			sort.SliceStable(spans, func(i, j int) bool { return spans[i].StartNS < spans[j].StartNS })
			var ops, traceIDs []string
			for _, s := range spans {
				name, _, _ := strings.Cut(s.Name, " ")
				st := "ok"
				if s.Status == "error" {
					st = "error"
				} else if s.Status != "ok" {
					st = s.Status
				}
				ops = append(ops, name+" "+st)
				for _, k := range []string{"traceparent_trace_id", "sw8_trace_id"} {
					if id := s.Links[k]; id != "" {
						traceIDs = append(traceIDs, id)
					}
				}
			}
			wantOps, wantIDs := readDeepflowAMQP(t, strings.TrimSuffix(filepath.Join(dir, file), ".pcap")+".result")
			if diff := cmp.Diff(wantOps, ops); diff != "" {
				t.Errorf("operations (-deepflow +wiretrace):\n%s", diff)
			}
			if diff := cmp.Diff(wantIDs, traceIDs); diff != "" {
				t.Errorf("trace ids (-deepflow +wiretrace):\n%s", diff)
			}
		})
	}
}

// TestAMQPTraceparentLink checks that amqp2.pcap's traceparent, carried in
// the message headers field table, makes the publish the parent of the
// delivery in the trace it names.
func TestAMQPTraceparentLink(t *testing.T) {
	dir := sharedTestdata(t)
	spans, _, _ := replay(t, filepath.Join(dir, "deepflow/amqp/amqp2.pcap"), &engine.Config{})
	const trace = "55a4bf6fd4f855f258c2c1b3cdb28c83"
	var pub, del string
	var delParent string
	for _, s := range spans {
		switch {
		case strings.HasPrefix(s.Name, "basic.publish"):
			pub = s.SpanID
			if s.TraceID != trace || s.Links["traceparent_span_id"] != "a0e79d6007c4e7c2" {
				t.Errorf("publish: trace %s, links %v", s.TraceID, s.Links)
			}
		case strings.HasPrefix(s.Name, "basic.deliver"):
			del, delParent = s.SpanID, s.ParentSpanID
			if s.TraceID != trace {
				t.Errorf("deliver: trace %s, want %s", s.TraceID, trace)
			}
		}
	}
	if pub == "" || del == "" || delParent != pub {
		t.Errorf("publish %q, deliver %q with parent %q: want the publish as the delivery's parent", pub, del, delParent)
	}
}

// TestAMQPNdpi replays nDPI's AMQP capture (Celery events, no handshake:
// the connections start mid-stream) and compares the methods with tshark's
// count (tshark -Y amqp -T fields -e amqp.method.class -e
// amqp.method.method: 23 basic.publish, 8 basic.deliver, 5 basic.ack).
func TestAMQPNdpi(t *testing.T) {
	dir := sharedTestdata(t)
	cfg := &engine.Config{}
	cfg.Driver.Registry = protocols.NewRegistry(amqp.Protocol)
	spans, _, e := replay(t, filepath.Join(dir, "ndpi/amqp/amqp.pcap"), cfg)
	if e == nil {
		t.Fatal("replay failed")
	}
	if m := parseErrorsRe.FindStringSubmatch(e.StatsLine()); m == nil || m[1] != "0" {
		t.Errorf("parse errors: %v", m)
	}
	got := map[string]int{}
	for _, s := range spans {
		name, _, _ := strings.Cut(s.Name, " ")
		got[name]++
		if s.Status != "ok" {
			t.Errorf("%s: status %s", s.Name, s.Status)
		}
	}
	want := map[string]int{"basic.publish": 23, "basic.deliver": 8, "basic.ack": 5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("methods (-tshark +wiretrace):\n%s", diff)
	}
}
