// Package fleet splits wiretrace over many hosts: agents that capture and
// build spans where the traffic is, and assemblers that link the spans of
// every capture point into the traces one process would give on all the
// captures together.
//
// # Agent
//
// An agent runs the ordinary pipeline on its captures. Its correlate
// Builder pairs requests and responses and links what only its own view
// can link: timing (the enclosing inbound request of the same host, which
// needs the spans open at that capture point when the call completed).
// The [Agent] sink receives the agent's local traces and publishes one
// [Record] per span: the span in the span format, its
// correlate.SpanState (completion time, multi-valued link keys, the
// timing parent the agent chose) and its join keys. A [Spool] sits
// between the agent and the broker: capture never waits, records wait in
// memory (bounded) and on disk (SpoolConfig.Dir, bounded) while the broker
// is unreachable, and what cannot be kept is counted (SpoolStats.Dropped).
//
// # Keys and partitions
//
// Two spans of different capture points meet in a trace only through a
// join key: an X-Request-ID ("x:"), a trace header's trace id ("t:"), the
// TCP sequence of one exchange seen at two points ("q:"), a Kafka topic
// partition ("k:"; offsets decide within it), a queue handoff value such
// as a Redis stream id ("h:"), or a timing hint ("m:" + the parent's
// span id, local to one agent). Each key hashes to one of Partitions
// partitions, and an agent publishes a record to the partition of each of
// its keys, so every pair of records that share a key meets on that key's
// partition. Ids are a pure function of the traffic (correlate/ids.go),
// so the same span has the same id everywhere.
//
// # Traces joined through several keys
//
// A trace usually joins through several keys (the gateway's request id,
// the TCP sequence of each hop, a trace header further down), and they
// hash to different partitions. Each assembler keeps the components of
// its records connected by shared keys (a superset of their traces), and
// resolves a component deterministically:
//
//   - its owner is the lowest partition among the partitions of all its
//     keys; only the assembler that owns that partition links and writes
//     the component's traces;
//   - every partition of a component learns all of its keys: whenever
//     an assembler's view of a component gains keys, it announces the
//     component's keys (a small record, {"v":1,"ann":true,"keys":[…]}) to
//     each partition of those keys it does not own. Knowledge spreads
//     along shared keys, so every partition a component touches ends up
//     with the same key set and computes the same owner, whichever
//     partition learnt of each link first (A's key shared with B's, B's
//     with C's);
//   - an assembler that holds records of a component it does not own
//     forwards them to the owner partition (again when the owner changes
//     as the component grows), so the owner ends up with every record.
//
// The owner runs a correlate.Relinker on the records: it replays their
// starts and completions in packet-time order through the same Linker a
// single process uses, with the agents' timing choices, so trace ids,
// parents and link reasons are those of one replay of every capture.
//
// # Delivery
//
// Delivery is at least once. An assembler acks a record once the trace
// it belongs to was written and the sink flushed (a jsonl or tree
// output; a sink that writes at Close, such as html or summary, takes its
// records as it gets them), or, for a record held only to be forwarded,
// once its owner partition has it. A record delivered twice is dropped by
// span id; output written twice (after a crash between the write and the
// ack) is identical, so consumers may dedupe by span id. When an
// assembler dies, the broker gives its partitions to the others and
// delivers its unacked records again; an assembler that loses a partition
// hands the traces it owned back (nak). Bad records (not JSON, no span, a
// wrong type) and records of another format version are counted
// (Stats.Malformed, Stats.Foreign) and acked, so they do not come back;
// fields a record has and this version does not know are ignored.
//
// # Time
//
// Joins by key never depend on clocks. When a trace is final does: a
// record matures Lateness (wall time) after it arrived, and the
// assembler's packet time is the least progress among the agents that
// sent records within the last Lateness, minus Lateness; a trace is final
// when that passes its last activity by the correlate window. When every
// agent is quiet, packet time moves on with the wall clock. A record later
// than that still joins the traces still open, else it forms a trace of
// its own (as a span past the window does in one process).
//
// # Limits
//
// An agent publishes a record to the partition of each of its keys (about
// three per span on HTTP traffic), and announcements and forwards add to
// that, so with few partitions per assembler each instance still receives
// most messages; only decoding the spans, linking and writing are shared.
// On a 2-core machine a second assembler does not yet add throughput
// (make bench). A rebalance (an assembler joining, leaving or dying)
// while traces are open may write a trace twice, once in part. Kafka
// topic partitions are coarse keys: every producer and consumer span of one topic partition
// is in one component. Kafka has no per-record redelivery, so a record an
// assembler hands back is published again to its owner partition.
//
// None of the types is safe for concurrent use unless its doc says so
// (Spool is).
package fleet
