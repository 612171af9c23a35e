package stomp_test

import (
	"errors"
	pt "github.com/wiretrace/wiretrace/protocols/internal/parsertest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/stomp"
)

const (
	up   = protocols.ToServer
	down = protocols.ToClient
)

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
	return pt.Run(stomp.New(nil), steps)
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

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// fr builds a frame: command, header lines, body, NUL.
func fr(cmd, body string, headers ...string) string {
	return cmd + "\n" + strings.Join(append(headers, ""), "\n") + "\n" + body + "\x00"
}

// digestOf is the hand-off digest of a body (FNV-1a 64), for the wants.
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

var (
	connect   = fr("CONNECT", "", "accept-version:1.2", "host:/", "login:guest", "passcode:s3cr3t")
	connected = fr("CONNECTED", "", "server:RabbitMQ/3.10.8", "version:1.2")
)

func TestParser(t *testing.T) {
	sendBody := "order 1"
	tests := []struct {
		name    string
		steps   []step
		attrs   []string
		want    []msg
		wantErr error
	}{
		{
			name:  "connect, send with receipt and trace headers",
			steps: []step{feed(up, connect), feed(down, connected+"\n"), feed(up, fr("SEND", sendBody, "destination:/queue/orders", "receipt:r-1", "traceparent:"+traceparent, "X-Request-ID:rid-1", "correlation-id:c-1", "reply-to:/temp-queue/r", "content-length:7")), feed(down, fr("RECEIPT", "", "receipt-id:r-1"))},
			attrs: []string{"messaging.system", "messaging.destination.name", "messaging.message.conversation_id", "messaging.message.body.size"},
			want: []msg{
				{Kind: protocols.Request, Name: "CONNECT", ID: 1, HasID: true, Attrs: map[string]string{"messaging.system": "stomp"}},
				{Kind: protocols.Response, Status: protocols.StatusOK, ID: 1, HasID: true, Attrs: map[string]string{"messaging.system": "rabbitmq"}},
				{Kind: protocols.Request, Name: "SEND /queue/orders", ID: 2, HasID: true, BodySize: 7,
					Attrs: map[string]string{"messaging.system": "rabbitmq", "messaging.destination.name": "/queue/orders",
						"messaging.message.conversation_id": "c-1", "messaging.message.body.size": "7"},
					Links: []string{"traceparent=" + traceparent, "x_request_id=rid-1",
						"handoff_send=amqp-corr:c-1", "handoff_send=stomp:/queue/orders:" + digestOf(sendBody)}},
				{Kind: protocols.Response, Status: protocols.StatusOK, ID: 2, HasID: true},
			},
		},
		{
			name:  "message without content-length, escapes, first header wins",
			steps: []step{feed(down, fr("MESSAGE", "hi", "subscription:0", "destination:/queue/orders", "destination:/queue/other", "message-id:T\\c1", "correlation-id:c-2", "amqp-message-id:m-9"))},
			attrs: []string{"messaging.message.id", "messaging.destination.name", "messaging.operation.type"},
			want: []msg{{Kind: protocols.Response, Name: "MESSAGE /queue/orders", Status: protocols.StatusOK, Unsolicited: true, BodySize: 2,
				Attrs: map[string]string{"messaging.message.id": "T:1", "messaging.destination.name": "/queue/orders", "messaging.operation.type": "process"},
				Links: []string{"handoff_recv=stomp-corr:c-2", "handoff_recv=stomp:/queue/orders:" + digestOf("hi")}}},
		},
		{
			name: "activemq: message-id and correlation-id name ActiveMQ's ids",
			steps: []step{feed(down, fr("CONNECTED", "", "server:ActiveMQ/5.17.2"),
				fr("MESSAGE", "x", "destination:/queue/q", "message-id:ID:h-1-2-1:1:1:1:1", "correlation-id:k", "reply-to:/queue/r"))},
			want: []msg{{Kind: protocols.Response, Status: protocols.StatusOK}, {Kind: protocols.Response, Name: "MESSAGE /queue/q", Status: protocols.StatusOK, Unsolicited: true, BodySize: 1,
				Links: []string{"handoff_recv=activemq:ID:h-1-2-1:1:1:1:1", "handoff_recv=activemq-corr:k", "handoff_send=activemq-corr:k",
					"handoff_recv=stomp:/queue/q:" + digestOf("x")}}},
		},
		{
			name:  "rabbitmq: amqp-message-id",
			steps: []step{feed(down, connected, fr("MESSAGE", "x", "destination:/queue/q", "amqp-message-id:m-9"))},
			want: []msg{{Kind: protocols.Response, Status: protocols.StatusOK}, {Kind: protocols.Response, Name: "MESSAGE /queue/q", Status: protocols.StatusOK, Unsolicited: true, BodySize: 1,
				Links: []string{"handoff_recv=amqp:m-9", "handoff_recv=stomp:/queue/q:" + digestOf("x")}}},
		},
		{
			name:  "frames without receipt get no response; CRLF lines; heart-beats",
			steps: []step{feed(up, "\n\r\n", "SUBSCRIBE\r\nid:0\r\ndestination:/queue/q\r\n\r\n\x00", "\n", fr("ACK", "", "id:x"))},
			want: []msg{
				{Kind: protocols.Request, Name: "SUBSCRIBE /queue/q", NoResponse: true},
				{Kind: protocols.Request, Name: "ACK", NoResponse: true},
			},
		},
		{
			name:  "error without receipt-id answers the latest frame awaiting one",
			steps: []step{feed(up, fr("SEND", "x", "destination:/nowhere/x", "receipt:bad")), feed(down, fr("ERROR", "details", "message:Unknown destination", "content-length:7"))},
			attrs: []string{"error.type"},
			want: []msg{
				{Kind: protocols.Request, Name: "SEND /nowhere/x", ID: 1, HasID: true, BodySize: 1,
					Links: []string{"handoff_send=stomp:/nowhere/x:" + digestOf("x")}},
				{Kind: protocols.Response, Status: protocols.StatusError, ID: 1, HasID: true, BodySize: 7, Attrs: map[string]string{"error.type": "Unknown destination"}},
			},
		},
		{
			name:  "error nothing waits for",
			steps: []step{feed(down, fr("ERROR", "", "message:bye"))},
			want:  []msg{{Kind: protocols.Response, Name: "ERROR", Status: protocols.StatusError, Unsolicited: true}},
		},
		{
			name:  "receipt for a frame not seen is no message",
			steps: []step{feed(down, fr("RECEIPT", "", "receipt-id:zz"))},
		},
		{
			name:  "gap inside a counted body",
			steps: []step{feed(up, "SEND\ndestination:/queue/q\ncontent-length:10\n\n0123"), gap(up, 3), feed(up, "789\x00")},
			want:  []msg{{Kind: protocols.Request, Name: "SEND /queue/q", NoResponse: true, Partial: true, BodySize: 10}},
		},
		{
			name:  "gap in the headers: resync on the next command",
			steps: []step{feed(up, "SEND\ndestina"), gap(up, 50), feed(up, "tion:x\n\nbody\x00\n", fr("ACK", "", "id:1"))},
			want:  []msg{{Kind: protocols.Request, Name: "ACK", NoResponse: true}},
		},
		{name: "server command to the server", steps: []step{feed(up, fr("MESSAGE", "", "destination:/q"))}, wantErr: stomp.ErrCommand},
		{name: "not stomp", steps: []step{feed(up, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")}, wantErr: stomp.ErrCommand},
		{name: "no NUL after the body", steps: []step{feed(up, "SEND\ncontent-length:1\n\nxy")}, wantErr: stomp.ErrNoNUL},
		{name: "headers too large", steps: []step{feed(up, "SEND\nh:"+strings.Repeat("v", 70000))}, wantErr: stomp.ErrHeadersTooLarge},
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
					if !errors.As(err, &pe) {
						t.Errorf("error %v is not a ParseError", err)
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

// TestRedaction checks that login and passcode never reach a message.
func TestRedaction(t *testing.T) {
	got, err := run([]step{feed(up, connect, fr("STOMP", "", "login:guest", "passcode:s3cr3t"))}, false)
	if err != nil || len(got) != 2 {
		t.Fatalf("%d messages, error %v", len(got), err)
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
		{"connect", connect, up},
		{"stomp", "STOMP\naccept-version:1.2\n\n\x00", up},
		{"connected", connected, down},
		{"message", fr("MESSAGE", "x", "destination:/q"), down},
		{"leading EOLs", "\n\n" + fr("SEND", "x", "destination:/q"), up},
		{"http connect", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", protocols.DirUnknown},
		{"command only", "SEND\n", protocols.DirUnknown},
		{"not a header", "SEND\nhello world\n\n", protocols.DirUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := stomp.Sniff([]byte(tc.in)); got != tc.want {
				t.Errorf("Sniff = %v, want %v", got, tc.want)
			}
		})
	}
}
