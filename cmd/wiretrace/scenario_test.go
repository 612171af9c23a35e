package main

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// scenarioSecrets are the credentials testdata/gen/scenario.sh gives the
// databases: the PostgreSQL one crosses the wire in clear (pg_hba
// "password") and the Redis one in AUTH; none may reach the output.
var scenarioSecrets = []string{"maria-Secret-7781", "pg-Secret-5520", "redis-Secret-3391", "Secret-"}

func TestGoldenScenario(t *testing.T) {
	for _, format := range []string{"jsonl", "tree"} {
		t.Run(format, func(t *testing.T) {
			out, _, err := run(t, "replay", "-q", "--format", format, testdata("scenario.pcap"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "scenario.golden."+format, out)
		})
	}
}

// TestScenarioTraces checks the structure of the database scenario: each
// request is a trace gateway → shop whose MariaDB and PostgreSQL queries
// hang below the shop's inbound span by their SQL comments.
func TestScenarioTraces(t *testing.T) {
	out, stderr, err := run(t, "replay", "--format", "jsonl", testdata("scenario.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"parse_errors=0 ", "tcp_gap_bytes=0 ", "unmatched_responses=0 "} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stats line lacks %q: %s", s, stderr)
		}
	}
	checkScenarioSpans(t, out)
}

// scenarioRequests are the requests of scenario.sh in order, with the
// database spans each one's trace holds below the shop's inbound span.
var scenarioRequests = []struct {
	name string
	db   []string // protocol/name, sorted
}{
	{"GET /api/orders/42", nil},
	{"POST /api/checkout", []string{"mysql/EXECUTE INSERT", "mysql/EXECUTE INSERT", "mysql/PREPARE"}},
	{"GET /api/slow", []string{"mysql/SELECT", "postgresql/SELECT"}},
	{"GET /api/fail", []string{"mysql/SELECT", "postgresql/SELECT"}},
}

// scenarioCommonDB are the database spans of every request.
var scenarioCommonDB = []string{
	"mysql/EXECUTE SELECT", "mysql/PREPARE", "mysql/SELECT", "mysql/UPDATE",
	"postgresql/PREPARE", "postgresql/SELECT", "postgresql/SELECT",
}

