package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mqtt"
)

func mqttConfig() *engine.Config {
	cfg := &engine.Config{}
	cfg.Driver.Registry = protocols.NewRegistry(mqtt.Protocol)
	return cfg
}

// deepflowMQTTRe reads deepflow's expected MQTT messages: client id,
// packet type, subscribe topics, publish topic, CONNACK code.
var deepflowMQTTRe = regexp.MustCompile(`client_id: (?:Some\("([^"]*)"\)|None), version: \d+, pkt_type: (\w+).*?subscribe_topics: (?:Some\(\[MqttTopic \{ name: "([^"]*)"[^)]*\)|None), publish_topic: (?:Some\("([^"]*)"\)|None), code: (?:Some\((\d+)\)|None)`)

// mqttMessages turns spans into deepflow's message list: each request
// packet and its answer ("Connect c1", "Connack 0", "Publish t", "Puback").
// QoS 2's PUBREC and PUBREL are folded into the span and not listed.
func mqttMessages(spans []*correlate.Span) []string {
	var out []string
	for _, s := range sortedSpans(spans) {
		op, _ := s.Attributes["messaging.operation.name"].(string)
		topic, _ := s.Attributes["messaging.destination.name"].(string)
		switch op {
		case "CONNECT":
			client, _ := s.Attributes["messaging.client.id"].(string)
			out = append(out, "Connect "+client)
			if s.HasResponse {
				code := "0"
				if s.Status == correlate.StatusError {
					code = "error"
				}
				out = append(out, "Connack "+code)
			}
		case "PUBLISH":
			out = append(out, "Publish "+topic)
			if s.HasResponse && s.Attributes["mqtt.qos"] == int64(2) {
				out = append(out, "Pubcomp")
			} else if s.HasResponse && !strings.HasPrefix(s.Links["handoff_recv"], "mqtt:") {
				out = append(out, "Puback")
			}
		case "SUBSCRIBE":
			out = append(out, "Subscribe "+topic)
			if s.HasResponse {
				out = append(out, "Suback")
			}
		case "UNSUBSCRIBE":
			out = append(out, "Unsubscribe "+topic)
			if s.HasResponse {
				out = append(out, "Unsuback")
			}
		case "PINGREQ":
			out = append(out, "Pingreq")
			if s.HasResponse {
				out = append(out, "Pingresp")
			}
		case "DISCONNECT":
			out = append(out, "Disconnect")
		default:
			out = append(out, "? "+s.Name)
		}
	}
	return out
}

// TestMQTTDeepflow compares the deepflow MQTT captures with their .result
// as multisets of messages (packet type with client id or topic, CONNACK
// code). mqtt_error.pcap is a DNS query over TCP that deepflow decodes as
// a CONNACK: wiretrace must not take it for MQTT.
func TestMQTTDeepflow(t *testing.T) {
	dir := sharedTestdata(t)
	files, err := filepath.Glob(filepath.Join(dir, "deepflow/mqtt/*.pcap"))
	if err != nil || len(files) < 6 {
		t.Fatalf("deepflow MQTT captures: %d, %v", len(files), err)
	}
	total, matched := 0, 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			spans, _, _ := replay(t, f, mqttConfig())
			got := mqttMessages(spans)
			// mqtt_roundtrip: one PUBACK reaches the builder before its
			// PUBLISH (lost segments on both sides; see mqttCounts) and
			// is an unmatched "mqtt response".
			missing := 0
			if filepath.Base(f) == "mqtt_roundtrip.pcap" {
				missing = 1
			}
			if filepath.Base(f) == "mqtt_error.pcap" {
				if len(got) != 0 {
					t.Errorf("a DNS query read as MQTT: %v", got)
				}
				return
			}
			res, err := os.ReadFile(strings.TrimSuffix(f, ".pcap") + ".result")
			if os.IsNotExist(err) {
				t.Logf("no result; wiretrace: %v", got)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			n := 0
			for _, m := range deepflowMQTTRe.FindAllStringSubmatch(string(res), -1) {
				var w string
				switch m[2] {
				case "Connect":
					w = "Connect " + m[1]
				case "Connack":
					w = "Connack " + m[5]
				case "Publish":
					w = "Publish " + m[4]
				case "Subscribe", "Unsubscribe":
					w = m[2] + " " + m[3]
				case "Pubrec", "Pubrel":
					continue
				default:
					w = m[2]
				}
				count[w]++
				n++
			}
			match := 0
			for _, g := range got {
				if count[g] > 0 {
					count[g]--
					match++
				} else {
					t.Logf("wiretrace only: %q", g)
				}
			}
			for w, c := range count {
				if c > 0 {
					t.Logf("deepflow only: %d × %q", c, w)
				}
			}
			total += n
			matched += match
			t.Logf("%d of %d deepflow messages match (wiretrace: %d)", match, n, len(got))
			if n == 0 || match != n-missing || len(got) != n {
				t.Errorf("%d of %d deepflow messages match, wiretrace has %d", match, n, len(got))
			}
		})
	}
	t.Logf("deepflow MQTT: %d of %d messages match", matched, total)
}

