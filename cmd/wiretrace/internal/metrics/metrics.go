package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/store"
)

// Source is the pipeline whose counters are exported; engine.Engine is
// one.
type Source interface {
	// EachStat calls f for each counter of the stats line.
	EachStat(f func(name string, v uint64))
	// EachParseError calls f with the parse errors of each protocol.
	EachParseError(f func(protocol string, v uint64))
	// PendingSpans returns the spans held in open traces.
	PendingSpans() int
}

// Config configures Metrics. The zero value of each field is its default.
type Config struct {
	// Source is read at each scrape, under Lock. Required.
	Source Source
	// Lock, when set, is held while Source is read.
	Lock sync.Locker
	// Extra counters (live capture, filter, store), read at each scrape
	// without Lock; each must be safe for concurrent use.
	Extra []func(f func(name string, v uint64))
	// Names names services for the duration histogram.
	Names store.Names
	// Buckets are the duration histogram's upper bounds in seconds;
	// nil means 100µs to 10s.
	Buckets []float64
	// MaxSeries bounds the (client service, server service, protocol)
	// series of the duration histogram: unnamed services are addresses, so
	// their number grows with the traffic. Beyond it, new pairs are counted
	// under client_service and server_service "other". 0 means 2000.
	MaxSeries int
}

// DefaultBuckets are the request duration buckets, in seconds.
var DefaultBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// gauges are the stats-line values that are current values, not counts.
var gauges = map[string]bool{
	"tcp_conns_active":   true,
	"tcp_buffered_bytes": true,
	"live_ring_version":  true,
	"store_traces":       true,
	"store_spans":        true,
}

// Metrics holds the registry.
type Metrics struct {
	cfg      Config
	reg      *prometheus.Registry
	spans    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	overflow prometheus.Counter
	series   map[[3]string]struct{} // duration series seen; written by the sink only
}

// New returns Metrics registered on a new registry.
func New(cfg *Config) *Metrics {
	m := &Metrics{cfg: *cfg, reg: prometheus.NewRegistry(), series: map[[3]string]struct{}{}}
	if m.cfg.Buckets == nil {
		m.cfg.Buckets = DefaultBuckets
	}
	if m.cfg.MaxSeries <= 0 {
		m.cfg.MaxSeries = 2000
	}
	m.overflow = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wiretrace_metrics_series_overflow_total",
		Help: "Span durations counted under service \"other\" because MaxSeries duration series existed.",
	})
	m.spans = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wiretrace_protocol_spans_total",
		Help: "Spans emitted, by protocol and status.",
	}, []string{"protocol", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wiretrace_request_duration_seconds",
		Help:    "Duration of the spans that got a response (first request byte to last response byte), by client service, server service and protocol.",
		Buckets: m.cfg.Buckets,
	}, []string{"client_service", "server_service", "protocol"})
	m.reg.MustRegister(m.spans, m.duration, m.overflow, &collector{m: m})
	return m
}

// Registry returns the registry, to add more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Sink returns a correlate.Sink that counts the spans of each trace, then
// passes the trace to next.
func (m *Metrics) Sink(next correlate.Sink) correlate.Sink { return &sink{m: m, next: next} }

type sink struct {
	m    *Metrics
	next correlate.Sink
}

func (s *sink) WriteTrace(t *correlate.Trace) error {
	for _, sp := range t.Spans {
		s.m.spans.WithLabelValues(sp.Protocol, sp.Status).Inc()
		if sp.HasResponse {
			n := s.m.cfg.Names
			key := [3]string{n.Client(sp), n.Server(sp), sp.Protocol}
			if _, ok := s.m.series[key]; !ok {
				if len(s.m.series) >= s.m.cfg.MaxSeries {
					s.m.overflow.Inc()
					key[0], key[1] = "other", "other"
				}
				s.m.series[key] = struct{}{}
			}
			s.m.duration.WithLabelValues(key[0], key[1], key[2]).Observe(float64(sp.Duration()) / 1e9)
		}
	}
	return s.next.WriteTrace(t)
}

func (s *sink) Close() error { return s.next.Close() }

// collector reads the pipeline's counters at scrape time.
type collector struct{ m *Metrics }

var (
	parseErrDesc = prometheus.NewDesc("wiretrace_protocol_parse_errors_total", "Flows stopped (TCP) or datagrams dropped (UDP) by a parse error, by protocol.", []string{"protocol"}, nil)
	pendingDesc  = prometheus.NewDesc("wiretrace_pending_spans", "Spans held in open traces, not yet emitted.", nil, nil)
)

// Describe sends nothing: the stats-line counters are only known at
// scrape time, which makes this an unchecked collector.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	emit := func(name string, v uint64) {
		if gauges[name] {
			ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("wiretrace_"+name, "Stats line value "+name+".", nil, nil), prometheus.GaugeValue, float64(v))
			return
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("wiretrace_"+name+"_total", "Stats line counter "+name+".", nil, nil), prometheus.CounterValue, float64(v))
	}
	cfg := &c.m.cfg
	if cfg.Lock != nil {
		cfg.Lock.Lock()
	}
	cfg.Source.EachStat(emit)
	cfg.Source.EachParseError(func(p string, v uint64) {
		ch <- prometheus.MustNewConstMetric(parseErrDesc, prometheus.CounterValue, float64(v), p)
	})
	pending := cfg.Source.PendingSpans()
	if cfg.Lock != nil {
		cfg.Lock.Unlock()
	}
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(pending))
	for _, x := range cfg.Extra {
		x(emit)
	}
}
