package engine_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dns"
)

// dnsCapture is one capture with DNS traffic: the queries and responses
// tshark counts (`tshark -Y 'dns || mdns' -T fields -E occurrence=a -e
// dns.flags.response`, one value per message), and those wiretrace finds
// when they differ, with the reason.
type dnsCapture struct {
	path                 string
	tsharkQ, tsharkR     int
	queries, responses   int // what wiretrace reports; -1: same as tshark
	why                  string
	allowedParseErrors   int
	expectUnmatchedResps int // responses that become partial "dns response" spans
}

var dnsCaptures = []dnsCapture{
	{path: "arkime/dns/dns-error.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "arkime/dns/dns-tcp.pcap", tsharkQ: 2, tsharkR: 2, queries: -1, responses: -1},
	{path: "arkime/dns/dns-udp.pcap", tsharkQ: 3, tsharkR: 2, queries: -1, responses: -1},
	{path: "arkime/dns/dns-wiresharkrepo.pcap", tsharkQ: 19, tsharkR: 19, queries: -1, responses: -1},
	{path: "arkime/http/v6-http.pcap", tsharkQ: 3, tsharkR: 5, queries: -1, responses: -1},
	{path: "deepflow/dns/a-and-ns.pcap", tsharkQ: 2, tsharkR: 2, queries: -1, responses: -1},
	{path: "deepflow/dns/dns-tcp-multi.pcap", tsharkQ: 2, tsharkR: 2, queries: -1, responses: -1},
	{path: "deepflow/dns/dns.pcap", tsharkQ: 2, tsharkR: 2, queries: -1, responses: -1},
	{path: "deepflow/dns/not-handled-qtype.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "deepflow/dns/nxdomain.pcap", tsharkQ: 3, tsharkR: 3, queries: -1, responses: -1},
	{path: "ndpi/dns/dns.pcap", tsharkQ: 2, tsharkR: 3, queries: -1, responses: -1, expectUnmatchedResps: 1},
	{path: "ndpi/dns/dns_fragmented.pcap", tsharkQ: 22, tsharkR: 21, queries: -1, responses: -1},
	{path: "ndpi/dns/dns_long_domainname.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "ndpi/dns/malformed_dns.pcap", tsharkQ: 2, tsharkR: 4, queries: -1, responses: -1, expectUnmatchedResps: 2},
	{path: "packetbeat/dns/dns_additional.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "packetbeat/dns/dns_google_com.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "packetbeat/dns/dns_mx.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "packetbeat/dns/dns_not_found.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "packetbeat/dns/dns_ns.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "packetbeat/dns/dns_txt.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "packetbeat/http/http_basicauth.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "packt-grpc/grpc/unary.pcapng", tsharkQ: 7, tsharkR: 2, queries: -1, responses: -1},
	{path: "suricata-verify/dns/dns-tcp-ts-gap.pcap", tsharkQ: 2, tsharkR: 3, queries: -1, responses: -1, expectUnmatchedResps: 1},
	{path: "suricata-verify/dns/dns-udp-junkrequest-first.pcap", tsharkQ: 2, tsharkR: 2, queries: 1, responses: 1,
		why: "the first query's question is malformed (tshark: Malformed Packet) and its FORMERR answer has no question or record, so neither is taken for DNS; Suricata's expected log also has one request"},
	{path: "tcpdump/dns/dns_tcp.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "tcpdump/link-encap/nflog.pcap", tsharkQ: 0, tsharkR: 4, queries: -1, responses: -1, expectUnmatchedResps: 4},
	{path: "zeek/dns/dns-corrupt.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "zeek/dns/dns-edns-tcp-keepalive.pcap", tsharkQ: 2, tsharkR: 2, queries: -1, responses: -1},
	{path: "zeek/dns/dns-https.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "zeek/dns/dns-inverse-query.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "zeek/dns/dns-svcb.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "zeek/dns/dns-two-responses.pcap", tsharkQ: 1, tsharkR: 2, queries: -1, responses: -1, expectUnmatchedResps: 1},
	{path: "zeek/dns/dns-txt-multiple.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "zeek/dns/dns53.pcap", tsharkQ: 0, tsharkR: 1, queries: -1, responses: -1, expectUnmatchedResps: 1},
	{path: "zeek/dns/loc-29-trunc.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "zeek/dns/long-connection.pcap", tsharkQ: 11, tsharkR: 11, queries: -1, responses: -1},
	{path: "zeek/dns/mdns.pcap", tsharkQ: 12, tsharkR: 6, queries: -1, responses: -1},
	{path: "zeek/dns/naptr.pcap", tsharkQ: 1, tsharkR: 1, queries: -1, responses: -1},
	{path: "zeek/link-encap/gre-sample.pcap", tsharkQ: 4, tsharkR: 0, queries: 2, responses: 0,
		why: "two of tshark's four queries are quoted inside ICMP port-unreachable errors (eth:ip:gre:ip:icmp:ip:udp:dns), which are not traffic; the two sent through the GRE tunnel are found"},
	{path: "zeek/link-encap/ipv6-fragmented-dns.pcap", tsharkQ: 3, tsharkR: 2, queries: -1, responses: -1},
	{path: "zeek/link-encap/pcapng-multi-interface.pcapng", tsharkQ: 3, tsharkR: 3, queries: -1, responses: -1},
}

// dnsStatusDisagreements lists where wiretrace's span status differs from a
// published expected result on purpose.
var dnsStatusDisagreements = map[string]string{
	"deepflow/dns/nxdomain.pcap": "deepflow marks the first NXDOMAIN client_error and the second ok; wiretrace takes NXDOMAIN as an answer (status ok, dns.response.code NXDOMAIN), see protocols/dns doc",
}

func replayDNS(t *testing.T, dir, path string) ([]*correlate.Span, int) {
	t.Helper()
	cfg := &engine.Config{}
	cfg.Driver.Registry = protocols.NewRegistry(dns.Protocol)
	spans, errs, e := replay(t, filepath.Join(dir, path), cfg)
	for _, err := range errs {
		t.Logf("%s: input error: %v", path, err)
	}
	pe := 0
	if e != nil {
		if m := parseErrorsRe.FindStringSubmatch(e.StatsLine()); m != nil {
			pe, _ = strconv.Atoi(m[1])
		}
	}
	return spans, pe
}

func isQuery(s *correlate.Span) bool    { _, ok := s.Attributes["network.transport"]; return ok }
func isResponse(s *correlate.Span) bool { _, ok := s.Attributes["dns.response.code"]; return ok }
func attr(s *correlate.Span, k string) string {
	v, _ := s.Attributes[k].(string)
	return v
}

// TestCorpusDNS replays every capture with DNS traffic and checks the
// number of queries and responses against tshark's, parse errors, and the
// question names, types and response codes against the expected results
// Arkime, DeepFlow, Zeek and Suricata publish.
func TestCorpusDNS(t *testing.T) {
	dir := sharedTestdata(t)
	for _, c := range dnsCaptures {
		t.Run(c.path, func(t *testing.T) {
			wantQ, wantR := c.queries, c.responses
			if wantQ < 0 {
				wantQ = c.tsharkQ
			}
			if wantR < 0 {
				wantR = c.tsharkR
			}
			if (wantQ != c.tsharkQ || wantR != c.tsharkR) && c.why == "" {
				t.Fatal("count differs from tshark without a reason")
			}
			spans, parseErrors := replayDNS(t, dir, c.path)
			var q, r, unmatched int
			for _, s := range spans {
				if s.Protocol != "dns" {
					continue
				}
				if isQuery(s) {
					q++
				}
				if isResponse(s) {
					r++
				}
				if s.Name == "dns response" {
					unmatched++
				}
			}
			if q != wantQ || r != wantR {
				t.Errorf("queries %d responses %d, want %d %d (tshark %d %d)", q, r, wantQ, wantR, c.tsharkQ, c.tsharkR)
			}
			if unmatched != c.expectUnmatchedResps {
				t.Errorf("%d responses without a query, want %d", unmatched, c.expectUnmatchedResps)
			}
			if parseErrors > c.allowedParseErrors {
				t.Errorf("%d parse errors, want at most %d", parseErrors, c.allowedParseErrors)
			}
			base := filepath.Join(dir, c.path)
			checkArkime(t, strings.TrimSuffix(base, ".pcap")+".test", spans)
			checkDeepflow(t, strings.TrimSuffix(base, ".pcap")+".result", spans)
			if logs, _ := filepath.Glob(base + ".expected.*.dns.log"); len(logs) == 1 {
				checkZeek(t, logs[0], spans)
			}
		})
	}
}

// findSpan returns the first unused span asking name (case-insensitively)
// and type ("" for any) whose response code is rcode ("" for none).
func findSpan(spans []*correlate.Span, used map[*correlate.Span]bool, name, qtype, rcode string) *correlate.Span {
	for _, s := range spans {
		if used[s] || !strings.EqualFold(attr(s, "dns.question.name"), name) {
			continue
		}
		if qtype != "" && attr(s, "dns.question.type") != qtype {
			continue
		}
		if attr(s, "dns.response.code") != rcode {
			continue
		}
		used[s] = true
		return s
	}
	return nil
}

// checkArkime compares the dns entries of an Arkime session file: query
// host (Arkime lowercases it), type and status (absent when unanswered).
func checkArkime(t *testing.T, path string, spans []*correlate.Span) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var doc struct {
		Sessions []struct {
			Body struct {
				DNS []struct {
					QueryHost string `json:"queryHost"`
					QT        string `json:"qt"`
					Status    string `json:"status"`
				} `json:"dns"`
			} `json:"body"`
		} `json:"sessions3"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	used := map[*correlate.Span]bool{}
	n := 0
	for _, s := range doc.Sessions {
		for _, d := range s.Body.DNS {
			n++
			host := d.QueryHost
			if host == "<root>" && d.QT == "" {
				host = "" // a response without a question (mDNS)
			}
			if findSpan(spans, used, host, d.QT, d.Status) == nil {
				t.Errorf("arkime: no span for %s %s %q", d.QT, d.QueryHost, d.Status)
			}
		}
	}
	t.Logf("arkime: %d entries compared", n)
}

// checkDeepflow compares a DeepFlow .result: each request's resource and
// type, each response's code.
func checkDeepflow(t *testing.T, path string, spans []*correlate.Span) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	used := map[*correlate.Span]bool{}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndex(line, "}")
		if !strings.HasPrefix(line, "{") || i < 0 {
			continue
		}
		var row struct {
			Type     string `json:"request_type"`
			Resource string `json:"request_resource"`
			MsgType  string `json:"msg_type"`
			Code     *int   `json:"response_code"`
		}
		if err := json.Unmarshal([]byte(line[:i+1]), &row); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if row.MsgType != "Response" || row.Code == nil {
			continue
		}
		n++
		rc := map[int]string{0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}[*row.Code]
		if findSpan(spans, used, row.Resource, row.Type, rc) == nil {
			t.Errorf("deepflow: no span for %s %s answered %s", row.Type, row.Resource, rc)
		}
	}
	t.Logf("deepflow: %d responses compared", n)
}

// checkZeek compares a Zeek dns.log: query, qtype_name (Zeek writes "*"
// for ANY and "-" when it did not see the query) and rcode_name.
func checkZeek(t *testing.T, path string, spans []*correlate.Span) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	used := map[*correlate.Span]bool{}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "#fields\t"); ok {
			fields = strings.Split(rest, "\t")
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		row := map[string]string{}
		for i, v := range strings.Split(line, "\t") {
			if i < len(fields) {
				row[fields[i]] = v
			}
		}
		qtype := map[string]string{"-": "", "*": "ANY"}[row["qtype_name"]]
		if qtype == "" && row["qtype_name"] != "-" {
			qtype = row["qtype_name"]
		}
		rc := row["rcode_name"]
		if rc == "-" {
			rc = ""
		}
		n++
		if findSpan(spans, used, row["query"], qtype, rc) == nil {
			t.Errorf("zeek: no span for %s %s %s", qtype, row["query"], rc)
		}
	}
	t.Logf("zeek: %d rows compared", n)
}

// TestCorpusDNSSuricata checks Suricata's expected request names where the
// counts alone do not say it.
func TestCorpusDNSSuricata(t *testing.T) {
	dir := sharedTestdata(t)
	spans, _ := replayDNS(t, dir, "suricata-verify/dns/dns-udp-junkrequest-first.pcap")
	var names []string
	for _, s := range spans {
		if isQuery(s) {
			names = append(names, attr(s, "dns.question.name"))
		}
	}
	if fmt.Sprint(names) != "[catenacyber.Fr]" {
		t.Errorf("requests %q, want [catenacyber.Fr]", names)
	}
}

// TestCorpusDNSStatus checks span statuses where a capture says what they
// should be: SERVFAIL is an error, NXDOMAIN is not, unanswered queries
// time out.
func TestCorpusDNSStatus(t *testing.T) {
	dir := sharedTestdata(t)
	for _, tc := range []struct {
		path, name, status string
	}{
		{"ndpi/dns/dns_fragmented.pcap", "QUERY A sigfail.verteiltesysteme.net", correlate.StatusError},
		{"deepflow/dns/nxdomain.pcap", "QUERY AAAA prod-fcdt-e02.int.frontnode.net", correlate.StatusOK},
		{"arkime/dns/dns-udp.pcap", "QUERY ANY 10.100.10.10.in-addr.arpa", correlate.StatusTimeout},
	} {
		spans, _ := replayDNS(t, dir, tc.path)
		found := false
		for _, s := range spans {
			if s.Name == tc.name {
				found = true
				if s.Status != tc.status {
					t.Errorf("%s: %s status %s, want %s (%s)", tc.path, tc.name, s.Status, tc.status, dnsStatusDisagreements[tc.path])
				}
			}
		}
		if !found {
			t.Errorf("%s: no span %q", tc.path, tc.name)
		}
	}
}
