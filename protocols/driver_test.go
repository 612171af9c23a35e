package protocols_test

import (
	"net/netip"
	"testing"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/decode"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/http"
)

// recorder is a Handler that keeps copies of the messages it receives.
type recorder struct {
	msgs []protocols.Message
	ends int
}

func (r *recorder) Message(_ *protocols.Flow, m *protocols.Message) {
	c := *m
	c.Attrs = append([]protocols.Attr(nil), m.Attrs...)
	c.Links = append([]protocols.Attr(nil), m.Links...)
	r.msgs = append(r.msgs, c)
}

func (r *recorder) FlowEnd(*protocols.Flow, int64) { r.ends++ }

// TestDriverSalvagesCutHeader feeds a request whose header block is cut by a
// gap, then its response, and checks that the request keeps its name and
// links, that the gap counts only the lost bytes, and that pairing goes on.
func TestDriverSalvagesCutHeader(t *testing.T) {
	const (
		req = "POST /x HTTP/1.1\r\nHost: example.com\r\nX-Request-ID: rid-7\r\n" +
			"sw8: 1-abc-def-0\r\nContent-Length: 500\r\nAccept: text/ht"
		resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		lost = 300
	)
	rec := &recorder{}
	d := protocols.NewDriver(&protocols.DriverConfig{
		Registry:      protocols.NewRegistry(http.Protocol),
		PortProtocols: map[uint16]string{8080: "http"},
	}, rec)
	conn := &decode.Conn{
		ID:     1,
		Client: netip.MustParseAddrPort("10.0.0.1:40000"),
		Server: netip.MustParseAddrPort("10.0.0.2:8080"),
	}
	st := d.NewStream(conn)
	const seq0, seq1 = 1000, 5000
	// The request arrives in two pieces, so that the tail spans segments.
	st.Segment(&decode.Segment{Dir: decode.FromClient, Timestamp: 10, Seq: seq0, Data: []byte(req[:20]), Direction: capture.DirectionOutbound})
	st.Segment(&decode.Segment{Dir: decode.FromClient, Timestamp: 11, Seq: seq0 + 20, Data: []byte(req[20:]), Direction: capture.DirectionOutbound})
	if len(rec.msgs) != 0 {
		t.Fatalf("got %d messages before the gap", len(rec.msgs))
	}
	// The gap is revealed with no data after it.
	st.Segment(&decode.Segment{Dir: decode.FromClient, Timestamp: 12, Seq: seq0 + uint32(len(req)) + lost, Gap: lost})
	st.Segment(&decode.Segment{Dir: decode.FromServer, Timestamp: 20, Seq: seq1, Data: []byte(resp), Direction: capture.DirectionInbound})
	st.Close(30, decode.CloseFIN)

	if len(rec.msgs) != 2 {
		t.Fatalf("got %d messages, want 2: %+v", len(rec.msgs), rec.msgs)
	}
	m := rec.msgs[0]
	if m.Kind != protocols.Request || m.Name != "POST /x" || !m.Partial {
		t.Errorf("request = %q kind %v partial %v, want Partial POST /x", m.Name, m.Kind, m.Partial)
	}
	if got := m.Link(protocols.LinkXRequestID); got != "rid-7" {
		t.Errorf("x_request_id = %q, want rid-7", got)
	}
	if got := m.Link(protocols.LinkSW8); got != "1-abc-def-0" {
		t.Errorf("sw8 = %q, want 1-abc-def-0", got)
	}
	if m.Start != 10 || m.End != 11 || m.Seq != seq0 || !m.Outbound || m.Size != len(req) {
		t.Errorf("request start %d end %d seq %d outbound %v size %d, want 10 11 %d true %d",
			m.Start, m.End, m.Seq, m.Outbound, m.Size, seq0, len(req))
	}
	r := rec.msgs[1]
	if r.Kind != protocols.Response || r.Partial || r.Status != protocols.StatusOK || r.Start != 20 || r.Seq != seq1 {
		t.Errorf("response = %+v, want a complete 200 at 20", r)
	}
	stats := d.Stats()
	if stats.GapBytes != lost || stats.Messages != 2 || stats.ParseErrors != 0 {
		t.Errorf("stats = %+v, want %d gap bytes and 2 messages", stats, lost)
	}
	if rec.ends != 1 {
		t.Errorf("FlowEnd called %d times", rec.ends)
	}
}

// chatter is a toy protocol: 'p' is a keep-alive byte that belongs to no
// message; "m" up to ';' is a request.
type chatter struct{ idle bool }

