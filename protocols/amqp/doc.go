// Package amqp provides the AMQP 0-9-1 parser: a [protocols.Protocol]
// descriptor whose per-connection [Parser] turns the two byte streams of an
// AMQP connection (RabbitMQ and other 0-9-1 brokers) into method and
// message [protocols.Message] values.
//
// Spec version: AMQP 0-9-1 (amqp0-9-1.xml, with RabbitMQ's errata for field
// table types: 's' is a signed 16-bit integer, 'l' a signed 64-bit one,
// 'x' a byte array). The 0-9-1 protocol header ("AMQP" 0 0 9 1) is
// consumed; another version's header (AMQP 1.0 is another protocol) stops
// the flow with [ErrVersion]. Attribute names follow the OpenTelemetry
// messaging conventions v1.37 for RabbitMQ: messaging.system "rabbitmq",
// messaging.destination.name (the exchange for basic.publish, deliver,
// get-ok and return, "" for the default exchange; the queue for queue.*,
// basic.consume and basic.get; the exchange for exchange.*),
// messaging.rabbitmq.destination.routing_key,
// messaging.rabbitmq.message.delivery_tag, messaging.message.id,
// messaging.message.conversation_id (the correlation-id),
// messaging.message.body.size, messaging.operation.name (the method name,
// "basic.publish") and messaging.operation.type (send, process for
// basic.deliver, receive for basic.get and get-ok, settle for ack, nack
// and reject). Also: amqp.vhost (from connection.open, on every later
// message of the connection), amqp.reply_to, amqp.reply_code,
// amqp.reply_text, amqp.sasl.mechanism, error.type (the reply code's
// constant name, "NOT_FOUND").
//
// # Frames
//
// Frames (method, content header, body, heartbeat) are read one at a time.
// Method and content header frames are decoded whole when at most
// [MaxFrame] bytes, else from their first MaxFrame bytes (the message is
// Partial). Body frames are never buffered: their bytes are counted as
// they arrive. A frame whose frame-end octet is not 0xCE, an unknown frame
// type or method, or a frame larger than [MaxBodyFrame] stops the flow
// with a ParseError. Content frames of different channels may interleave;
// up to [MaxChannels] channels' messages are assembled at once.
//
// # Requests and responses
//
// Each method is a message named by its class and method name
// ("queue.declare", "basic.consume") followed by its destination, or by
// the routing key when the destination is the default exchange
// ("basic.publish orders"). Synchronous methods are requests answered by
// their -ok method on the same channel (Message.ID is the channel
// number), whichever end sends them: the server's connection.start,
// connection.secure and connection.tune are requests the client's -ok
// methods answer, as are a server's channel.close, connection.close,
// channel.flow and basic.cancel (consumer cancel notification). A request
// with its no-wait bit set is NoResponse. basic.get is answered by
// basic.get-ok (with its content) or basic.get-empty. When the server
// closes a channel, or the connection, while a client request is in
// flight there, the close is that request's response, with StatusError
// and error.type from the reply code (a passive queue.declare of a missing
// queue ends "error", NOT_FOUND), and the client's close-ok is consumed
// with no message. A close-ok that answers a close with an error reply code
// (other than 200) that answered no request is StatusError.
//
// Asynchronous methods: from the client, basic.publish (with its content),
// basic.ack, basic.nack, basic.reject and basic.recover-async are
// NoResponse requests; from the server, basic.deliver (with its content),
// basic.return (StatusError: the message was unroutable), basic.ack and
// basic.nack (publisher confirms) and connection.blocked/unblocked are
// Unsolicited spans. A message with content is emitted when its last body
// byte has arrived; its Size counts all its frames, BodySize its body.
//
// # Content header
//
// The basic class properties are decoded: content-type, content-encoding,
// headers (the field table, decoded fully, nested tables and arrays to
// depth [MaxTableDepth]), delivery-mode, priority, correlation-id,
// reply-to, expiration, message-id, timestamp, type, user-id, app-id. In
// the headers table, string values ('S' long strings, 'x' byte arrays) of
// traceparent, tracestate, b3, X-B3-TraceId, X-B3-SpanId,
// X-B3-ParentSpanId, uber-trace-id and sw8 (names matched
// case-insensitively) and of the configured request-id headers become
// links, as in protocols/http; values longer than 255 bytes or not
// printable ASCII are skipped.
//
// # Linking
//
// Producer → consumer: a message's message-id gives the link value
// "amqp:<message-id>" ([protocols.LinkHandoffSend] on basic.publish,
// [protocols.LinkHandoffRecv] on basic.deliver and basic.get-ok), so the
// linker makes each delivery the child of the publish of the same
// message (protocols/stomp gives the same Recv value for RabbitMQ's
// amqp-message-id header, so a STOMP consumer links to an AMQP producer).
// Message ids are the application's: a producer that reuses one ties
// unrelated deliveries to its latest publish.
//
// Request-reply: a message's correlation-id gives "amqp-corr:<id>". A
// publish carries it as Send, and also as Recv when the message has no
// reply-to (it is a reply); a delivery (or get-ok) carries it as Recv, and
// also as Send when the message has a reply-to (it is a request, reaching
// the consumer that will reply). The linker gives each Recv the latest
// span that started before it and carries the same value as Send, so the
// request's publish → its delivery to the replier → the reply's publish
// (by the replier, to the reply-to queue) → the reply's delivery form one
// chain of parent links, with no message-id and no trace header needed.
// Correlation ids reused across conversations (a counter per client) can
// tie unrelated conversations when they overlap in time.
//
// # Security
//
// connection.start-ok's SASL response, connection.secure-ok's response and
// connection.update-secret's secret (credentials) are skipped unread; the
// client and server property tables are decoded only to be skipped. Only
// the mechanism name is reported.
//
// # Gaps
//
// A gap inside a body frame is skipped exactly: the message is still
// emitted, Partial. A gap elsewhere marks the messages in progress Partial
// and the parser looks for the next frame: a known frame type whose
// frame-end octet is where its size says (and, for a method frame, a known
// class and method; for a content header, the basic class), waiting for
// candidate frames of up to [MaxFrame] bytes to arrive whole.
//
// # Sniffing
//
// Sniff reports ToServer for the 0-9-1 protocol header and for a complete
// method frame that only clients send (basic.publish, queue.declare, ...);
// ToClient for complete frames of connection.start, basic.deliver and
// other methods only servers send.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines and never reads the clock. Strings in
// a Message are interned or freshly allocated and may be retained; the
// Attrs and Links slices belong to the caller.
//
// Not supported: AMQP 1.0 (a different protocol), RabbitMQ streams.
package amqp
