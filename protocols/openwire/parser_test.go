package openwire_test

import (
	"encoding/binary"
	"errors"
	pt "github.com/wiretrace/wiretrace/protocols/internal/parsertest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/openwire"
)

const (
	up   = protocols.ToServer
	down = protocols.ToClient
)

// ---- an OpenWire encoder (v12 field order) for the tests ----

// enc writes a command body in the tight (a boolean stream, then the
// data) or loose encoding.
type enc struct {
	tight bool
	bits  []bool
	data  []byte
}

func (e *enc) flag(v bool) {
	if e.tight {
		e.bits = append(e.bits, v)
		return
	}
	b := byte(0)
	if v {
		b = 1
	}
	e.data = append(e.data, b)
}
func (e *enc) u8(v byte)    { e.data = append(e.data, v) }
func (e *enc) u16(v uint16) { e.data = binary.BigEndian.AppendUint16(e.data, v) }
func (e *enc) u32(v uint32) { e.data = binary.BigEndian.AppendUint32(e.data, v) }
func (e *enc) u64(v uint64) { e.data = binary.BigEndian.AppendUint64(e.data, v) }

// str writes a string; "\x00" stands for null.
func (e *enc) str(s string) {
	if s == "\x00" {
		e.flag(false)
		return
	}
	e.flag(true)
	if e.tight {
		e.flag(true) // ASCII
	}
	e.u16(uint16(len(s)))
	e.data = append(e.data, s...)
}

func (e *enc) long(v uint64) {
	if !e.tight {
		e.u64(v)
		return
	}
	switch {
	case v == 0:
		e.flag(false)
		e.flag(false)
	case v < 1<<16:
		e.flag(false)
		e.flag(true)
		e.u16(uint16(v))
	case v < 1<<32:
		e.flag(true)
		e.flag(false)
		e.u32(uint32(v))
	default:
		e.flag(true)
		e.flag(true)
		e.u64(v)
	}
}

func (e *enc) bytes(b []byte) {
	if b == nil {
		e.flag(false)
		return
	}
	e.flag(true)
	e.u32(uint32(len(b)))
	e.data = append(e.data, b...)
}

// null writes a null nested object.
func (e *enc) null() { e.flag(false) }

// inline writes a cached object inline at index i; ref a reference.
func (e *enc) inline(i uint16, obj func()) { e.flag(true); e.u16(i); obj() }
func (e *enc) ref(i uint16)                { e.flag(false); e.u16(i) }

func (e *enc) queue(name string) func() {
	return func() { e.flag(true); e.u8(100); e.str(name) }
}

func (e *enc) producerID(conn string, session, value uint64) func() {
	return func() { e.flag(true); e.u8(123); e.str(conn); e.long(value); e.long(session) }
}

func (e *enc) base(id uint32, respReq bool) { e.u32(id); e.flag(respReq) }

// frame returns the size-prefixed command.
func (e *enc) frame(typ byte) string {
	var body []byte
	body = append(body, typ)
	if e.tight {
		bs := make([]byte, (len(e.bits)+7)/8)
		for i, v := range e.bits {
			if v {
				bs[i/8] |= 1 << (i % 8)
			}
		}
		body = append(body, byte(len(bs)))
		body = append(body, bs...)
	}
	body = append(body, e.data...)
	return string(binary.BigEndian.AppendUint32(nil, uint32(len(body)))) + string(body)
}

// wfi is a WireFormatInfo (always loose) with the given preferences; host
// marks the client's.
func wfi(tight, cache, host bool) string {
	var p []byte
	p = binary.BigEndian.AppendUint32(p, 3)
	prop := func(name string, v bool) {
		p = binary.BigEndian.AppendUint16(p, uint16(len(name)))
		p = append(p, name...)
		b := byte(0)
		if v {
			b = 1
		}
		p = append(p, 1, b)
	}
	prop("TightEncodingEnabled", tight)
	prop("CacheEnabled", cache)
	if host {
		p = binary.BigEndian.AppendUint16(p, 4)
		p = append(p, "Host"...)
		p = append(p, 9, 0, 9)
		p = append(p, "localhost"...)
	} else {
		prop("StackTraceEnabled", true)
	}
	e := &enc{}
	e.data = append(e.data, "ActiveMQ"...)
	e.u32(12)
	e.bytes(p)
	return e.frame(1)
}

