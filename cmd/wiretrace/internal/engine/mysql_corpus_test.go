package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mysql"
)

var (
	mysqlQueriesRe  = regexp.MustCompile(`MySQL COM_QUERY=(\d+)`)
	mysqlDecodeAsRe = regexp.MustCompile("-d tcp.port==(\\d+),mysql")
)

// mysqlRow is one MySQL capture of INDEX.md.
type mysqlRow struct {
	path    string
	queries int // tshark's COM_QUERY count
	port    uint16
}

func mysqlRows(t *testing.T, dir string) []mysqlRow {
	var out []mysqlRow
	for _, r := range readIndexLines(t, dir) {
		if !strings.Contains(r[0], "/mysql/") {
			continue
		}
		row := mysqlRow{path: r[0]}
		if m := mysqlQueriesRe.FindStringSubmatch(r[1]); m != nil {
			row.queries, _ = strconv.Atoi(m[1])
		}
		if m := mysqlDecodeAsRe.FindStringSubmatch(r[1]); m != nil {
			p, _ := strconv.Atoi(m[1])
			row.port = uint16(p)
		}
		out = append(out, row)
	}
	return out
}

// readIndexLines returns the path and L7 columns of INDEX.md's capture rows.
func readIndexLines(t *testing.T, dir string) [][2]string {
	var out [][2]string
	b, err := os.ReadFile(filepath.Join(dir, "INDEX.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		cols := strings.Split(line, "|")
		if len(cols) < 10 || !strings.HasPrefix(strings.TrimSpace(cols[1]), "`") {
			continue
		}
		out = append(out, [2]string{strings.Trim(strings.TrimSpace(cols[1]), "`"), cols[7]})
	}
	return out
}

func replayMySQL(t *testing.T, path string, port uint16) ([]*correlate.Span, int) {
	cfg := &engine.Config{}
	cfg.Driver.Registry = protocols.NewRegistry(mysql.Protocol)
	if port != 0 {
		cfg.Driver.PortProtocols = map[uint16]string{port: mysql.Name}
	}
	spans, _, e := replay(t, path, cfg)
	errs := 0
	if e != nil {
		if m := parseErrorsRe.FindStringSubmatch(e.StatsLine()); m != nil {
			errs, _ = strconv.Atoi(m[1])
		}
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].StartNS < spans[j].StartNS })
	return spans, errs
}

// isQuerySpan reports whether a span carries SQL text sent on the wire, as
// tshark's mysql.query field counts it: a COM_QUERY or a COM_STMT_PREPARE,
// not the EXECUTE of a prepared statement.
func isQuerySpan(s *correlate.Span) bool {
	text, _ := s.Attributes["db.query.text"].(string)
	if s.Protocol != mysql.Name || text == "" {
		return s.Protocol == mysql.Name && s.Name == "QUERY"
	}
	if strings.HasPrefix(s.Name, "EXECUTE") {
		return strings.HasPrefix(strings.ToUpper(strings.TrimSpace(text)), "EXECUTE")
	}
	return true
}

// mysqlCountExceptions lists captures where wiretrace finds a different
// number of queries than tshark, and why.
var mysqlCountExceptions = map[string]string{
	"deepflow/mysql/mysql-compressed-response.pcap": "compressed protocol seen mid-connection: tshark decodes compression only after a handshake; wiretrace detects the compressed packet and finds the SELECT deepflow also reports",
	"deepflow/mysql/partial-packet-compressed.pcap": "compressed protocol seen mid-connection (as above): wiretrace finds the two SELECTs of deepflow's expected result",
	"deepflow/mysql/mysql-use.pcap":                 "the capture is two packets without handshake on port 3306 and tshark does not dissect the query; wiretrace finds `use `test`` like deepflow",
	"zeek/mysql/mysql-9.0.0-query-attributes.pcap":  "tshark marks the MySQL 9 query-attribute packet malformed; wiretrace skips the attributes and finds the SELECT like Zeek's log",
}

// TestMySQLCorpusCounts checks, for every MySQL capture, that wiretrace finds
// as many queries (COM_QUERY and COM_STMT_PREPARE) as tshark's mysql.query
// count, and that no flow stops on a parse error.
func TestMySQLCorpusCounts(t *testing.T) {
	dir := sharedTestdata(t)
	rows := mysqlRows(t, dir)
	if len(rows) < 45 {
		t.Fatalf("only %d MySQL captures in INDEX.md", len(rows))
	}
	for _, r := range rows {
		spans, errs := replayMySQL(t, filepath.Join(dir, r.path), r.port)
		got := 0
		for _, s := range spans {
			if isQuerySpan(s) {
				got++
			}
		}
		if errs != 0 {
			t.Errorf("%s: %d parse errors", r.path, errs)
		}
		why, isException := mysqlCountExceptions[r.path]
		switch {
		case got != r.queries && !isException:
			t.Errorf("%s: %d queries, tshark finds %d", r.path, got, r.queries)
		case got == r.queries && isException:
			t.Errorf("%s: listed as an exception (%s) but the counts agree", r.path, why)
		}
	}
}

