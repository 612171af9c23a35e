// Package correlate turns protocol messages into spans and spans into
// traces.
//
// A [Builder] receives messages from protocols.Driver (it implements
// protocols.Handler), pairs each request with its response in order per
// connection, and hands spans to its [Linker]. The Linker groups spans that
// share a correlation key (X-Request-ID, a trace header's trace id, the TCP
// sequence number of the same exchange seen at two capture points), decides
// each span's parent and why (link_reason), assigns trace ids, and emits
// each trace to a [Sink] once every span in it is complete and no new span
// has joined it for the window, measured in packet time.
//
// Everything is driven by packet time (Advance), never by a wall clock, and
// ids are a pure function of the traffic, so replaying the same input twice
// gives the same output byte for byte. None of the types is safe for
// concurrent use.
package correlate
