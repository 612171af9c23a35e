package openwire

import (
	"encoding/binary"
	"strconv"
)

// Data structure types (org.apache.activemq.command.CommandTypes).
const (
	typeNull                = 0
	typeWireFormatInfo      = 1
	typeBrokerInfo          = 2
	typeConnectionInfo      = 3
	typeSessionInfo         = 4
	typeConsumerInfo        = 5
	typeProducerInfo        = 6
	typeTransactionInfo     = 7
	typeDestinationInfo     = 8
	typeRemoveSubscription  = 9
	typeKeepAliveInfo       = 10
	typeShutdownInfo        = 11
	typeRemoveInfo          = 12
	typeControlCommand      = 14
	typeFlushCommand        = 15
	typeConnectionError     = 16
	typeConsumerControl     = 17
	typeConnectionControl   = 18
	typeProducerAck         = 19
	typeMessagePull         = 20
	typeMessageDispatch     = 21
	typeMessageAck          = 22
	typeMessage             = 23
	typeBytesMessage        = 24
	typeMapMessage          = 25
	typeObjectMessage       = 26
	typeStreamMessage       = 27
	typeTextMessage         = 28
	typeBlobMessage         = 29
	typeResponse            = 30
	typeExceptionResponse   = 31
	typeDataResponse        = 32
	typeDataArrayResponse   = 33
	typeIntegerResponse     = 34
	typeDiscoveryEvent      = 40
	typeJournalAck          = 50
	typeJournalRemove       = 52
	typeJournalTrace        = 53
	typeJournalTx           = 54
	typeDurableSubInfo      = 55
	typePartialCommand      = 60
	typeLastPartial         = 61
	typeReplayCommand       = 65
	typeByteType            = 70
	typeMessageDispatchNot  = 90
	typeNetworkBridgeFilter = 91
	typeQueue               = 100
	typeTopic               = 101
	typeTempQueue           = 102
	typeTempTopic           = 103
	typeMessageID           = 110
	typeLocalTxID           = 111
	typeXATxID              = 112
	typeConnectionID        = 120
	typeSessionID           = 121
	typeConsumerID          = 122
	typeProducerID          = 123
	typeBrokerID            = 124
)

// commandName returns the class name of a command type, or "".
func commandName(t byte) string {
	switch t {
	case typeWireFormatInfo:
		return "WireFormatInfo"
	case typeBrokerInfo:
		return "BrokerInfo"
	case typeConnectionInfo:
		return "ConnectionInfo"
	case typeSessionInfo:
		return "SessionInfo"
	case typeConsumerInfo:
		return "ConsumerInfo"
	case typeProducerInfo:
		return "ProducerInfo"
	case typeTransactionInfo:
		return "TransactionInfo"
	case typeDestinationInfo:
		return "DestinationInfo"
	case typeRemoveSubscription:
		return "RemoveSubscriptionInfo"
	case typeKeepAliveInfo:
		return "KeepAliveInfo"
	case typeShutdownInfo:
		return "ShutdownInfo"
	case typeRemoveInfo:
		return "RemoveInfo"
	case typeControlCommand:
		return "ControlCommand"
	case typeFlushCommand:
		return "FlushCommand"
	case typeConnectionError:
		return "ConnectionError"
	case typeConsumerControl:
		return "ConsumerControl"
	case typeConnectionControl:
		return "ConnectionControl"
	case typeProducerAck:
		return "ProducerAck"
	case typeMessagePull:
		return "MessagePull"
	case typeMessageDispatch:
		return "MessageDispatch"
	case typeMessageAck:
		return "MessageAck"
	case typeMessage:
		return "ActiveMQMessage"
	case typeBytesMessage:
		return "ActiveMQBytesMessage"
	case typeMapMessage:
		return "ActiveMQMapMessage"
	case typeObjectMessage:
		return "ActiveMQObjectMessage"
	case typeStreamMessage:
		return "ActiveMQStreamMessage"
	case typeTextMessage:
		return "ActiveMQTextMessage"
	case typeBlobMessage:
		return "ActiveMQBlobMessage"
	case typeResponse:
		return "Response"
	case typeExceptionResponse:
		return "ExceptionResponse"
	case typeDataResponse:
		return "DataResponse"
	case typeDataArrayResponse:
		return "DataArrayResponse"
	case typeIntegerResponse:
		return "IntegerResponse"
	case typeMessageDispatchNot:
		return "MessageDispatchNotification"
	}
	return ""
}

