package otlp_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/otlp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// demoTrace is a three-hop trace: a network span, a server span and a
// client span, one of them an error.
func demoTrace() *correlate.Trace {
	const tid = "9a1eba409747ad59acdd23798022154d"
	ap := netip.MustParseAddrPort
	return &correlate.Trace{ID: tid, Spans: []*correlate.Span{
		{
			TraceID: tid, SpanID: "18d5892f83f5418c", Protocol: "http", Name: "GET /api/orders/42",
			Side: correlate.SideNetwork, StartNS: 1795597076880182000, EndNS: 1795597076882384000,
			Client: correlate.Endpoint{IP: "10.231.7.1", Port: 39546}, Server: correlate.Endpoint{IP: "10.231.7.2", Port: 80},
			ClientAddr: ap("10.231.7.1:39546"), ServerAddr: ap("10.231.7.2:80"),
			Capture: "demo.pcap", Status: correlate.StatusOK,
			Attributes: map[string]any{"http.request.method": "GET", "http.response.status_code": 200, "server.address": "api.local"},
			Links:      map[string]string{"x_request_id": tid},
		},
		{
			TraceID: tid, SpanID: "bf6fa25a2e4adb61", ParentSpanID: "18d5892f83f5418c", Protocol: "http", Name: "GET /api/orders/42",
			Side: correlate.SideServer, StartNS: 1795597076881352000, EndNS: 1795597076882284000,
			// Only the span-format endpoints: the exporter parses them.
			Client: correlate.Endpoint{IP: "10.231.7.2", Port: 45998}, Server: correlate.Endpoint{IP: "10.231.7.3", Port: 8080},
			Capture: "eth0", Status: correlate.StatusError, LinkReason: correlate.ReasonXRequestID,
			Attributes: map[string]any{"http.response.status_code": int64(502), "http.request.body.size": uint32(7)},
			Links:      map[string]string{"x_request_id": tid},
		},
		{
			TraceID: tid, SpanID: "c57759c12ac5271a", ParentSpanID: "bf6fa25a2e4adb61", Protocol: "redis", Name: "GET",
			Side: correlate.SideClient, StartNS: 1795597076881918000, EndNS: 1795597076881918000,
			ClientAddr: ap("10.231.7.3:48960"), ServerAddr: ap("10.231.7.4:6379"),
			Client: correlate.Endpoint{IP: "10.231.7.3", Port: 48960}, Server: correlate.Endpoint{IP: "10.231.7.4", Port: 6379},
			Capture: "eth0", Status: correlate.StatusTimeout, LinkReason: correlate.ReasonTiming,
			Attributes: map[string]any{"db.system.name": "redis", "ratio": 0.5, "cached": true},
		},
	}}
}

// flat is the part of an exported span the tests compare.
type flat struct {
	Service, TraceID, SpanID, Parent, Name, Kind, Status, Message string
	Start, End                                                    uint64
	Attrs                                                         map[string]string // value as "type:value"
}

