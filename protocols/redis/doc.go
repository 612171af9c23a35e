// Package redis provides the Redis parser: a [protocols.Protocol] descriptor
// whose per-connection [Parser] turns the two byte streams of a TCP
// connection into command and reply [protocols.Message] values.
//
// Spec version: the Redis serialization protocol, RESP2 and RESP3
// (https://redis.io/docs/latest/develop/reference/protocol-spec/), including
// RESP3 streamed strings and aggregates, and inline commands. Command names
// follow the Redis 8.0 command reference. Attribute names follow the
// OpenTelemetry database semantic conventions v1.37 (db.system.name
// "redis").
//
// # Commands
//
// A command is an array of bulk strings, or an inline line split as Redis
// does (spaces separate, double and single quotes group). Its Name and
// db.operation.name are the command name upper-cased; container commands
// (ACL, CLIENT, CLUSTER, COMMAND, CONFIG, FUNCTION, LATENCY, MEMORY, MODULE,
// OBJECT, PUBSUB, SCRIPT, SENTINEL, SLOWLOG, XGROUP, XINFO) are named by both
// words ("CLIENT SETNAME", "XINFO STREAM") when the second is a known
// subcommand. Names come from a static table; a name not in it is kept when
// it looks like a module command ("FT.SEARCH": a letter, then letters,
// digits and . _ - | :), otherwise the command has no name (the span is
// named "redis"). Argument values are never copied: db.query.text is the
// name followed by one "?" per argument ("SET ? ?"), at most MaxPlaceholders
// of them, then " ...". Only the name, a container's subcommand, SELECT's
// index, HELLO's protocol version and CLIENT REPLY's mode are read at all,
// each at most 32 bytes into the parser's own storage, plus the key and
// values of the queue commands (see Queue hand-off: the key at most
// MaxLinkName bytes, values only hashed); AUTH, HELLO's AUTH and every
// other argument are skipped unread. db.namespace is the database
// index of the last SELECT on the connection (applied from the next command
// on, whether or not it succeeded; "0" after RESET) and absent before one.
//
// Commands get no reply while CLIENT REPLY OFF is in effect and after
// CLIENT REPLY SKIP (as Redis does: SKIP while OFF changes nothing); these
// commands, and the CLIENT REPLY OFF/SKIP commands themselves, are marked
// NoResponse. An empty array ("*0", "*-1") or empty inline line is ignored
// as Redis ignores it.
//
// # Replies
//
// Replies pair with commands in order through a bounded FIFO ([MaxPending];
// when full the oldest entry is dropped). Pipelining needs nothing more;
// inside MULTI the +QUEUED replies pair with the queued commands and EXEC's
// array with EXEC. Errors (-ERR, -WRONGTYPE, RESP3 !bulk errors) are
// StatusError with db.response.status_code set to the error's first word
// when it is upper case, else "ERR"; every other reply, null included, is
// StatusOK. Aggregates are read element by element with a stack bounded by
// [MaxDepth]; bulk bodies of any length up to [MaxBulkLen] are consumed as
// they arrive and never buffered, so a reply of any size is held in a few
// hundred bytes. RESP3 attributes (|) are skipped wherever they appear.
// Stray line ends between replies are ignored.
//
// # Pub/sub
//
// SUBSCRIBE, PSUBSCRIBE and SSUBSCRIBE with n channels expect n
// confirmations; the reply is emitted at the last one, so the span covers
// them all. UNSUBSCRIBE and its kin with n channels likewise; without
// arguments they expect one confirmation per subscription the parser has
// counted on the connection (at least one). A confirmation is a RESP2 array
// or RESP3 push of three elements: the kind ("subscribe", ...), the channel
// and an integer count. Messages ("message", "pmessage", "smessage" arrays
// in RESP2 while subscribed, or when no command is waiting; every RESP3
// push) and confirmations nothing waits for are emitted as Unsolicited
// responses, each a span of its own named "PUBSUB message", "PUBSUB
// pmessage", "PUBSUB smessage", "PUBSUB subscribe", ..., "PUSH invalidate"
// (client-side caching) or "PUSH". The payload is a value and is not
// reported; a message's channel appears only in its handoff link (below).
// After MONITOR, simple strings that no command waits for
// are Unsolicited "MONITOR" spans. HELLO 3 switches the connection to RESP3
// semantics: arrays are then never messages.
//
// # Queue hand-off
//
// Redis carries no trace context, but a value handed from a producer to a
// consumer through a stream, a list or a channel is seen at both ends.
// Messages carry [protocols.LinkHandoffSend] (producer) and
// [protocols.LinkHandoffRecv] (consumer) links whose equal values tie the
// two spans, "<kind>:<name>:<id>":
//
//   - Streams, "redis-stream:<key>:<entry id>": the reply to XADD (the entry
//     id is the reply) carries Send; the replies to XREAD and XREADGROUP
//     (RESP2 arrays [[stream, [[id, fields]...]]...] and RESP3 maps
//     stream => entries) carry one Recv per entry.
//   - Lists, "redis-list:<key>:<digest of the value>": LPUSH, RPUSH, LPUSHX
//     and RPUSHX commands carry one Send per value; the replies to BLPOP and
//     BRPOP ([key, value]), LMPOP and BLMPOP ([key, [values]]), LPOP and
//     RPOP (a value, or an array with a count; the key is the command's)
//     carry one Recv per value; the reply to LMOVE, BLMOVE, RPOPLPUSH and
//     BRPOPLPUSH carries Recv on the source and Send on the destination (the
//     moved value is produced again).
//   - Pub/sub, "redis-pubsub:<channel>:<digest of the payload>": PUBLISH and
//     SPUBLISH commands carry Send; every "message", "pmessage" (the channel,
//     not the pattern) and "smessage" (RESP2 array or RESP3 push) carries
//     Recv.
//
// The digest is the FNV-1a 64 hash (http://www.isthe.com/chongo/tech/comp/fnv/)
// of the value's bytes in 16 lower-case hex digits, computed as the bytes
// stream through: values are never buffered, copied or shown. Only the
// first [MaxDigestLen] bytes are hashed; a longer value's hash goes on over
// its length (8 bytes, little-endian). Equal values
// pushed to one list give equal links, so the linker cannot tell them
// apart. Names (keys, channels) are shown as they are, since keys are
// usually not secrets: no escaping (a ':' in a name needs none, the id being
// last); a name longer than [MaxLinkName] bytes is cut to its first
// MaxLinkName-17 bytes followed by "~" and the hex digest of the whole name,
// the same way at both ends. A message carries at most [MaxHandoffLinks]
// links; an entry id longer than 64 bytes, or a name, value or id cut by a
// gap, gives none. Only the argument positions a command's plan names are
// read (the key, the values to digest); others are skipped as before.
// Not linked: replies inside MULTI/EXEC (the commands get +QUEUED), RESP3
// streamed strings, inline commands whose values use quotes with escapes
// (the raw text is digested), XCLAIM/XAUTOCLAIM, sorted-set pops.
//
// Links on a command are set when it is emitted; links on a reply are set
// on the reply (the correlate Builder adds a response's keys that the span
// does not have yet).
//
// # Sizes
//
// Size counts the bytes of a message, framing included; a reply's Size
// includes the earlier confirmations of a multi-channel SUBSCRIBE. BodySize
// is not set.
//
// # Gaps
//
// A gap inside a bulk string (argument or reply element) is skipped exactly
// thanks to the length prefix: the message is still emitted, marked Partial
// (a command name cut by the gap is lost). A gap anywhere else marks the
// message in progress Partial and resynchronises on the next line that
// starts a plausible element: for commands a line "*N" followed by a line
// starting with "$" (inline commands are not looked for, since any text line
// could be one); for replies a line starting with a RESP type byte and a
// well-formed rest (+text, -UPPERCASE, :digits, $/*/%/~/>/|/!/= with a
// length, _, #t or #f, a double, a big number). The data after a gap is
// taken to start a line. When a gap swallows the start of a message, a
// Partial placeholder is emitted in its place (a command without a name, or
// a reply with StatusUnknown) so that in-order pairing continues; a gap that
// swallows several whole messages still shifts the pairing. A line inside a
// bulk body that happens to look like an element start fools the resync.
//
// # Sniffing
//
// Sniff reports ToServer for an array whose first element is a bulk string
// holding a known command name, and for an inline line whose first word is
// one (printable ASCII, not an HTTP request line). It reports ToClient only
// for replies no command looks like: +OK, +PONG, +QUEUED, +RESET;
// -UPPERCASE errors; integers; a complete bulk string; non-empty arrays whose first
// element is not a bulk string or is a pub/sub kind ("message", and
// "subscribe ch :n" told from "SUBSCRIBE a b" by its third element); and the
// RESP3 types. Otherwise it waits for more bytes or for the other direction.
// Inline "GET key" is also memcached's syntax; memcached's port hint should
// place it first.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines and never reads the clock. Strings in a
// Message are interned or freshly allocated and may be retained; the Attrs
// and Links slices belong to the caller. Links holds only handoff links (see
// Queue hand-off): Redis carries no trace context.
//
// Not supported: the replication stream (PSYNC/SYNC: the RDB payload is not
// RESP and stops the flow with a ParseError).
package redis
