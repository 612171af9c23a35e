// Package kafka provides the Kafka wire protocol parser: a
// [protocols.Protocol] descriptor whose per-connection [Parser] turns the
// two byte streams of a client–broker connection into request and response
// [protocols.Message] values.
//
// Spec version: the Kafka protocol guide (https://kafka.apache.org/protocol)
// and the message definitions of Apache Kafka 4.1; every API key 0..92 is
// named. Attribute names follow the OpenTelemetry messaging semantic
// conventions v1.37.0.
//
// # Framing
//
// Every message is a 4-byte size followed by a header: request header v1
// (api_key, api_version, correlation_id, client_id) or v2 (plus tagged
// fields) for flexible versions, v0 for ControlledShutdown v0; response
// header v0 (correlation_id) or v1 (plus tagged fields) for flexible
// versions, except ApiVersions responses, always v0 (KIP-511). Requests and
// responses carry ID = correlation_id with HasID set, so correlate pairs
// them by id. A response body is decoded with the API key and version of
// the request it answers, from a bounded per-connection list of pending
// requests ([MaxPending]). Produce requests with acks=0 get no response and
// are emitted with NoResponse.
//
// A message of at most [protocols.Config.HeaderLimit] bytes (64 KiB by
// default) is decoded when whole; a larger one is decoded from the bytes
// at hand once HeaderLimit of them are there, the rest is skipped as it
// arrives (never buffered), and it is emitted at its end. Its counts and
// links then cover that prefix only. Sizes below a header's or above
// [MaxMessageSize] stop the flow with a ParseError; a body that does not
// decode (an unknown version, a malformed field) does not: the framing
// still holds, and the message is emitted with what was understood.
//
// # Names and attributes
//
// Name is the API name ("Metadata", "JoinGroup"), followed for Produce and
// Fetch by their topic, a comma-separated list of up to [MaxTopicNames]
// topics, or "<n> topics". Topic ids (Produce v13+, Fetch v13+) stand for
// names, formatted as Kafka tools print them (URL-safe base64).
//
// Requests: messaging.system "kafka", messaging.operation.name (the API
// name), messaging.operation.type ("send" for Produce, "receive" for
// Fetch), messaging.destination.name (when one topic),
// messaging.destination.partition.id (when one partition),
// messaging.kafka.offset (the fetch offset of a one-partition Fetch),
// messaging.batch.message_count (the records of a Produce),
// messaging.consumer.group.name (group APIs), messaging.client.id, and,
// outside the conventions, kafka.api_version and kafka.correlation_id.
//
// Responses: Status is StatusError when the top-level error code or any
// partition's is not 0 (Produce, Fetch, OffsetCommit, and the APIs whose
// response starts with an error code: ApiVersions, the group APIs,
// FindCoordinator v0–3, SASL, InitProducerId, AddOffsetsToTxn, EndTxn); then
// error.type is the first error's name (UNKNOWN_TOPIC_OR_PARTITION, ...).
// Produce responses give messaging.kafka.offset (the base offset, one
// partition) and Fetch responses messaging.batch.message_count.
//
// # Records and links
//
// RECORDS fields of Produce requests and Fetch responses are scanned:
// record batches (magic 2) are counted from their headers (control batches
// excluded); their records' headers are read, after decompression for
// gzip, snappy (raw or snappy-java framing), lz4 and zstd batches, at most
// [MaxDecompressed] bytes per batch. Legacy message sets (magic 0 and 1) are
// counted one per entry, a compressed wrapper as one. A partial batch at
// the end of a Fetch response (which consumers discard) is not counted.
//
// Record headers named traceparent, tracestate, b3, X-B3-TraceId,
// X-B3-SpanId, X-B3-ParentSpanId, uber-trace-id, sw8 or one of the
// configured request-id names (case-insensitively) become Links under the
// protocols.Link* keys; the first value in a message wins.
//
// For message handoff, Links also hold, per partition (at most
// [MaxPartitionLinks]), kafka_topic_partition ([LinkTopicPartition],
// "topic/partition"), followed in responses by kafka_offset ([LinkOffset]):
// the base offset a Produce response assigned ("42"), or the first and last
// record offsets of a Fetch response's batches ("36..41", from the batch
// headers). A Produce request lists its partitions without offsets.
//
// # Gaps
//
// A gap inside a message whose size is known is skipped exactly and the
// message emitted Partial. A message cut by a gap before it was whole (lost
// packets, or the snapshot length) is offered to [Parser.Salvage]: its
// header and the body bytes at hand give a Partial message, and the rest of
// it is skipped. A gap that reaches past the end of a message loses the
// boundary: the parser scans for the next plausible header (a request
// header as [Sniff] accepts it, or a response whose correlation id is
// pending) and resumes there.
//
// # Secrets
//
// SASL exchanges (SaslHandshake, SaslAuthenticate) are named but their
// bodies never read; record keys and values are skipped, only the headers
// listed above are copied.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines (zstd is decoded synchronously) and
// never reads the clock. Strings in a Message may be retained; the Attrs
// and Links slices belong to the caller.
//
// Not supported: the inner messages of compressed legacy message sets,
// responses whose request was not seen (emitted with their id only),
// topic ids resolved to names, and the per-topic errors of APIs other than
// Produce, Fetch and OffsetCommit.
package kafka
