// Package mongodb provides the MongoDB wire protocol parser: a
// [protocols.Protocol] descriptor whose per-connection [Parser] turns the
// two byte streams of a client–server connection into command and reply
// [protocols.Message] values.
//
// Spec version: the MongoDB wire protocol of MongoDB 8.0
// (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/):
// OP_MSG, OP_COMPRESSED, and the legacy OP_QUERY, OP_REPLY, OP_GET_MORE,
// OP_INSERT, OP_UPDATE, OP_DELETE and OP_KILL_CURSORS. BSON is read with
// go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore, element by element, in
// place (no copy of documents). Attribute names follow the OpenTelemetry
// database semantic conventions v1.37.0 (db.system.name "mongodb").
//
// # Framing
//
// Every message is a 16-byte header — messageLength, requestID,
// responseTo, opCode, little-endian — and its body. Requests carry ID =
// requestID, replies ID = responseTo, both with HasID set, so correlate
// pairs them by id. OP_MSG requests with the moreToCome flag, and legacy
// OP_INSERT, OP_UPDATE, OP_DELETE and OP_KILL_CURSORS, get no reply and
// are emitted with NoResponse. An OP_MSG's optional CRC-32C checksum
// (checksumPresent flag) is excluded from its sections and not verified.
//
// A message of at most [protocols.Config.HeaderLimit] bytes (64 KiB by
// default) is decoded when whole; a larger one is decoded from its first
// HeaderLimit bytes (the command document comes first; inserted documents,
// in a kind-1 section, come after it), and the rest is skipped as it
// arrives, never buffered. A length below a header's or above
// [MaxMessageSize] stops the flow with a ParseError; a body that does not
// decode does not: the framing still holds, and the message is emitted
// with what was understood.
//
// OP_COMPRESSED messages (snappy, zlib, zstd) are decompressed, at most
// [MaxDecompressed] bytes, and decoded as the message they wrap; the
// attribute mongodb.compressor names the compressor. A compressor that is
// not known ("noop" excepted) or data that does not decompress leave the
// message named by its original opcode only, with
// mongodb.decompressed=false.
//
// # Commands and attributes
//
// The command is the first key of the OP_MSG body document (section kind
// 0) or of an OP_QUERY to "<db>.$cmd" (unwrapped from $query). Name is
// "<command> <collection>" or the command alone; legacy operations are
// named as their command equivalent ("find", "insert", ...). Requests carry
// db.system.name "mongodb", db.operation.name, db.collection.name (the
// command's string value, getMore's "collection", or the legacy full
// collection name's second part), db.namespace ($db, or the full collection
// name's first part) and, outside the conventions, mongodb.request_id and
// mongodb.opcode ("OP_MSG", ...; requests only, so the reply's does not
// replace it in the span).
//
// Replies: Status is StatusError when the reply's ok is 0, OP_REPLY's
// QueryFailure flag is set, or writeErrors is not empty; then error.type
// is the error's codeName (or its code, or "error") and
// db.response.status_code its code.
//
// # Comments as links
//
// A command's comment field (OP_QUERY: $comment too), when a string, is
// read as a SQL comment body is ([sqlcomment.Pairs]): "traceparent='00-…'"
// and "x-request-id=…" pairs become Links, so a MongoDB command links to
// the request that issued it as a query with a sqlcommenter comment does.
// A comment that is a document gives one pair per string field
// ({traceparent: "00-…"}). Comments longer than 2 KiB are ignored.
//
// # Secrets
//
// Documents are never copied: only the command name, the collection, $db,
// the comment, and ok, code, codeName and writeErrors of replies are read.
// Authentication commands (saslStart, saslContinue, authenticate,
// getnonce) and handshakes carrying speculativeAuthenticate are named but
// nothing else of them is read, not even their comment.
//
// # Not supported
//
// Exhaust cursors (replies with moreToCome answer a reply, not a
// request; they are emitted unpaired); documents are never rendered, so
// spans carry no db.query.text; checksums are not verified.
//
// # Gaps
//
// A gap inside a message whose size is known is skipped exactly and the
// message emitted Partial; a message cut by a gap is offered to
// [Parser.Salvage]. A gap that reaches past the end of a message loses the
// boundary: the parser scans for the next plausible header (a sane length,
// a known opcode, a responseTo that fits the direction) and resumes there.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines and never reads the clock. Strings in
// a Message may be retained; the Attrs and Links slices belong to the
// caller.
package mongodb
