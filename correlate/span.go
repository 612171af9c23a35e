package correlate

import (
	"net/netip"

	"github.com/wiretrace/wiretrace/protocols"
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
	// ReasonQueue links a message taken from a queue with no id on the
	// wire (a Redis stream entry, list element or pub/sub payload) to the
	// span that put it there (protocols.LinkHandoffSend and
	// LinkHandoffRecv). It is an addition to the span format's list.
	ReasonQueue = "queue_handoff"
	// ReasonSameThread links an outbound call to the inbound request that
	// the same thread of the same process read before sending it, as an
	// Attributor (the eBPF extension) reports the threads. It is an
	// addition to the span format's list.
	ReasonSameThread = "same_thread"
	// ReasonLinkKey links spans that share a custom correlation key
	// (protocols.LinkKeyPrefix, e.g. from a plugin), the way an
	// X-Request-ID does. It is an addition to the span format's list.
	ReasonLinkKey = "link_key"
)

// Process attributes (OpenTelemetry semantic conventions) that spans get
// from Config.Attributor: the local task that sent or read the request
// (else the response).
const (
	AttrProcessPID            = "process.pid"
	AttrThreadID              = "thread.id"
	AttrProcessExecutableName = "process.executable.name"
	AttrContainerID           = "container.id"
)

// Task is a process and thread of the capture host.
type Task struct {
	// PID and TID are the process and thread ids.
	PID, TID uint32
	// Comm is the thread's name as the kernel keeps it (by default the
	// executable's, at most 15 bytes).
	Comm string
	// ContainerID is the id of the process's container, or "".
	ContainerID string
}

// Attributor names the local task that moved given bytes of a TCP
// connection. capture/ebpf provides one (through the CLI); correlate only
// knows this interface.
type Attributor interface {
	// Task returns the task that wrote (sent) or read (!sent) the byte at
	// seq of the TCP stream from→to, and whether it is known.
	Task(from, to netip.AddrPort, seq uint32, sent bool) (Task, bool)
}

// AttrLinkConfidence is the attribute that carries, on a span linked by
// timing, how sure the linker is of its parent (0..1, two decimals).
const AttrLinkConfidence = "wiretrace.link.confidence"

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
	// noRequest marks a span made from a response alone (a push, an
	// unmatched response): it was not sent by its client host. (Next to
	// complete: decideTiming reads both for every candidate.)
	noRequest bool
	adopted   string // trace id adopted from a trace header (or request id)
	// adoptedFromRequestID is set when adopted is a 32-hex X-Request-ID
	// rather than a trace header's trace id.
	adoptedFromRequestID bool
	group                *group
	index                int    // position in its flow, for the span id
	reqID                uint64 // pairing id of a multiplexed request (when hasReqID)
	hasReqID             bool

	// multi holds every value of the multi-valued link keys (Kafka topic
	// partitions and offsets, queue handoffs) in wire order, at most
	// maxMultiLinks; Links shows only the first of each.
	multi []protocols.Attr
	// reqEnd is when the last byte of the request was seen.
	reqEnd int64
	// keyed is set when the span has a join key other than its TCP
	// sequence (a request id, a trace id, a queue handoff).
	keyed bool
	seq   uint64 // linker insertion order, a tie-break for indexes
	// hint is a parent chosen when the span completed, from the open
	// spans then (queue handoff, Kafka offsets, timing); link uses it
	// when no rule with a key on the wire gives one.
	hint     hint
	kafka    []kafkaRange // registered in the Kafka index
	handoffs bool         // registered in the handoff index
	// respSeq is the TCP sequence number of the response's first byte
	// (when HasResponse).
	respSeq uint32
	// reqTask and respTask are the local tasks that moved the request and
	// the response (Config.Attributor), asked lazily; taskState says
	// whether each was found.
	reqTask, respTask   Task
	reqState, respState taskState
	// custom counts the custom keys (protocols.LinkKeyPrefix) in Links.
	custom int
	// late is set on a span still waiting for its response when the rest
	// of its trace was emitted early; it is held in a trace of its own.
	late bool
	// done is the packet time at which the span completed.
	done int64
	// timingParent, timingConf and timingJoin are a timing hint decided
	// by an agent (see SpanState), applied by a Relinker.
	timingParent string
	timingConf   float64
	timingJoin   bool
}

// taskState records whether a span's task was looked up and found.
type taskState uint8

const (
	taskUnasked taskState = iota
	taskFound
	taskMissing
)

// hint is a parent proposed at completion time.
type hint struct {
	parent *Span
	reason string
	conf   float64 // timing confidence
	// nojoin is set on a timing hint that did not join the two traces
	// (both spans had keys of their own).
	nojoin bool
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
