// Package plugin runs WebAssembly plugins that teach wiretrace what no
// built-in rule knows: an id in a JSON body or a private RPC header that
// should link spans, or a whole private protocol. A plugin is a WebAssembly
// module (WASI preview 1, typically Go built with GOOS=wasip1 GOARCH=wasm
// -buildmode=c-shared and //go:wasmexport) run by wazero, in pure Go.
//
// A plugin does one or both of:
//
//   - inspect: it is shown every message of every recognised flow, with the
//     bytes the message was made of, and returns link keys (which link
//     spans like an X-Request-ID, see protocols.LinkKeyPrefix) and
//     attributes. NewInspector makes a protocols.Inspector of such plugins.
//   - parse: it recognises a protocol (sniff) and cuts a direction's bytes
//     into requests and responses (parse). Plugin.Protocol is the
//     protocols.Protocol to register, sniffed after the built-in ones.
//
// # Sandbox and limits
//
// An instance gets WASI preview 1 with nothing granted: no file system,
// network, environment or arguments, stdout and stderr discarded, wazero's
// fixed clock and deterministic random source. A plugin is thus a function
// of its input, and replays stay reproducible.
//
// Each call runs under a time limit (Config.Timeout, 50 ms by default),
// enforced by wazero closing the module when its context is done, and
// with a bounded linear memory (Config.MemoryLimitPages, 64 MiB by
// default). A call that traps, exits, exceeds its time or fails to
// allocate is counted (Stats), the instance is thrown away (the next call
// gets a fresh one), and the flow is given up: the inspector is no longer
// called for it, or the protocol parser stops it with a parse error. The
// pipeline goes on. After Config.MaxFailures failures a plugin is disabled
// altogether.
//
// # Concurrency
//
// A Plugin is compiled once and is safe for concurrent use: each call takes
// an instance from the plugin's pool (instantiating one when none is free)
// and gives it back, so each worker goroutine in effect keeps an instance
// of its own. Instances keep no state the host relies on: the guest may
// keep state between calls, but it is lost when its instance is replaced.
//
// # ABI, version 1
//
// All integers are little-endian. A plugin exports:
//
//	wt_abi_version() -> i32        must return 1
//	wt_alloc(size i32) -> i32      address of size bytes of guest memory
//	wt_info() -> i64               records describing the plugin (below)
//	wt_inspect(len i32) -> i64     optional: inspect one message
//	wt_sniff(len i32) -> i32       optional, with wt_parse: recognise
//	wt_parse(len i32) -> i64       optional, with wt_sniff: parse
//
// and the usual WASI reactor entry point _initialize, which the host calls
// once per instance. Memory ownership: right after instantiating, the host
// calls wt_alloc once with the size of its input buffer and writes every
// call's input there; the memory stays the guest's, which must keep it
// (hold a reference in a global) for the life of the instance. Outputs are
// returned as (address << 32) | length of bytes in guest memory that stay
// valid until the next call into the instance; 0 means no output. The host
// copies what it keeps.
//
// Input (the first len bytes of the buffer) is one message:
//
//	off  size  field
//	0    1     direction: 0 unknown (sniff), 1 to server (request side), 2 to client
//	1    1     kind: 0 unknown, 1 request, 2 response (inspect only)
//	2    1     transport: 6 TCP, 17 UDP
//	3    1     flags: bit 0 the message is partial (bytes lost); bit 1 bytes were lost before these (parse)
//	4    16    client address, IPv6 or IPv4-mapped IPv6
//	20   16    server address
//	36   2     client port
//	38   2     server port
//	40   8     flow id (unique per pipeline, not across pipelines)
//	48   2     P: length of the protocol name
//	50   2     N: length of the message name (operation, e.g. "POST /pay")
//	52   4     L: length of the payload
//	56   P+N+L protocol name, message name, payload
//
// wt_sniff gets no flow: its addresses, ports and flow id are zero.
//
// The payload is, for wt_inspect, the bytes the parser consumed for the
// message as they crossed the wire (for HTTP/1 the header block and the
// body, chunk framing included), for wt_sniff the first bytes seen in one
// direction of a connection, and for wt_parse the unconsumed bytes of one
// direction, starting at a message boundary; at most Config.MaxInput bytes
// (and for wt_inspect at most what the driver kept,
// protocols.DriverConfig.MaxInspectBytes, 16 KiB by default).
//
// Output records follow one another, each a tag byte, the key's length
// (2 bytes), the value's length (4 bytes), the key and the value:
//
//	tag 'L'  link key: key is the name, value the id. A name that is a
//	         built-in link (x_request_id, traceparent, b3, ...) is used as
//	         is; any other is prefixed with "key_" unless it starts so.
//	tag 'A'  string attribute (an OpenTelemetry semantic-convention key).
//	tag 'I'  integer attribute, value in decimal.
//	tag 'M'  a message field (wt_parse only), key one of:
//	           consumed     decimal count of payload bytes consumed
//	           kind         "request" or "response"
//	           name         operation name of a request
//	           id           decimal id pairing a response with its request
//	           status       "ok" or "error" (responses)
//	           no_response  "1" on a request that expects none
//	           error        the bytes are not this protocol: the flow stops
//
// wt_parse returning consumed 0 and no kind means "need more bytes"; bytes
// consumed with no kind belong to no message. wt_sniff returns 0 (not this
// protocol), 1 (the bytes flow to the server) or 2 (to the client).
//
// wt_info's records are tag 'M' with keys: name (the plugin's name:
// letters, digits, '_' and '-'), and for a protocol plugin protocol (the
// protocol's name in span output), ports (comma-separated port hints for
// sniffing order) and id_link (the span link key under which a response id
// is recorded). Input and output records are bounded (Config.MaxInput, 64
// records, 1 KiB values); a plugin that breaks these rules fails the call.
package plugin