func flatten(reqs []*coltracepb.ExportTraceServiceRequest) []flat {
	var out []flat
	for _, r := range reqs {
		for _, rs := range r.GetResourceSpans() {
			svc := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					svc = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					f := flat{
						Service: svc, TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
						Parent: hex.EncodeToString(s.GetParentSpanId()), Name: s.GetName(), Kind: s.GetKind().String(),
						Status: s.GetStatus().GetCode().String(), Message: s.GetStatus().GetMessage(),
						Start: s.GetStartTimeUnixNano(), End: s.GetEndTimeUnixNano(), Attrs: map[string]string{},
					}
					for _, a := range s.GetAttributes() {
						f.Attrs[a.GetKey()] = typed(a.GetValue())
					}
					out = append(out, f)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}

func typed(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return "string:" + x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprintf("int:%d", x.IntValue)
	case *commonpb.AnyValue_BoolValue:
		return fmt.Sprintf("bool:%v", x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return fmt.Sprintf("double:%v", x.DoubleValue)
	}
	return fmt.Sprintf("other:%v", v)
}

func wantDemo() []flat {
	const tid = "9a1eba409747ad59acdd23798022154d"
	return []flat{
		{
			Service: "api", TraceID: tid, SpanID: "18d5892f83f5418c", Name: "GET /api/orders/42",
			Kind: "SPAN_KIND_SERVER", Status: "STATUS_CODE_UNSET", Start: 1795597076880182000, End: 1795597076882384000,
			Attrs: map[string]string{
				"http.request.method": "string:GET", "http.response.status_code": "int:200", "server.address": "string:api.local",
				"server.port": "int:80", "client.address": "string:10.231.7.1", "client.port": "int:39546",
				"network.peer.address": "string:10.231.7.1", "network.peer.port": "int:39546",
				"wiretrace.protocol": "string:http", "wiretrace.side": "string:network", "wiretrace.status": "string:ok",
				"wiretrace.capture": "string:demo.pcap", "wiretrace.link.x_request_id": "string:" + tid,
			},
		},
		{
			Service: "orders", TraceID: tid, SpanID: "bf6fa25a2e4adb61", Parent: "18d5892f83f5418c", Name: "GET /api/orders/42",
			Kind: "SPAN_KIND_SERVER", Status: "STATUS_CODE_ERROR", Message: "error http.response.status_code=502",
			Start: 1795597076881352000, End: 1795597076882284000,
			Attrs: map[string]string{
				"http.response.status_code": "int:502", "http.request.body.size": "int:7",
				"server.address": "string:10.231.7.3", "server.port": "int:8080", "client.address": "string:10.231.7.2", "client.port": "int:45998",
				"network.peer.address": "string:10.231.7.2", "network.peer.port": "int:45998",
				"wiretrace.protocol": "string:http", "wiretrace.side": "string:server", "wiretrace.status": "string:error",
				"wiretrace.capture": "string:eth0", "wiretrace.link_reason": "string:x_request_id", "wiretrace.link.x_request_id": "string:" + tid,
			},
		},
		{
			Service: "10.231.7.3", TraceID: tid, SpanID: "c57759c12ac5271a", Parent: "bf6fa25a2e4adb61", Name: "GET",
			Kind: "SPAN_KIND_CLIENT", Status: "STATUS_CODE_ERROR", Message: "timeout: no response seen",
			Start: 1795597076881918000, End: 1795597076881918000,
			Attrs: map[string]string{
				"db.system.name": "string:redis", "ratio": "double:0.5", "cached": "bool:true",
				"server.address": "string:10.231.7.4", "server.port": "int:6379", "client.address": "string:10.231.7.3", "client.port": "int:48960",
				"network.peer.address": "string:10.231.7.4", "network.peer.port": "int:6379", "peer.service": "string:cache",
				"wiretrace.protocol": "string:redis", "wiretrace.side": "string:client", "wiretrace.status": "string:timeout",
				"wiretrace.capture": "string:eth0", "wiretrace.link_reason": "string:timing",
			},
		},
	}
}

var demoNames = map[string]string{"10.231.7.2": "api", "10.231.7.3:8080": "orders", "10.231.7.4:6379": "cache"}

// fakeGRPC is an OTLP/gRPC receiver that fails the first failN calls with
// code.
type fakeGRPC struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	reqs  []*coltracepb.ExportTraceServiceRequest
	md    []metadata.MD
	calls atomic.Int32
	failN int32
	code  codes.Code
}

func (f *fakeGRPC) Export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	if f.calls.Add(1) <= f.failN {
		return nil, status.Error(f.code, "fake failure")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.md = append(f.md, md)
	f.mu.Unlock()
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (f *fakeGRPC) requests() []*coltracepb.ExportTraceServiceRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*coltracepb.ExportTraceServiceRequest(nil), f.reqs...)
}

func startGRPC(t *testing.T, f *fakeGRPC) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, f)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return "grpc://" + ln.Addr().String()
}

// fast is a Config with short delays for tests.
func fast(endpoint string) *otlp.Config {
	return &otlp.Config{
		Endpoint: endpoint, Insecure: true, ServiceNames: demoNames,
		MaxDelay: 10 * time.Millisecond, Timeout: 2 * time.Second,
		RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond, RetryBudget: 5 * time.Second,
		CloseTimeout: 10 * time.Second,
	}
}

func statsMap(e *otlp.Exporter) map[string]uint64 {
	m := map[string]uint64{}
	st := e.Stats()
	st.Each(func(n string, v uint64) { m[n] = v })
	return m
}

func counters(sent, dropped, failed, retries uint64) map[string]uint64 {
	return map[string]uint64{"otlp_spans_sent": sent, "otlp_spans_dropped": dropped, "otlp_requests_failed": failed, "otlp_retries": retries}
}

