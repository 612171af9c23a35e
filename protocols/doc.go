// Package protocols defines what every L7 protocol parser provides: the
// [Parser] state machine fed one connection's bytes per direction, the
// [Message] it fills, the [Protocol] descriptor with its sniffing function,
// and the [Registry] that lists the protocols in sniffing priority. The
// [Driver] connects decode's reassembled streams to parsers: it sniffs each
// connection, keeps the unconsumed tail (bounded), passes gaps on, stamps
// messages with time and sequence numbers, and hands them to a [Handler].
//
// Each protocol lives in its own subpackage (protocols/http, ...) and exports
// a Protocol value; nothing registers itself.
package protocols