func (c *chatter) Parse(dir protocols.Direction, data []byte, m *protocols.Message) (int, bool, error) {
	if data[0] == 'p' {
		c.idle = true
		return 1, false, nil
	}
	c.idle = false
	for i, b := range data {
		if b == ';' {
			m.Kind, m.Name, m.NoResponse = protocols.Request, "M", true
			return i + 1, true, nil
		}
	}
	return 0, false, nil
}
func (c *chatter) Gap(protocols.Direction, int)                     {}
func (c *chatter) End(protocols.Direction, *protocols.Message) bool { return false }

type idleChatter struct{ chatter }

func (c *idleChatter) Idle(protocols.Direction) bool { return c.idle }

// TestDriverIdleBytes checks that bytes a parser says belong to no message
// do not date the next message.
func TestDriverIdleBytes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		parser    func() protocols.Parser
		wantStart int64
	}{
		{"without Idler the chatter dates the message", func() protocols.Parser { return &chatter{} }, 10},
		{"with Idler the message starts at its own bytes", func() protocols.Parser { return &idleChatter{} }, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			proto := &protocols.Protocol{Name: "chatter", Sniff: func([]byte) protocols.Direction { return protocols.ToServer }, New: func(*protocols.Config) protocols.Parser { return tc.parser() }}
			rec := &recorder{}
			d := protocols.NewDriver(&protocols.DriverConfig{Registry: protocols.NewRegistry(proto)}, rec)
			st := d.NewStream(&decode.Conn{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:1"), Server: netip.MustParseAddrPort("10.0.0.2:2")})
			st.Segment(&decode.Segment{Dir: decode.FromClient, Timestamp: 10, Seq: 0, Data: []byte("pp")})
			st.Segment(&decode.Segment{Dir: decode.FromClient, Timestamp: 50, Seq: 2, Data: []byte("m;")})
			if len(rec.msgs) != 1 || rec.msgs[0].Start != tc.wantStart {
				t.Fatalf("messages %+v, want one starting at %d", rec.msgs, tc.wantStart)
			}
		})
	}
}

// turnTaker is a toy protocol whose requests are single bytes and whose
// responses are runs of server bytes that end when the client speaks
// again (a Turner).
type turnTaker struct{ run int }

func (c *turnTaker) Parse(dir protocols.Direction, data []byte, m *protocols.Message) (int, bool, error) {
	if dir == protocols.ToServer {
		m.Kind, m.Name = protocols.Request, "R"
		return 1, true, nil
	}
	c.run += len(data)
	return len(data), false, nil
}
func (c *turnTaker) Gap(protocols.Direction, int)                     {}
func (c *turnTaker) End(protocols.Direction, *protocols.Message) bool { return false }
func (c *turnTaker) Turn(dir protocols.Direction, m *protocols.Message) bool {
	if dir != protocols.ToClient || c.run == 0 {
		return false
	}
	m.Kind, m.Size = protocols.Response, c.run
	c.run = 0
	return true
}

// TestDriverTurn checks that a Turner's response, ended by the client's
// next bytes, starts at its own first byte and ends at its last one.
func TestDriverTurn(t *testing.T) {
	proto := &protocols.Protocol{Name: "turns", Sniff: func([]byte) protocols.Direction { return protocols.ToServer },
		New: func(*protocols.Config) protocols.Parser { return &turnTaker{} }}
	rec := &recorder{}
	d := protocols.NewDriver(&protocols.DriverConfig{Registry: protocols.NewRegistry(proto)}, rec)
	st := d.NewStream(&decode.Conn{ID: 1, Client: netip.MustParseAddrPort("10.0.0.1:1"), Server: netip.MustParseAddrPort("10.0.0.2:2")})
	st.Segment(&decode.Segment{Dir: decode.FromClient, Timestamp: 10, Seq: 0, Data: []byte("a")})
	st.Segment(&decode.Segment{Dir: decode.FromServer, Timestamp: 20, Seq: 0, Data: []byte("xx")})
	st.Segment(&decode.Segment{Dir: decode.FromServer, Timestamp: 30, Seq: 2, Data: []byte("yyy")})
	st.Segment(&decode.Segment{Dir: decode.FromClient, Timestamp: 40, Seq: 1, Data: []byte("b")})
	if len(rec.msgs) != 3 {
		t.Fatalf("messages %+v, want request, response, request", rec.msgs)
	}
	r := rec.msgs[1]
	if r.Kind != protocols.Response || r.Start != 20 || r.End != 30 || r.Size != 5 || rec.msgs[2].Start != 40 {
		t.Errorf("response %+v, want 5 bytes from 20 to 30, then the request at 40", r)
	}
}
