package main

import (
	"strings"
	"testing"
)

// TestReplayTunnel replays the VXLAN underlay capture: the spans are the
// inner HTTP exchanges and carry the tunnel's attributes.
func TestReplayTunnel(t *testing.T) {
	out, _, err := run(t, "replay", "-q", "--format", "jsonl", "--vxlan-port", "8472", testdata("vxlan_underlay.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	spans := parseJSONL(t, out)
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	for _, s := range spans {
		if s.Attributes["network.tunnel.type"] != "vxlan" || s.Attributes["network.tunnel.id"] != float64(42) ||
			s.Attributes["network.tunnel.outer.src"] != "10.231.27.1" || s.Attributes["network.tunnel.outer.dst"] != "10.231.27.2" {
			t.Errorf("span %s: attributes %v", s.Name, s.Attributes)
		}
	}
	if _, _, err := run(t, "replay", "--vxlan-port", "70000", testdata("vxlan_underlay.pcap")); err == nil || !strings.Contains(err.Error(), "vxlan-port") {
		t.Errorf("--vxlan-port 70000: err %v, want a vxlan-port error", err)
	}
}
