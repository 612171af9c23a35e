// Package mysql provides the MySQL client/server protocol parser: a
// [protocols.Protocol] descriptor whose per-connection [Parser] turns the two
// byte streams of a MySQL (or MariaDB) connection into request and response
// [protocols.Message] values.
//
// Spec version: the MySQL 8.4/9.x client/server protocol
// (https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html),
// including the 4.1 handshake, CLIENT_DEPRECATE_EOF, query attributes
// (CLIENT_QUERY_ATTRIBUTES) and the zlib compressed protocol; MariaDB speaks
// the same protocol. Attribute names follow the OpenTelemetry semantic
// conventions v1.37.0 (database spans).
//
// # Messages
//
// The handshake becomes one span named CONNECT: the request is the client's
// HandshakeResponse41 (with db.namespace when it names a schema), the
// response the server's final OK or ERR after any auth switch or
// caching_sha2_password exchange. The server greeting is not a message; it
// gives the capabilities and, when its version says MariaDB, db.system.name
// "mariadb". A server that refuses the connection with an ERR before any
// greeting gives an Unsolicited CONNECT response with the error.
//
// Each command is a request. COM_QUERY is named after the first keyword of
// its SQL, upper-cased (SELECT, INSERT, SET...; comments and MySQL executable
// comments skipped; "QUERY" when there is none), with db.operation.name the
// same keyword and db.query.text the SQL (cut at [MaxQueryBytes]).
// COM_STMT_PREPARE is named PREPARE (db.operation.name PREPARE) with the SQL
// in db.query.text; the statement id of its COM_STMT_PREPARE_OK response is
// remembered per connection (at most [MaxStatements]) so that a later
// COM_STMT_EXECUTE is named "EXECUTE " plus the prepared keyword (e.g.
// "EXECUTE SELECT"), with db.operation.name that keyword and db.query.text the
// prepared SQL; an EXECUTE of a statement prepared before the capture is
// named EXECUTE. Other commands are named after the command without its COM_
// prefix (PING, INIT_DB, FIELD_LIST, STATISTICS, CHANGE_USER...), which is
// also their db.operation.name. COM_QUIT, COM_STMT_CLOSE and
// COM_STMT_SEND_LONG_DATA expect no response (NoResponse). db.namespace is
// the current schema: from the handshake, then changed by a successful
// COM_INIT_DB or "USE name".
//
// A response follows the shape its command expects: OK, ERR, EOF, a result
// set (column count, column definitions, EOF unless CLIENT_DEPRECATE_EOF,
// rows, then EOF or OK), several result sets (SERVER_MORE_RESULTS_EXISTS),
// the COM_STMT_PREPARE_OK block, a LOCAL INFILE request followed by the
// client's file and the final OK or ERR, or a string (COM_STATISTICS). An ERR
// gives StatusError with db.response.status_code and error.type set to the
// error code (e.g. "1045"); the error message is not kept. Responses to
// COM_QUERY, COM_STMT_EXECUTE and COM_STMT_FETCH carry
// db.response.returned_rows: the number of rows of the result set(s), or the
// affected rows of an OK packet (semantic conventions v1.37.0 have no
// affected-rows attribute). When the capture starts mid-connection, whether
// result sets use EOF packets is learned from the first result set.
//
// Sequence ids keep the pairing honest: a command has sequence id 0 and its
// response starts at 1, so server packets that answer a command not seen
// (the capture started mid-answer, or the command was lost) are skipped, and
// client packets with another id (authentication data, LOCAL INFILE
// contents) are not commands.
//
// # Large packets and compression
//
// A payload of 0xffffff bytes continues in the next packet; continuation
// packets are skipped. Only the head of each packet is examined (the SQL up
// to MaxQueryBytes, [MaxHandshakeBytes] of a handshake packet, 32 bytes of a
// server packet), so rows and long values are never buffered.
//
// When both sides set CLIENT_COMPRESS, compression starts after the OK that
// ends authentication: each compressed packet (7-byte header) is
// decompressed with compress/zlib, in 16 KiB steps, and the packets it
// carries are parsed as above. A compressed packet is decompressed when it
// is whole, so it must be at most [MaxFrame] bytes; a larger one stops the
// parsing of the connection (bytes consumed quietly). On a connection seen
// mid-stream, compression is recognised by the first packet (a payload made
// of whole packets, or a zlib stream that decompresses). zstd compression
// (CLIENT_ZSTD_COMPRESSION_ALGORITHM) is not supported: after
// authentication the connection is consumed quietly.
//
// # TLS
//
// An SSLRequest (a HandshakeResponse of 32 bytes with CLIENT_SSL) gives a
// CONNECT request marked NoResponse with tls.protocol.name "tls" (the result
// of the authentication is encrypted). With protocols.Config.StartTLS set
// (the root package sets it when it builds a registry), the rest of the
// stream goes to the TLS parser it returns, which gives the TLS handshake
// span and, with keys, hands the decrypted bytes back to this parser: the
// HandshakeResponse (sequence id 2), its result and the commands are then
// parsed as in plaintext. Without the hook both directions are consumed
// without parsing.
//
// # Gaps
//
// MySQL packets carry no marker to resynchronise on, but their lengths let a
// gap inside a packet whose header was read be skipped exactly: the response
// in progress is marked Partial and parsing goes on (a lost row is counted
// when the packet is too long to be an EOF). A command cut by a gap (lost
// packets, or the snapshot length) is emitted Partial from the bytes before
// the cut ([Parser.Salvage]), its text cut there. A gap that swallows a
// packet header loses the framing, and the parser resynchronises at the next
// command boundary: on the client side at a command packet (sequence id 0,
// a known command, plausible content) that ends where the data ends, since
// a client sends a command and waits; on the server side at new data that
// starts with a plausible first response packet (sequence id 1) once a
// command is pending, the answers to earlier pending commands being emitted
// as Partial responses without status. On a compressed connection a gap
// stops the parsing of the connection (the response in progress is emitted
// Partial).
//
// # Secrets
//
// The user name, the scramble, passwords (auth switch responses, cleartext
// and caching_sha2 full authentication) and the whole authentication
// exchange never reach a Message; neither do COM_CHANGE_USER's credentials.
// SQL text is kept as sent. Trace context put in SQL comments (sqlcommenter
// and similar) is extracted into Message.Links by the sqlcomment package.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It does
// no I/O, starts no goroutines and never reads the clock. Strings in a
// Message are freshly allocated (or shared with the prepared statement
// table) and may be retained; the Attrs and Links slices belong to the
// caller.
//
// Not supported: the pre-4.1 handshake (HandshakeResponse320: commands are
// still parsed), CLIENT_OPTIONAL_RESULTSET_METADATA with metadata omitted,
// replication streams after COM_BINLOG_DUMP (the first packet answers, the
// rest is consumed quietly), and the X Protocol (port 33060).
package mysql
