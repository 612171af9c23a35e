// Package nats provides the NATS client protocol parser: a
// [protocols.Protocol] descriptor whose per-connection [Parser] turns the two
// byte streams of a TCP connection between a NATS client and a server into
// [protocols.Message] values.
//
// Spec version: the NATS client protocol as documented at
// https://docs.nats.io/reference/reference-protocols/nats-protocol (nats-server
// 2.x), including headers (HPUB, HMSG, "NATS/1.0" header blocks). Attribute
// names follow the OpenTelemetry messaging semantic conventions v1.37
// (messaging.system "nats").
//
// # Operations
//
// Operation names are matched case-insensitively, as the server does; the
// control line ends at LF (CR before it is optional). Client to server:
//
//   - CONNECT {json}: a request named "CONNECT" with messaging.client.id
//     (the "name" field) and user.name ("user"); "pass", "auth_token",
//     "sig", "jwt" and "nkey" are never read into the Message. Its
//     "verbose" field decides whether the server acknowledges operations
//     with +OK (below).
//   - PUB subject [reply] size and HPUB subject [reply] hdrsize totalsize: a
//     request named "PUB <subject>" (messaging.operation.type "send",
//     messaging.destination.name, messaging.message.body.size; nats.reply_to
//     when a reply subject is given).
//   - SUB subject [queue] sid: "SUB <subject>" (messaging.operation.type
//     "receive", messaging.consumer.group.name for a queue group,
//     nats.sid); UNSUB sid [max]: "UNSUB".
//   - PING: "PING", answered by the server's PONG.
//
// Server to client:
//
//   - MSG subject sid [reply] size and HMSG subject sid [reply] hdrsize
//     totalsize: an Unsolicited response named "MSG <subject>"
//     (messaging.operation.type "receive"); a header block whose status is
//     not 2xx ("NATS/1.0 503" is "no responders") makes it StatusError with
//     error.type the status code.
//   - PONG answers the oldest PING; +OK and -ERR answer the oldest
//     operation waiting for an acknowledgement. A -ERR nothing waits for is
//     an Unsolicited "ERR" span with StatusError.
//   - INFO {json}: consumed, no message.
//
// Subjects of reply inboxes ("_INBOX.<random>...") are named "_INBOX.*" in
// span names so that names do not explode; the attribute keeps the subject.
//
// Without verbose mode (the default of every client library), PUB, HPUB,
// SUB, UNSUB and CONNECT get no acknowledgement and are marked NoResponse.
// A server's PING and the client's PONG to it are keep-alives and are
// consumed without a message.
//
// # Links
//
// HPUB and HMSG header blocks are read for trace context: traceparent,
// tracestate, b3, X-B3-TraceId, X-B3-SpanId, X-B3-ParentSpanId,
// uber-trace-id, sw8 and the configured request-id headers become Links
// (case-insensitive names). Message hand-off between publisher and
// subscriber carries no id, so the payload identifies it: a PUB carries
// [protocols.LinkHandoffSend] and a MSG [protocols.LinkHandoffRecv], both
// "nats:<subject>:<digest of the payload>" (FNV-1a 64 of the payload in 16
// hex digits, computed as the payload streams through, never buffered or
// shown; the first [MaxDigestLen] bytes, then the length). Request/reply:
// a MSG that names a reply subject R also carries LinkHandoffSend
// "nats-inbox:R:reply", and a PUB to R carries LinkHandoffRecv with the
// same value, so the responder's reply is the child of the request it
// received; the reply itself reaches the requester as a MSG on R, the
// child of the responder's PUB by its payload. A subject longer than
// [MaxLinkName] bytes is cut and followed by "~" and its digest.
//
// # Gaps
//
// A gap inside a payload is skipped exactly thanks to the size on the
// control line; the message is emitted, marked Partial, without its
// hand-off link. A gap anywhere else marks the message in progress Partial
// (emitting what was read of it) and resynchronises on the next line that
// starts with a known operation followed by a plausible rest.
//
// # Sniffing
//
// Sniff reports ToClient for "INFO {", "MSG ", "HMSG " control lines and
// ToServer for "CONNECT {", "PUB ", "HPUB ", "SUB " control lines, when the
// rest of the line is well formed.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines and never reads the clock. Strings in a
// Message may be retained; the Attrs and Links slices belong to the caller.
package nats