// deepflowRequestRe matches the COM_QUERY (3) and COM_STMT_PREPARE (22)
// requests of a deepflow expected result.
var deepflowRequestRe = regexp.MustCompile(`"msg_type":"Request",(?:"version":\d+,)?"request_type":(?:3|22),"request_resource":"((?:[^"\\]|\\.)*)"`)

// TestMySQLDeepflowResults compares the SQL text of each query with
// deepflow's expected results.
func TestMySQLDeepflowResults(t *testing.T) {
	dir := sharedTestdata(t)
	checked := 0
	for _, r := range mysqlRows(t, dir) {
		if !strings.HasPrefix(r.path, "deepflow/") {
			continue
		}
		res, err := os.ReadFile(filepath.Join(dir, strings.TrimSuffix(r.path, ".pcap")+".result"))
		if err != nil {
			continue
		}
		var want []string
		for _, m := range deepflowRequestRe.FindAllStringSubmatch(string(res), -1) {
			v, err := strconv.Unquote(`"` + m[1] + `"`)
			if err != nil {
				v = m[1]
			}
			want = append(want, v)
		}
		spans, _ := replayMySQL(t, filepath.Join(dir, r.path), r.port)
		var got []string
		for _, s := range spans {
			if isQuerySpan(s) {
				text, _ := s.Attributes["db.query.text"].(string)
				// deepflow shows bytes that are not UTF-8 as U+FFFD.
				got = append(got, strings.ToValidUTF8(text, "\uFFFD"))
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		checked++
		if why, ok := mysqlDeepflowExceptions[r.path]; ok {
			t.Logf("%s: not compared: %s", r.path, why)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: query texts (-deepflow +wiretrace):\n%s", r.path, diff)
		}
	}
	if checked < 20 {
		t.Errorf("only %d deepflow results compared", checked)
	}
}

// mysqlDeepflowExceptions lists deepflow results that are not compared, and
// why.
var mysqlDeepflowExceptions = map[string]string{}

// TestMySQLZeekLogs compares the queries, schema changes and logins of each
// capture with Zeek's expected mysql.log: command, argument and success.
func TestMySQLZeekLogs(t *testing.T) {
	dir := sharedTestdata(t)
	checked := 0
	for _, r := range mysqlRows(t, dir) {
		if !strings.HasPrefix(r.path, "zeek/") {
			continue
		}
		logs, _ := filepath.Glob(filepath.Join(dir, r.path) + ".expected.*mysql.log")
		if len(logs) != 1 {
			continue
		}
		b, err := os.ReadFile(logs[0])
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, "\t")
			if strings.HasPrefix(line, "#") || len(f) < 11 {
				continue
			}
			switch f[6] {
			case "query", "init_db":
				want = append(want, f[6]+" "+f[7]+" "+f[8])
			case "login":
				want = append(want, "login "+f[8])
			}
		}
		spans, _ := replayMySQL(t, filepath.Join(dir, r.path), r.port)
		var got []string
		for _, s := range spans {
			ok := "T"
			if s.Status != correlate.StatusOK {
				ok = "F"
			}
			text, _ := s.Attributes["db.query.text"].(string)
			switch {
			case s.Name == "CONNECT" && s.Attributes["tls.protocol.name"] == nil:
				got = append(got, "login "+ok)
			case s.Name == "INIT_DB":
				db, _ := s.Attributes["db.namespace"].(string)
				got = append(got, "init_db "+db+" "+ok)
			case isQuerySpan(s):
				got = append(got, "query "+text+" "+ok)
			}
		}
		checked++
		if why, ok := mysqlZeekExceptions[r.path]; ok {
			t.Logf("%s: not compared: %s", r.path, why)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: (-zeek +wiretrace):\n%s", r.path, diff)
		}
	}
	if checked < 12 {
		t.Errorf("only %d Zeek logs compared", checked)
	}
}

// mysqlZeekExceptions lists Zeek logs that are not compared, and why.
var mysqlZeekExceptions = map[string]string{}

func TestMySQLCorpusDump(t *testing.T) {
	if os.Getenv("MYSQL_DUMP") == "" {
		t.Skip("set MYSQL_DUMP to a capture name substring to print its spans")
	}
	dir := sharedTestdata(t)
	for _, r := range mysqlRows(t, dir) {
		if !strings.Contains(r.path, os.Getenv("MYSQL_DUMP")) {
			continue
		}
		spans, errs := replayMySQL(t, filepath.Join(dir, r.path), r.port)
		t.Logf("%s: tshark=%d spans=%d parse_errors=%d", r.path, r.queries, len(spans), errs)
		for _, s := range spans {
			t.Logf("   %s %q %s %v", s.Status, s.Name, fmt.Sprint(s.Attributes), s.Links)
		}
	}
}
