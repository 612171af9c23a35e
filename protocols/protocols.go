package protocols

import (
	"errors"
	"fmt"
	"strings"
)

// Direction says which way bytes flow relative to the protocol's roles.
type Direction uint8

// Directions. The zero value means not known.
const (
	DirUnknown Direction = iota
	ToServer             // requests: from the client to the server
	ToClient             // responses: from the server to the client
)

// String returns "unknown", "to_server" or "to_client".
func (d Direction) String() string {
	switch d {
	case ToServer:
		return "to_server"
	case ToClient:
		return "to_client"
	}
	return "unknown"
}

// Kind says whether a Message is a request or a response.
type Kind uint8

// Message kinds.
const (
	KindUnknown Kind = iota
	Request
	Response
)

// Status is the protocol-level outcome carried by a response.
type Status uint8

// Statuses.
const (
	StatusUnknown Status = iota
	StatusOK
	StatusError
)

// String returns "request", "response" or "unknown".
func (k Kind) String() string {
	switch k {
	case Request:
		return "request"
	case Response:
		return "response"
	}
	return "unknown"
}

// String returns "ok", "error" or "unknown", the span format's status
// words.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusError:
		return "error"
	}
	return "unknown"
}

// Attr is one attribute: an OpenTelemetry semantic-convention key with a
// string or integer value, or a correlation key (see Message.Links).
type Attr struct {
	Key   string
	Str   string
	Int   int64
	IsInt bool
}

// String returns a string attribute.
func String(key, v string) Attr { return Attr{Key: key, Str: v} }

// Int returns an integer attribute.
func Int(key string, v int64) Attr { return Attr{Key: key, Int: v, IsInt: true} }

// Value returns the attribute's value formatted as a string.
func (a Attr) Value() string {
	if a.IsInt {
		return fmt.Sprint(a.Int)
	}
	return a.Str
}

// Correlation keys a parser may put in Message.Links. The value is the raw
// text as it appeared on the wire; correlate interprets it.
const (
	LinkXRequestID  = "x_request_id" // first configured request-id header present
	LinkTraceparent = "traceparent"  // W3C traceparent header value
	LinkTracestate  = "tracestate"   // W3C tracestate header value
	LinkB3          = "b3"           // single-header b3 value
	LinkB3TraceID   = "x_b3_traceid" // X-B3-TraceId
	LinkB3SpanID    = "x_b3_spanid"  // X-B3-SpanId
	LinkB3ParentID  = "x_b3_parentspanid"
	LinkUberTraceID = "uber_trace_id" // Jaeger uber-trace-id
	LinkSW8         = "sw8"           // SkyWalking sw8
	// LinkEagleEyeTraceID is Alibaba EagleEye's EagleEye-TraceID (a Dubbo
	// attachment or HTTP header): a free-text trace id, hashed by correlate
	// into a trace id as sw8's is.
	LinkEagleEyeTraceID = "eagleeye_traceid"

	// Message handoff: a Kafka topic partition ("topic/partition") and
	// the record offsets there ("offset" or "first..last"); see
	// protocols/kafka.
	// LinkHandoffSend and LinkHandoffRecv tie a message handed over
	// through a queue with no id on the wire: the producer's span carries
	// LinkHandoffSend and the consumer's LinkHandoffRecv with the same
	// value, "<kind>:<name>:<id>" — e.g. "redis-stream:orders:1526919030474-55",
	// "redis-list:jobs:<hex digest of the value>",
	// "redis-pubsub:events:<hex digest of the payload>",
	// "stomp:/queue/orders:<hex digest of the body>" — or "<kind>:<id>" when
	// the id does not depend on where the message went (a publish's exchange
	// is not the consumer's queue): "amqp:<message-id>",
	// "activemq:<JMSMessageID>", and for request-reply the correlation id,
	// "amqp-corr:<id>", "activemq-corr:<id>", "stomp-corr:<id>", which a span
	// may carry both as Send and as Recv (see protocols/amqp). A message may
	// carry several of each (a batch); the linker tries a span's Recv values
	// in order.
	LinkHandoffSend         = "handoff_send"
	LinkHandoffRecv         = "handoff_recv"
	LinkKafkaTopicPartition = "kafka_topic_partition"
	LinkKafkaOffset         = "kafka_offset"

	// LinkKeyPrefix starts the name of a custom correlation key, one that
	// no built-in rule knows (a transaction serial in a JSON body, an id in
	// a private RPC header), typically added by a plugin: a link
	// "key_txn_serial" = "TX-1". correlate treats every such key like
	// LinkXRequestID: spans that carry the same name and value join one
	// trace, and the span served by a host is the parent of the spans that
	// host sends with the same key.
	LinkKeyPrefix = "key_"
)

