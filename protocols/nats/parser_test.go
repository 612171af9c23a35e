package nats_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/nats"
)

// view is the part of a Message the table tests compare.
type view struct {
	kind        protocols.Kind
	name        string
	status      protocols.Status
	noResp      bool
	unsolicited bool
	partial     bool
	links       []string
}

func viewOf(m *protocols.Message) view {
	return view{m.Kind, m.Name, m.Status, m.NoResponse, m.Unsolicited, m.Partial, links(m)}
}

const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// hdr returns an HPUB/HMSG header block with the given header lines.
func hdr(lines ...string) string {
	return "NATS/1.0\r\n" + strings.Join(lines, "") + "\r\n"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// hpub builds "HPUB subj [reply] h t\r\nheaders payload\r\n".
func hpub(op, subj, mid, headers, payload string) string {
	return op + " " + subj + " " + mid + itoa(len(headers)) + " " + itoa(len(headers)+len(payload)) + "\r\n" + headers + payload + "\r\n"
}

// Digests of "hello" and "1 2" (FNV-1a 64).
const (
	helloDig = "a430d84680aabd0b"
)

func TestParse(t *testing.T) {
	send := func(subj, dig string) string { return "handoff_send=nats:" + subj + ":" + dig }
	recv := func(subj, dig string) string { return "handoff_recv=nats:" + subj + ":" + dig }
	inboxRecv := func(subj string) string { return "handoff_recv=nats-inbox:" + subj + ":reply" }
	inboxSend := func(subj string) string { return "handoff_send=nats-inbox:" + subj + ":reply" }
	pub := func(subj string, l ...string) view {
		return view{kind: protocols.Request, name: "PUB " + subj, noResp: true, links: l}
	}
	msg := func(subj string, l ...string) view {
		return view{kind: protocols.Response, name: "MSG " + subj, status: protocols.StatusOK, unsolicited: true, links: l}
	}
	tests := []struct {
		name  string
		steps []step
		want  []view
	}{{
		name: "connect ping pong",
		steps: []step{
			feed(down, "INFO {\"server_id\":\"x\"}\r\n"),
			feed(up, "CONNECT {\"verbose\":false,\"pass\":\"pw\"}\r\nPING\r\n"),
			feed(down, "PONG\r\n"),
		},
		want: []view{
			{kind: protocols.Request, name: "CONNECT", noResp: true},
			{kind: protocols.Request, name: "PING"},
			{kind: protocols.Response, status: protocols.StatusOK},
		},
	}, {
		name:  "pub in pieces",
		steps: []step{feed(up, "PUB a.b 5\r"), feed(up, "\nhel"), feed(up, "lo\r"), feed(up, "\n")},
		want:  []view{pub("a.b", send("a.b", helloDig), inboxRecv("a.b"))},
	}, {
		name:  "lower-case operations and LF only",
		steps: []step{feed(up, "pub a.b 5\nhello\r\nsub a.b 7\n")},
		want: []view{pub("a.b", send("a.b", helloDig), inboxRecv("a.b")),
			{kind: protocols.Request, name: "SUB a.b", noResp: true}},
	}, {
		name: "hpub with traceparent and request id",
		steps: []step{feed(up, hpub("HPUB", "orders", "", hdr("Traceparent: "+tp+"\r\n", "X-Request-ID: r1\r\n", "Other: x\r\n"), "hello")),
			feed(down, hpub("HMSG", "orders", "9 ", hdr("traceparent: "+tp+"\r\n"), "hello"))},
		want: []view{
			pub("orders", "traceparent="+tp, "x_request_id=r1", send("orders", helloDig), inboxRecv("orders")),
			msg("orders", "traceparent="+tp, recv("orders", helloDig)),
		},
	}, {
		name: "request reply",
		steps: []step{
			feed(up, "PUB svc.add _INBOX.k1.2 5\r\nhello\r\n"),
			feed(down, "MSG _INBOX.k1.2 3 5\r\nhello\r\n"),
		},
		want: []view{
			pub("svc.add", send("svc.add", helloDig), inboxRecv("svc.add")),
			msg("_INBOX.*", recv("_INBOX.k1.2", helloDig)),
		},
	}, {
		name: "responder side",
		steps: []step{
			feed(down, "MSG svc.add 1 _INBOX.k1.2 5\r\nhello\r\n"),
			feed(up, "PUB _INBOX.k1.2 5\r\nhello\r\n"),
		},
		want: []view{
			msg("svc.add", recv("svc.add", helloDig), inboxSend("_INBOX.k1.2")),
			pub("_INBOX.*", send("_INBOX.k1.2", helloDig), inboxRecv("_INBOX.k1.2")),
		},
	}, {
		name:  "no responders",
		steps: []step{feed(down, hpub("HMSG", "_INBOX.x", "1 ", "NATS/1.0 503\r\n\r\n", ""))},
		want: []view{{kind: protocols.Response, name: "MSG _INBOX.*", status: protocols.StatusError, unsolicited: true,
			links: []string{recv("_INBOX.x", "cbf29ce484222325")}}},
	}, {
		name: "verbose acknowledgements and errors",
		steps: []step{
			feed(up, "CONNECT {\"verbose\":true}\r\nSUB a 1\r\nPING\r\nPUB a 1\r\nx\r\n"),
			feed(down, "+OK\r\n+OK\r\nPONG\r\n-ERR 'Permissions Violation'\r\n-ERR 'Stale Connection'\r\n"),
		},
		want: []view{
			{kind: protocols.Request, name: "CONNECT"},
			{kind: protocols.Request, name: "SUB a"},
			{kind: protocols.Request, name: "PING"},
			{kind: protocols.Request, name: "PUB a", links: []string{send("a", "af63f54c86021707"), inboxRecv("a")}},
			{kind: protocols.Response, status: protocols.StatusOK},
			{kind: protocols.Response, status: protocols.StatusOK},
			{kind: protocols.Response, status: protocols.StatusOK},
			{kind: protocols.Response, status: protocols.StatusError},
			{kind: protocols.Response, name: "ERR", status: protocols.StatusError, unsolicited: true},
		},
	}, {
		name: "server ping is a keep-alive",
		steps: []step{
			feed(down, "PING\r\n"), feed(up, "PONG\r\n"),
		},
	}, {
		name: "gap inside a payload",
		steps: []step{
			feed(up, "PUB a 10\r\nhel"), gap(up, 4), feed(up, "lo!\r\nPUB b 5\r\nhello\r\n"),
		},
		want: []view{
			{kind: protocols.Request, name: "PUB a", noResp: true, partial: true, links: []string{inboxRecv("a")}},
			pub("b", send("b", helloDig), inboxRecv("b")),
		},
	}, {
		name: "gap past a payload resyncs",
		steps: []step{
			feed(up, "PUB a 5\r\nhe"), gap(up, 30), feed(up, "garbage\r\nPUB b 5\r\nhello\r\n"),
		},
		want: []view{
			{kind: protocols.Request, name: "PUB a", noResp: true, partial: true, links: []string{inboxRecv("a")}},
			pub("b", send("b", helloDig), inboxRecv("b")),
		},
	}, {
		name: "gap in a control line resyncs on the next operation",
		steps: []step{
			feed(down, "MSG a 1 5\r"), gap(down, 3), feed(down, "ello\r\nMSGx\r\nMSG b 1 5\r\nhello\r\n"),
		},
		want: []view{msg("b", recv("b", helloDig))},
	}, {
		name:  "end in a payload",
		steps: []step{feed(down, "MSG a 1 5\r\nhe"), end(down)},
		want:  []view{{kind: protocols.Response, name: "MSG a", status: protocols.StatusOK, unsolicited: true, partial: true}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runParser(nats.New(nil), tc.steps)
			if err != nil {
				t.Fatal(err)
			}
			var views []view
			for i := range got {
				views = append(views, viewOf(&got[i]))
			}
			if !slices.EqualFunc(views, tc.want, func(a, b view) bool {
				return a.kind == b.kind && a.name == b.name && a.status == b.status && a.noResp == b.noResp &&
					a.unsolicited == b.unsolicited && a.partial == b.partial && slices.Equal(a.links, b.links)
			}) {
				t.Errorf("got\n%+v\nwant\n%+v", views, tc.want)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	got, err := runParser(nats.New(nil), []step{
		feed(up, "CONNECT {\"name\":\"orders\",\"user\":\"svc\",\"pass\":\"hunter2\",\"auth_token\":\"tok\",\"sig\":\"sg\",\"nkey\":\"UK\"}\r\n"),
		feed(up, "SUB jobs.* workers 7\r\nPUB jobs.1 _INBOX.r 5\r\nhello\r\n"),
		feed(down, "MSG jobs.1 7 _INBOX.r 5\r\nhello\r\n"),
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
		{0, "messaging.system", "nats"},
		{0, "messaging.client.id", "orders"},
		{0, "user.name", "svc"},
		{1, "messaging.consumer.group.name", "workers"},
		{1, "nats.sid", "7"},
		{1, "messaging.destination.name", "jobs.*"},
		{2, "messaging.operation.type", "send"},
		{2, "messaging.destination.name", "jobs.1"},
		{2, "messaging.message.body.size", "5"},
		{2, "nats.reply_to", "_INBOX.r"},
		{3, "messaging.operation.type", "receive"},
		{3, "messaging.operation.name", "MSG"},
	}
	for _, c := range checks {
		if v := attr(&got[c.m], c.key); v != c.want {
			t.Errorf("message %d %s = %q, want %q", c.m, c.key, v, c.want)
		}
	}
	for _, m := range got {
		for _, a := range append(m.Attrs, m.Links...) {
			for _, secret := range []string{"hunter2", "tok", "sg", "UK"} {
				if a.Str == secret || strings.Contains(a.Str, "hunter2") {
					t.Errorf("secret %q in %s", secret, a.Key)
				}
			}
		}
	}
}

func TestErrors(t *testing.T) {
	for _, in := range []string{"HELLO world\r\n", "PUB a\r\n", "PUB a b c d\r\n", "PUB a 99999999999\r\n",
		"PUB a " + strings.Repeat("1", 12) + "\r\n", strings.Repeat("x", nats.MaxControlLine+2)} {
		_, err := runParser(nats.New(nil), []step{feed(up, in)})
		if err == nil {
			t.Errorf("%.40q: no error", in)
		}
	}
}

func TestTestdata(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			got, err := runParser(nats.New(nil), []step{feed(down, string(fx.Resp)), feed(up, string(fx.Req)), end(up), end(down)})
			if err != nil {
				t.Fatal(err)
			}
			var pubs, msgs int
			for _, m := range got {
				if m.Partial {
					t.Errorf("partial message %+v", m)
				}
				if strings.HasPrefix(m.Name, "PUB") {
					pubs++
				}
				if strings.HasPrefix(m.Name, "MSG") {
					msgs++
				}
			}
			if pubs == 0 || msgs == 0 {
				t.Errorf("got %d PUB and %d MSG", pubs, msgs)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		in   string
		want protocols.Direction
	}{
		{"INFO {\"server_id\":\"x\"}\r\n", down},
		{"CONNECT {\"verbose\":false}\r\n", up},
		{"PUB a.b 5\r\nhello\r\n", up},
		{"HPUB a.b 12 17\r\n", up},
		{"SUB a.> 1\r\n", up},
		{"MSG a.b 1 5\r\n", down},
		{"HMSG a.b 1 _INBOX.x 12 17\r\n", down},
		{"INFO {\"server_id\"", protocols.DirUnknown},
		{"GET / HTTP/1.1\r\n", protocols.DirUnknown},
		{"PUB a.b x\r\n", protocols.DirUnknown},
		{"+OK\r\n", protocols.DirUnknown},
		{"*1\r\n$4\r\nPING\r\n", protocols.DirUnknown},
	}
	for _, tc := range tests {
		if got := nats.Sniff([]byte(tc.in)); got != tc.want {
			t.Errorf("Sniff(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
