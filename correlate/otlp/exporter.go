package otlp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wiretrace/wiretrace/correlate"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
)

// Config configures an Exporter. The zero value of each field is its
// default; Endpoint is required.
type Config struct {
	// Endpoint is the receiver: grpc://host:port (OTLP/gRPC, TLS unless
	// Insecure), grpcs://host:port (gRPC with TLS), http://host:port[/path]
	// (OTLP/HTTP, plaintext) or https://host:port[/path] (OTLP/HTTP with
	// TLS). The HTTP path defaults to /v1/traces; a missing port to 4317
	// (gRPC) or 4318 (HTTP).
	Endpoint string
	// Protocol overrides the scheme's transport: "grpc" or
	// "http/protobuf" (as OTEL_EXPORTER_OTLP_PROTOCOL).
	Protocol string
	// Headers are sent with every request (gRPC metadata or HTTP headers),
	// e.g. an authorization token.
	Headers map[string]string
	// Insecure sends gRPC in plaintext (for a loopback collector). HTTP
	// follows the scheme.
	Insecure bool
	// TLS is the TLS configuration; nil verifies against the system roots.
	TLS *tls.Config
	// ServiceNames maps "ip" or "ip:port" to a service.name; see the
	// package doc for the fallback.
	ServiceNames map[string]string

	// MaxBatchSpans is the most spans in one request; default 512.
	MaxBatchSpans int
	// MaxDelay is how long the first queued span waits for its batch to
	// fill; default 1s.
	MaxDelay time.Duration
	// MaxQueueSpans bounds the spans waiting to be sent; more are dropped.
	// Default 16384.
	MaxQueueSpans int
	// Timeout bounds one request; default 10s.
	Timeout time.Duration
	// RetryInitial is the first backoff; default 250ms. It doubles on each
	// retry up to RetryMax (default 5s), with ±25% jitter.
	RetryInitial time.Duration
	// RetryMax caps the backoff; default 5s.
	RetryMax time.Duration
	// RetryBudget is the most time a batch may spend in retries before it
	// is dropped; default 30s.
	RetryBudget time.Duration
	// CloseTimeout bounds the final flush in Close; default 10s.
	CloseTimeout time.Duration
	// Logger receives lifecycle events and failures; nil discards.
	Logger *slog.Logger
}

