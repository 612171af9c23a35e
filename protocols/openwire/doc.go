// Package openwire provides the ActiveMQ OpenWire parser: a
// [protocols.Protocol] descriptor whose per-connection [Parser] turns the
// two byte streams of an OpenWire connection (ActiveMQ 5.x "Classic",
// default port 61616) into command [protocols.Message] values.
//
// Spec version: OpenWire version 12 (ActiveMQ 5.17; the field order of
// org.apache.activemq.openwire.v12's marshallers), which the message
// fields read here share with versions 10 and 11. Attribute names follow
// the OpenTelemetry messaging conventions with messaging.system
// "activemq".
//
// # Framing and wire format
//
// Commands are size-prefixed (a 4-octet size, then the type octet). Both
// ends first send a WireFormatInfo ("ActiveMQ" magic, version, a marshalled
// property map), always in the loose encoding; once both are seen the
// parser uses what they negotiate: the tight encoding (a BooleanStream of
// flags ahead of each command's data, longs in 0/2/4/8 octets) when both
// enable TightEncodingEnabled, the object cache (ids and destinations sent
// once with a cache index, then referred to by index, one cache per
// direction) when both enable CacheEnabled. ActiveMQ's defaults are
// tight and cached. A connection whose WireFormatInfos were not captured
// is taken to use the defaults; cached references to objects sent before
// the capture started resolve to nothing (a message whose producer id is
// such a reference gets no message id). Both ends disabling the size
// prefix stops the flow with [ErrNoSizePrefix]. Commands up to
// [MaxCommand] bytes are decoded whole; larger ones (big messages) from
// their first MaxCommand bytes, the rest skipped as it arrives (the
// message is Partial).
//
// # Requests and responses
//
// Every command but the housekeeping ones is a message named by its class
// ("ConnectionInfo", "ConsumerInfo queue://orders", "ActiveMQTextMessage
// queue://orders"). BaseCommand's command id pairs a request with the
// Response, ExceptionResponse (StatusError, error.type the exception class,
// openwire.exception.message its message), DataResponse,
// DataArrayResponse or IntegerResponse whose correlation id names it
// (Message.ID); a command sent without responseRequired is NoResponse
// (asynchronous sends, MessageAck, ...). MessageDispatch from the broker
// is an Unsolicited span named by the destination ("MessageDispatch
// queue://orders"); a dispatch without a message (the end of a browse) is
// no message. WireFormatInfo, KeepAliveInfo, BrokerInfo,
// ConnectionControl, ConsumerControl, ProducerAck and FlushCommand are
// consumed with no message.
//
// # Messages
//
// Of a message (ActiveMQMessage, BytesMessage, MapMessage, ObjectMessage,
// StreamMessage, TextMessage, BlobMessage, sent by a producer or inside a
// MessageDispatch) the parser decodes the producer id, destination
// (messaging.destination.name, rendered as ActiveMQ does:
// "queue://orders", "topic://prices", "temp-queue://..."), transaction
// ids, message id, correlation id, reply-to (openwire.reply_to), content
// (its size is messaging.message.body.size and BodySize, the content as
// marshalled, not decompressed), the marshalled properties and, in a
// dispatch, whether the content is compressed; later fields are not read. The JMSMessageID (messaging.message.id) is the
// message id's text view when set ("ID:" prefixed as ActiveMQ does), else
// "<producer's connection id>:<session id>:<producer id>:<sequence>".
// String properties whose names are trace headers (traceparent,
// tracestate, b3, X-B3-*, uber-trace-id, sw8; Jaeger's and Camel's
// "_$dash$_" spelling of "-" is undone) or the configured request-id
// headers become links, as in protocols/http.
//
// # Linking
//
// Producer → consumer: the JMSMessageID gives the link value
// "activemq:<JMSMessageID>", [protocols.LinkHandoffSend] on the producer's
// message and [protocols.LinkHandoffRecv] on each MessageDispatch of it, so
// the linker makes each dispatch the child of the send. ActiveMQ's STOMP
// connector shows the same id as a MESSAGE frame's message-id, and
// protocols/stomp gives it the same Recv value, so a STOMP consumer links
// to an OpenWire producer. Request-reply: the JMSCorrelationID gives
// "activemq-corr:<id>" as protocols/amqp does for AMQP (a send carries it
// as Send, and as Recv when it has no reply-to; a dispatch as Recv, and as
// Send when it has a reply-to), so that request send → its dispatch → the
// reply's send → its dispatch form one chain; protocols/stomp uses the same
// value with ActiveMQ, so a STOMP SEND with a correlation-id links to the
// OpenWire consumer's dispatch. A dispatch of a text or bytes message from
// a queue or topic, not compressed, also carries the Recv value a STOMP
// SEND of the same body to that destination carries
// ("stomp:/queue/orders:<digest>", see protocols/stomp), so a STOMP
// producer links to an OpenWire consumer with no id at all.
//
// # Security
//
// ConnectionInfo's client id, user name and password are skipped unread.
//
// # Gaps
//
// A gap inside a command larger than MaxCommand (whose rest is being
// skipped) is skipped. Any other gap loses the command boundary and, with
// the cache, the meaning of later references: OpenWire has no marker to
// resynchronise on, so the next data stops the flow with [ErrDesync].
//
// # Sniffing
//
// Sniff reports the direction of a complete WireFormatInfo (the client's
// carries a Host property, the broker's does not). Mid-stream it takes a
// complete command only one end sends (messages, MessageAck, ProducerInfo
// and ConsumerInfo to the broker; MessageDispatch and responses to the
// client) that decodes whole in ActiveMQ's default wire format and, for
// the broker-bound ones, names a destination: length-prefixed binary
// protocols often match the size alone.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines and never reads the clock. Strings in
// a Message are interned or freshly allocated and may be retained; the
// Attrs and Links slices belong to the caller. The object cache holds at
// most the negotiated CacheSize (at most [MaxCacheSize]) entries per
// direction.
//
// Not supported: commands other than messages, MessageDispatch and the
// responses are decoded only up to their id and destination
// (ProducerInfo, ConsumerInfo, DestinationInfo, MessageAck) or BaseCommand
// (the others), so objects those leave out are not entered in the cache
// (the message fields read here do not refer to them); data structure
// types that are no command (discovery, journal, partial commands of the
// UDP transport) stop the flow with [ErrType]; compressed content is not
// decompressed; TLS is not decrypted; OpenWire versions before 10 (whose
// message ids have no text view) are misread.
package openwire
