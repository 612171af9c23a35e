package protocols_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/wiretrace/wiretrace/decode"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dns"
)

// dnsWire builds a DNS query (or, with answer set, its response) for name.
func dnsWire(t *testing.T, id uint16, name string, answer []byte) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: answer != nil, RecursionDesired: true})
	n := dnsmessage.MustNewName(name)
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	if answer != nil {
		if err := b.StartAnswers(); err != nil {
			t.Fatal(err)
		}
		h := dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: 30}
		if err := b.AResource(h, dnsmessage.AResource{A: [4]byte(answer)}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// flowRecorder is a Handler that keeps what each UDP flow gave.
type flowRecorder struct {
	msgs []string // "<flow client> <kind> <name> [partial]"
	ends []string // flow clients, in the order their flows ended
}

func (r *flowRecorder) Message(f *protocols.Flow, m *protocols.Message) {
	s := f.Client.String() + " "
	if m.Kind == protocols.Request {
		s += "request "
	} else {
		s += "response "
	}
	s += m.Name
	if m.Partial {
		s += " partial"
	}
	r.msgs = append(r.msgs, s)
}

func (r *flowRecorder) FlowEnd(f *protocols.Flow, _ int64) {
	r.ends = append(r.ends, f.Client.String())
}

// TestDriverDatagrams drives DNS over UDP: a query and its response, a
// query left unanswered, a flow whose first datagram is junk, a response cut
// by the snapshot length; then idle expiry and Flush end the flows.
func TestDriverDatagrams(t *testing.T) {
	const sec = int64(time.Second)
	var (
		server = netip.MustParseAddrPort("192.0.2.53:53")
		c1     = netip.MustParseAddrPort("10.0.0.1:40001")
		c2     = netip.MustParseAddrPort("10.0.0.2:40002")
		c3     = netip.MustParseAddrPort("10.0.0.3:40003")
		c4     = netip.MustParseAddrPort("10.0.0.4:40004")
	)
	rec := &flowRecorder{}
	d := protocols.NewDriver(&protocols.DriverConfig{
		Registry:     protocols.NewRegistry(dns.Protocol),
		DatagramIdle: 10 * time.Second,
	}, rec)
	send := func(ts int64, from, to netip.AddrPort, payload []byte, missing int) {
		d.Datagram(&decode.Packet{Timestamp: ts, Capture: "test", Src: from.Addr(), Dst: to.Addr(),
			SrcPort: from.Port(), DstPort: to.Port(), Proto: decode.ProtoUDP, Payload: payload, Missing: missing})
	}
	resp4 := dnsWire(t, 4, "cut.example.", []byte{192, 0, 2, 4})

	send(1*sec, c1, server, dnsWire(t, 1, "one.example.", nil), 0)
	send(1*sec+1000, server, c1, dnsWire(t, 1, "one.example.", []byte{192, 0, 2, 1}), 0)
	send(2*sec, c2, server, dnsWire(t, 2, "two.example.", nil), 0)
	send(3*sec, c3, server, []byte("not dns at all, junk first"), 0)
	send(3*sec+10, c3, server, dnsWire(t, 3, "three.example.", nil), 0)
	send(3*sec+20, server, c3, dnsWire(t, 3, "three.example.", []byte{192, 0, 2, 3}), 0)
	send(4*sec, server, c4, resp4[:len(resp4)-2], 2)
	// Flows 1 and 2 have been idle for 10 s at 12.5 s: they end then.
	send(12*sec+sec/2, c3, server, dnsWire(t, 5, "late.example.", nil), 0)
	if diff := cmp.Diff([]string{c1.String(), c2.String()}, rec.ends); diff != "" {
		t.Errorf("ends after idle (-want +got)\n%s", diff)
	}
	d.Flush()

	wantMsgs := []string{
		c1.String() + " request QUERY A one.example",
		c1.String() + " response QUERY A one.example",
		c2.String() + " request QUERY A two.example",
		c3.String() + " request QUERY A three.example",
		c3.String() + " response QUERY A three.example",
		c4.String() + " response QUERY A cut.example partial",
		c3.String() + " request QUERY A late.example",
	}
	if diff := cmp.Diff(wantMsgs, rec.msgs); diff != "" {
		t.Errorf("messages (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff([]string{c1.String(), c2.String(), c3.String(), c4.String()}, rec.ends); diff != "" {
		t.Errorf("ends (-want +got)\n%s", diff)
	}
	st := d.Stats()
	if st.Flows != 4 || st.FlowsRecognised != 4 || st.FlowsUnrecognised != 0 || st.ParseErrors != 0 || st.Messages != 7 {
		t.Errorf("stats %+v", st)
	}
}

// TestDriverDatagramErrors checks that a malformed datagram of a recognised
// flow is dropped and counted while the flow goes on, and that a flow is
// declared unrecognised after eight datagrams that are not DNS.
func TestDriverDatagramErrors(t *testing.T) {
	var (
		server = netip.MustParseAddrPort("192.0.2.53:53")
		c1     = netip.MustParseAddrPort("10.0.0.1:40001")
		c2     = netip.MustParseAddrPort("10.0.0.2:40002")
	)
	rec := &flowRecorder{}
	d := protocols.NewDriver(&protocols.DriverConfig{Registry: protocols.NewRegistry(dns.Protocol)}, rec)
	send := func(ts int64, from, to netip.AddrPort, payload []byte) {
		d.Datagram(&decode.Packet{Timestamp: ts, Capture: "test", Src: from.Addr(), Dst: to.Addr(),
			SrcPort: from.Port(), DstPort: to.Port(), Proto: decode.ProtoUDP, Payload: payload})
	}
	q := dnsWire(t, 9, "nine.example.", nil)
	send(1, c1, server, q)
	send(2, server, c1, q[:11]) // shorter than a header
	send(3, server, c1, dnsWire(t, 9, "nine.example.", []byte{192, 0, 2, 9}))
	for i := range 9 {
		send(int64(10+i), c2, server, []byte("junk junk junk junk"))
	}
	d.Flush()
	want := []string{
		c1.String() + " request QUERY A nine.example",
		c1.String() + " response QUERY A nine.example",
	}
	if diff := cmp.Diff(want, rec.msgs); diff != "" {
		t.Errorf("messages (-want +got)\n%s", diff)
	}
	st := d.Stats()
	if st.ParseErrors != 1 || st.FlowsRecognised != 1 || st.FlowsUnrecognised != 1 {
		t.Errorf("stats %+v, want 1 parse error, 1 flow recognised, 1 unrecognised", st)
	}
	var byProto []string
	d.EachParseError(func(p string, n uint64) { byProto = append(byProto, fmt.Sprintf("%s=%d", p, n)) })
	if diff := cmp.Diff([]string{"dns=1"}, byProto); diff != "" {
		t.Errorf("EachParseError (-want +got)\n%s", diff)
	}
}
