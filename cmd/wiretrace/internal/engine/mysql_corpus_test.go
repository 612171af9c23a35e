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

	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mysql"
)

var (
	mysqlQueriesRe  = regexp.MustCompile(`MySQL COM_QUERY=(\d+)`)
	mysqlDecodeAsRe = regexp.MustCompile("-d tcp.port==(\\d+),mysql")
	parseErrorsRe   = regexp.MustCompile(`\bparse_errors=(\d+)`)
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

// isQuerySpan reports whether a span is a COM_QUERY: it has SQL text and is
// not a prepared statement's PREPARE or EXECUTE.
func isQuerySpan(s *correlate.Span) bool {
	text, _ := s.Attributes["db.query.text"].(string)
	if s.Protocol != mysql.Name || text == "" {
		return s.Protocol == mysql.Name && s.Name == "QUERY"
	}
	if s.Name == "PREPARE" {
		return false
	}
	if strings.HasPrefix(s.Name, "EXECUTE") {
		return strings.HasPrefix(strings.ToUpper(strings.TrimSpace(text)), "EXECUTE")
	}
	return true
}

func TestMySQLCorpusDump(t *testing.T) {
	dir := sharedTestdata(t)
	for _, r := range mysqlRows(t, dir) {
		spans, errs := replayMySQL(t, filepath.Join(dir, r.path), r.port)
		q := 0
		for _, s := range spans {
			if isQuerySpan(s) {
				q++
			}
		}
		t.Logf("%-70s tshark=%d got=%d spans=%d parse_errors=%d", r.path, r.queries, q, len(spans), errs)
		if testing.Verbose() && strings.Contains(r.path, os.Getenv("MYSQL_DUMP")) && os.Getenv("MYSQL_DUMP") != "" {
			for _, s := range spans {
				t.Logf("   %s %q %s %v", s.Status, s.Name, fmt.Sprint(s.Attributes), s.Links)
			}
		}
	}
}