// checkScenarioSpans checks the output of a replay (or live capture) of
// the scenario.sh traffic.
func checkScenarioSpans(t *testing.T, out string) {
	t.Helper()
	for _, secret := range scenarioSecrets {
		if strings.Contains(out, secret) {
			t.Errorf("output contains the password %q", secret)
		}
	}
	spans := parseJSONL(t, out)
	byID := map[string]span{}
	traces := map[string][]span{}
	var roots []span
	for _, s := range spans {
		byID[s.SpanID] = s
		traces[s.TraceID] = append(traces[s.TraceID], s)
		if s.Protocol == "http" && s.Server.Port == 80 {
			roots = append(roots, s)
		}
	}
	if len(roots) != len(scenarioRequests) {
		t.Fatalf("%d gateway spans, want %d", len(roots), len(scenarioRequests))
	}
	for i, want := range scenarioRequests {
		root := roots[i]
		if root.Name != want.name || root.ParentSpanID != "" {
			t.Errorf("request %d: gateway span %q parent %q, want root %q", i, root.Name, root.ParentSpanID, want.name)
			continue
		}
		rid := root.Links["x_request_id"]
		var hop []span
		var db, byTiming []string
		var timed []span
		tpTrace := ""
		for _, s := range traces[root.TraceID] {
			switch {
			case s.Protocol == "http" && s.Server.Port == 8080:
				hop = append(hop, s)
			case s.LinkReason == "timing":
				// No id on the wire (Redis, statement closes): placed by
				// timing under the request the shop was serving.
				byTiming = append(byTiming, s.Protocol+"/"+s.Name)
				timed = append(timed, s)
				if _, ok := s.Attributes["wiretrace.link.confidence"]; !ok {
					t.Errorf("%s: %s %q linked by timing without a confidence", want.name, s.Protocol, s.Name)
				}
			case s.Protocol == "mysql" || s.Protocol == "postgresql":
				db = append(db, s.Protocol+"/"+s.Name)
				if s.LinkReason != "sql_comment" || s.Links["x_request_id"] != rid {
					t.Errorf("%s: %s %q: link reason %q, request id %q; want sql_comment, %q",
						want.name, s.Protocol, s.Name, s.LinkReason, s.Links["x_request_id"], rid)
				}
				// The free-text comment carries only the request id;
				// sqlcommenter's carry the APM's traceparent too, one trace
				// id per request.
				if tp := s.Links["traceparent_trace_id"]; tp != "" {
					if tpTrace != "" && tp != tpTrace {
						t.Errorf("%s: traceparent trace ids %s and %s", want.name, tpTrace, tp)
					}
					tpTrace = tp
				}
			case s.SpanID != root.SpanID:
				t.Errorf("%s: unexpected span %s %q in the trace", want.name, s.Protocol, s.Name)
			}
		}
		if len(rid) != 32 {
			t.Errorf("%s: gateway x_request_id %q, want nginx's 32 hex digits", want.name, rid)
		}
		if len(hop) != 1 || hop[0].ParentSpanID != root.SpanID || hop[0].LinkReason != "x_request_id" || hop[0].Links["x_request_id"] != rid {
			t.Errorf("%s: gateway → shop spans %+v, want one child of the gateway span by x_request_id", want.name, hop)
			continue
		}
		for _, s := range timed {
			if s.ParentSpanID != hop[0].SpanID {
				t.Errorf("%s: %s %q (timing) has parent %q, want the shop's inbound span %s", want.name, s.Protocol, s.Name, s.ParentSpanID, hop[0].SpanID)
			}
		}
		var redisOps []string
		for _, op := range byTiming {
			if strings.HasPrefix(op, "redis/") {
				redisOps = append(redisOps, op)
			} else if op != "mysql/STMT_CLOSE" {
				t.Errorf("%s: %s linked by timing, want only Redis and statement closes", want.name, op)
			}
		}
		slices.Sort(redisOps)
		if diff := cmp.Diff([]string{"redis/EXPIRE", "redis/GET", "redis/INCR", "redis/SET"}, redisOps); diff != "" {
			t.Errorf("%s: Redis calls placed by timing (-want +got):\n%s", want.name, diff)
		}
		for _, s := range traces[root.TraceID] {
			if (s.Protocol == "mysql" || s.Protocol == "postgresql") && s.ParentSpanID != hop[0].SpanID {
				t.Errorf("%s: %s %q has parent %q, want the shop's inbound span %s", want.name, s.Protocol, s.Name, s.ParentSpanID, hop[0].SpanID)
			}
		}
		wantDB := slices.Sorted(slices.Values(append(slices.Clone(scenarioCommonDB), want.db...)))
		slices.Sort(db)
		if diff := cmp.Diff(wantDB, db); diff != "" {
			t.Errorf("%s: database spans (-want +got):\n%s", want.name, diff)
		}
		// The trace id is the one the application's APM put in its
		// traceparent (so the trace is found under the APM's id), not the
		// gateway's request id; the request id stays in the links.
		if len(tpTrace) != 32 || tpTrace == rid || root.TraceID != tpTrace {
			t.Errorf("%s: trace id %s, traceparent trace id %q, request id %s; want the traceparent's", want.name, root.TraceID, tpTrace, rid)
		}
	}

	// Spans with no id on the wire: connection set-up, statement closes and
	// Redis (no comments), counted over the whole capture.
	counts := map[string]int{}
	for _, s := range spans {
		if s.Protocol == "redis" || s.Name == "STMT_CLOSE" || s.Name == "PING" || s.Name == "STARTUP" || s.Name == "CONNECT" {
			counts[s.Protocol+"/"+s.Name]++
		}
	}
	wantCounts := map[string]int{
		"redis/AUTH": 1, "redis/PING": 1, "redis/GET": 4, "redis/SET": 4, "redis/INCR": 4, "redis/EXPIRE": 4,
		"mysql/CONNECT": 1, "mysql/PING": 1, "mysql/STMT_CLOSE": 5, "postgresql/STARTUP": 1,
	}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("span counts (-want +got):\n%s", diff)
	}

	// Errors and the slow queries.
	var errs []string
	for _, s := range spans {
		if s.Status != "ok" {
			code, _ := s.Attributes["db.response.status_code"].(string)
			if code == "" {
				if c, ok := s.Attributes["http.response.status_code"].(float64); ok {
					code = strconv.Itoa(int(c))
				}
			}
			errs = append(errs, s.Protocol+" "+s.Name+" "+s.Status+" "+code)
		}
		q, _ := s.Attributes["db.query.text"].(string)
		if strings.Contains(q, "SLEEP(0.3)") || strings.Contains(q, "pg_sleep(0.3)") {
			if d := s.EndNS - s.StartNS; d < 250e6 || d > 2e9 {
				t.Errorf("slow query %s %q took %dns, want about 300ms", s.Protocol, s.Name, d)
			}
		}
	}
	slices.Sort(errs)
	wantErrs := []string{
		"http GET /api/fail error 500", "http GET /api/fail error 500",
		"mysql SELECT error 1146", "postgresql SELECT error 22012",
	}
	if diff := cmp.Diff(wantErrs, errs); diff != "" {
		t.Errorf("error spans (-want +got):\n%s", diff)
	}
}

// TestScenarioRedactSQL checks --redact-sql on the database scenario: the
// literals of every SQL text are gone, the comments that link the queries
// are read all the same, so the traces are those without the flag.
func TestScenarioRedactSQL(t *testing.T) {
	out, _, err := run(t, "replay", "-q", "--redact-sql", "--format", "jsonl", testdata("scenario.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	checkScenarioSpans(t, out)
	for _, want := range []string{
		`"db.query.text":"SELECT COUNT(*) FROM orders WHERE status = ? /*action='broken_report'`,
		`UPDATE orders SET seen = seen + ? WHERE id = ?"`,
		`"db.query.text":"SELECT ?/? /*action=`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s", want)
		}
	}
	for _, leak := range []string{"'shipped'", "WHERE id = 1", "SELECT 1/0"} {
		if strings.Contains(out, leak) {
			t.Errorf("literal %s in the output with --redact-sql", leak)
		}
	}
}
