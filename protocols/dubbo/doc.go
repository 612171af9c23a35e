// Package dubbo provides the Apache Dubbo 2 protocol parser: a
// [protocols.Protocol] descriptor whose per-connection [Parser] turns the
// two byte streams of a Dubbo connection into request and response
// [protocols.Message] values.
//
// Spec version: the Dubbo 2 wire protocol of Apache Dubbo 2.7 and 3.x
// ("dubbo://", https://dubbo.apache.org/en/docs/concepts/rpc-protocol/),
// with Hessian 2.0 serialization (http://hessian.caucho.com/doc/hessian-serialization.html).
// The Triple protocol of Dubbo 3 is gRPC over HTTP/2 and is parsed by
// protocols/http2. Attribute names follow the OpenTelemetry RPC semantic
// conventions v1.37.0 (rpc.system "apache_dubbo").
//
// # Framing
//
// Every message is a 16-byte header — magic 0xdabb, a flag byte (request,
// two-way, event, serialization id), a status byte, an 8-byte request id and
// a 4-byte body length — followed by the body. Requests and responses carry
// ID = request id with HasID set, so correlate pairs them by id. One-way
// requests (two-way flag clear) are emitted with NoResponse. Events
// (heartbeats and read-only notices) are consumed and not emitted.
//
// A message of at most [protocols.Config.HeaderLimit] bytes (64 KiB by
// default) is decoded when whole; a larger one is decoded from its first
// HeaderLimit bytes, the rest is skipped as it arrives (never buffered).
// Since a request's attachments follow its arguments, a request whose
// arguments push them past that prefix has no links. A body length above
// [MaxMessageSize] or a bad magic number stops the flow with a ParseError.
//
// # Requests
//
// With Hessian 2 serialization (id 2) the request body is read in order:
// the Dubbo version, the service path, the service version, the method
// name, the parameter type descriptor (JVM form, "Ljava/lang/String;I"),
// one value per parameter (skipped, never copied) and the attachments map.
// The Hessian decoder is this package's own, not
// github.com/apache/dubbo-go-hessian2: that library decodes into Go values
// by reflection through a process-wide, mutex-guarded class registry
// (global mutable state, pojo.go), allocates for every value, and is not
// written for hostile input (HessianCodec.ReadBody asserts an exception
// body to be a string unchecked), while a parser needs a few strings and
// to step over the rest. This one knows only the subset needed to read strings and
// skip values, it is bounded in nesting depth
// ([MaxDepth]), class definitions ([MaxClasses]) and values ([MaxValues]),
// it allocates nothing to skip a value, and malformed input ends the body
// decoding, not the flow. A Kryo body (id 8) gives the four leading strings
// only; other serializations give the header fields only.
//
// Name is "<service>/<method>". Requests carry rpc.system "apache_dubbo",
// rpc.service, rpc.method and, outside the conventions, dubbo.request_id,
// dubbo.version (the protocol version string), dubbo.service.version (when
// not empty), dubbo.serialization ("hessian2", "kryo", ...) and
// dubbo.group (the "group" attachment).
//
// Attachments named traceparent, tracestate, b3, X-B3-TraceId,
// X-B3-SpanId, X-B3-ParentSpanId, uber-trace-id, sw8, EagleEye-TraceID or one
// of the configured request-id names (case-insensitively) become Links
// under the protocols.Link* keys; the first value wins.
//
// # Responses
//
// Status is StatusOK when the header status is 20 (OK) and the result is
// not an exception, StatusError otherwise; then error.type is the status
// name (SERVICE_ERROR, SERVER_TIMEOUT, ...) or, for an exception result,
// the exception's Java class name. dubbo.status_code holds the status byte.
//
// # Gaps
//
// A gap inside a message whose size is known is skipped exactly and the
// message emitted Partial. A message cut by a gap before it was whole is
// offered to [Parser.Salvage]: its header and the body bytes at hand give a
// Partial message, and the rest of it is skipped. A gap that reaches past
// the end of a message loses the boundary: the parser scans for the next
// header (magic, flags that fit the direction, a sane length) and resumes
// there.
//
// # Secrets
//
// Arguments and result values are skipped, never copied; of the
// attachments only the link keys above and "group" are kept.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines and never reads the clock. Strings in
// a Message may be retained; the Attrs and Links slices belong to the
// caller.
package dubbo
