package otlp

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name, in string
		want     time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "3", 3 * time.Second},
		{"date", "Wed, 25 Nov 2026 10:00:07 GMT", 7 * time.Second},
		{"past date", "Wed, 25 Nov 2026 09:00:00 GMT", 0},
		{"garbage", "soon", 0},
		{"negative", "-1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(tt.in, now); got != tt.want {
				t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		name, endpoint, protocol string
		insecure                 bool
		want                     target
	}{
		{"grpc tls", "grpc://c:4317", "", false, target{protocol: ProtocolGRPC, host: "c:4317", tls: true}},
		{"grpc insecure", "grpc://127.0.0.1:4317", "", true, target{protocol: ProtocolGRPC, host: "127.0.0.1:4317"}},
		{"grpcs default port", "grpcs://c", "", true, target{protocol: ProtocolGRPC, host: "c:4317", tls: true}},
		{"http", "http://c:4318", "", false, target{protocol: ProtocolHTTP, host: "c:4318", url: "http://c:4318/v1/traces"}},
		{"https path", "https://c/otlp/v1/traces", "", false, target{protocol: ProtocolHTTP, host: "c:4318", url: "https://c:4318/otlp/v1/traces", tls: true}},
		{"protocol override", "http://c:4317", ProtocolGRPC, true, target{protocol: ProtocolGRPC, host: "c:4317"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseEndpoint(tt.endpoint, tt.protocol, tt.insecure)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(target{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	for range 100 {
		if d := jitter(100 * time.Millisecond); d < 75*time.Millisecond || d > 125*time.Millisecond {
			t.Fatalf("jitter(100ms) = %v, want within ±25%%", d)
		}
	}
	if d := jitter(0); d != 0 {
		t.Errorf("jitter(0) = %v", d)
	}
}