func isMessage(t byte) bool { return t >= typeMessage && t <= typeBlobMessage }

// obj is a decoded data structure: the few kinds the parser keeps.
type obj struct {
	typ  byte
	s    string // physical name, connection id, text view, broker id
	a, b int64  // ids: ProducerId value/session, ConsumerId session/value, ...
	pid  *obj   // MessageId: its producer id
}

// destString renders a destination as ActiveMQ does ("queue://orders").
func (o *obj) destString() string {
	if o == nil {
		return ""
	}
	switch o.typ {
	case typeQueue:
		return "queue://" + o.s
	case typeTopic:
		return "topic://" + o.s
	case typeTempQueue:
		return "temp-queue://" + o.s
	case typeTempTopic:
		return "temp-topic://" + o.s
	}
	return ""
}

// messageID renders a MessageId as JMSMessageID ("ID:host-1234-...:1:1:1:1").
func messageID(o *obj) string {
	if o == nil || o.typ != typeMessageID {
		return ""
	}
	if o.s != "" {
		if len(o.s) >= 3 && o.s[:3] == "ID:" {
			return o.s
		}
		return "ID:" + o.s
	}
	p := o.pid
	if p == nil || p.typ != typeProducerID {
		return ""
	}
	// ProducerId.toString: connectionId:sessionId:value.
	return p.s + ":" + strconv.FormatInt(p.b, 10) + ":" + strconv.FormatInt(p.a, 10) + ":" + strconv.FormatInt(o.a, 10)
}

// format is the negotiated wire format of a connection.
type format struct {
	tight, cache bool
	stackTrace   bool
	noPrefix     bool // SizePrefixDisabled (a preference)
	cacheSize    int
}

// dec decodes one command in the tight or loose encoding. A read past the
// end sets bad; decoders check it at the end (a command cut at MaxCommand
// decodes as far as it goes).
type dec struct {
	b     []byte
	off   int
	bad   bool
	f     *format
	cache *[]*obj // this direction's unmarshal cache
	// Boolean stream (tight encoding).
	bs    []byte
	bsPos int
	bsBit uint
}

func (d *dec) need(n int) bool {
	if d.bad || n < 0 || len(d.b)-d.off < n {
		d.bad = true
		return false
	}
	return true
}

func (d *dec) u8() byte {
	if !d.need(1) {
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

func (d *dec) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	d.off += 2
	return binary.BigEndian.Uint16(d.b[d.off-2:])
}

func (d *dec) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	d.off += 4
	return binary.BigEndian.Uint32(d.b[d.off-4:])
}

func (d *dec) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	d.off += 8
	return binary.BigEndian.Uint64(d.b[d.off-8:])
}

func (d *dec) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	d.off += n
	return d.b[d.off-n : d.off]
}

// boolStream reads a BooleanStream (tight encoding): its length in one
// octet, or 0xC0 and one octet, or 0x80 and two, then the bits.
func (d *dec) boolStream() {
	n := int(d.u8())
	switch n {
	case 0xC0:
		n = int(d.u8())
	case 0x80:
		n = int(d.u16())
	}
	d.bs, d.bsPos, d.bsBit = d.bytes(n), 0, 0
}

// flag reads a boolean: a bit of the stream when tight, an octet when loose.
func (d *dec) flag() bool {
	if !d.f.tight {
		return d.u8() != 0
	}
	if d.bsPos >= len(d.bs) {
		d.bad = true
		return false
	}
	v := d.bs[d.bsPos]>>d.bsBit&1 != 0
	if d.bsBit++; d.bsBit == 8 {
		d.bsBit, d.bsPos = 0, d.bsPos+1
	}
	return v
}

// str reads a string (nil when null).
func (d *dec) str() []byte {
	if !d.flag() {
		return nil
	}
	if d.f.tight {
		d.flag() // ASCII only, or modified UTF-8: both have a 2-octet length
	}
	return d.bytes(int(d.u16()))
}

// long reads a long: 0, 2, 4 or 8 octets by two stream bits when tight.
func (d *dec) long() int64 {
	if !d.f.tight {
		return int64(d.u64())
	}
	if d.flag() {
		if d.flag() {
			return int64(d.u64())
		}
		return int64(d.u32())
	}
	if d.flag() {
		return int64(d.u16())
	}
	return 0
}

