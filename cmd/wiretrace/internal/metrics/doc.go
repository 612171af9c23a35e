// Package metrics exposes the pipeline's counters and the spans it emits as
// Prometheus metrics, on a registry of its own (no global state).
//
// Every counter of the stats line NAME=V is exported as
// wiretrace_NAME_total (a counter), except the current values
// tcp_conns_active, tcp_buffered_bytes, live_ring_version, store_traces
// and store_spans, exported as gauges wiretrace_NAME. Kernel drops
// (live_kernel_drops, live_freezes), decode drops (truncated, malformed_*,
// ip_fragments_dropped), TCP losses (tcp_gap_bytes, ...), driver and
// linker drops (buffer_drop_bytes, pending_overflow, window_forced, ...)
// are each their own counter, named as on the stats line. On top of them:
//
//	wiretrace_protocol_parse_errors_total{protocol}  parse errors by protocol
//	wiretrace_protocol_spans_total{protocol,status}  spans emitted
//	wiretrace_request_duration_seconds{client_service,server_service,protocol}
//	                                                  histogram of the spans that got a response
//	wiretrace_pending_spans                           spans in open traces
//
// Services are named as in correlate/store (Names): a configured name,
// else the server's ip:port and the client's ip. The counters are read at
// scrape time under the Config's Lock, so a pipeline that is not safe for
// concurrent use can be scraped while it runs.
package metrics
