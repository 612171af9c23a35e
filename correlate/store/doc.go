// Package store keeps finished traces in memory for queries: a
// correlate.Sink indexed by trace id and by time.
//
// A Store is bounded twice: by Retention, measured in packet time back from
// the newest span end it has seen (never the wall clock), and by MaxSpans;
// traces that fall out of either bound are evicted whole, oldest start
// first, and counted in Stats. Traces written again under an id already
// stored (late spans) are merged into the stored trace.
//
// Each span belongs to one service (see [Names]): the name configured for
// its address, else the address itself. Services and their operations (span
// names) are indexed for listing.
//
// A Store is safe for concurrent use: one writer (the pipeline) and any
// number of readers (the HTTP API). Traces returned by queries share their
// spans with the store; callers must not modify them.
package store