func (c *Config) withDefaults() Config {
	var d Config
	if c != nil {
		d = *c
	}
	def := func(v *time.Duration, x time.Duration) {
		if *v <= 0 {
			*v = x
		}
	}
	if d.MaxBatchSpans <= 0 {
		d.MaxBatchSpans = 512
	}
	if d.MaxQueueSpans <= 0 {
		d.MaxQueueSpans = 16384
	}
	def(&d.MaxDelay, time.Second)
	def(&d.Timeout, 10*time.Second)
	def(&d.RetryInitial, 250*time.Millisecond)
	def(&d.RetryMax, 5*time.Second)
	def(&d.RetryBudget, 30*time.Second)
	def(&d.CloseTimeout, 10*time.Second)
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

// Stats counts what the exporter did.
type Stats struct {
	SpansSent      uint64 // spans the receiver accepted
	SpansDropped   uint64 // spans given up on: queue full, failure, rejected, close timeout
	RequestsFailed uint64 // export attempts that failed (each retry counts)
	Retries        uint64 // attempts after a retryable failure
}

// Each calls f for each counter, in a fixed order.
func (s *Stats) Each(f func(name string, v uint64)) {
	f("otlp_spans_sent", s.SpansSent)
	f("otlp_spans_dropped", s.SpansDropped)
	f("otlp_requests_failed", s.RequestsFailed)
	f("otlp_retries", s.Retries)
}

// Exporter is a correlate.Sink that sends spans to an OTLP receiver.
type Exporter struct {
	cfg   Config
	names names
	tr    transport

	ctx    context.Context // cancelled when Close gives up
	cancel context.CancelFunc
	wake   chan struct{} // cap 1: the queue changed or Close began
	done   chan struct{} // closed when the goroutine ends

	mu      sync.Mutex
	queue   []item
	firstAt time.Time // when the oldest queued span arrived
	closing bool
	lastErr error

	closeOnce sync.Once
	closed    error // Close's result

	sent, dropped, failed, retries atomic.Uint64
}

var _ correlate.Sink = (*Exporter)(nil)

// Open validates cfg, prepares the transport (gRPC connects lazily, so an
// absent collector is not an error here) and starts the sending goroutine.
func Open(cfg *Config) (*Exporter, error) {
	c := cfg.withDefaults()
	if c.Endpoint == "" {
		return nil, errors.New("otlp: no endpoint")
	}
	t, err := parseEndpoint(c.Endpoint, c.Protocol, c.Insecure)
	if err != nil {
		return nil, err
	}
	n, err := parseNames(c.ServiceNames)
	if err != nil {
		return nil, err
	}
	var tr transport
	if t.protocol == ProtocolGRPC {
		if tr, err = newGRPC(t, c.TLS, c.Headers); err != nil {
			return nil, err
		}
	} else {
		tr = newHTTP(t, c.TLS, c.Headers)
	}
	return start(c, n, tr), nil
}

func start(c Config, n names, tr transport) *Exporter {
	ctx, cancel := context.WithCancel(context.Background())
	e := &Exporter{
		cfg: c, names: n, tr: tr, ctx: ctx, cancel: cancel,
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
	c.Logger.Info("otlp exporter started", "endpoint", c.Endpoint)
	go e.run()
	return e
}

// WriteTrace converts the trace's spans and queues them; spans that do not
// fit in the queue are dropped and counted, not reported as an error. A
// span whose ids are not valid hex is dropped and counted too, and the
// error names it (the trace's other spans are still queued). After Close,
// WriteTrace drops the trace and returns an error.
func (e *Exporter) WriteTrace(t *correlate.Trace) error {
	items := make([]item, 0, len(t.Spans))
	var bad error
	for _, s := range t.Spans {
		it, err := e.names.convertSpan(s)
		if err != nil {
			e.dropped.Add(1)
			bad = err
			continue
		}
		items = append(items, it)
	}
	e.mu.Lock()
	if e.closing {
		e.mu.Unlock()
		e.dropped.Add(uint64(len(items)))
		return fmt.Errorf("otlp: trace %s: exporter closed", t.ID)
	}
	room := e.cfg.MaxQueueSpans - len(e.queue)
	if len(items) > room {
		e.dropped.Add(uint64(len(items) - max(room, 0)))
		items = items[:max(room, 0)]
	}
	if len(items) > 0 {
		if len(e.queue) == 0 {
			e.firstAt = time.Now()
		}
		e.queue = append(e.queue, items...)
	}
	e.mu.Unlock()
	e.signal()
	return bad
}

func (e *Exporter) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Stats returns a snapshot of the counters. It is safe to call at any time.
func (e *Exporter) Stats() Stats {
	return Stats{
		SpansSent:      e.sent.Load(),
		SpansDropped:   e.dropped.Load(),
		RequestsFailed: e.failed.Load(),
		Retries:        e.retries.Load(),
	}
}

// Close stops accepting spans, sends what is queued within
// Config.CloseTimeout, drops the rest and waits for the goroutine. It
// returns an error when any span was dropped, naming the last failure.
// Close is idempotent.
func (e *Exporter) Close() error {
	e.closeOnce.Do(func() { e.closed = e.close() })
	return e.closed
}

func (e *Exporter) close() error {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()
	e.signal()
	timer := time.NewTimer(e.cfg.CloseTimeout)
	prefix := "otlp: "
	select {
	case <-e.done:
		timer.Stop()
	case <-timer.C:
		e.cfg.Logger.Warn("otlp close timed out; dropping what is left", "timeout", e.cfg.CloseTimeout)
		prefix = fmt.Sprintf("otlp: close: flush timed out after %v: ", e.cfg.CloseTimeout)
		e.cancel()
		<-e.done
	}
	e.cancel()
	terr := e.tr.close()
	st := e.Stats()
	e.cfg.Logger.Info("otlp exporter closed", "spans_sent", st.SpansSent, "spans_dropped", st.SpansDropped)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case st.SpansDropped > 0 && e.lastErr != nil:
		return fmt.Errorf("%s%d of %d spans dropped (last error: %v)", prefix, st.SpansDropped, st.SpansDropped+st.SpansSent, e.lastErr)
	case st.SpansDropped > 0:
		return fmt.Errorf("%s%d of %d spans dropped", prefix, st.SpansDropped, st.SpansDropped+st.SpansSent)
	case terr != nil:
		return fmt.Errorf("otlp: close: %w", terr)
	}
	return nil
}

func (e *Exporter) setErr(err error) {
	e.mu.Lock()
	e.lastErr = err
	e.mu.Unlock()
}

// run sends batches until Close; see the package doc.
func (e *Exporter) run() {
	defer close(e.done)
	for {
		batch, ok := e.next()
		if !ok {
			return
		}
		e.send(batch)
	}
}

// next waits for a full batch, an expired delay or Close, and takes up to
// MaxBatchSpans spans. It returns false when there is nothing more to do.
func (e *Exporter) next() ([]item, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		if e.ctx.Err() != nil {
			e.dropped.Add(uint64(len(e.queue)))
			e.queue = nil
			return nil, false
		}
		n := len(e.queue)
		if n >= e.cfg.MaxBatchSpans || (n > 0 && (e.closing || time.Since(e.firstAt) >= e.cfg.MaxDelay)) {
			k := min(n, e.cfg.MaxBatchSpans)
			batch := make([]item, k)
			copy(batch, e.queue)
			rest := copy(e.queue, e.queue[k:])
			clear(e.queue[rest:])
			e.queue = e.queue[:rest]
			if rest > 0 {
				e.firstAt = time.Now()
			}
			return batch, true
		}
		if n == 0 && e.closing {
			return nil, false
		}
		var expire <-chan time.Time
		var timer *time.Timer
		if n > 0 {
			timer = time.NewTimer(e.cfg.MaxDelay - time.Since(e.firstAt))
			expire = timer.C
		}
		e.mu.Unlock()
		select {
		case <-e.wake:
		case <-expire:
		case <-e.ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		e.mu.Lock()
	}
}

// send exports one batch, retrying retryable failures within the budget.
func (e *Exporter) send(batch []item) {
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: resourceSpans(batch)}
	n := uint64(len(batch))
	start := time.Now()
	backoff := e.cfg.RetryInitial
	for {
		ctx, cancel := context.WithTimeout(e.ctx, e.cfg.Timeout)
		rejected, err := e.tr.export(ctx, req)
		cancel()
		if err == nil {
			r := min(uint64(max(rejected, 0)), n)
			e.sent.Add(n - r)
			if r > 0 {
				e.dropped.Add(r)
				e.setErr(fmt.Errorf("otlp: receiver rejected %d spans", r))
			}
			return
		}
		if e.ctx.Err() != nil {
			// Close gave up: the attempt was cut short, not refused.
			e.dropped.Add(n)
			return
		}
		e.failed.Add(1)
		e.setErr(err)
		retry, after := retryable(err)
		delay := max(jitter(backoff), after)
		if !retry || time.Since(start)+delay > e.cfg.RetryBudget {
			e.cfg.Logger.Warn("otlp export failed; dropping batch", "spans", n, "retryable", retry, "err", err)
			e.dropped.Add(n)
			return
		}
		e.cfg.Logger.Debug("otlp export failed; retrying", "spans", n, "delay", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-e.ctx.Done():
			t.Stop()
			e.dropped.Add(n)
			return
		}
		e.retries.Add(1)
		backoff = min(2*backoff, e.cfg.RetryMax)
	}
}

// jitter spreads d by ±25% so that many exporters do not retry in step.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	q := int64(d) / 4
	if q == 0 {
		return d
	}
	return d - time.Duration(q) + time.Duration(rand.Int64N(2*q+1))
}
