// Package correlate turns protocol messages into spans and spans into
// traces.
//
// A [Builder] receives messages from protocols.Driver (it implements
// protocols.Handler), pairs each request with its response in order per
// connection, and hands spans to its [Linker]. The Linker groups spans that
// share a correlation key (X-Request-ID, a trace header's trace id, the TCP
// sequence number of the same exchange seen at two capture points). When a
// span completes it also picks, among the spans then open, a parent that
// no shared key names — the Produce whose records a Fetch returned, the
// send of a queue handoff value, or by timing the enclosing inbound request
// of its host — and joins the two traces. At emission it decides each
// span's parent and why (link_reason; the rules are listed on the linker's
// link method), assigns trace ids, and emits each trace to a [Sink] once
// every span in it is complete and no new span has joined it for the
// window, measured in packet time. Every span is output once: one still
// waiting for its response when its trace is emitted early is held and
// output, complete, in a trace of its own (Stats.LateSpans).
//
// With a Config.Attributor (the CLI plugs in capture/ebpf's tracer), each
// span also names the local process and thread that wrote or read its
// request, and the linker prefers, over timing, the inbound request that
// the thread which sent a call had read (same_thread); see thread.go.
//
// Everything is driven by packet time (Advance), never by a wall clock, and
// ids are a pure function of the traffic, so replaying the same input twice
// gives the same output byte for byte. None of the types is safe for
// concurrent use.
package correlate