// mqttCounts gives, per public MQTT capture, tshark's MQTT packet count
// (INDEX.md "MQTT pkts=N") and the spans and answered spans wiretrace
// makes, with why they differ.
var mqttCounts = []struct {
	file          string
	tshark        int
	spans, answer int
	why           string
}{
	{"arkime/mqtt/mqtt_big.pcap", 23, 13, 9, "QoS 0 publishes and DISCONNECT expect no answer; QoS 2's PUBREC/PUBREL are folded into their span"},
	{"arkime/mqtt/mqtt_synthetic.pcap", 20, 20, 0, "the capture holds only the clients' packets"},
	{"deepflow/mqtt/mqtt_connect.pcap", 2, 1, 1, ""},
	{"deepflow/mqtt/mqtt_one_packet_multi_publish.pcap", 11, 10, 10, "starts after CONNECT: sniffed as a run of PUBLISH packets"},
	{"deepflow/mqtt/mqtt_pub.pcap", 6, 3, 3, ""},
	{"deepflow/mqtt/mqtt_roundtrip.pcap", 18, 10, 7, "6 lost segments: one PUBACK is delivered before the PUBLISH it answers and is left unmatched"},
	{"deepflow/mqtt/mqtt_sub.pcap", 2, 1, 1, ""},
	{"ndpi/mqtt/mqtt.pcap", 8, 6, 3, "the second connection's CONNECT has no CONNACK in the capture"},
	{"suricata-verify/mqtt/mqtt-frames-truncated.pcap", 2, 1, 1, ""},
	{"suricata-verify/mqtt/mqtt-ping.pcap", 2, 0, 0, "a lone PINGREQ and PINGRESP (two bytes each) are too little to recognise MQTT"},
	{"suricata-verify/mqtt/mqtt31-pub-qos1.pcap", 5, 3, 2, ""},
	{"suricata-verify/mqtt/mqtt311-pub-qos2.pcap", 7, 3, 2, ""},
	{"suricata-verify/mqtt/mqtt311-unsub-qos1.pcap", 8, 5, 4, ""},
	{"suricata-verify/mqtt/mqtt5-excessiveproplen.pcap", 4, 0, 0, "its CONNECT's property length runs past the packet (the test's point): a parse error stops the flow"},
	{"suricata-verify/mqtt/mqtt5-pub-mosquittoprops.pcap", 5, 3, 2, ""},
	{"suricata-verify/mqtt/mqtt5-pub-qos2.pcap", 7, 3, 2, ""},
	{"suricata-verify/mqtt/mqtt5-sub-mosquittoprops.pcap", 5, 3, 2, ""},
	{"zeek/mqtt/mqtt.pcap", 19, 12, 10, ""},
}

// TestMQTTCorpusCounts checks every public MQTT capture: spans, answered
// spans, parse errors.
func TestMQTTCorpusCounts(t *testing.T) {
	dir := sharedTestdata(t)
	for _, c := range mqttCounts {
		t.Run(c.file, func(t *testing.T) {
			spans, errs, e := replay(t, filepath.Join(dir, c.file), mqttConfig())
			for _, err := range errs {
				t.Logf("input error: %v", err)
			}
			answered := 0
			var names []string
			for _, s := range spans {
				if s.HasResponse {
					answered++
				}
				names = append(names, fmt.Sprintf("%s(%s)", s.Name, s.Status))
			}
			t.Logf("%s: %d spans, %d answered; %s; %v", c.file, len(spans), answered, parseErrorsRe.FindString(e.StatsLine()), names)
			if len(spans) != c.spans || answered != c.answer {
				t.Errorf("got %d spans, %d answered; want %d, %d", len(spans), answered, c.spans, c.answer)
			}
		})
	}
}
