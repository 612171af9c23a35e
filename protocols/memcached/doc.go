// Package memcached provides the memcached parser: a [protocols.Protocol]
// descriptor whose per-connection [Parser] turns memcached's text and binary
// protocols, over TCP and UDP, into command and reply [protocols.Message]
// values.
//
// Spec version: the text protocol of memcached 1.6 (protocol.txt, including
// the meta commands mg, ms, md, ma, mn, me), the binary protocol
// (https://github.com/memcached/memcached/wiki/BinaryProtocolRevamped) and
// the UDP frame header of protocol.txt ("UDP protocol"). Attribute names
// follow the OpenTelemetry database semantic conventions v1.37
// (db.system.name "memcached").
//
// # Commands
//
// A text command's Name and db.operation.name are its first word as sent
// ("get", "set", "gat", "mg", ...); db.query.text is the command and its
// keys ("get user:1 user:2", "set user:1"), at most [MaxQueryText] bytes:
// flags, expiry times, sizes, CAS values and every data block are left out,
// so values are never copied. A multi-key get sets db.operation.batch.size.
// Storage commands (set, add, replace, append, prepend, cas, ms) are
// emitted after their data block, which is skipped as it streams. A command
// with "noreply" (or a meta command with the q flag) expects no reply and is
// NoResponse; "quit" too. An unknown command word (lower-case letters,
// digits and "_") is a command the server will answer with ERROR.
//
// A binary request is named after its opcode ("get", "setq", "sasl_auth",
// ...), with the key in db.query.text; the opaque pairs it with its reply
// (HasID). Quiet opcodes (getq, setq, ...) are answered only on a miss or an
// error (gets: on a hit); when the reply to a later request arrives, the
// quiet requests before it that got none are answered by an OK reply of
// their own, so their spans end there; over UDP, where no later request
// answers for them, quiet requests are NoResponse. The statistics of a
// binary stat reply (one packet each, with a key) are read without a
// message; the packet with an empty key that ends them is the reply. SASL
// authentication data is never read.
//
// # Replies
//
// Text replies are framed by their own first line: VALUE (and CONFIG)
// lines are followed by a data block and more lines up to END; STAT (and
// ITEM, PREFIX) lines by more lines up to END; a meta VA line by one data
// block; any other line is the whole reply. They pair with commands in
// order. ERROR, CLIENT_ERROR and SERVER_ERROR are StatusError. A one-line
// reply sets db.response.status_code to its word (STORED, NOT_STORED,
// EXISTS, NOT_FOUND, DELETED, TOUCHED, VERSION, HD, EN, ERROR, ...; not an
// incr's new value); a retrieval sets db.response.returned_rows to the
// number of values, and db.response.status_code "END" when there were
// none (a miss). Binary replies are StatusError for a status other than 0
// (no error), 1 (key not found), 2 (key exists) and 5 (item not stored);
// db.response.status_code is a status other than 0 in hex ("0x0001").
//
// # UDP
//
// Over UDP each datagram starts with an eight-byte frame header: request
// id, sequence number, datagram count, reserved. A request is one datagram;
// its request id pairs it with the reply (HasID). A reply's first datagram
// (sequence 0) gives the reply message, read as far as the datagram goes;
// the following datagrams of a multi-datagram reply are consumed without a
// message.
//
// # Gaps
//
// A gap inside a data block or a binary body is skipped exactly; the
// message is still emitted, Partial. A gap elsewhere emits the message in
// progress, or a placeholder for the one whose start it swallowed, Partial
// (so that in-order pairing goes on), and resynchronises on the next line that starts with a
// known command or reply word (text) or on a plausible binary header.
//
// # Sniffing
//
// Sniff reports ToServer for a complete first line starting with a known
// command followed by a well-formed rest, or a binary request header with a
// known opcode, and ToClient for a binary response header. Inline
// "get key" is also Redis's syntax: memcached's port hint (11211) makes it
// take the first look there.
//
// # Concurrency and ownership
//
// A Parser serves one connection (or one UDP flow) and is not safe for
// concurrent use. It does no I/O, starts no goroutines and never reads the
// clock. Strings in a Message may be retained; the Attrs and Links slices
// belong to the caller. memcached carries no trace context: Links stays
// empty.
package memcached