// byteSeq reads a byte sequence or array (nil when null).
func (d *dec) byteSeq() []byte {
	if !d.flag() {
		return nil
	}
	n := d.u32()
	if n > uint32(len(d.b)) {
		d.bad = true
		return nil
	}
	return d.bytes(int(n))
}

// cached reads a cached object: inline with its cache index, or a
// reference to an entry; without the cache, a nested object.
func (d *dec) cached() *obj {
	if !d.f.cache {
		return d.nested()
	}
	if d.flag() {
		i := int(int16(d.u16()))
		o := d.nested()
		if !d.bad && i >= 0 && i < d.f.cacheSize {
			c := *d.cache
			for len(c) <= i {
				c = append(c, nil)
			}
			c[i] = o
			*d.cache = c
		}
		return o
	}
	i := int(int16(d.u16()))
	if c := *d.cache; i >= 0 && i < len(c) && c[i] != nil {
		return c[i]
	}
	return nil // an entry not seen (the capture started later)
}

// nested reads a nested object of the kinds a message holds; another kind
// stops the decoding (bad).
func (d *dec) nested() *obj {
	if !d.flag() {
		return nil
	}
	t := d.u8()
	o := &obj{typ: t}
	switch t {
	case typeQueue, typeTopic, typeTempQueue, typeTempTopic, typeConnectionID, typeBrokerID:
		o.s = string(d.str())
	case typeSessionID:
		o.s = string(d.str())
		o.a = d.long()
	case typeConsumerID:
		o.s = string(d.str())
		o.a = d.long() // session id
		o.b = d.long() // value
	case typeProducerID:
		o.s = string(d.str())
		o.a = d.long() // value
		o.b = d.long() // session id
	case typeMessageID:
		o.s = string(d.str()) // text view
		o.pid = d.cached()
		o.a = d.long() // producer sequence id
		d.long()       // broker sequence id
	case typeLocalTxID:
		d.long()
		d.cached()
	case typeXATxID:
		d.u32()
		d.byteSeq()
		d.byteSeq()
	default:
		d.bad = true
		return nil
	}
	return o
}

// baseCommand reads BaseCommand's fields: the command id and whether a
// response is required.
func (d *dec) baseCommand() (id uint32, respReq bool) {
	id = d.u32()
	respReq = d.flag()
	return id, respReq
}

// Primitive types of marshalled property maps (MarshallingSupport).
const (
	ptNull      = 0
	ptBoolean   = 1
	ptByte      = 2
	ptChar      = 3
	ptShort     = 4
	ptInt       = 5
	ptLong      = 6
	ptDouble    = 7
	ptFloat     = 8
	ptString    = 9
	ptByteArray = 10
	ptMap       = 11
	ptList      = 12
	ptBigString = 13
)

// maxPropDepth bounds nested maps and lists in a property map.
const maxPropDepth = 8

// primitiveMap reads a marshalled primitive map and calls f for each
// top-level string value.
func primitiveMap(b []byte, f func(name, val []byte)) bool {
	r := dec{b: b, f: &format{}}
	n := int32(r.u32())
	if n < 0 {
		return !r.bad
	}
	for i := int32(0); i < n && !r.bad; i++ {
		name := r.bytes(int(r.u16()))
		v := r.primitive(0)
		if !r.bad && v != nil && f != nil {
			f(name, v)
		}
	}
	return !r.bad
}

// primitive reads one marshalled primitive value; it returns the bytes of
// strings and nil for other types.
func (d *dec) primitive(depth int) []byte {
	switch t := d.u8(); t {
	case ptNull:
	case ptBoolean, ptByte:
		d.u8()
	case ptChar, ptShort:
		d.u16()
	case ptInt, ptFloat:
		d.u32()
	case ptLong, ptDouble:
		d.u64()
	case ptString:
		return d.bytes(int(d.u16()))
	case ptBigString:
		n := d.u32()
		if n > uint32(len(d.b)) {
			d.bad = true
			return nil
		}
		return d.bytes(int(n))
	case ptByteArray:
		n := d.u32()
		if n > uint32(len(d.b)) {
			d.bad = true
			return nil
		}
		d.bytes(int(n))
	case ptMap, ptList:
		if depth >= maxPropDepth {
			d.bad = true
			return nil
		}
		n := int32(d.u32())
		for i := int32(0); i < n && !d.bad; i++ {
			if t == ptMap {
				d.bytes(int(d.u16()))
			}
			d.primitive(depth + 1)
		}
	default:
		d.bad = true
	}
	return nil
}