// props is a marshalled primitive map of string properties.
func props(kv ...string) []byte {
	p := binary.BigEndian.AppendUint32(nil, uint32(len(kv)/2))
	for i := 0; i < len(kv); i += 2 {
		p = binary.BigEndian.AppendUint16(p, uint16(len(kv[i])))
		p = append(p, kv[i]...)
		p = append(p, 9)
		p = binary.BigEndian.AppendUint16(p, uint16(len(kv[i+1])))
		p = append(p, kv[i+1]...)
	}
	return p
}

// message writes a Message's fields after BaseCommand.
type message struct {
	pid      func() // producer id, inline (nil: a reference to index 1)
	dest     func() // destination inline (nil: a reference to index 2)
	seq      uint64
	corr     string
	replyTo  string
	content  []byte
	props    []byte
	textView string
}

func (e *enc) message(m message) {
	if m.pid != nil {
		e.inline(1, m.pid)
	} else {
		e.ref(1)
	}
	if m.dest != nil {
		e.inline(2, m.dest)
	} else {
		e.ref(2)
	}
	e.inline(3, e.null) // transaction id
	e.ref(3)            // original destination: null
	// MessageId: text view, producer id (cached: a reference), sequences.
	e.flag(true)
	e.u8(110)
	e.str(m.textView)
	e.ref(1)
	e.long(m.seq)
	e.long(0)
	e.ref(3)      // original transaction id
	e.str("\x00") // group id
	e.u32(0)      // group sequence
	e.str(m.corr) // correlation id
	e.flag(true)  // persistent
	e.long(0)     // expiration
	e.u8(4)       // priority
	if m.replyTo != "" {
		e.queue(m.replyTo)()
	} else {
		e.null()
	}
	e.long(1795605888428) // timestamp
	e.str("\x00")         // type
	e.bytes(m.content)
	e.bytes(m.props)
	e.null()      // data structure
	e.ref(3)      // target consumer id
	e.flag(false) // compressed
	e.u32(0)      // redelivery counter
}