// Message is one request or response. A parser fills a caller-owned
// Message; the slices are reset by the caller and reused, so a Message is
// valid until the next Parse call on the same parser.
type Message struct {
	// Kind is Request or Response.
	Kind Kind
	// Name is the short operation name of a request, e.g. "GET /orders".
	Name string
	// Protocol, when not empty, overrides the flow's protocol name for
	// the span this message starts (gRPC calls carried by HTTP/2).
	Protocol string
	// Status is the outcome of a response (StatusUnknown for requests).
	Status Status
	// Partial is set when bytes of the message were lost (a gap).
	Partial bool
	// NoResponse is set on a request that expects no response.
	NoResponse bool
	// ID pairs a response with its request on multiplexed protocols
	// (HTTP/2 stream id, Kafka correlation id, DNS id) when HasID is set;
	// without it responses pair with requests in order.
	ID    uint64
	HasID bool
	// Unsolicited is set on a server message that answers no request
	// (a pub/sub push, a server notice); it becomes a span of its own.
	Unsolicited bool
	// Size is the number of message bytes (headers and body) seen.
	Size int
	// BodySize is the size of the body, when the protocol has one.
	BodySize int
	// Attrs holds semantic-convention attributes.
	Attrs []Attr
	// Links holds correlation keys (LinkXRequestID, LinkTraceparent, ...).
	Links []Attr

	// The fields below are filled by the Driver, not by parsers.

	// Start and End are the capture times of the first and last byte.
	Start, End int64
	// Seq is the TCP sequence number of the first byte.
	Seq uint32
	// Outbound reports that the first byte left the capture host; Inbound
	// that it arrived there; neither when the capture does not say.
	Outbound, Inbound bool
}

// Reset clears m for reuse, keeping the slices' storage.
func (m *Message) Reset() {
	attrs, links := m.Attrs[:0], m.Links[:0]
	*m = Message{Attrs: attrs, Links: links}
}

// Link returns the value of the correlation key, or "".
func (m *Message) Link(key string) string {
	for _, a := range m.Links {
		if a.Key == key {
			return a.Str
		}
	}
	return ""
}

// Parser is a per-connection state machine fed one direction's bytes at a
// time. It never blocks, does no I/O and keeps bounded state.
type Parser interface {
	// Parse consumes bytes of data flowing in dir and returns how many. When
	// it completes a message it fills msg (already Reset by the caller) and
	// returns done; the caller then calls again with the remaining bytes.
	// n == 0 with done false and a nil error means "need more": the caller
	// keeps the bytes and calls again when more arrive. A non-nil error (a
	// *ParseError) means the stream is not this protocol or is corrupt
	// beyond recovery; the caller stops parsing the connection.
	Parse(dir Direction, data []byte, msg *Message) (n int, done bool, err error)
	// Gap reports that size bytes flowing in dir were lost before the next
	// data. The parser marks the message in progress Partial and
	// resynchronises as it can.
	Gap(dir Direction, size int)
	// End reports that dir has no more data (FIN, or the connection closed).
	// A parser that was reading a message delimited by the end of the
	// stream fills msg and returns true; it is called until it returns false.
	End(dir Direction, msg *Message) bool
}

// Salvager is implemented by parsers that can use the bytes Parse left
// unconsumed when a gap follows them: a header block cut by lost packets or
// by the snapshot length still names the operation and its links.
type Salvager interface {
	// Salvage is called before Gap with the unconsumed bytes of dir. It may
	// fill msg with what they tell (a message cut by the gap, marked
	// Partial) and return true; the parser then treats that message as
	// emitted and the following Gap as falling inside it.
	Salvage(dir Direction, tail []byte, msg *Message) bool
}

// FlowReceiver is implemented by parsers that want to know their flow
// (addresses, ports, id), e.g. to pass it on to a plugin. The driver calls
// SetFlow once, before the first Parse; f stays valid, and unchanged, for
// the life of the parser.
type FlowReceiver interface {
	SetFlow(f *Flow)
}

// Idler is implemented by parsers that consume bytes belonging to no
// message (keep-alives, control frames, protocol chatter between
// messages). After a Parse call that consumed bytes without completing a
// message, the driver asks Idle; true means dir has no message in progress,
// so the next byte consumed starts a new message and dates it.
type Idler interface {
	Idle(dir Direction) bool
}

// Config holds settings that parsers share.
type Config struct {
	// XRequestIDHeaders lists the header names whose value is the request
	// id, matched case-insensitively; the first present wins. Empty means
	// "X-Request-ID".
	XRequestIDHeaders []string
	// MaxHeaderBytes bounds a message's header block; 0 means 64 KiB.
	MaxHeaderBytes int
	// RedactSQL replaces the string and number literals of SQL text
	// (db.query.text) with "?" (see package protocols/sqlredact); trace
	// context in SQL comments is read before and kept.
	RedactSQL bool
	// StartTLS, when set, gives a parser whose connection turns to TLS in
	// band (MySQL's and PostgreSQL's SSLRequest, PostgreSQL 17's direct
	// TLS) a parser for the rest of the stream: it reads the TLS records
	// (handshake span and, without keys, encrypted exchanges, under
	// protocol "tls") and, with keys, hands the decrypted plaintext to
	// inner, the same protocol continuing after its upgrade, whose messages
	// are named protocol name. Nil leaves the upgraded bytes unread. The
	// root package sets it when it builds a registry (see
	// wiretrace.Config.RegistryCounting); parsers that support it document
	// so.
	StartTLS func(inner Parser, name string) Parser
}

