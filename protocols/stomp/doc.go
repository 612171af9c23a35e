// Package stomp provides the STOMP parser: a [protocols.Protocol] descriptor
// whose per-connection [Parser] turns the two byte streams of a STOMP
// connection into frame [protocols.Message] values.
//
// Spec version: STOMP 1.2 (https://stomp.github.io/stomp-specification-1.2.html),
// which reads 1.0 and 1.1 frames too: a command line, header lines
// ("name:value", the first occurrence of a name wins), a blank line, the
// body (content-length bytes when the header is present, else up to the
// NUL) and the NUL. Line ends may be LF or CRLF; EOLs between frames
// (heart-beats, the newline servers add after the NUL) are skipped. Header
// values copied into attributes and links have the 1.2 escapes (\n \r \c
// \\) decoded and are at most 255 bytes. Attribute names follow the
// OpenTelemetry messaging conventions; messaging.system is "rabbitmq" or
// "activemq" once the CONNECTED frame's server header names the broker,
// "stomp" before and otherwise.
//
// # Requests and responses
//
// Client frames (CONNECT, STOMP, SEND, SUBSCRIBE, UNSUBSCRIBE, ACK, NACK,
// BEGIN, COMMIT, ABORT, DISCONNECT) are requests named by their command and
// destination ("SEND /queue/orders"). CONNECT and STOMP are answered by
// CONNECTED; a frame with a receipt header by the RECEIPT whose receipt-id
// matches (Message.ID pairs them); every other client frame is NoResponse.
// ERROR answers the frame its receipt-id names; an ERROR without one
// answers the latest frame still awaiting an answer (the server closes the
// connection after an ERROR, so it concerns the last thing the client
// sent), or, when none waits, is an Unsolicited span "ERROR". The ERROR's
// message header becomes error.type. MESSAGE frames are Unsolicited spans
// ("MESSAGE /queue/orders").
//
// # Linking
//
// Trace headers (traceparent, tracestate, b3, X-B3-*, uber-trace-id, sw8)
// and the configured request-id headers of any frame become links, as in
// protocols/http. A message's broker-assigned message-id appears only in
// MESSAGE frames, so the producer's SEND and the consumer's MESSAGE are
// tied by [protocols.LinkHandoffSend] / [protocols.LinkHandoffRecv] values
// "stomp:<destination>:<digest>", the digest being FNV-1a 64 of the body's
// first [MaxDigestLen] bytes (and its length when longer) in 16 hex
// digits, computed as the body streams through: the body is never kept.
// Equal bodies sent to one destination give equal values; the linker then
// makes a MESSAGE the child of the latest such SEND that started before
// it. A correlation-id header gives "stomp-corr:<id>", as in protocols/amqp:
// a SEND carries it as Send (and as Recv when it has no reply-to header,
// i.e. it is a reply), a MESSAGE as Recv (and as Send when it has a
// reply-to, i.e. it is a request reaching the replier), so that request
// SEND → request MESSAGE → reply SEND → reply MESSAGE form one chain.
//
// When the CONNECTED frame's server header names the broker, the values
// its other protocols use are given instead, so that messages link across
// protocols through one broker: with RabbitMQ the correlation id gives
// "amqp-corr:<id>" and a MESSAGE's amqp-message-id header (an AMQP
// message's message-id) the Recv value "amqp:<id>"; with ActiveMQ the
// correlation id gives "activemq-corr:<id>" and a MESSAGE's message-id
// (the JMSMessageID, which OpenWire producers send) the Recv value
// "activemq:<id>" (see protocols/amqp and protocols/openwire); the body
// digest value is also what protocols/openwire gives ActiveMQ's dispatch of
// the message to an OpenWire consumer.
//
// # Security
//
// Only the headers named here are read; login and passcode (CONNECT,
// STOMP) are skipped unread, as are all others.
//
// # Gaps
//
// A gap inside a body with a content-length is skipped exactly (the
// frame is Partial and gives no body hand-off link); elsewhere the parser
// resynchronises on the next line, at the start of the data, after an LF
// or a NUL, that is a STOMP command.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines and never reads the clock. Strings in
// a Message are freshly allocated and may be retained; the Attrs and Links
// slices belong to the caller.
package stomp
