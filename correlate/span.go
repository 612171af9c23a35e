package correlate

import (
	"net/netip"
)

// Span sides, as in the span format.
const (
	SideClient  = "client"
	SideServer  = "server"
	SideNetwork = "network"
)

// Span statuses, as in the span format.
const (
	StatusOK      = "ok"
	StatusError   = "error"
	StatusTimeout = "timeout"
	StatusPartial = "partial"
)

// Link reasons, as in the span format.
const (
	ReasonXRequestID  = "x_request_id"
	ReasonTraceHeader = "trace_header"
	ReasonSQLComment  = "sql_comment"
	ReasonKafka       = "kafka_correlation"
	ReasonTCPSeq      = "tcp_seq"
	ReasonTiming      = "timing"
)

// Endpoint is one end of a connection in the span format.
type Endpoint struct {
	IP   string `json:"ip"`
	Port int    `json:"port"`
}

// Span is one request and its response seen at one capture point. The
// exported, JSON-tagged fields are the span format of docs/span-format.md.
type Span struct {
	TraceID      string            `json:"trace_id"`
	SpanID       string            `json:"span_id"`
	ParentSpanID string            `json:"parent_span_id"`
	Protocol     string            `json:"protocol"`
	Name         string            `json:"name"`
	Side         string            `json:"side"`
	StartNS      int64             `json:"start_ns"`
	EndNS        int64             `json:"end_ns"`
	Client       Endpoint          `json:"client"`
	Server       Endpoint          `json:"server"`
	Capture      string            `json:"capture"`
	Status       string            `json:"status"`
	Attributes   map[string]any    `json:"attributes"`
	Links        map[string]string `json:"links"`
	LinkReason   string            `json:"link_reason"`

	// ClientAddr and ServerAddr are Client and Server as addresses.
	ClientAddr netip.AddrPort `json:"-"`
	// ServerAddr is the server end.
	ServerAddr netip.AddrPort `json:"-"`
	// FlowID is the decode connection id the span was seen on.
	FlowID uint64 `json:"-"`
	// ReqSeq is the TCP sequence number of the request's first byte.
	ReqSeq uint32 `json:"-"`
	// HasResponse reports whether a response was seen.
	HasResponse bool `json:"-"`
	// Parent is the parent span, when it is in the same trace.
	Parent *Span `json:"-"`

	complete bool
	partial  bool
	adopted  string // trace id adopted from a trace header (or request id)
	// adoptedFromRequestID is set when adopted is a 32-hex X-Request-ID
	// rather than a trace header's trace id.
	adoptedFromRequestID bool
	group                *group
	index                int    // position in its flow, for the span id
	reqID                uint64 // pairing id of a multiplexed request (when hasReqID)
	hasReqID             bool
}

// Duration returns EndNS - StartNS.
func (s *Span) Duration() int64 { return s.EndNS - s.StartNS }

// Trace is a set of spans linked together, sorted by start time.
type Trace struct {
	ID    string
	Spans []*Span
}

// Sink receives finished traces.
type Sink interface {
	// WriteTrace writes one trace. The trace and its spans are not used by
	// the caller afterwards.
	WriteTrace(t *Trace) error
	// Close flushes and releases the sink.
	Close() error
}
