package mqtt_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mqtt"
)

// pkt builds a control packet: fixed header (type, flags, remaining
// length) and body.
func pkt(typ, flags byte, body ...string) string {
	b := strings.Join(body, "")
	h := []byte{typ<<4 | flags}
	n := len(b)
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			c |= 0x80
		}
		h = append(h, c)
		if n == 0 {
			break
		}
	}
	return string(h) + b
}

func str(s string) string { return string([]byte{byte(len(s) >> 8), byte(len(s))}) + s }
func u16(v int) string    { return string([]byte{byte(v >> 8), byte(v)}) }
func props(p ...string) string {
	b := strings.Join(p, "")
	return string([]byte{byte(len(b))}) + b // lengths under 128 in tests
}
func userProp(k, v string) string { return "\x26" + str(k) + str(v) }

func connect(level byte, flags byte, fields ...string) string {
	name := "MQTT"
	if level == 3 {
		name = "MQIsdp"
	}
	body := str(name) + string([]byte{level, flags}) + u16(60)
	if level == 5 {
		body += props()
	}
	return pkt(1, 0, body+strings.Join(fields, ""))
}

func publish(qos byte, topic string, pid int, v5props, payload string) string {
	body := str(topic)
	if qos > 0 {
		body += u16(pid)
	}
	if v5props != "" {
		body += v5props
	}
	return pkt(3, qos<<1, body+payload)
}

type view struct {
	kind        protocols.Kind
	name        string
	status      protocols.Status
	noResp      bool
	unsolicited bool
	partial     bool
	id          uint64
	links       []string
}

func viewOf(m *protocols.Message) view {
	id := m.ID
	if !m.HasID {
		id = 1 << 63
	}
	return view{m.Kind, m.Name, m.Status, m.NoResponse, m.Unsolicited, m.Partial, id, links(m)}
}

const (
	tp       = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	helloDig = "a430d84680aabd0b"
	noID     = 1 << 63
)

