package otlp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Protocols accepted in Config.Protocol.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// transport sends one export request. It returns the number of spans the
// receiver rejected (partial success).
type transport interface {
	export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (rejected int64, err error)
	close() error
}

// exportError is a failed export attempt.
type exportError struct {
	err        error
	retryable  bool
	retryAfter time.Duration // the server's requested delay, 0 if none
}

func (e *exportError) Error() string { return e.err.Error() }
func (e *exportError) Unwrap() error { return e.err }

// target is a parsed endpoint.
type target struct {
	protocol string
	host     string // host:port
	url      string // HTTP only: full URL of the traces path
	tls      bool
}

// parseEndpoint reads "grpc://host:port", "grpcs://host:port",
// "http://host:port[/path]" or "https://host:port[/path]"; protocol, when
// set, overrides the scheme's choice of transport.
func parseEndpoint(endpoint, protocol string, plaintext bool) (target, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return target{}, fmt.Errorf("otlp: endpoint %q: want grpc://host:port or http(s)://host:port", endpoint)
	}
	var t target
	switch u.Scheme {
	case "grpc":
		t = target{protocol: ProtocolGRPC, tls: !plaintext}
	case "grpcs":
		t = target{protocol: ProtocolGRPC, tls: true}
	case "http":
		t = target{protocol: ProtocolHTTP}
	case "https":
		t = target{protocol: ProtocolHTTP, tls: true}
	default:
		return target{}, fmt.Errorf("otlp: endpoint %q: unknown scheme %q (want grpc, grpcs, http or https)", endpoint, u.Scheme)
	}
	switch protocol {
	case "":
	case ProtocolGRPC, ProtocolHTTP:
		t.protocol = protocol
		if plaintext {
			t.tls = false
		}
	default:
		return target{}, fmt.Errorf("otlp: protocol %q: want %s or %s", protocol, ProtocolGRPC, ProtocolHTTP)
	}
	t.host = u.Host
	if u.Port() == "" {
		port := "4318"
		if t.protocol == ProtocolGRPC {
			port = "4317"
		}
		t.host = u.Host + ":" + port
	}
	if t.protocol == ProtocolHTTP {
		scheme := "http"
		if t.tls {
			scheme = "https"
		}
		path := u.Path
		if path == "" || path == "/" {
			path = "/v1/traces"
		}
		t.url = scheme + "://" + t.host + path
	}
	return t, nil
}

// grpcTransport is OTLP/gRPC: TraceService/Export.
type grpcTransport struct {
	conn    *grpc.ClientConn
	client  coltracepb.TraceServiceClient
	headers metadata.MD
}

func newGRPC(t target, tlsCfg *tls.Config, headers map[string]string) (*grpcTransport, error) {
	creds := insecure.NewCredentials()
	if t.tls {
		if tlsCfg == nil {
			tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		creds = credentials.NewTLS(tlsCfg)
	}
	conn, err := grpc.NewClient(t.host, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("otlp: grpc %s: %w", t.host, err)
	}
	md := metadata.MD{}
	for k, v := range headers {
		md.Append(strings.ToLower(k), v)
	}
	return &grpcTransport{conn: conn, client: coltracepb.NewTraceServiceClient(conn), headers: md}, nil
}

func (g *grpcTransport) export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (int64, error) {
	if len(g.headers) > 0 {
		ctx = metadata.NewOutgoingContext(ctx, g.headers)
	}
	resp, err := g.client.Export(ctx, req)
	if err != nil {
		st := status.Convert(err)
		e := &exportError{err: fmt.Errorf("otlp: grpc export: %w", err)}
		switch st.Code() {
		case codes.Canceled, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted,
			codes.OutOfRange, codes.Unavailable, codes.DataLoss:
			e.retryable = true
		}
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
				e.retryAfter = ri.GetRetryDelay().AsDuration()
			}
		}
		return 0, e
	}
	return resp.GetPartialSuccess().GetRejectedSpans(), nil
}

func (g *grpcTransport) close() error { return g.conn.Close() }

// httpTransport is OTLP/HTTP with protobuf bodies: POST /v1/traces.
type httpTransport struct {
	client  *http.Client
	url     string
	headers map[string]string
}

// maxResponse bounds how much of a response body is read.
const maxResponse = 64 << 10

func newHTTP(t target, tlsCfg *tls.Config, headers map[string]string) *httpTransport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tlsCfg != nil {
		tr.TLSClientConfig = tlsCfg
	}
	return &httpTransport{client: &http.Client{Transport: tr}, url: t.url, headers: headers}
}

func (h *httpTransport) export(ctx context.Context, req *coltracepb.ExportTraceServiceRequest) (int64, error) {
	body, err := proto.Marshal(req)
	if err != nil {
		return 0, &exportError{err: fmt.Errorf("otlp: marshal: %w", err)}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return 0, &exportError{err: fmt.Errorf("otlp: http %s: %w", h.url, err)}
	}
	for k, v := range h.headers {
		hr.Header.Set(k, v)
	}
	hr.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := h.client.Do(hr)
	if err != nil {
		// Connection refused, reset, timeout: the collector may come back.
		return 0, &exportError{err: fmt.Errorf("otlp: http post %s: %w", h.url, err), retryable: true}
	}
	defer resp.Body.Close()
	rb, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode/100 == 2 {
		if rerr != nil || len(rb) == 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-protobuf") {
			return 0, nil
		}
		var out coltracepb.ExportTraceServiceResponse
		if proto.Unmarshal(rb, &out) != nil {
			return 0, nil
		}
		return out.GetPartialSuccess().GetRejectedSpans(), nil
	}
	e := &exportError{err: fmt.Errorf("otlp: http post %s: %s: %s", h.url, resp.Status, httpMessage(rb, resp.Header.Get("Content-Type")))}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		e.retryable = true
		e.retryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return 0, e
}

func (h *httpTransport) close() error {
	h.client.CloseIdleConnections()
	return nil
}

// httpMessage extracts the error message of a failed response: the
// google.rpc.Status message of a protobuf body, else the text, shortened.
func httpMessage(b []byte, ctype string) string {
	if strings.HasPrefix(ctype, "application/x-protobuf") {
		var st spb.Status
		if err := proto.Unmarshal(b, &st); err == nil && st.GetMessage() != "" {
			return st.GetMessage()
		}
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		return "no body"
	}
	return s
}

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110 section 10.2.3).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// retryable reports whether err is worth retrying and the server's delay.
func retryable(err error) (bool, time.Duration) {
	var e *exportError
	if errors.As(err, &e) {
		return e.retryable, e.retryAfter
	}
	return false, 0
}
