// Package http provides the HTTP/1.x parser: a [protocols.Protocol]
// descriptor whose per-connection [Parser] turns the two byte streams of a
// TCP connection into request and response [protocols.Message] values.
//
// Spec version: RFC 9112 (HTTP/1.1 message syntax), RFC 9110 (semantics).
// Attribute names follow the stable OpenTelemetry HTTP semantic conventions
// (v1.26 and later).
//
// # Framing
//
// A message is emitted when it is complete: after its header block for
// requests without a body, after the last body byte otherwise. Body bytes
// are consumed as they arrive and never buffered; only the header block is
// needed whole, and it is bounded by [protocols.Config.HeaderLimit]. The
// body length follows RFC 9112 section 6.3: responses to HEAD, 1xx, 204 and
// 304 have none; Transfer-Encoding ending in chunked wins over
// Content-Length; a response with neither is read until the server closes
// its side ([Parser.End] then returns it); a request with neither has no
// body. Pipelined requests are paired with responses through a bounded FIFO
// of request methods ([MaxPending]; when it is full the oldest entry is
// dropped).
//
// Interim responses (100 Continue, 102, 103) are consumed and not emitted:
// the final response is the one paired with the request. A 101 Switching
// Protocols response (or a 2xx answer to CONNECT) is emitted, and from then
// on the connection is not HTTP: both directions are consumed quietly and
// nothing more is emitted. Bytes the client sends after an Upgrade or
// CONNECT request that do not look like a request line are likewise taken
// as tunnel data rather than an error, since they may be seen before the
// server's answer.
//
// # Sizes
//
// Size counts the bytes of a message seen on the wire: header block, body
// and chunk framing; an interim response's bytes belong to no message.
// BodySize (and http.request.body.size / http.response.body.size) counts
// payload bytes: the Content-Length, the decoded chunk data, or what was read
// until close.
//
// # Status
//
// Status is StatusError for 5xx responses and StatusOK otherwise, including
// 4xx: OpenTelemetry marks 4xx as an error only on client spans, and the
// parser does not know which side the trace is for. The code is always in
// the http.response.status_code attribute, so correlate may decide.
//
// # Gaps
//
// A gap inside a Content-Length body is subtracted from what remains: the
// message is still emitted, marked Partial, and BodySize counts the lost
// bytes (Size counts only the bytes seen). A gap anywhere else (chunked
// body, header block, between messages) marks the message in progress
// Partial and resynchronises: bytes are skipped up to the start of a line
// that looks like a request line (ToServer, standard or WebDAV method) or a
// status line (ToClient); the Partial message is emitted there. The data
// after a gap is taken to start a line, so a request that begins right after
// the gap is not lost. When a gap swallows the start of a message, a Partial
// placeholder is emitted in its place (a request named "HTTP", as
// OpenTelemetry names spans of unknown method, or a response without status
// code and with StatusUnknown) so that pairing requests with responses in order continues; a gap
// that swallows several whole messages still shifts the pairing.
//
// A header block cut by a gap (lost packets, or the snapshot length) is not
// lost when the driver offers its bytes to [Parser.Salvage] first
// ([protocols.Salvager]): if they start with a complete request or status
// line, the message is emitted from that line and the complete field lines
// after it (name, attributes, links), marked Partial, with Size counting the
// bytes seen and an unknown body; the parser then resynchronises after the
// gap as above without emitting a placeholder for that message. A cut start
// line, an interim response, or a gap in a body is handled as before.
//
// # Secrets
//
// Header values are never copied except those listed in the attributes
// and links; Authorization, Proxy-Authorization, Cookie and Set-Cookie
// never reach a Message. The query string is kept in url.query as sent.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines and never reads the clock. Strings in a
// Message are freshly allocated and may be retained; the Attrs and Links
// slices belong to the caller.
//
// Not supported: HTTP/0.9, HTTP/2 (a separate protocol), obs-fold header
// continuation lines (ignored), and request bodies delimited by anything
// other than Content-Length or chunked.
package http
