package metrics_test

import (
	"bufio"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/metrics"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/store"
)

type discard struct{}

func (discard) WriteTrace(*correlate.Trace) error { return nil }
func (discard) Close() error                      { return nil }

// scrape returns the samples of /metrics, "name{labels}" → value.
func scrape(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

func replayDemo(t *testing.T, m **metrics.Metrics, names store.Names) *engine.Engine {
	t.Helper()
	var mu sync.Mutex
	var eng *engine.Engine
	src := &lateSource{eng: &eng}
	*m = metrics.New(&metrics.Config{Source: src, Lock: &mu, Names: names,
		Extra: []func(func(string, uint64)){func(f func(string, uint64)) { f("live_kernel_drops", 7); f("live_ring_version", 1) }}})
	eng = engine.New(nil, (*m).Sink(discard{}))
	f, err := capture.OpenFile(filepath.Join("..", "..", "..", "..", "testdata", "demo.pcap"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	eng.Run(f, func(err error) { t.Error(err) })
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	return eng
}

// lateSource lets the engine be built after the metrics (its sink).
type lateSource struct{ eng **engine.Engine }

func (l *lateSource) EachStat(f func(string, uint64))       { (*l.eng).EachStat(f) }
func (l *lateSource) EachParseError(f func(string, uint64)) { (*l.eng).EachParseError(f) }
func (l *lateSource) PendingSpans() int                     { return (*l.eng).PendingSpans() }

// TestScrapeMatchesStatsLine replays demo.pcap and checks that every
// counter of the stats line is exported with its value.
func TestScrapeMatchesStatsLine(t *testing.T) {
	var m *metrics.Metrics
	eng := replayDemo(t, &m, store.Names{"10.231.7.3:8080": "orders"})
	got := scrape(t, m)
	n := 0
	for _, kv := range strings.Fields(eng.StatsLine()) {
		name, val, _ := strings.Cut(kv, "=")
		want, _ := strconv.ParseFloat(val, 64)
		metric := "wiretrace_" + name + "_total"
		if name == "tcp_conns_active" || name == "tcp_buffered_bytes" {
			metric = "wiretrace_" + name
		}
		v, ok := got[metric]
		if !ok || v != want {
			t.Errorf("%s = %v (present %v), stats line says %v", metric, v, ok, want)
		}
		n++
	}
	if n < 40 {
		t.Errorf("only %d counters on the stats line", n)
	}
	want := map[string]float64{
		"wiretrace_packets_total":                                        56,
		"wiretrace_bytes_total":                                          7414,
		"wiretrace_spans_total":                                          9,
		"wiretrace_pending_spans":                                        0,
		"wiretrace_live_kernel_drops_total":                              7,
		"wiretrace_live_ring_version":                                    1,
		`wiretrace_protocol_spans_total{protocol="http",status="ok"}`:    6,
		`wiretrace_protocol_spans_total{protocol="http",status="error"}`: 3,
		`wiretrace_request_duration_seconds_count{client_service="10.231.7.2",protocol="http",server_service="orders"}`:                    3,
		`wiretrace_request_duration_seconds_count{client_service="10.231.7.3",protocol="http",server_service="10.231.7.4:9090"}`:           3,
		`wiretrace_request_duration_seconds_bucket{client_service="10.231.7.1",protocol="http",server_service="10.231.7.2:80",le="0.001"}`: 2,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v", k, got[k], w)
		}
	}
	var parseErrs []string
	for k := range got {
		if strings.HasPrefix(k, "wiretrace_protocol_parse_errors_total") {
			parseErrs = append(parseErrs, k)
		}
	}
	if diff := cmp.Diff([]string(nil), parseErrs); diff != "" {
		t.Errorf("parse errors on a clean capture (-want +got):\n%s", diff)
	}
}

// TestSeriesBound checks that the duration histogram's series stay within
// MaxSeries however many addresses the traffic has: the rest are counted
// under "other".
func TestSeriesBound(t *testing.T) {
	m := metrics.New(&metrics.Config{Source: idleSource{}, MaxSeries: 2})
	sink := m.Sink(discard{})
	var spans []*correlate.Span
	for i := 0; i < 50; i++ {
		sp := &correlate.Span{Protocol: "http", Status: "ok", HasResponse: true, StartNS: 0, EndNS: 1000,
			ClientAddr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 40000),
			ServerAddr: netip.MustParseAddrPort("10.0.0.2:80"), Side: "network"}
		spans = append(spans, sp)
	}
	if err := sink.WriteTrace(&correlate.Trace{ID: "t", Spans: spans}); err != nil {
		t.Fatal(err)
	}
	series := 0
	var other, overflow float64
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "wiretrace_request_duration_seconds_count{"):
			series++
			if strings.Contains(line, `client_service="other"`) {
				other, _ = strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			}
		case strings.HasPrefix(line, "wiretrace_metrics_series_overflow_total "):
			overflow, _ = strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		}
	}
	if series != 3 || other != 48 || overflow != 48 {
		t.Errorf("%d series, %v under other, overflow %v; want 3, 48, 48", series, other, overflow)
	}
}

// idleSource is a pipeline with nothing to report.
type idleSource struct{}

func (idleSource) EachStat(func(string, uint64))       {}
func (idleSource) EachParseError(func(string, uint64)) {}
func (idleSource) PendingSpans() int                   { return 0 }