func TestParse(t *testing.T) {
	send := func(topic string) string { return "handoff_send=mqtt:" + topic + ":" + helloDig }
	recv := func(topic string) string { return "handoff_recv=mqtt:" + topic + ":" + helloDig }
	req := func(name string, id uint64, l ...string) view {
		return view{kind: protocols.Request, name: name, id: id, links: l}
	}
	ok := func(id uint64) view { return view{kind: protocols.Response, status: protocols.StatusOK, id: id} }
	v5 := connect(5, 0x02, str("c1"))
	v5ack := pkt(2, 0, "\x00\x00", props())
	tests := []struct {
		name  string
		steps []step
		want  []view
	}{{
		name: "3.1.1 connect, publish at every qos",
		steps: []step{
			feed(up, connect(4, 0xC2, str("client-1"), str("alice"), str("s3cret"))),
			feed(down, pkt(2, 0, "\x00\x00")),
			feed(up, publish(0, "a/b", 0, "", "hello")+publish(1, "a/b", 7, "", "hello")+publish(2, "a/b", 8, "", "hello")),
			feed(down, pkt(4, 0, u16(7))+pkt(5, 0, u16(8))),
			feed(up, pkt(6, 2, u16(8))),
			feed(down, pkt(7, 0, u16(8))),
		},
		want: []view{
			req("CONNECT", 3<<16), ok(3 << 16),
			{kind: protocols.Request, name: "PUBLISH a/b", noResp: true, id: noID, links: []string{send("a/b")}},
			req("PUBLISH a/b", 7, send("a/b")), req("PUBLISH a/b", 8, send("a/b")),
			ok(7), ok(8),
		},
	}, {
		name: "payload in pieces",
		steps: []step{
			feed(up, publish(1, "t", 1, "", "hello")[:5]), feed(up, publish(1, "t", 1, "", "hello")[5:8]),
			feed(up, publish(1, "t", 1, "", "hello")[8:]),
		},
		want: []view{req("PUBLISH t", 1, send("t"))},
	}, {
		name: "subscribe, delivery, ping, disconnect",
		steps: []step{
			feed(up, pkt(8, 2, u16(3), str("s/#"), "\x01", str("x"), "\x00")),
			feed(down, pkt(9, 0, u16(3), "\x01\x80")),
			feed(down, publish(1, "s/1", 99, "", "hello")),
			feed(up, pkt(4, 0, u16(99))),
			feed(up, pkt(12, 0)), feed(down, pkt(13, 0)),
			feed(up, pkt(10, 2, u16(4), str("s/#"))), feed(down, pkt(11, 0, u16(4))),
			feed(up, pkt(14, 0)),
		},
		want: []view{
			req("SUBSCRIBE s/#", 1<<16|3), ok(1<<16 | 3),
			{kind: protocols.Response, name: "PUBLISH s/1", status: protocols.StatusOK, unsolicited: true, id: noID, links: []string{recv("s/1")}},
			req("PINGREQ", 1<<32+1), ok(1<<32 + 1),
			req("UNSUBSCRIBE s/#", 2<<16|4), ok(2<<16 | 4),
			{kind: protocols.Request, name: "DISCONNECT", noResp: true, id: noID},
		},
	}, {
		name: "refused connection and failed subscription",
		steps: []step{
			feed(up, connect(4, 0x02, str("c"))), feed(down, pkt(2, 0, "\x00\x05")),
			feed(up, pkt(8, 2, u16(1), str("#"), "\x00")), feed(down, pkt(9, 0, u16(1), "\x80")),
		},
		want: []view{req("CONNECT", 3<<16), {kind: protocols.Response, status: protocols.StatusError, id: 3 << 16},
			req("SUBSCRIBE #", 1<<16|1), {kind: protocols.Response, status: protocols.StatusError, id: 1<<16 | 1}},
	}, {
		name: "v5 user properties, correlation data, topic alias",
		steps: []step{
			feed(up, v5), feed(down, v5ack),
			feed(up, publish(1, "req/add", 5, props(userProp("traceparent", tp), "\x08"+str("resp/c1"), "\x09"+str("k1"), "\x23"+u16(3)), "hello")),
			feed(up, publish(0, "", 0, props("\x23"+u16(3)), "hello")),
			feed(down, pkt(4, 0, u16(5), "\x10", props())),
			feed(down, publish(0, "req/add", 0, props(userProp("TraceParent", tp), "\x08"+str("resp/c1"), "\x09"+str("k1")), "hello")),
			feed(up, publish(0, "resp/c1", 0, props("\x09"+str("k1")), "hello")),
		},
		want: []view{
			req("CONNECT", 3<<16), ok(3 << 16),
			req("PUBLISH req/add", 5, "traceparent="+tp, send("req/add")),
			{kind: protocols.Request, name: "PUBLISH req/add", noResp: true, id: noID, links: []string{send("req/add")}},
			ok(5),
			{kind: protocols.Response, name: "PUBLISH req/add", status: protocols.StatusOK, unsolicited: true, id: noID,
				links: []string{"traceparent=" + tp, recv("req/add"), "handoff_send=mqtt-reply:resp/c1:08be0f07b56224c1"}},
			{kind: protocols.Request, name: "PUBLISH resp/c1", noResp: true, id: noID,
				links: []string{send("resp/c1"), "handoff_recv=mqtt-reply:resp/c1:08be0f07b56224c1"}},
		},
	}, {
		name: "v5 puback error and server disconnect",
		steps: []step{
			feed(up, v5), feed(down, v5ack),
			feed(up, publish(1, "x", 2, props(), "hello")),
			feed(down, pkt(4, 0, u16(2), "\x87", props())),
			feed(down, pkt(14, 0, "\x8b", props())),
		},
		want: []view{
			req("CONNECT", 3<<16), ok(3 << 16),
			req("PUBLISH x", 2, send("x")),
			{kind: protocols.Response, status: protocols.StatusError, id: 2},
			{kind: protocols.Response, name: "DISCONNECT", status: protocols.StatusError, unsolicited: true, id: noID},
		},
	}, {
		name: "gap inside a payload",
		steps: []step{
			feed(up, publish(1, "t", 1, "", "hello world")[:9]), gap(up, 3), feed(up, publish(1, "t", 1, "", "hello world")[12:]),
			feed(up, publish(1, "t", 2, "", "hello")),
		},
		want: []view{
			{kind: protocols.Request, name: "PUBLISH t", id: 1, partial: true},
			req("PUBLISH t", 2, send("t")),
		},
	}, {
		name: "gap between packets resyncs",
		steps: []step{
			feed(up, pkt(12, 0)), feed(up, publish(1, "t", 1, "", "hello")[:3]), gap(up, 4),
			feed(up, "lo"+publish(1, "t", 2, "", "hello")+pkt(12, 0)),
		},
		want: []view{req("PINGREQ", 1<<32+1), req("PUBLISH t", 2, send("t")), req("PINGREQ", 1<<32+2)},
	}, {
		name:  "end inside a payload",
		steps: []step{feed(down, publish(0, "t", 0, "", "hello")[:6]), end(down)},
		want:  []view{{kind: protocols.Response, name: "PUBLISH t", status: protocols.StatusOK, unsolicited: true, partial: true, id: noID}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runParser(mqtt.New(nil), tc.steps)
			if err != nil {
				t.Fatal(err)
			}
			var views []view
			for i := range got {
				views = append(views, viewOf(&got[i]))
			}
			if !slices.EqualFunc(views, tc.want, func(a, b view) bool {
				return a.kind == b.kind && a.name == b.name && a.status == b.status && a.noResp == b.noResp &&
					a.unsolicited == b.unsolicited && a.partial == b.partial && a.id == b.id && slices.Equal(a.links, b.links)
			}) {
				t.Errorf("got\n%+v\nwant\n%+v", views, tc.want)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	got, err := runParser(mqtt.New(nil), []step{
		feed(up, connect(4, 0xC6, str("sensor-7"), str("will/t"), str("will payload"), str("bob"), str("hunter2"))),
		feed(up, publish(1, "home/temp", 9, "", "21.5")),
		feed(up, connect(5, 0x02, str("v5"))),
		feed(up, publish(0, "r", 0, props("\x09"+str("\x01\x02")), "x")),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d messages", len(got))
	}
	checks := []struct {
		m         int
		key, want string
	}{
		{0, "messaging.client.id", "sensor-7"},
		{0, "user.name", "bob"},
		{0, "network.protocol.version", "3.1.1"},
		{1, "messaging.destination.name", "home/temp"},
		{1, "messaging.message.body.size", "4"},
		{1, "mqtt.qos", "1"},
		{1, "mqtt.packet_id", "9"},
		{1, "messaging.operation.type", "send"},
		{2, "network.protocol.version", "5.0"},
		{3, "messaging.message.conversation_id", "0102"},
	}
	for _, c := range checks {
		if v := attr(&got[c.m], c.key); v != c.want {
			t.Errorf("message %d %s = %q, want %q", c.m, c.key, v, c.want)
		}
	}
	for _, m := range got {
		for _, a := range append(m.Attrs, m.Links...) {
			if strings.Contains(a.Str, "hunter2") || strings.Contains(a.Str, "will payload") {
				t.Errorf("secret in %s=%q", a.Key, a.Str)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	for _, in := range []string{"\x00\x00", "\x30\xff\xff\xff\xff\x7f", "\x82\x00", pkt(1, 0, str("HTTP")+"\x04\x00"+u16(1)),
		pkt(2, 0, "\x00"), pkt(3, 0, "\x00\x09ab")} {
		_, err := runParser(mqtt.New(nil), []step{feed(up, in), feed(down, in)})
		if err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestTestdata(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			got, err := runParser(mqtt.New(nil), []step{feed(up, string(fx.Req)), feed(down, string(fx.Resp)), end(up), end(down)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				t.Fatal("no messages")
			}
			for _, m := range got {
				if m.Partial {
					t.Errorf("partial message %+v", m)
				}
			}
		})
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		in   string
		want protocols.Direction
	}{
		{connect(4, 0x02, str("c")), up},
		{connect(5, 0x02, str("c")), up},
		{connect(3, 0x02, str("c")), up},
		{pkt(2, 0, "\x00\x00"), down},
		{pkt(8, 2, u16(1), str("a/b"), "\x01"), up},
		{pkt(1, 0, str("AMQP")+"\x04\x02"+u16(1)+str("c")), protocols.DirUnknown},
		{"GET / HTTP/1.1\r\n", protocols.DirUnknown},
		{"\x10", protocols.DirUnknown},
	}
	for _, tc := range tests {
		if got := mqtt.Sniff([]byte(tc.in)); got != tc.want {
			t.Errorf("Sniff(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