// RedactsSQL reports whether SQL literals are to be redacted.
func (c *Config) RedactsSQL() bool { return c != nil && c.RedactSQL }

// RequestIDHeaders returns the configured request-id header names in
// canonical lower case.
func (c *Config) RequestIDHeaders() []string {
	if c == nil || len(c.XRequestIDHeaders) == 0 {
		return []string{"x-request-id"}
	}
	out := make([]string, 0, len(c.XRequestIDHeaders))
	for _, h := range c.XRequestIDHeaders {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, strings.ToLower(h))
		}
	}
	return out
}

// HeaderLimit returns MaxHeaderBytes or its default.
func (c *Config) HeaderLimit() int {
	if c == nil || c.MaxHeaderBytes <= 0 {
		return 64 << 10
	}
	return c.MaxHeaderBytes
}

// Protocol describes one L7 protocol.
type Protocol struct {
	// Name is the protocol name used in span output ("http", "mysql", ...).
	Name string
	// Summary says in one line what the parser extracts, for
	// 'wiretrace protocols'.
	Summary string
	// IDLink, when set, is the span link key under which a multiplexed
	// request's Message.ID is recorded (e.g. "kafka_correlation_id").
	IDLink string
	// Ports are well-known server ports, a hint for sniffing order only.
	Ports []uint16
	// Sniff looks at the first bytes seen in one direction of a connection
	// and reports which way they flow if they look like this protocol, or
	// DirUnknown. With too few bytes to tell it returns DirUnknown.
	Sniff func(data []byte) Direction
	// New returns a parser for one TCP connection; nil when the protocol
	// does not run over TCP.
	New func(cfg *Config) Parser
	// SniffDatagram and NewDatagram are Sniff and New for UDP: each Parse
	// call gets one whole datagram, which the parser consumes entirely. A
	// ParseError drops that datagram only; the flow's later datagrams are
	// still parsed. Nil when the protocol does not run over UDP.
	SniffDatagram func(data []byte) Direction
	NewDatagram   func(cfg *Config) Parser
}

// Registry lists protocols in sniffing priority. It is immutable.
type Registry struct {
	list []*Protocol
}

// NewRegistry returns a registry of the given protocols, in priority order.
func NewRegistry(ps ...*Protocol) *Registry {
	return &Registry{list: append([]*Protocol(nil), ps...)}
}

// Protocols returns the registered protocols in priority order.
func (r *Registry) Protocols() []*Protocol { return append([]*Protocol(nil), r.list...) }

// Lookup returns the protocol with the given name, or nil.
func (r *Registry) Lookup(name string) *Protocol {
	for _, p := range r.list {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Sniff returns the first TCP protocol, preferring those whose port hints
// include srcPort or dstPort, that recognises data, and the direction data
// flows in.
func (r *Registry) Sniff(data []byte, srcPort, dstPort uint16) (*Protocol, Direction) {
	return r.sniff(data, srcPort, dstPort, false)
}

// SniffDatagram is Sniff for a UDP datagram.
func (r *Registry) SniffDatagram(data []byte, srcPort, dstPort uint16) (*Protocol, Direction) {
	return r.sniff(data, srcPort, dstPort, true)
}

func (r *Registry) sniff(data []byte, srcPort, dstPort uint16, udp bool) (*Protocol, Direction) {
	for pass := 0; pass < 2; pass++ {
		for _, p := range r.list {
			hinted := hasPort(p.Ports, srcPort) || hasPort(p.Ports, dstPort)
			if (pass == 0) != hinted {
				continue
			}
			sniff := p.Sniff
			if udp {
				sniff = p.SniffDatagram
			} else if p.New == nil {
				sniff = nil
			}
			if sniff == nil {
				continue
			}
			if d := sniff(data); d != DirUnknown {
				return p, d
			}
		}
	}
	return nil, DirUnknown
}

func hasPort(ports []uint16, p uint16) bool {
	for _, q := range ports {
		if q == p {
			return true
		}
	}
	return false
}

// ErrMalformed is wrapped by ParseErrors for bytes that violate the protocol.
var ErrMalformed = errors.New("malformed message")

// ErrTooLarge is wrapped by ParseErrors when a bounded part of a message
// (header block, line) exceeds its limit.
var ErrTooLarge = errors.New("message part too large")

// ParseError is a parser's error: where in the data passed to Parse it
// occurred, and what.
type ParseError struct {
	Protocol string
	Offset   int
	Err      error
}

// Error describes the error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s: offset %d: %v", e.Protocol, e.Offset, e.Err)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// Turner is implemented by parsers whose messages in one direction end only
// when the other direction speaks (exchanges told apart by turns alone, as
// in encrypted traffic). Before passing bytes that flow in one direction,
// the driver calls Turn with the opposite direction until it returns
// false; each message the parser fills is emitted as ending at the last
// byte seen in that direction.
type Turner interface {
	Turn(dir Direction, msg *Message) bool
}
