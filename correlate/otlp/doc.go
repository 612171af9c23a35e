// Package otlp exports wiretrace traces to an OpenTelemetry collector (or
// any OTLP receiver such as Jaeger) over OTLP/gRPC or OTLP/HTTP with
// protobuf bodies, as specified by the OTLP 1.x specification
// (https://opentelemetry.io/docs/specs/otlp/).
//
// # Mapping
//
// Trace ids, span ids, parent span ids and start/end times are exactly
// wiretrace's: the hex ids become their 16- and 8-byte forms, start_ns and
// end_ns become the Unix-nanosecond timestamps. A span whose ids are not
// valid hex of the right length is dropped and counted.
//
// Span kind comes from the span's side: client → CLIENT, server → SERVER.
// A network span (neither end local: a tap or an offline capture) is
// exported as SERVER: the observed duration is the server's response time
// as seen on the wire, and naming it by its server makes every hop of a
// chain show up as its own service (gateway → api → inventory), which is
// what trace viewers draw.
//
// Status: ok → UNSET (the OpenTelemetry convention for instrumentation
// that saw no error), error → ERROR, timeout → ERROR ("no response seen"),
// partial → UNSET (a gap in the stream hides the outcome; it is not an
// error). The wiretrace status is always kept as the string attribute
// wiretrace.status. An ERROR's message names the protocol status when an
// attribute carries one (http.response.status_code, error.type,
// db.response.status_code, rpc.grpc.status_code).
//
// Attributes: every span attribute keeps its type (integers → int,
// floats → double, booleans → bool, strings and anything else → string),
// plus wiretrace.protocol, wiretrace.side, wiretrace.status,
// wiretrace.capture, wiretrace.link_reason (when not empty), each link key
// as wiretrace.link.<key>, network.peer.address and network.peer.port
// (the server for CLIENT spans, the client for SERVER spans),
// client.address, client.port, and server.address and server.port when the
// parser did not set them (a parser's server.address comes from the Host
// header and wins), and for CLIENT spans peer.service, the server's service
// name.
//
// Resource: one per service. service.name comes from Config.ServiceNames,
// looked up by "ip:port" then "ip" of the end the span belongs to (the
// server for SERVER and network spans, the client for CLIENT spans).
// Without a name, a server is named by its "ip:port" and a client by its
// "ip" (its port is ephemeral).
//
// # Delivery
//
// WriteTrace converts the trace at once and appends its spans to a bounded
// queue (Config.MaxQueueSpans); when the queue is full, the spans are
// dropped and counted. Open starts one goroutine that sends batches of at
// most Config.MaxBatchSpans spans, as soon as a batch is full or
// Config.MaxDelay after its first span arrived; Close stops accepting
// spans, sends what is queued and waits for the goroutine, for at most
// Config.CloseTimeout. This is I/O, so unlike the rest of correlate the
// exporter uses the wall clock: for batching delays, request timeouts and
// retry backoff, never for span times.
//
// Failed requests are retried with exponential backoff and jitter
// (Config.RetryInitial doubling up to Config.RetryMax) while the batch's
// total time stays within Config.RetryBudget, when the failure is
// retryable: gRPC Unavailable, ResourceExhausted, Aborted, OutOfRange,
// DataLoss, DeadlineExceeded and Canceled; HTTP 429, 502, 503 and 504; and
// connection errors. A server's delay (gRPC RetryInfo, HTTP Retry-After in
// seconds or as a date) is honoured as the minimum wait. Other failures,
// an exhausted budget and spans the receiver reports as rejected (partial
// success) are dropped and counted.
//
// # Concurrency
//
// WriteTrace, Stats and Close are safe for concurrent use. The exporter
// does not keep the trace passed to WriteTrace.
package otlp
