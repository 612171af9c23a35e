package main

import (
	"strings"
	"testing"
)

// The captures of testdata/gen/brokers.sh: mosquitto, nats-server and
// memcached driven by paho.golang, paho.mqtt.golang, nats.go and
// gomemcache.

func TestGoldenBrokers(t *testing.T) {
	for _, name := range []string{"mqtt_broker", "nats_broker", "memcached"} {
		t.Run(name, func(t *testing.T) {
			out, _, err := run(t, "replay", "-q", "--format", "tree", testdata(name+".pcap"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".golden.tree", out)
		})
	}
}

// TestBrokerHandoff checks, on the broker captures, that each message a
// publisher sent is the parent of its delivery to the subscriber (hand-off
// by topic and payload), that request/reply chains through the responder,
// that trace headers are read and that no credential is shown.
func TestBrokerHandoff(t *testing.T) {
	for _, tc := range []struct {
		file       string
		pub, deliv string // span name prefixes
		handoffs   int    // deliveries linked to their publish
		replyChain []string
	}{
		{"nats_broker.pcap", "PUB ", "MSG ", 4, []string{"PUB stock.check", "MSG stock.check", "PUB _INBOX.*", "MSG _INBOX.*"}},
		{"mqtt_broker.pcap", "PUBLISH ", "PUBLISH ", 6, []string{"PUBLISH stock/check", "PUBLISH stock/check", "PUBLISH reply/orders-api", "PUBLISH reply/orders-api"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			out, stderr, err := run(t, "replay", "--format", "jsonl", testdata(tc.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"parse_errors=0 ", "unmatched_responses=0 ", "timeouts=0 "} {
				if !strings.Contains(stderr, s) {
					t.Errorf("stats line lacks %q: %s", s, stderr)
				}
			}
			if strings.Contains(out, "secret-pw") {
				t.Error("a password is in the output")
			}
			spans := parseJSONL(t, out)
			byID := map[string]span{}
			for _, s := range spans {
				byID[s.SpanID] = s
			}
			linked, traced := 0, 0
			for _, s := range spans {
				if s.LinkReason == "queue_handoff" && strings.HasPrefix(s.Name, tc.deliv) && isDelivery(s) {
					// A delivery: its parent is the publish of the same
					// topic and payload, from the other host.
					p := byID[s.ParentSpanID]
					if !strings.HasPrefix(p.Name, tc.pub) || isDelivery(p) || p.Links["handoff_send"] != s.Links["handoff_recv"] || p.Client.IP == s.Client.IP {
						t.Errorf("%s linked to %s: %v / %v", s.Name, p.Name, s.Links, p.Links)
					}
					linked++
				}
				if s.Links["traceparent_trace_id"] == "0af7651916cd43dd8448eb211c80319c" {
					traced++
					if s.TraceID != "0af7651916cd43dd8448eb211c80319c" {
						t.Errorf("%s: trace id %s, not the traceparent's", s.Name, s.TraceID)
					}
				}
			}
			if linked < tc.handoffs {
				t.Errorf("%d deliveries linked to their publish, want at least %d", linked, tc.handoffs)
			}
			if traced == 0 {
				t.Error("no span carries the publishers' traceparent")
			}
			// The request/reply chain: each span the child of the one before.
			var chain []span
			for _, s := range spans {
				if s.Name == tc.replyChain[len(tc.replyChain)-1] && isDelivery(s) {
					for c := s; ; c = byID[c.ParentSpanID] {
						chain = append([]span{c}, chain...)
						if c.ParentSpanID == "" {
							break
						}
					}
					break
				}
			}
			var names []string
			for _, c := range chain {
				names = append(names, c.Name)
			}
			if strings.Join(names, " > ") != strings.Join(tc.replyChain, " > ") {
				t.Errorf("reply chain %q, want %q", names, tc.replyChain)
			}
		})
	}
}

// isDelivery reports whether s is a message delivered to a subscriber: its
// first hand-off link received a payload (not a reply subject or topic).
func isDelivery(s span) bool {
	r := s.Links["handoff_recv"]
	return r != "" && !strings.Contains(r, "-inbox:") && !strings.Contains(r, "-reply:")
}

// TestNATSScenario replays testdata/nats_scenario.pcap, a short run of the
// NATS accuracy scenario (testdata/gen/accuracy_nats.sh -n 12 -c 1): each
// HTTP request to the publisher is published (or sent as a request) with a
// traceparent; the consumer calls the downstream service for each message.
// Each downstream call must hang under the delivery of its message, and
// the delivery under its publish: producer → consumer through the broker.
func TestNATSScenario(t *testing.T) {
	out, stderr, err := run(t, "replay", "--format", "jsonl", testdata("nats_scenario.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"parse_errors=0 ", "unmatched_responses=0 "} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stats line lacks %q: %s", s, stderr)
		}
	}
	spans := parseJSONL(t, out)
	byID := map[string]span{}
	for _, s := range spans {
		byID[s.SpanID] = s
	}
	calls, replies := 0, 0
	for _, s := range spans {
		switch {
		case s.Name == "GET /stock":
			calls++
			msg := byID[s.ParentSpanID]
			pub := byID[msg.ParentSpanID]
			if !strings.HasPrefix(msg.Name, "MSG ") || s.LinkReason != "trace_header" ||
				!strings.HasPrefix(pub.Name, "PUB ") || msg.LinkReason != "queue_handoff" ||
				pub.Client.IP == msg.Client.IP || msg.Client.IP != s.Client.IP {
				t.Errorf("downstream call %s: parent %q (%s), grandparent %q (%s)", s.SpanID, msg.Name, s.LinkReason, pub.Name, msg.LinkReason)
			}
			if pub.TraceID != s.TraceID || s.Links["traceparent_trace_id"] != s.TraceID {
				t.Errorf("downstream call %s: trace %s, publish's %s, traceparent %s", s.SpanID, s.TraceID, pub.TraceID, s.Links["traceparent_trace_id"])
			}
		case s.Name == "MSG _INBOX.*":
			// The requester receives the reply: child of the
			// responder's PUB, itself the child of the request's
			// delivery.
			replies++
			rp := byID[s.ParentSpanID]
			del := byID[rp.ParentSpanID]
			if rp.Name != "PUB _INBOX.*" || del.Name != "MSG stock.check" {
				t.Errorf("reply %s: parent %q, grandparent %q", s.SpanID, rp.Name, del.Name)
			}
		}
	}
	if calls != 12 || replies == 0 {
		t.Errorf("%d downstream calls (want 12), %d replies (want some)", calls, replies)
	}
}
