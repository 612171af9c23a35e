// Package dns provides the DNS parser: a [protocols.Protocol] descriptor
// whose per-flow [Parser] turns DNS messages carried over UDP (one message
// per datagram) or TCP (each message after a two-byte length) into query
// and response [protocols.Message] values.
//
// Spec version: RFC 1035 (message format), RFC 7766 (DNS over TCP), RFC
// 6891 (EDNS(0) extended RCODE), RFC 6762 (multicast DNS), RFC 4795
// (LLMNR), RFC 3597 (unknown types). Messages are read with
// golang.org/x/net/dns/dnsmessage, which bounds names (255 octets, no
// dots inside labels, at most 10 compression pointers).
//
// # Messages
//
// A query (QR clear) is a Request named "<OPCODE> <TYPE> <name>" after its
// first question, e.g. "QUERY A example.com" or "UPDATE SOA example.org";
// just "<OPCODE>" when it has no question. Its ID is the DNS id (HasID), so
// the builder pairs the response with the same id on the flow, however
// queries and responses interleave. The QR bit, not the direction, decides
// the kind. Attributes: dns.question.name (OpenTelemetry; escaped as it
// asks: \DDD for non-printable octets, no trailing dot, "." for the root),
// dns.question.type (custom: the type mnemonic, TYPEnnn when unknown) and
// network.transport ("udp" or "tcp").
//
// A response (QR set) carries the same question attributes and
// dns.response.code (custom: "NOERROR", "NXDOMAIN", "SERVFAIL", ...; the
// extended code of an OPT record is included), dns.response.answer_count
// (custom: ANCOUNT), dns.answers (OpenTelemetry: the A and AAAA addresses of
// the answer section, at most [MaxAnswerAddrs], comma-separated because
// attributes carry no arrays) and dns.response.truncated "true" when the TC
// bit is set (the client will retry over TCP).
//
// # Status
//
// NOERROR and NXDOMAIN, and the UPDATE prerequisite results YXDOMAIN,
// YXRRSET and NXRRSET, are StatusOK: the server answered, and a name that
// does not exist is an answer about the data, like an HTTP 404 on a server
// span. Every other code (FORMERR, SERVFAIL, NOTIMP, REFUSED, NOTAUTH,
// NOTZONE, BADVERS, ...) is StatusError, with error.type set to the code's
// name.
//
// # Multicast
//
// A UDP query with id 0 is taken for a multicast DNS query (RFC 6762
// section 18.1: multicast queries carry id 0): its answers go to the group,
// not back along this flow, so it is emitted NoResponse and becomes a span
// of its own. A UDP response with id 0 (mDNS answers and announcements) is
// emitted Unsolicited; a response without questions is named
// "RESPONSE <TYPE> <name>" after its first answer. A unicast query that
// happens to use id 0 is therefore not paired with its response. LLMNR
// answers are unicast from the responder to the querier, a flow other than
// that of the multicast query: the query times out and the response
// becomes a partial span, as the builder does for any response without a
// query.
//
// # Malformed and cut messages
//
// A message whose header or questions cannot be read is a
// *protocols.ParseError wrapping [ErrHeader] or [ErrQuestion]: over UDP the
// driver drops that datagram only, over TCP it stops the connection. A
// message whose records cannot be read (a datagram cut by the snapshot
// length, or a corrupt record section) is emitted from its header and
// questions and marked Partial.
//
// # TCP
//
// Several messages may share a connection, in both directions, pipelined.
// A zone transfer (AXFR, IXFR) answers one query with many messages with
// the same id (RFC 5936 section 2.2): the first is emitted and pairs with
// the query; the following ones (a response whose id is that of the last
// answered query and of no pending one) are consumed without a Message and
// counted in [Stats].Continuations. Over UDP every response is emitted, so
// a duplicated or spoofed second answer shows (as a partial span, having
// no query left to pair with).
//
// A gap does not lose the framing when the driver offered the cut message's
// start to [Parser.Salvage]: its length prefix tells where the next message
// starts, and when the header and questions were whole the message is
// emitted, marked Partial. Otherwise (the gap starts at a message boundary,
// or covers more than the cut message) the parser searches for the next
// plausible message start flowing in that direction (a length prefix
// followed by a plausible header and readable questions, as Sniff wants
// them), counted in [Stats].Resyncs. Messages wholly lost in a gap leave
// their partners unpaired.
//
// # Concurrency and ownership
//
// A Parser serves one flow and is not safe for concurrent use. It does no
// I/O, starts no goroutines and never reads the clock. Strings in a Message
// are freshly allocated (one for the name and question attributes, one for
// dns.answers) and may be retained; the Attrs slice belongs to the caller.
//
// Not supported: DNS over TLS, HTTPS or QUIC (encrypted), DNS Stateful
// Operations' TLV bodies (RFC 8490: named "DSO"), and questions after the
// first (mDNS queries ask several; only the first names the span).
package dns
