// Package mqtt provides the MQTT parser: a [protocols.Protocol] descriptor
// whose per-connection [Parser] turns the two byte streams of a TCP
// connection between an MQTT client and a broker into [protocols.Message]
// values.
//
// Spec version: MQTT 3.1 (protocol level 3), 3.1.1 (OASIS Standard, level 4,
// https://docs.oasis-open.org/mqtt/mqtt/v3.1.1/mqtt-v3.1.1.html) and 5.0
// (OASIS Standard, level 5, https://docs.oasis-open.org/mqtt/mqtt/v5.0/mqtt-v5.0.html).
// The level comes from CONNECT; a connection captured without its CONNECT
// is read as 3.1.1. Attribute names follow the OpenTelemetry messaging
// semantic conventions v1.37 (messaging.system "mqtt").
//
// # Packets and spans
//
// Every packet that is answered, and every answer, has an ID (HasID), so
// that answers pair with the packets they answer whatever their order:
// the packet id for PUBLISH, SUBSCRIBE and UNSUBSCRIBE (in separate id
// spaces), a fixed id for CONNECT and a count for PINGREQ. Span names show
// the topic (the first topic filter for SUBSCRIBE and UNSUBSCRIBE).
//
//   - CONNECT and its CONNACK: "CONNECT", with messaging.client.id (the
//     client identifier), user.name (the user name, when its flag is set)
//     and network.protocol.version ("3.1", "3.1.1", "5.0"). The password,
//     the will payload and v5 authentication data are skipped unread. A
//     CONNACK return code (3.1.1) or reason code (5.0) other than 0 is
//     StatusError with error.type the code's name.
//   - PUBLISH from the client: "PUBLISH <topic>" (messaging.operation.type
//     "send", messaging.destination.name, messaging.message.body.size,
//     mqtt.qos, mqtt.retain when set). QoS 0 is NoResponse; QoS 1 pairs
//     with the PUBACK of its packet id; QoS 2 pairs with the PUBCOMP of its
//     packet id (the PUBREC and the client's PUBREL in between are read and
//     counted in the span's time, not emitted), or ends at a PUBREC whose
//     v5 reason code is an error. A v5 reason code of 0x80 or more is
//     StatusError.
//   - PUBLISH from the broker: an Unsolicited "PUBLISH <topic>" span
//     (messaging.operation.type "receive"); the client's acknowledgements
//     of it are read, not emitted.
//   - SUBSCRIBE and SUBACK: "SUBSCRIBE <first topic filter>" with the
//     number of filters in mqtt.subscribe.count; a SUBACK whose return
//     codes are all failures (0x80 or more) is StatusError. UNSUBSCRIBE and
//     UNSUBACK likewise.
//   - PINGREQ and PINGRESP: "PINGREQ".
//   - DISCONNECT from the client: NoResponse; from a v5 broker: an
//     Unsolicited span, StatusError when its reason code is 0x80 or more.
//   - AUTH (v5): from the client NoResponse, from the broker Unsolicited;
//     its data is never read.
//
// # Properties and links (v5)
//
// PUBLISH properties are read: a user property whose name is a trace
// header (traceparent, tracestate, b3, X-B3-*, uber-trace-id, sw8, the
// configured request-id headers; case-insensitive) becomes a Link;
// correlation data becomes messaging.message.conversation_id (as text when
// printable, else hex, at most 64 bytes shown) and the response topic
// mqtt.response_topic. Topic aliases are resolved per direction (at most
// [MaxTopicAliases] remembered).
//
// Hand-off: a PUBLISH from a client carries [protocols.LinkHandoffSend] and
// one from the broker [protocols.LinkHandoffRecv], both
// "mqtt:<topic>:<digest of the payload>" (FNV-1a 64 in 16 hex digits of the
// first [MaxDigestLen] bytes, then the length; payloads are never copied).
// Request/response: a PUBLISH the broker delivers with a response topic R
// and correlation data C carries LinkHandoffSend "mqtt-reply:R:<digest of
// C>", and a client's PUBLISH to R with correlation data C and no response
// topic carries LinkHandoffRecv with the same value, so the responder's
// answer is the child of the request it received.
//
// # Gaps
//
// A gap inside a PUBLISH payload is skipped exactly thanks to the remaining
// length; the message is emitted Partial without its hand-off link. A gap
// elsewhere drops the packet in progress (emitted Partial when it was a
// PUBLISH whose header was read) and the parser resynchronises on the first
// offset where a complete, well-formed packet starts and is followed by the
// end of the data or by another plausible fixed header.
//
// # Sniffing
//
// Sniff reports ToServer for a CONNECT (protocol name "MQTT" or "MQIsdp"
// and a known level) or a well-formed SUBSCRIBE, and ToClient for a
// 3.1.1 CONNACK; with a port hint (1883) more is not needed.
//
// # Concurrency and ownership
//
// A Parser serves one connection and is not safe for concurrent use. It
// does no I/O, starts no goroutines and never reads the clock. Strings in a
// Message may be retained; the Attrs and Links slices belong to the caller.
package mqtt
