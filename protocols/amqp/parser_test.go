package amqp_test

import (
	"encoding/binary"
	"errors"
	pt "github.com/wiretrace/wiretrace/protocols/internal/parsertest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/amqp"
)

const (
	up   = protocols.ToServer
	down = protocols.ToClient
)

// ---- frame builders (AMQP 0-9-1 wire encoding) ----

type enc []byte

func (e enc) u8(v uint8) enc   { return append(e, v) }
func (e enc) u16(v uint16) enc { return binary.BigEndian.AppendUint16(e, v) }
func (e enc) u32(v uint32) enc { return binary.BigEndian.AppendUint32(e, v) }
func (e enc) u64(v uint64) enc { return binary.BigEndian.AppendUint64(e, v) }
func (e enc) short(s string) enc {
	return append(e.u8(uint8(len(s))), s...)
}
func (e enc) long(s string) enc { return append(e.u32(uint32(len(s))), s...) }

// field is one table entry: name, type octet, encoded value.
type field struct {
	name string
	typ  byte
	val  enc
}

func table(fs ...field) string {
	var b enc
	for _, f := range fs {
		b = b.short(f.name).u8(f.typ)
		b = append(b, f.val...)
	}
	return string(b)
}

func lstr(s string) enc { return enc(nil).long(s) }

func frame(typ uint8, ch uint16, payload enc) string {
	b := enc{typ}.u16(ch).u32(uint32(len(payload)))
	b = append(b, payload...)
	return string(append(b, 0xCE))
}

func method(ch, class, id uint16, args enc) string {
	return frame(1, ch, append(enc(nil).u16(class).u16(id), args...))
}

// props are basic properties for a content header.
type props struct {
	headers              string // an encoded table body
	corrID, replyTo, msg string
	contentType          string
}

func header(ch uint16, size uint64, p props) string {
	var flags uint16
	var list enc
	if p.contentType != "" {
		flags |= 1 << 15
		list = list.short(p.contentType)
	}
	if p.headers != "" {
		flags |= 1 << 13
		list = list.long(p.headers)
	}
	if p.corrID != "" {
		flags |= 1 << 10
		list = list.short(p.corrID)
	}
	if p.replyTo != "" {
		flags |= 1 << 9
		list = list.short(p.replyTo)
	}
	if p.msg != "" {
		flags |= 1 << 7
		list = list.short(p.msg)
	}
	return frame(2, ch, append(enc(nil).u16(60).u16(0).u64(size).u16(flags), list...))
}

func body(ch uint16, s string) string { return frame(3, ch, enc(s)) }

const (
	protoHeader = "AMQP\x00\x00\x09\x01"
	heartbeat   = "\x08\x00\x00\x00\x00\x00\x00\xce"
)

var (
	start    = method(0, 10, 10, enc{0, 9}.long(table(field{"product", 'S', lstr("RabbitMQ")})).long("PLAIN AMQPLAIN").long("en_US"))
	startOk  = method(0, 10, 11, enc(nil).long(table(field{"product", 'S', lstr("amqp091-go")})).short("PLAIN").long("\x00guest\x00s3cr3t").short("en_US"))
	tune     = method(0, 10, 30, enc(nil).u16(2047).u32(131072).u16(60))
	tuneOk   = method(0, 10, 31, enc(nil).u16(2047).u32(131072).u16(0))
	open     = method(0, 10, 40, enc(nil).short("/").short("").u8(0))
	openOk   = method(0, 10, 41, enc(nil).short(""))
	chOpen   = method(1, 20, 10, enc(nil).short(""))
	chOpenOk = method(1, 20, 11, enc(nil).long(""))
)

func queueDeclare(ch uint16, q string, bits uint8) string {
	return method(ch, 50, 10, enc(nil).u16(0).short(q).u8(bits).long(""))
}

func publish(ch uint16, exchange, key string) string {
	return method(ch, 60, 40, enc(nil).u16(0).short(exchange).short(key).u8(0))
}

func deliver(ch uint16, tag uint64, exchange, key string) string {
	return method(ch, 60, 60, enc(nil).short("ctag").u64(tag).u8(0).short(exchange).short(key))
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
	return pt.Run(amqp.New(nil), steps)
}

