package correlate

import (
	"encoding/base64"
	"strings"
)

// traceContext is what a trace header says: the trace id (32 lower-case hex
// digits) and the sender's span id.
type traceContext struct {
	traceID, spanID, parentID string
}

// parseTraceparent parses a W3C traceparent value
// ("00-<32 hex>-<16 hex>-<2 hex>", https://www.w3.org/TR/trace-context/).
func parseTraceparent(v string) (traceContext, bool) {
	v = strings.TrimSpace(v)
	parts := strings.Split(v, "-")
	if len(parts) < 4 || len(parts[0]) != 2 || parts[0] == "ff" || !isHex(parts[0]) {
		return traceContext{}, false
	}
	tid, sid := strings.ToLower(parts[1]), strings.ToLower(parts[2])
	if len(tid) != 32 || !isHex(tid) || isZero(tid) || len(sid) != 16 || !isHex(sid) || isZero(sid) {
		return traceContext{}, false
	}
	return traceContext{traceID: tid, spanID: sid}, true
}

// parseB3Single parses the b3 single header
// ("{TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]" or a bare
// sampling state, https://github.com/openzipkin/b3-propagation).
func parseB3Single(v string) (traceContext, bool) {
	parts := strings.Split(strings.TrimSpace(v), "-")
	if len(parts) < 2 {
		return traceContext{}, false
	}
	tid, ok := normTraceID(parts[0])
	if !ok || len(parts[1]) != 16 || !isHex(parts[1]) {
		return traceContext{}, false
	}
	tc := traceContext{traceID: tid, spanID: strings.ToLower(parts[1])}
	if len(parts) >= 4 && len(parts[3]) == 16 && isHex(parts[3]) {
		tc.parentID = strings.ToLower(parts[3])
	}
	return tc, true
}

// parseUberTraceID parses Jaeger's uber-trace-id
// ("{trace-id}:{span-id}:{parent-span-id}:{flags}", ids in hex of up to 32
// and 16 digits, leading zeros optional).
func parseUberTraceID(v string) (traceContext, bool) {
	v = strings.TrimSpace(v)
	if strings.Contains(v, "%3A") || strings.Contains(v, "%3a") {
		v = strings.NewReplacer("%3A", ":", "%3a", ":").Replace(v)
	}
	parts := strings.Split(v, ":")
	if len(parts) != 4 {
		return traceContext{}, false
	}
	tid, ok := normTraceID(parts[0])
	if !ok {
		return traceContext{}, false
	}
	sid, ok := padHex(parts[1], 16)
	if !ok {
		return traceContext{}, false
	}
	tc := traceContext{traceID: tid, spanID: sid}
	if pid, ok := padHex(parts[2], 16); ok && !isZero(pid) {
		tc.parentID = pid
	}
	return tc, true
}

// parseSW8 parses SkyWalking's sw8 header
// ("{sample}-{base64 traceId}-{base64 segmentId}-{spanId}-{base64 service}-..."). The
// trace id is free text, so it is returned as is in traceID with
// ok; callers hash it to a 32-hex id.
func parseSW8(v string) (traceID, segment, span string, ok bool) {
	parts := strings.Split(strings.TrimSpace(v), "-")
	if len(parts) < 8 {
		return "", "", "", false
	}
	t, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil || len(t) == 0 {
		return "", "", "", false
	}
	s, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil {
		return "", "", "", false
	}
	return string(t), string(s), parts[3], true
}

// validEagleEye reports whether v can be an EagleEye trace id: 16 to 64
// letters and digits (EagleEye's are the IP in hex, a millisecond time, a
// sequence number and the process id, e.g. "0ad1348f1403169275002100356696").
func validEagleEye(v string) bool {
	if len(v) < 16 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// normTraceID accepts a 16 or 32 hex digit trace id and returns it as 32
// lower-case digits (64-bit ids are left-padded with zeros, as in B3).
func normTraceID(s string) (string, bool) {
	if len(s) > 32 || len(s) == 0 || !isHex(s) {
		return "", false
	}
	id, _ := padHex(s, 32)
	if isZero(id) {
		return "", false
	}
	return id, true
}

func padHex(s string, n int) (string, bool) {
	if len(s) == 0 || len(s) > n || !isHex(s) {
		return "", false
	}
	return strings.Repeat("0", n-len(s)) + strings.ToLower(s), true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return len(s) > 0
}

func isZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
