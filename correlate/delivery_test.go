package correlate_test

import (
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
)

// TestDeliveryParent checks a broker hop: a publish, its delivery to a
// consumer (linked by the handoff value), and the consumer's own call,
// which carries the message's trace id and hangs under the delivery.
func TestDeliveryParent(t *testing.T) {
	pubFlow := protocols.Flow{ID: 1, Client: ap("10.0.0.1:5000"), Server: ap("10.0.0.9:4222"), Capture: "n", Protocol: "nats"}
	subFlow := protocols.Flow{ID: 2, Client: ap("10.0.0.2:6000"), Server: ap("10.0.0.9:4222"), Capture: "n", Protocol: "nats"}
	callFlow := protocols.Flow{ID: 3, Client: ap("10.0.0.2:7000"), Server: ap("10.0.0.3:80"), Capture: "n", Protocol: "http"}
	tid := "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name     string
		callLink []protocols.Attr
		want     []string
	}{{
		name:     "the call carries the message's trace id",
		callLink: links(protocols.LinkTraceparent, "00-"+tid+"-1111111111111111-01"),
		want: []string{
			"PUB orders [n] ok",
			"MSG orders [n] ok <- PUB orders [n] (queue_handoff)",
			"GET /stock [n] ok <- MSG orders [n] (trace_header)",
		},
	}, {
		name: "no key: the call stays a root",
		want: []string{
			"PUB orders [n] ok",
			"MSG orders [n] ok <- PUB orders [n] (queue_handoff)",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &sink{}
			b := correlate.NewBuilder(nil, s)
			msg := func(f *protocols.Flow, m protocols.Message) { b.Message(f, &m) }
			msg(&pubFlow, protocols.Message{Kind: protocols.Request, Name: "PUB orders", NoResponse: true, Start: ms, End: ms, Seq: 1,
				Links: links(protocols.LinkTraceparent, "00-"+tid+"-00f067aa0ba902b7-01", protocols.LinkHandoffSend, "nats:orders:abc")})
			msg(&subFlow, protocols.Message{Kind: protocols.Response, Name: "MSG orders", Unsolicited: true, Status: protocols.StatusOK,
				Start: 2 * ms, End: 2 * ms, Seq: 1,
				Links: links(protocols.LinkTraceparent, "00-"+tid+"-00f067aa0ba902b7-01", protocols.LinkHandoffRecv, "nats:orders:abc")})
			msg(&callFlow, protocols.Message{Kind: protocols.Request, Name: "GET /stock", Start: 3 * ms, End: 3 * ms, Seq: 1, Links: tc.callLink})
			msg(&callFlow, protocols.Message{Kind: protocols.Response, Status: protocols.StatusOK, Start: 4 * ms, End: 4 * ms, Seq: 2})
			if err := b.Flush(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tr := range s.traces {
				for _, l := range shape(tr) {
					if tc.callLink != nil || l != "GET /stock [n] ok" {
						got = append(got, l)
					}
				}
			}
			if d := gocmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestDatagramNoSeqKey checks that two exchanges on one UDP flow, whose
// messages carry no TCP sequence number, are not taken for two views of
// one exchange and joined into one trace.
func TestDatagramNoSeqKey(t *testing.T) {
	f := protocols.Flow{ID: 1<<63 | 1, Client: ap("10.0.0.1:5000"), Server: ap("10.0.0.2:11211"), Capture: "u", Protocol: "memcached", Datagram: true}
	s := &sink{}
	b := correlate.NewBuilder(nil, s)
	for i := int64(0); i < 2; i++ {
		b.Message(&f, &protocols.Message{Kind: protocols.Request, Name: "get", Start: (1 + 10*i) * ms, End: (1 + 10*i) * ms, ID: uint64(i), HasID: true})
		b.Message(&f, &protocols.Message{Kind: protocols.Response, Status: protocols.StatusOK, Start: (2 + 10*i) * ms, End: (2 + 10*i) * ms, ID: uint64(i), HasID: true})
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(s.traces) != 2 {
		t.Fatalf("got %d traces, want 2", len(s.traces))
	}
	for _, tr := range s.traces {
		if _, ok := tr.Spans[0].Links["req_tcp_seq"]; ok {
			t.Errorf("a UDP span has req_tcp_seq: %v", tr.Spans[0].Links)
		}
	}
}