// msg is the part of a message the tests compare.
type msg struct {
	Kind        protocols.Kind
	Name        string
	Status      protocols.Status
	ID          uint64
	HasID       bool
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
		v := msg{Kind: m.Kind, Name: m.Name, Status: m.Status, ID: m.ID, HasID: m.HasID,
			NoResponse: m.NoResponse, Unsolicited: m.Unsolicited, Partial: m.Partial, BodySize: m.BodySize}
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

func req(name string, id uint64) msg {
	return msg{Kind: protocols.Request, Name: name, ID: id, HasID: true}
}

func resp(id uint64) msg {
	return msg{Kind: protocols.Response, Status: protocols.StatusOK, ID: id, HasID: true}
}

var badEnd = func() string { f := publish(1, "", "q"); return f[:len(f)-1] + "\x00" }()

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestParser(t *testing.T) {
	msgHeaders := table(
		field{"traceparent", 'S', lstr(traceparent)},
		field{"X-Request-ID", 'S', lstr("rid-1")},
		field{"attempt", 'I', enc(nil).u32(3)},
		field{"flags", 'A', enc(nil).long(string(enc{'t', 1, 's'}.u16(7).u8('S').long("x")))},
		field{"nested", 'F', enc(nil).long(table(field{"sw8", 'S', lstr("not-top-level")}))},
		field{"b3", 'x', lstr("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")},
		field{"ts", 'T', enc(nil).u64(1)},
		field{"d", 'D', enc{2}.u32(314)},
		field{"v", 'V', nil},
	)
	tests := []struct {
		name    string
		steps   []step
		attrs   []string
		want    []msg
		wantErr error
	}{
		{
			name: "handshake",
			steps: []step{
				feed(up, protoHeader), feed(down, start), feed(up, startOk), feed(down, tune), feed(up, tuneOk),
				feed(up, open), feed(down, openOk), feed(up, chOpen), feed(down, chOpenOk),
			},
			attrs: []string{"amqp.vhost", "amqp.sasl.mechanism"},
			want: []msg{
				req("connection.start", 0),
				{Kind: protocols.Response, Status: protocols.StatusOK, HasID: true, Attrs: map[string]string{"amqp.sasl.mechanism": "PLAIN"}},
				req("connection.tune", 0), resp(0),
				{Kind: protocols.Request, Name: "connection.open", HasID: true, Attrs: map[string]string{"amqp.vhost": "/"}},
				{Kind: protocols.Response, Status: protocols.StatusOK, HasID: true, Attrs: map[string]string{"amqp.vhost": "/"}},
				{Kind: protocols.Request, Name: "channel.open", ID: 1, HasID: true, Attrs: map[string]string{"amqp.vhost": "/"}},
				{Kind: protocols.Response, Status: protocols.StatusOK, ID: 1, HasID: true, Attrs: map[string]string{"amqp.vhost": "/"}},
			},
		},
		{
			name: "publish with properties and headers, body in two frames",
			steps: []step{feed(up, heartbeat, publish(1, "", "orders"),
				header(1, 11, props{headers: msgHeaders, corrID: "c-1", replyTo: "amq.gen-r", msg: "m-1", contentType: "text/plain"}),
				heartbeat, body(1, "hello "), body(1, "world"))},
			attrs: []string{"messaging.destination.name", "messaging.rabbitmq.destination.routing_key", "messaging.message.id",
				"messaging.message.conversation_id", "messaging.operation.type", "amqp.reply_to", "messaging.message.body.size"},
			want: []msg{{
				Kind: protocols.Request, Name: "basic.publish orders", NoResponse: true, BodySize: 11,
				Attrs: map[string]string{"messaging.destination.name": "", "messaging.rabbitmq.destination.routing_key": "orders",
					"messaging.message.id": "m-1", "messaging.message.conversation_id": "c-1", "messaging.operation.type": "send",
					"amqp.reply_to": "amq.gen-r", "messaging.message.body.size": "11"},
				Links: []string{"traceparent=" + traceparent, "x_request_id=rid-1",
					"b3=80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
					"handoff_send=amqp:m-1", "handoff_send=amqp-corr:c-1"},
			}},
		},
		{
			name:  "reply publish: correlation id without reply-to continues the chain",
			steps: []step{feed(up, publish(1, "", "amq.gen-r"), header(1, 0, props{corrID: "c-1"}))},
			want: []msg{{Kind: protocols.Request, Name: "basic.publish amq.gen-r", NoResponse: true,
				Links: []string{"handoff_recv=amqp-corr:c-1", "handoff_send=amqp-corr:c-1"}}},
		},
		{
			name:  "deliver",
			steps: []step{feed(down, deliver(1, 7, "logs", "info"), header(1, 2, props{msg: "m-2", corrID: "c-2", replyTo: "rq"}), body(1, "hi"))},
			attrs: []string{"messaging.rabbitmq.message.delivery_tag", "messaging.destination.name", "messaging.operation.type"},
			want: []msg{{Kind: protocols.Response, Name: "basic.deliver logs", Status: protocols.StatusOK, Unsolicited: true, BodySize: 2,
				Attrs: map[string]string{"messaging.rabbitmq.message.delivery_tag": "7", "messaging.destination.name": "logs",
					"messaging.operation.type": "process"},
				Links: []string{"handoff_recv=amqp:m-2", "handoff_recv=amqp-corr:c-2", "handoff_send=amqp-corr:c-2"}}},
		},
		{
			name: "get-ok and get-empty",
			steps: []step{
				feed(up, method(2, 60, 70, enc(nil).u16(0).short("jobs").u8(1))),
				feed(down, method(2, 60, 71, enc(nil).u64(1).u8(0).short("").short("jobs").u32(0)), header(2, 3, props{msg: "j-1"}), body(2, "job")),
				feed(up, method(2, 60, 70, enc(nil).u16(0).short("jobs").u8(1))),
				feed(down, method(2, 60, 72, enc(nil).short(""))),
			},
			want: []msg{
				req("basic.get jobs", 2),
				{Kind: protocols.Response, Name: "basic.get-ok jobs", Status: protocols.StatusOK, ID: 2, HasID: true, BodySize: 3,
					Links: []string{"handoff_recv=amqp:j-1"}},
				req("basic.get jobs", 2), resp(2),
			},
		},
		{
			name: "server closes the channel in answer to a declare; close-ok is no message",
			steps: []step{
				feed(up, queueDeclare(1, "missing", 1)),
				feed(down, method(1, 20, 40, enc(nil).u16(404).short("NOT_FOUND - no queue 'missing'").u16(50).u16(10))),
				feed(up, method(1, 20, 41, nil)),
			},
			attrs: []string{"error.type", "amqp.reply_code"},
			want: []msg{
				req("queue.declare missing", 1),
				{Kind: protocols.Response, Status: protocols.StatusError, ID: 1, HasID: true,
					Attrs: map[string]string{"error.type": "NOT_FOUND", "amqp.reply_code": "404"}},
			},
		},
		{
			name: "server-initiated close with an error: the close-ok is an error",
			steps: []step{
				feed(down, method(0, 10, 50, enc(nil).u16(320).short("CONNECTION_FORCED").u16(0).u16(0))),
				feed(up, method(0, 10, 51, nil)),
			},
			attrs: []string{"error.type"},
			want: []msg{
				req("connection.close", 0),
				{Kind: protocols.Response, Status: protocols.StatusError, HasID: true, Attrs: map[string]string{"error.type": "CONNECTION_FORCED"}},
			},
		},
		{
			name:  "no-wait declare",
			steps: []step{feed(up, queueDeclare(3, "q", 1<<4))},
			want:  []msg{{Kind: protocols.Request, Name: "queue.declare q", ID: 3, HasID: true, NoResponse: true}},
		},
		{
			name: "interleaved channels",
			steps: []step{feed(down,
				deliver(1, 1, "", "a"), deliver(2, 1, "", "b"), header(2, 1, props{msg: "b1"}), header(1, 1, props{msg: "a1"}),
				body(1, "A"), body(2, "B"))},
			want: []msg{
				{Kind: protocols.Response, Name: "basic.deliver a", Status: protocols.StatusOK, Unsolicited: true, BodySize: 1, Links: []string{"handoff_recv=amqp:a1"}},
				{Kind: protocols.Response, Name: "basic.deliver b", Status: protocols.StatusOK, Unsolicited: true, BodySize: 1, Links: []string{"handoff_recv=amqp:b1"}},
			},
		},
		{
			name:  "ack from the client, confirm from the server",
			steps: []step{feed(up, method(1, 60, 80, enc(nil).u64(5).u8(0))), feed(down, method(1, 60, 80, enc(nil).u64(9).u8(0)))},
			attrs: []string{"messaging.rabbitmq.message.delivery_tag"},
			want: []msg{
				{Kind: protocols.Request, Name: "basic.ack", NoResponse: true, Attrs: map[string]string{"messaging.rabbitmq.message.delivery_tag": "5"}},
				{Kind: protocols.Response, Name: "basic.ack", Status: protocols.StatusOK, Unsolicited: true, Attrs: map[string]string{"messaging.rabbitmq.message.delivery_tag": "9"}},
			},
		},
		{
			name:  "return is an error",
			steps: []step{feed(down, method(1, 60, 50, enc(nil).u16(312).short("NO_ROUTE").short("ex").short("nowhere")), header(1, 1, props{}), body(1, "x"))},
			attrs: []string{"error.type"},
			want: []msg{{Kind: protocols.Response, Name: "basic.return ex", Status: protocols.StatusError, Unsolicited: true, BodySize: 1,
				Attrs: map[string]string{"error.type": "NO_ROUTE"}}},
		},
		{
			name:  "gap inside a body is skipped exactly",
			steps: []step{feed(down, deliver(1, 1, "", "q"), header(1, 10, props{msg: "m"}), frame(3, 1, enc("0123456789"))[:9]), gap(down, 6), feed(down, "89\xce")},
			want: []msg{{Kind: protocols.Response, Name: "basic.deliver q", Status: protocols.StatusOK, Unsolicited: true, Partial: true, BodySize: 10,
				Links: []string{"handoff_recv=amqp:m"}}},
		},
		{
			name:  "gap elsewhere: resync on the next frame",
			steps: []step{feed(up, publish(1, "", "q")[:5]), gap(up, 100), feed(up, "junk\xce\x01", queueDeclare(1, "q2", 0))},
			want:  []msg{req("queue.declare q2", 1)},
		},
		{
			name: "content header larger than MaxFrame, empty body",
			steps: []step{feed(up, publish(1, "", "q"),
				header(1, 0, props{msg: "m-big", headers: table(field{"big", 'S', lstr(strings.Repeat("x", amqp.MaxFrame))})}),
				queueDeclare(1, "after", 0))},
			want: []msg{
				{Kind: protocols.Request, Name: "basic.publish q", NoResponse: true, Partial: true},
				req("queue.declare after", 1),
			},
		},
		{
			name:  "end inside a message",
			steps: []step{feed(up, publish(1, "", "q"), header(1, 5, props{}), body(1, "ab")), end(up)},
			want:  []msg{{Kind: protocols.Request, Name: "basic.publish q", NoResponse: true, Partial: true, BodySize: 2}},
		},
		{name: "bad frame end", steps: []step{feed(up, badEnd)}, wantErr: amqp.ErrFrameEnd},
		{name: "unknown frame type", steps: []step{feed(up, "\x09\x00\x00\x00\x00\x00\x00\xce")}, wantErr: amqp.ErrFrameType},
		{name: "AMQP 1.0", steps: []step{feed(up, "AMQP\x00\x01\x00\x00")}, wantErr: amqp.ErrVersion},
		{name: "unknown method", steps: []step{feed(up, method(1, 60, 99, nil))}, wantErr: amqp.ErrMethod},
		{name: "frame too large", steps: []step{feed(up, "\x03\x00\x01\x7f\xff\xff\xff")}, wantErr: amqp.ErrFrameSize},
	}
	for _, tc := range tests {
		for _, split := range []bool{false, true} {
			name := tc.name
			if split {
				name += "/bytewise"
			}
			t.Run(name, func(t *testing.T) {
				got, err := run(tc.steps, split)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				if err != nil {
					var pe *protocols.ParseError
					if !errors.As(err, &pe) || !errors.Is(err, protocols.ErrMalformed) && !errors.Is(err, protocols.ErrTooLarge) {
						t.Errorf("error %v is not a ParseError wrapping ErrMalformed or ErrTooLarge", err)
					}
					return
				}
				if diff := cmp.Diff(tc.want, view(got, tc.attrs...), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("messages (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestRedaction checks that the SASL response never reaches a message.
func TestRedaction(t *testing.T) {
	got, err := run([]step{feed(up, protoHeader), feed(down, start), feed(up, startOk),
		feed(up, method(0, 10, 21, enc(nil).long("s3cr3t"))), feed(up, method(0, 10, 70, enc(nil).long("s3cr3t").short("rotate")))}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d messages, want 4", len(got))
	}
	for _, m := range got {
		for _, a := range append(m.Attrs, m.Links...) {
			if strings.Contains(a.Value(), "s3cr3t") || strings.Contains(a.Value(), "guest") {
				t.Errorf("%s: %s = %q leaks a credential", m.Name, a.Key, a.Value())
			}
		}
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want protocols.Direction
	}{
		{"protocol header", protoHeader, up},
		{"connection.start", start, down},
		{"publish mid-stream", publish(1, "", "q"), up},
		{"deliver mid-stream", deliver(1, 1, "", "q"), down},
		{"incomplete frame", publish(1, "", "q")[:10], protocols.DirUnknown},
		{"close: either way", method(1, 20, 40, enc(nil).u16(200).short("").u16(0).u16(0)), protocols.DirUnknown},
		{"AMQP 1.0", "AMQP\x00\x01\x00\x00", protocols.DirUnknown},
		{"http", "GET / HTTP/1.1\r\n\r\n", protocols.DirUnknown},
		{"bad frame end", badEnd, protocols.DirUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := amqp.Sniff([]byte(tc.in)); got != tc.want {
				t.Errorf("Sniff = %v, want %v", got, tc.want)
			}
		})
	}
}
