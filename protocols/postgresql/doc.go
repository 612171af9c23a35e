// Package postgresql provides the PostgreSQL frontend/backend protocol
// parser: a [protocols.Protocol] descriptor whose per-connection [Parser]
// turns the two byte streams of a TCP connection into request and response
// [protocols.Message] values.
//
// Spec version: protocol 3.0 as documented for PostgreSQL 17 (chapter 53,
// "Frontend/Backend Protocol"); 3.2 startup packets (PostgreSQL 18) are
// accepted. Attribute names follow OpenTelemetry semantic conventions
// v1.37.0 (db.*).
//
// # Exchanges and pairing
//
// Each request Message has exactly one response Message, in order, so
// correlate pairs them without ids:
//
//   - Query ('Q'): one span, named after the first SQL keyword (upper case)
//     of the text, with db.query.text and db.operation.name; several
//     statements in one Query are still one span, named after the first.
//     The response is everything up to ReadyForQuery.
//   - Extended protocol: one span per Execute, emitted when the Execute is
//     read; its size counts the Parse, Bind and Describe messages before
//     it. The text comes from the statement the portal was bound to: Parse
//     remembers the unnamed statement and up to [MaxStatements] named ones,
//     Bind up to [MaxPortals] named portals. An Execute of a statement
//     prepared before the capture is named "EXECUTE" and has no text. The
//     response ends at CommandComplete, EmptyQueryResponse,
//     PortalSuspended or ErrorResponse. After an error the server skips
//     the rest of the batch up to Sync: the Executes it skipped get an
//     error response (without SQLSTATE) at ReadyForQuery. A batch without
//     Execute (Parse/Describe/Close then Sync) is one span named PREPARE
//     (with the parsed text), CLOSE, DESCRIBE or SYNC, answered by
//     everything up to ReadyForQuery. Pipelined batches pair because both
//     directions walk the same FIFO of pending exchanges ([MaxPending]).
//     One span per Execute was chosen over one per Sync because drivers
//     that pipeline (pgx batches, JDBC executeBatch) put many statements in
//     one Sync, and one span per statement is what a trace should show.
//   - COPY: the statement is one span; CopyData messages either way are
//     counted in db.postgresql.copy_data.count, never stored.
//   - FunctionCall is a span named "FUNCTION CALL"; Terminate a span named
//     "TERMINATE" expecting no response; CancelRequest (its own
//     connection) a span named "CANCEL" expecting none, the process id and
//     secret key not copied.
//   - NoticeResponse, ParameterStatus, NotificationResponse and
//     BackendKeyData answer nothing: they are consumed, not emitted, and
//     not counted in any size.
//
// db.response.returned_rows is the sum of the SELECT and FETCH command tags
// ("SELECT 5" is 5), else the number of DataRow messages; an ErrorResponse
// makes the response StatusError with its SQLSTATE ('C' field) in
// db.response.status_code.
//
// # Startup and secrets
//
// The StartupMessage is a span named "STARTUP" answered by everything up to
// ReadyForQuery, or by the ErrorResponse of a failed login. Its user and
// database parameters are kept for the connection and put on every request
// as user.name and db.namespace (the database defaults to the user name, as
// the server does). Authentication requests and the client's password,
// SASL and GSS messages ('p') are skipped without reading their bodies:
// they never reach a Message. SSLRequest and GSSENCRequest are spans whose
// response carries the server's one-byte answer in
// db.postgresql.ssl_response; after 'N' the client's next startup packet
// is parsed. After 'S', and from the first byte of a connection starting
// with a TLS record (direct SSL negotiation, PostgreSQL 17), the rest of
// the stream goes to the TLS parser that protocols.Config.StartTLS returns
// when it is set (the root package sets it when it builds a registry): it
// gives the TLS handshake span and, with keys, hands the decrypted bytes
// back to this parser, which reads them from the startup phase on
// (StartupMessage, then the normal protocol) as in plaintext. Without the
// hook, and after 'G' (GSSAPI), both directions are consumed without
// parsing.
//
// # Gaps
//
// Messages are type + length framed but the stream has no sync marker. A
// gap inside a message whose length is known (a body being skipped, or a
// message the parser was waiting to complete) is skipped exactly; the
// exchange is marked Partial, and when the lost message was a Query,
// Execute or FunctionCall (or a server CommandComplete, ErrorResponse or
// ReadyForQuery) it is handled as if seen without content, so that pairing
// continues (a Partial placeholder request, or the end of the response).
// Otherwise the direction resynchronises: bytes are dropped up to a header
// whose type is valid for the direction, whose length its type allows and
// is at most 64 KiB, and which is followed by another such header or ends
// exactly where the data does. The response in progress is then Partial
// and the unnamed statement and portal are forgotten. A gap that swallows
// whole exchanges shifts the pairing of the responses after it until the
// FIFO is empty again.
//
// # Sniffing
//
// Sniff is conservative: an untyped startup packet with a protocol 3 code
// and a plausible length, or a Query or Parse message whose text looks like
// SQL, means ToServer; an Authentication request, an ErrorResponse with an
// upper-case severity, a ReadyForQuery, a ParameterStatus, a
// RowDescription or ParseComplete+BindComplete means ToClient.
//
// # Limits and concurrency
//
// Query text is cut at [MaxQueryBytes]. A Parser serves one connection and
// is not safe for concurrent use. It does no I/O, starts no goroutines and
// never reads the clock. Strings in a Message may be retained; the Attrs
// and Links slices belong to the caller.
//
// Not done here: trace context in SQL comments (commentLinks is the hook
// for protocols/sqlcomment), literal redaction, replication (CopyBoth)
// content, and NegotiateProtocolVersion details.
package postgresql
