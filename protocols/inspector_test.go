package protocols_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/decode"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dns"
	"github.com/wiretrace/wiretrace/protocols/http"
)

// inspector keeps the bytes it is shown, adds a link to each message, and
// gives up on a flow when told to.
type inspector struct {
	raws   []string
	dirs   []protocols.Direction
	giveUp int // give up after this many calls (0: never)
}

func (in *inspector) Inspect(_ *protocols.Flow, dir protocols.Direction, raw []byte, m *protocols.Message) bool {
	in.raws = append(in.raws, string(raw))
	in.dirs = append(in.dirs, dir)
	m.Links = append(m.Links, protocols.String("key_seen", "yes"))
	return in.giveUp == 0 || len(in.raws) < in.giveUp
}

// TestDriverInspector: the Inspector sees each message with exactly the
// bytes it was made of (across segments, pipelined, bounded), its links
// reach the Handler, and after it gives up on a flow it is not called for
// that flow again while the messages still flow.
func TestDriverInspector(t *testing.T) {
	const (
		req1  = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
		req2  = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
		resp1 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		resp2 = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	)
	run := func(in *inspector, maxBytes int) *recorder {
		rec := &recorder{}
		d := protocols.NewDriver(&protocols.DriverConfig{
			Registry:        protocols.NewRegistry(http.Protocol),
			Inspector:       in,
			MaxInspectBytes: maxBytes,
		}, rec)
		st := d.NewStream(&decode.Conn{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:80")})
		c := req1 + req2
		// The requests arrive cut mid-header and pipelined.
		st.Segment(&decode.Segment{Dir: decode.FromClient, Timestamp: 1, Seq: 100, Data: []byte(c[:10])})
		st.Segment(&decode.Segment{Dir: decode.FromClient, Timestamp: 2, Seq: 110, Data: []byte(c[10:])})
		st.Segment(&decode.Segment{Dir: decode.FromServer, Timestamp: 3, Seq: 900, Data: []byte(resp1 + resp2)})
		st.Close(4, decode.CloseFIN)
		return rec
	}

	in := &inspector{}
	rec := run(in, 0)
	if diff := cmp.Diff([]string{req1, req2, resp1, resp2}, in.raws); diff != "" {
		t.Errorf("bytes shown (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]protocols.Direction{protocols.ToServer, protocols.ToServer, protocols.ToClient, protocols.ToClient}, in.dirs); diff != "" {
		t.Errorf("directions (-want +got):\n%s", diff)
	}
	for i, m := range rec.msgs {
		if m.Link("key_seen") != "yes" {
			t.Errorf("message %d lacks the inspector's link", i)
		}
	}

	in = &inspector{}
	run(in, 16)
	for i, r := range in.raws {
		if len(r) > 16 {
			t.Errorf("message %d: %d bytes shown, bound 16", i, len(r))
		}
	}

	in = &inspector{giveUp: 2}
	rec = run(in, 0)
	if len(in.raws) != 2 || len(rec.msgs) != 4 {
		t.Errorf("gave up after 2: %d calls, %d messages; want 2 and 4", len(in.raws), len(rec.msgs))
	}
	if rec.msgs[3].Link("key_seen") != "" {
		t.Error("a message inspected after the inspector gave up")
	}
}

// TestDriverInspectorDatagrams: each UDP message is shown with its
// datagram, on a flow marked Datagram, and giving up holds per flow.
func TestDriverInspectorDatagrams(t *testing.T) {
	server := netip.MustParseAddrPort("192.0.2.53:53")
	c1 := netip.MustParseAddrPort("10.0.0.1:40001")
	c2 := netip.MustParseAddrPort("10.0.0.2:40002")
	in := &flowInspector{giveUpOn: c1}
	d := protocols.NewDriver(&protocols.DriverConfig{Registry: protocols.NewRegistry(dns.Protocol), Inspector: in}, &flowRecorder{})
	send := func(from, to netip.AddrPort, payload []byte) {
		d.Datagram(&decode.Packet{Timestamp: 1, Capture: "test", Src: from.Addr(), Dst: to.Addr(),
			SrcPort: from.Port(), DstPort: to.Port(), Proto: decode.ProtoUDP, Payload: payload})
	}
	q1 := dnsWire(t, 1, "one.example.", nil)
	send(c1, server, q1)
	send(server, c1, dnsWire(t, 1, "one.example.", []byte{192, 0, 2, 1}))
	send(c2, server, dnsWire(t, 2, "two.example.", nil))
	send(server, c2, dnsWire(t, 2, "two.example.", []byte{192, 0, 2, 2}))
	want := []string{c1.String() + " to_server " + string(q1), c2.String() + " to_server", c2.String() + " to_client"}
	if diff := cmp.Diff(want, in.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// flowInspector notes each call's flow and direction, and gives up on the
// flow of one client.
type flowInspector struct {
	giveUpOn netip.AddrPort
	calls    []string
}

func (in *flowInspector) Inspect(f *protocols.Flow, dir protocols.Direction, raw []byte, _ *protocols.Message) bool {
	if !f.Datagram {
		in.calls = append(in.calls, "not a datagram flow")
	}
	c := f.Client.String() + " " + dir.String()
	if f.Client == in.giveUpOn {
		c += " " + string(raw)
	}
	in.calls = append(in.calls, c)
	return f.Client != in.giveUpOn
}