func TestGRPC(t *testing.T) {
	f := &fakeGRPC{}
	cfg := fast(startGRPC(t, f))
	cfg.Headers = map[string]string{"Authorization": "Bearer x"}
	e, err := otlp.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WriteTrace(demoTrace()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantDemo(), flatten(f.requests())); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counters(3, 0, 0, 0), statsMap(e)); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if got := f.md[0].Get("authorization"); len(got) != 1 || got[0] != "Bearer x" {
		t.Errorf("authorization metadata = %q", got)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := e.WriteTrace(demoTrace()); err == nil {
		t.Error("WriteTrace after Close: no error")
	}
}

// fakeHTTP is an OTLP/HTTP receiver; fail decides each call's failure.
type fakeHTTP struct {
	mu      sync.Mutex
	reqs    []*coltracepb.ExportTraceServiceRequest
	headers []http.Header
	calls   atomic.Int32
	fail    func(call int32, w http.ResponseWriter) bool
	gate    chan struct{} // when set, each call waits for it
}

func (f *fakeHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.calls.Add(1)
	if f.gate != nil {
		<-f.gate
	}
	if f.fail != nil && f.fail(n, w) {
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "bad request "+r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"), http.StatusBadRequest)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, &req)
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Write(out)
}

func startHTTP(t *testing.T, f *fakeHTTP) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHTTP(t *testing.T) {
	f := &fakeHTTP{}
	cfg := fast(startHTTP(t, f))
	cfg.Headers = map[string]string{"X-Tenant": "blue"}
	e, err := otlp.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WriteTrace(demoTrace()); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantDemo(), flatten(f.reqs)); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(counters(3, 0, 0, 0), statsMap(e)); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if got := f.headers[0].Get("X-Tenant"); got != "blue" {
		t.Errorf("X-Tenant = %q", got)
	}
}

func TestRetry(t *testing.T) {
	status503 := func(n int32, w http.ResponseWriter) bool {
		if n > 2 {
			return false
		}
		w.Header().Set("Retry-After", "0")
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return true
	}
	status400 := func(n int32, w http.ResponseWriter) bool {
		http.Error(w, "malformed", http.StatusBadRequest)
		return true
	}
	tests := []struct {
		name     string
		endpoint func(t *testing.T) string
		want     map[string]uint64
		wantErr  string
	}{
		{"grpc unavailable twice", func(t *testing.T) string {
			return startGRPC(t, &fakeGRPC{failN: 2, code: codes.Unavailable})
		}, counters(3, 0, 2, 2), ""},
		{"grpc invalid argument", func(t *testing.T) string {
			return startGRPC(t, &fakeGRPC{failN: 1, code: codes.InvalidArgument})
		}, counters(0, 3, 1, 0), "InvalidArgument"},
		{"http 503 twice", func(t *testing.T) string {
			return startHTTP(t, &fakeHTTP{fail: status503})
		}, counters(3, 0, 2, 2), ""},
		{"http 400", func(t *testing.T) string {
			return startHTTP(t, &fakeHTTP{fail: status400})
		}, counters(0, 3, 1, 0), "400 Bad Request: malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := otlp.Open(fast(tt.endpoint(t)))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.WriteTrace(demoTrace()); err != nil {
				t.Fatal(err)
			}
			err = e.Close()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Close = %v, want error containing %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, statsMap(e)); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCollectorDown: nothing listens, so every attempt fails until the
// retry budget is spent; the batch is dropped and counted.
func TestCollectorDown(t *testing.T) {
	for _, scheme := range []string{"grpc", "http"} {
		t.Run(scheme, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			cfg := fast(scheme + "://" + addr)
			cfg.RetryBudget = 100 * time.Millisecond
			e, err := otlp.Open(cfg)
			if err != nil {
				t.Fatal(err)
			}
			e.WriteTrace(demoTrace())
			if err := e.Close(); err == nil || !strings.Contains(err.Error(), "3 of 3 spans dropped") {
				t.Errorf("Close = %v, want 3 of 3 spans dropped", err)
			}
			st := e.Stats()
			if st.SpansSent != 0 || st.SpansDropped != 3 || st.RequestsFailed < 2 || st.Retries != st.RequestsFailed-1 {
				t.Errorf("stats = %+v, want 3 dropped after retries", st)
			}
		})
	}
}