// digestOf is the hand-off digest of a STOMP body (FNV-1a 64).
func digestOf(s string) string {
	h := uint64(14695981039346656037)
	for i := range len(s) {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := range b {
		b[i] = digits[h>>(60-4*uint(i))&0xf]
	}
	return string(b[:])
}

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func response(tight bool, corr uint32) string {
	e := &enc{tight: tight}
	e.base(0, false)
	e.u32(corr)
	return e.frame(30)
}

func exception(tight bool, corr uint32, class, text string) string {
	e := &enc{tight: tight}
	e.base(0, false)
	e.u32(corr)
	e.flag(true)
	e.str(class)
	e.str(text)
	e.u16(0) // stack trace
	e.flag(false)
	return e.frame(31)
}

// ---- the shared driver (protocols/internal/parsertest) ----

type step = pt.Step

func feed(dir protocols.Direction, data ...string) step {
	return pt.Feed(dir, strings.Join(data, ""))
}

var (
	gap = pt.Gap
	end = pt.End
)

// run feeds steps whole; split feeds every data step a byte at a time.
func run(steps []step, split bool) ([]protocols.Message, error) {
	if split {
		steps = pt.SplitBytes(steps)
	}
	return pt.Run(openwire.New(nil), steps)
}

type msg struct {
	Kind        protocols.Kind
	Name        string
	Status      protocols.Status
	ID          uint64
	NoResponse  bool
	Unsolicited bool
	Partial     bool
	BodySize    int
	Attrs       map[string]string
	Links       []string
}

func view(ms []protocols.Message, attrs ...string) []msg {
	var out []msg
	for _, m := range ms {
		v := msg{Kind: m.Kind, Name: m.Name, Status: m.Status, ID: m.ID, NoResponse: m.NoResponse,
			Unsolicited: m.Unsolicited, Partial: m.Partial, BodySize: m.BodySize}
		for _, a := range m.Attrs {
			for _, k := range attrs {
				if a.Key == k {
					if v.Attrs == nil {
						v.Attrs = map[string]string{}
					}
					v.Attrs[k] = a.Value()
				}
			}
		}
		for _, l := range m.Links {
			v.Links = append(v.Links, l.Key+"="+l.Str)
		}
		out = append(out, v)
	}
	return out
}

func TestParser(t *testing.T) {
	hello := []byte("\x00\x00\x00\x05hello")
	for _, tight := range []bool{true, false} {
		enc := "loose"
		if tight {
			enc = "tight"
		}
		handshake := []step{feed(down, wfi(tight, true, false)), feed(up, wfi(tight, true, true))}
		cases := []struct {
			name  string
			steps []step
			attrs []string
			want  []msg
		}{
			{
				name: "send with ids, reply-to and trace properties; its response",
				steps: append(append([]step(nil), handshake...),
					feed(up, sendWith(tight, 5, message{seq: 7, corr: "c-1", replyTo: "replies", content: hello,
						props: props("traceparent", traceparent, "uber_$dash$_trace_$dash$_id", "abc:def:0:1", "X-Request-ID", "rid-1", "other", "x")})),
					feed(down, response(tight, 5))),
				attrs: []string{"messaging.destination.name", "messaging.message.id", "messaging.message.conversation_id",
					"messaging.operation.type", "openwire.reply_to"},
				want: []msg{
					{Kind: protocols.Request, Name: "ActiveMQTextMessage queue://orders", ID: 5, BodySize: 9,
						Attrs: map[string]string{"messaging.destination.name": "queue://orders", "messaging.message.id": "ID:h-1-2-1:1:1:1:7",
							"messaging.message.conversation_id": "c-1", "messaging.operation.type": "send", "openwire.reply_to": "queue://replies"},
						Links: []string{"handoff_send=activemq:ID:h-1-2-1:1:1:1:7", "handoff_send=activemq-corr:c-1",
							"traceparent=" + traceparent, "uber_trace_id=abc:def:0:1", "x_request_id=rid-1"}},
					{Kind: protocols.Response, Status: protocols.StatusOK, ID: 5},
				},
			},
			{
				name: "dispatch: cached producer id and destination from an earlier dispatch",
				steps: append(append([]step(nil), handshake...),
					feed(down, dispatchWith(tight, message{seq: 1, content: hello}, true)),
					feed(down, dispatchWith(tight, message{seq: 2, corr: "c-2"}, false))),
				attrs: []string{"messaging.message.id", "messaging.operation.type"},
				want: []msg{
					{Kind: protocols.Response, Name: "MessageDispatch queue://orders", Status: protocols.StatusOK, Unsolicited: true, BodySize: 9,
						Attrs: map[string]string{"messaging.message.id": "ID:h-1-2-1:1:1:1:1", "messaging.operation.type": "process"},
						Links: []string{"handoff_recv=activemq:ID:h-1-2-1:1:1:1:1", "handoff_recv=stomp:/queue/orders:" + digestOf("hello")}},
					{Kind: protocols.Response, Name: "MessageDispatch queue://orders", Status: protocols.StatusOK, Unsolicited: true,
						Attrs: map[string]string{"messaging.message.id": "ID:h-1-2-1:1:1:1:2", "messaging.operation.type": "process"},
						Links: []string{"handoff_recv=activemq:ID:h-1-2-1:1:1:1:2", "handoff_recv=activemq-corr:c-2"}},
				},
			},
			{
				name: "text view message id",
				steps: append(append([]step(nil), handshake...),
					feed(up, sendWith(tight, 3, message{textView: "my-id"}))),
				attrs: []string{"messaging.message.id"},
				want: []msg{{Kind: protocols.Request, Name: "ActiveMQTextMessage queue://orders", ID: 3,
					Attrs: map[string]string{"messaging.message.id": "ID:my-id"}, Links: []string{"handoff_send=activemq:ID:my-id"}}},
			},
			{
				name: "exception response",
				steps: append(append([]step(nil), handshake...),
					feed(up, sendWith(tight, 4, message{seq: 1})),
					feed(down, exception(tight, 4, "javax.jms.InvalidDestinationException", "no such queue"))),
				attrs: []string{"error.type", "openwire.exception.message"},
				want: []msg{
					{Kind: protocols.Request, Name: "ActiveMQTextMessage queue://orders", ID: 4, Links: []string{"handoff_send=activemq:ID:h-1-2-1:1:1:1:1"}},
					{Kind: protocols.Response, Status: protocols.StatusError, ID: 4,
						Attrs: map[string]string{"error.type": "javax.jms.InvalidDestinationException", "openwire.exception.message": "no such queue"}},
				},
			},
			{
				name: "keep-alives are no messages; a gap inside an oversized command is skipped",
				steps: append(append([]step(nil), handshake...),
					feed(up, keepAlive(tight)),
					feed(up, sendWith(tight, 6, message{seq: 3, content: make([]byte, openwire.MaxCommand+8000)})[:70000]),
					gap(up, len(sendWith(tight, 6, message{seq: 3, content: make([]byte, openwire.MaxCommand+8000)}))-70000),
					feed(up, keepAlive(tight))),
				want: []msg{{Kind: protocols.Request, Name: "ActiveMQTextMessage queue://orders", ID: 6, Partial: true,
					Links: []string{"handoff_send=activemq:ID:h-1-2-1:1:1:1:3"}}},
			},
		}
		for _, tc := range cases {
			for _, split := range []bool{false, true} {
				name := enc + "/" + tc.name
				if split {
					name += "/bytewise"
				}
				t.Run(name, func(t *testing.T) {
					got, err := run(tc.steps, split)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(tc.want, view(got, tc.attrs...), cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("messages (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

// sendWith is send with the producer id and destination inline.
func sendWith(tight bool, id uint32, m message) string {
	e := &enc{tight: tight}
	e.base(id, true)
	m.pid = e.producerID("ID:h-1-2-1:1", 1, 1)
	m.dest = e.queue("orders")
	e.message(m)
	return e.frame(28)
}

// dispatchWith is dispatch with the producer id and destination inline
// (first) or as references.
func dispatchWith(tight bool, m message, first bool) string {
	e := &enc{tight: tight}
	e.base(0, false)
	e.inline(7, func() { e.flag(true); e.u8(122); e.str("ID:c-1"); e.long(1); e.long(1) })
	if first {
		e.inline(2, e.queue("orders"))
	} else {
		e.ref(2)
	}
	e.flag(true)
	e.u8(28)
	if tight {
		e.flag(false)
	}
	e.base(9, true)
	if first {
		m.pid = e.producerID("ID:h-1-2-1:1", 1, 1)
	}
	// The dispatch carries the destination; the message references it.
	e.message(m)
	e.u32(0)
	return e.frame(21)
}

func keepAlive(tight bool) string {
	e := &enc{tight: tight}
	e.base(0, true)
	return e.frame(10)
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"size zero", "\x00\x00\x00\x00", openwire.ErrSize},
		{"size too large", "\x7f\xff\xff\xff", openwire.ErrSize},
		{"unknown type", "\x00\x00\x00\x01\x63", openwire.ErrType},
		{"no magic", "\x00\x00\x00\x09\x01NotMQ!!!", openwire.ErrMagic},
		{"truncated command", "\x00\x00\x00\x02\x0a\x00", openwire.ErrCommand},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run([]step{feed(up, tc.in)}, false)
			var pe *protocols.ParseError
			if !errors.Is(err, tc.want) || !errors.As(err, &pe) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
	// A gap between commands loses the boundary and the cache.
	_, err := run([]step{feed(down, wfi(true, true, false)), feed(up, wfi(true, true, true)), gap(up, 10), feed(up, keepAlive(true))}, false)
	if !errors.Is(err, openwire.ErrDesync) {
		t.Errorf("after a gap: error %v, want ErrDesync", err)
	}
}

// TestRedaction checks that ConnectionInfo's password never reaches a
// message.
func TestRedaction(t *testing.T) {
	e := &enc{tight: true}
	e.base(1, true)
	e.inline(1, func() { e.flag(true); e.u8(120); e.str("ID:c-1") })
	e.str("client-1")
	e.str("s3cr3t")
	e.str("admin")
	got, err := run([]step{feed(down, wfi(true, true, false)), feed(up, wfi(true, true, true)), feed(up, e.frame(3))}, false)
	if err != nil || len(got) != 1 {
		t.Fatalf("%d messages, error %v", len(got), err)
	}
	for _, a := range append(got[0].Attrs, got[0].Links...) {
		if strings.Contains(a.Value(), "s3cr3t") || strings.Contains(a.Value(), "admin") {
			t.Errorf("%s = %q leaks a credential", a.Key, a.Value())
		}
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want protocols.Direction
	}{
		{"client wireformat", wfi(true, true, true), up},
		{"broker wireformat", wfi(true, true, false), down},
		{"message", sendWith(true, 1, message{}), up},
		{"response", response(true, 1), down},
		{"incomplete", wfi(true, true, true)[:20], protocols.DirUnknown},
		{"http", "GET / HTTP/1.1\r\n\r\n", protocols.DirUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := openwire.Sniff([]byte(tc.in)); got != tc.want {
				t.Errorf("Sniff = %v, want %v", got, tc.want)
			}
		})
	}
}
