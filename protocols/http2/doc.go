// Package http2 provides the HTTP/2 parser, with gRPC on top: a
// [protocols.Protocol] descriptor whose per-connection [Parser] turns the two
// byte streams of a cleartext HTTP/2 connection (h2c with prior knowledge)
// into request and response [protocols.Message] values, one pair per
// stream.
//
// Spec version: RFC 9113 (HTTP/2), RFC 7541 (HPACK), gRPC over HTTP/2
// (PROTOCOL-HTTP2.md). Attribute names follow the OpenTelemetry semantic
// conventions v1.37.0 (HTTP and RPC).
//
// # Framing
//
// Frames are read as they arrive: DATA payloads are counted and never
// buffered; HEADERS, CONTINUATION, PUSH_PROMISE, SETTINGS and RST_STREAM
// payloads are needed whole, up to [protocols.Config.HeaderLimit] (a longer
// one is skipped, which loses its header block as below). Padding and
// priority fields are removed. A header block (HEADERS or PUSH_PROMISE and
// its CONTINUATIONs, bounded by the same limit) is decoded with
// golang.org/x/net/http2/hpack, one decoder per direction, which applies
// the dynamic table size updates of the block; SETTINGS_HEADER_TABLE_SIZE
// bounds them (and MaxHeaderTableSize bounds that), and
// SETTINGS_MAX_FRAME_SIZE bounds frame lengths once both directions were
// seen from their start.
//
// # Streams and messages
//
// Messages carry the stream id (ID, HasID), so correlate pairs them by
// stream. The request is emitted at the client's END_STREAM; the response at
// the server's END_STREAM, its trailers included. When the server ends a
// stream first (a bidirectional gRPC call the server finishes, or a
// request whose end was not captured) the request is emitted just before the
// response. RST_STREAM ends a stream at once: the request (if not yet
// emitted) and the response are emitted; the response has StatusError and
// error.type set to the error code's name (e.g. "CANCEL"), or is Partial for
// NO_ERROR. A pushed request (PUSH_PROMISE) is emitted when its header block
// ends. At the end of the client's side, requests not complete are emitted
// Partial; at the end of the server's side, responses whose headers were
// seen but not their END_STREAM are emitted Partial. At most [MaxStreams]
// streams are open; opening one more ends the one with the lowest id. A
// frame of a stream already closed (its id below the highest seen) is
// ignored, except that header blocks are always decoded to keep HPACK state.
// One frame may complete two messages; the parser then reports its last byte
// unconsumed once, so that the driver calls again for the second.
//
// Size counts the frames of the stream in that direction (headers included);
// BodySize the DATA payload without padding (for gRPC, with the 5-byte
// message prefixes).
//
// # HTTP and gRPC semantics
//
// A request is named like HTTP/1's: method and path without the query
// ("GET /index.html"), with http.request.method, url.path, url.query,
// url.scheme, server.address and server.port (from :authority, else Host),
// user_agent.original, network.protocol.version "2" and the body sizes. The
// response has http.response.status_code; Status is StatusError for 5xx, as
// in package http (server-side semantics). Interim (1xx) responses are
// skipped.
//
// A stream whose content-type is application/grpc (or application/grpc+...)
// is a gRPC call: Message.Protocol is "grpc", the name is the :path without
// its leading slash ("hipstershop.CartService/GetCart"), with rpc.system
// "grpc", rpc.service and rpc.method, and rpc.grpc.status_code from the
// grpc-status trailer (or the headers of a trailers-only response). Status
// follows the OpenTelemetry server-span rule: StatusError for UNKNOWN (2),
// DEADLINE_EXCEEDED (4), UNIMPLEMENTED (12), INTERNAL (13), UNAVAILABLE (14)
// and DATA_LOSS (15); other codes (NOT_FOUND, CANCELLED, ...) are the
// caller's concern and StatusOK. The code is always in the attribute.
//
// # Links and secrets
//
// Links are those of package http: the configured request-id headers (the
// first in configuration order wins), traceparent, tracestate, b3, X-B3-*,
// uber-trace-id and sw8. A grpc-trace-bin header (base64 of the OpenCensus
// binary context: version 0, field 0 trace id, field 1 span id, field 2
// options) becomes a traceparent "00-<trace id>-<span id>-<flags>" when no
// traceparent header is present. No other header value is copied:
// authorization, proxy-authorization, cookie and set-cookie never reach a
// Message, even if configured as request-id headers.
//
// # Joining mid-stream and gaps
//
// A direction that starts with the client preface, or the server's SETTINGS,
// is seen from its start: frame errors there are *protocols.ParseError.
// Otherwise (a connection joined mid-stream) the HPACK dynamic table is
// unknown and header blocks are decoded leniently: static table entries,
// literals and entries inserted since are decoded (an entry an index names
// is always right, since indices count from the newest), references to
// older entries are skipped, and a block with skipped fields makes its
// message Partial. A request whose method is known but not its path is named
// by the method alone; one with no pseudo-header decoded (or whose header
// block was never seen) is named "HTTP/2 stream" and is Partial.
//
// A gap inside a frame whose header was seen is skipped exactly: a DATA
// frame's stream is marked Partial (BodySize counts the lost bytes), and a
// lost part of a header block makes its stream Partial and the direction's
// HPACK state unknown, as when joining mid-stream. A gap elsewhere loses the
// frame boundaries: every open stream is marked Partial in that direction
// and the parser skips to the next plausible frame header (a known type with
// valid flags, stream id and length, followed by another or by the end of
// the data). Frame errors after that resynchronise again rather than fail.
//
// # Sniffing
//
// Sniff recognises the client preface (ToServer); frames from the start of
// the data whose first HEADERS block starts with a request pseudo-header
// from the static table (ToServer) or :status (ToClient); else a complete
// SETTINGS frame at the start (the server's preface: ToClient). Every frame
// walked must be plausible, which text protocols never are.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines and never reads the clock. Strings in a
// Message may be retained; the Attrs and Links slices belong to the caller.
//
// Not supported: HTTP/2 over TLS (h2; the bytes are encrypted), the h2c
// upgrade from HTTP/1.1 (the HTTP/1 parser sees the Upgrade request and
// treats the connection as a tunnel after 101), extension frames beyond
// skipping them, and request or response bodies (content-encoding, gRPC
// message decoding).
package http2