// TestQueueFull: the queue holds two spans; the rest of the trace is
// dropped at once.
func TestQueueFull(t *testing.T) {
	f := &fakeHTTP{gate: make(chan struct{})}
	cfg := fast(startHTTP(t, f))
	cfg.MaxQueueSpans = 2
	e, err := otlp.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.WriteTrace(demoTrace()); err != nil {
		t.Fatal(err)
	}
	if got := e.Stats().SpansDropped; got != 1 {
		t.Errorf("dropped after write = %d, want 1", got)
	}
	close(f.gate)
	if err := e.Close(); err == nil {
		t.Error("Close: no error for dropped spans")
	}
	if diff := cmp.Diff(counters(2, 1, 0, 0), statsMap(e)); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

// TestBatching: with MaxBatchSpans 2 and a long delay, five spans go as
// 2+2 at once and the last one at Close.
func TestBatching(t *testing.T) {
	f := &fakeGRPC{}
	cfg := fast(startGRPC(t, f))
	cfg.MaxBatchSpans = 2
	cfg.MaxDelay = time.Hour
	e, err := otlp.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := demoTrace()
	more := demoTrace()
	tr.Spans = append(tr.Spans, more.Spans[:2]...)
	if err := e.WriteTrace(tr); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, r := range f.requests() {
		sizes = append(sizes, len(flatten([]*coltracepb.ExportTraceServiceRequest{r})))
	}
	if diff := cmp.Diff([]int{2, 2, 1}, sizes); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
}

// TestCloseTimeout: a receiver that never answers; Close gives up after
// CloseTimeout and counts the spans dropped.
func TestCloseTimeout(t *testing.T) {
	f := &fakeHTTP{gate: make(chan struct{})}
	url := startHTTP(t, f)
	t.Cleanup(func() { close(f.gate) })
	cfg := fast(url)
	cfg.Timeout = time.Minute
	cfg.CloseTimeout = 100 * time.Millisecond
	e, err := otlp.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.WriteTrace(demoTrace())
	if err := e.Close(); err == nil || !strings.Contains(err.Error(), "flush timed out") {
		t.Errorf("Close = %v, want flush timed out", err)
	}
	if got := e.Stats().SpansDropped; got != 3 {
		t.Errorf("dropped = %d, want 3", got)
	}
}

func TestBadSpans(t *testing.T) {
	f := &fakeGRPC{}
	e, err := otlp.Open(fast(startGRPC(t, f)))
	if err != nil {
		t.Fatal(err)
	}
	tr := demoTrace()
	tr.Spans[1].SpanID = "xyz"
	if err := e.WriteTrace(tr); err == nil || !strings.Contains(err.Error(), "span id") {
		t.Errorf("WriteTrace = %v, want span id error", err)
	}
	e.Close()
	if diff := cmp.Diff(counters(2, 1, 0, 0), statsMap(e)); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     *otlp.Config
		wantErr string
	}{
		{"nil", nil, "otlp: no endpoint"},
		{"scheme", &otlp.Config{Endpoint: "ftp://x:1"}, `unknown scheme "ftp"`},
		{"no host", &otlp.Config{Endpoint: "localhost"}, "want grpc://host:port"},
		{"protocol", &otlp.Config{Endpoint: "http://x:1", Protocol: "thrift"}, `protocol "thrift"`},
		{"service key", &otlp.Config{Endpoint: "http://x:1", ServiceNames: map[string]string{"host": "a"}}, "key is not ip or ip:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := otlp.Open(tt.cfg)
			if err == nil {
				e.Close()
				t.Fatalf("Open: no error, want %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Open = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestKind(t *testing.T) {
	for side, want := range map[string]tracepb.Span_SpanKind{
		"client": tracepb.Span_SPAN_KIND_CLIENT, "server": tracepb.Span_SPAN_KIND_SERVER,
		"network": tracepb.Span_SPAN_KIND_SERVER, "": tracepb.Span_SPAN_KIND_UNSPECIFIED,
	} {
		if got := otlp.Kind(side); got != want {
			t.Errorf("Kind(%q) = %v, want %v", side, got, want)
		}
	}
}

// discard is a receiver that accepts everything.
type discard struct{}

func (discard) ServeHTTP(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }

// BenchmarkWriteTrace measures converting and queueing a three-span trace.
func BenchmarkWriteTrace(b *testing.B) {
	srv := httptest.NewServer(discard{})
	defer srv.Close()
	e, err := otlp.Open(&otlp.Config{Endpoint: srv.URL, MaxQueueSpans: 1 << 20, ServiceNames: demoNames})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	tr := demoTrace()
	b.ReportAllocs()
	for b.Loop() {
		if err := e.WriteTrace(tr); err != nil {
			b.Fatal(err)
		}
	}
}
