package engine_test

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
)

// ownTestdata is the repository's testdata directory.
var ownTestdata = filepath.Join("..", "..", "..", "..", "testdata")

// tunneledRe reads the tunnelled packet count from an engine's stats line.
var tunneledRe = regexp.MustCompile(`\btunneled_packets=(\d+)`)

func tunneled(t *testing.T, e *engine.Engine) int {
	t.Helper()
	if e == nil {
		return -1
	}
	m := tunneledRe.FindStringSubmatch(e.StatsLine())
	if m == nil {
		t.Fatalf("no tunneled_packets in %q", e.StatsLine())
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// spanView is what must not change when a capture is tunnelled.
type spanView struct {
	Name, Status, Client, Server, Method string
	ReqSeq                               uint32
}

func views(spans []*correlate.Span) []spanView {
	var out []spanView
	for _, s := range spans {
		m, _ := s.Attributes["http.request.method"].(string)
		out = append(out, spanView{Name: s.Name, Status: s.Status, Method: m, ReqSeq: s.ReqSeq,
			Client: fmt.Sprintf("%s:%d", s.Client.IP, s.Client.Port), Server: fmt.Sprintf("%s:%d", s.Server.IP, s.Server.Port)})
	}
	slices.SortFunc(out, func(a, b spanView) int {
		return cmpStrings(fmt.Sprint(a), fmt.Sprint(b))
	})
	return out
}

func cmpStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func httpRequests(spans []*correlate.Span) int {
	n := 0
	for _, s := range spans {
		if s.Protocol == "http" && s.Attributes["http.request.method"] != nil {
			n++
		}
	}
	return n
}

// TestTunnelGenerated replays testdata/encap_*.pcap, the demo capture
// wrapped in each encapsulation by testdata/gen/encap: the spans must be
// the demo's, each describing its tunnel, and the HTTP request count the
// one tshark found when the files were generated.
func TestTunnelGenerated(t *testing.T) {
	plain, errs, _ := replay(t, filepath.Join(ownTestdata, "demo.pcap"), nil)
	if len(errs) > 0 || len(plain) == 0 {
		t.Fatalf("demo.pcap: %d spans, errors %v", len(plain), errs)
	}
	want := views(plain)
	tests := []struct {
		file         string
		tsharkHTTP   int // tshark -Y http.request, at generation time
		kind         string
		id           int64 // -1: no network.tunnel.id
		outer        bool  // network.tunnel.outer.src/dst present
		perDirection bool  // the id differs per direction (GTP-U TEIDs)
	}{
		{"encap_gre.pcap", 9, "gre", 42, true, false},
		{"encap_erspan2.pcap", 9, "erspan", 7, true, false},
		{"encap_geneve.pcap", 9, "geneve", 100, true, false},
		{"encap_mpls.pcap", 9, "mpls", 1000, false, false},
		{"encap_gtpu.pcap", 9, "gtpu", 0, true, true},
		{"encap_ipip.pcap", 9, "ipip", -1, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			spans, errs, e := replay(t, filepath.Join(ownTestdata, tc.file), nil)
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if got := httpRequests(spans); got != tc.tsharkHTTP {
				t.Errorf("%d HTTP requests, tshark finds %d", got, tc.tsharkHTTP)
			}
			if diff := cmp.Diff(want, views(spans)); diff != "" {
				t.Errorf("spans differ from demo.pcap's (-plain +tunnelled):\n%s", diff)
			}
			if n := tunneled(t, e); n != 56 {
				t.Errorf("tunneled_packets = %d, want all 56", n)
			}
			for _, s := range spans {
				a := s.Attributes
				if a["network.tunnel.type"] != tc.kind {
					t.Fatalf("span %s: network.tunnel.type %v, want %s", s.Name, a["network.tunnel.type"], tc.kind)
				}
				id, hasID := a["network.tunnel.id"].(int64)
				switch {
				case tc.id < 0 && hasID:
					t.Errorf("span %s: network.tunnel.id %d, want none", s.Name, id)
				case tc.perDirection:
					// The client's TEID: 0x1000 + the client's last octet.
					if want := 0x1000 + int64(s.ClientAddr.Addr().As4()[3]); id != want {
						t.Errorf("span %s: network.tunnel.id %#x, want the client side's TEID %#x", s.Name, id, want)
					}
				case tc.id >= 0 && id != tc.id:
					t.Errorf("span %s: network.tunnel.id %v, want %d", s.Name, a["network.tunnel.id"], tc.id)
				}
				src, _ := a["network.tunnel.outer.src"].(string)
				dst, _ := a["network.tunnel.outer.dst"].(string)
				if !tc.outer {
					if src != "" || dst != "" {
						t.Errorf("span %s: outer %q > %q, want none", s.Name, src, dst)
					}
					continue
				}
				// The generator maps inner 10.231.7.N to outer 10.231.27.N.
				c, sv := s.ClientAddr.Addr().As4(), s.ServerAddr.Addr().As4()
				if ws, wd := fmt.Sprintf("10.231.27.%d", c[3]), fmt.Sprintf("10.231.27.%d", sv[3]); src != ws || dst != wd {
					t.Errorf("span %s: outer %s > %s, want %s > %s", s.Name, src, dst, ws, wd)
				}
			}
		})
	}
}

// TestTunnelCorpus replays the public captures with tunnels: every
// encapsulation is removed (tunneled_packets) and the inner HTTP requests
// are found as tshark finds them.
func TestTunnelCorpus(t *testing.T) {
	dir := sharedTestdata(t)
	tests := []struct {
		path     string
		tunneled int    // packets decapsulated into TCP or UDP
		http     int    // HTTP requests (tshark's count, or see why)
		kind     string // network.tunnel.type of the HTTP spans
		why      string
	}{
		{path: "zeek/link-encap/vxlan-encapsulated-http.pcap", tunneled: 12, http: 1, kind: "vxlan"},
		{path: "arkime/link-encap/gre-erspan-vxlan.pcap", tunneled: 7, http: 1, kind: "vxlan-gpe"},
		{path: "zeek/link-encap/mpls-in-vlan.pcap", tunneled: 2, http: 2, kind: "mpls"},
		{path: "zeek/link-encap/mixed-vlan-mpls.pcap", tunneled: 11, http: 1, kind: "",
			why: "the MPLS frames are telnet; tshark's second request is an HTTP/0.9 \"GET /\" outside MPLS"},
		{path: "zeek/link-encap/gre-sample.pcap", tunneled: 30},
		{path: "zeek/link-encap/6in4.pcap", tunneled: 1},
		{path: "arkime/link-encap/tcpdump-geneve.pcap", tunneled: 33},
		{path: "arkime/link-encap/mpls-basic.pcap", tunneled: 11},
		{path: "deepflow/encap/ip6-vxlan.pcap", tunneled: 1},
		{path: "deepflow/encap/ipip.pcap", tunneled: 4},
		{path: "ndpi/dns/dns.pcap", tunneled: 2}, // PPPoE in VLAN
		// ICMP, ARP, CDP or LLDP inside: nothing to decapsulate into TCP
		// or UDP, but nothing may break either.
		{path: "zeek/link-encap/geneve.pcap"},
		{path: "zeek/link-encap/vxlan.pcap"},
		{path: "deepflow/encap/geneve.pcap"},
		{path: "deepflow/encap/vmware-gre-teb.pcap", tunneled: 2},
		{path: "deepflow/encap/vxlan-nsh.pcap"},
		{path: "suricata-verify/link-encap/decode-erspan-typeII-01.pcap"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			spans, errs, e := replay(t, filepath.Join(dir, tc.path), nil)
			if len(errs) > 0 {
				t.Logf("input errors: %v", errs)
			}
			if n := tunneled(t, e); n != tc.tunneled {
				t.Errorf("tunneled_packets = %d, want %d", n, tc.tunneled)
			}
			if got := httpRequests(spans); got != tc.http {
				t.Errorf("%d HTTP requests, want %d %s", got, tc.http, tc.why)
			}
			// A connection takes its tunnel from its first packet, so
			// one whose first packet was not tunnelled has none (in
			// mpls-in-vlan.pcap only the last two frames are MPLS).
			found := false
			for _, s := range spans {
				found = found || s.Attributes["network.tunnel.type"] == tc.kind
			}
			if tc.kind != "" && !found {
				t.Errorf("no span has network.tunnel.type %s", tc.kind)
			}
		})
	}
}

// TestVXLANTwoCapturePoints replays testdata/vxlan_inner.pcap (the VXLAN
// device) and vxlan_underlay.pcap (the underlay veth, encapsulated),
// recorded at once by testdata/gen/vxlan.sh: each of the three exchanges
// appears twice, the two views linked by TCP sequence number, and only the
// underlay's spans describe the tunnel.
func TestVXLANTwoCapturePoints(t *testing.T) {
	var srcs []capture.Source
	for _, name := range []string{"vxlan_inner.pcap", "vxlan_underlay.pcap"} {
		f, err := capture.OpenFile(filepath.Join(ownTestdata, name), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		srcs = append(srcs, f)
	}
	sink := &collect{}
	e := engine.New(nil, sink)
	e.Run(capture.Merge(srcs...), func(err error) { t.Errorf("input error: %v", err) })
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	spans := sink.spans
	traces := map[string]int{}
	byID := map[string]*correlate.Span{}
	for _, s := range spans {
		traces[s.TraceID]++
		byID[s.SpanID] = s
	}
	if len(spans) != 6 || len(traces) != 3 {
		t.Fatalf("%d spans in %d traces, want 6 in 3", len(spans), len(traces))
	}
	links := 0
	for _, s := range spans {
		a := s.Attributes
		switch s.Capture {
		case "vxlan_underlay.pcap":
			want := map[string]any{"network.tunnel.type": "vxlan", "network.tunnel.id": int64(42),
				"network.tunnel.outer.src": "10.231.27.1", "network.tunnel.outer.dst": "10.231.27.2"}
			for k, v := range want {
				if a[k] != v {
					t.Errorf("underlay span %s: %s = %v, want %v", s.Name, k, a[k], v)
				}
			}
		case "vxlan_inner.pcap":
			if a["network.tunnel.type"] != nil {
				t.Errorf("inner span %s has tunnel attributes", s.Name)
			}
		default:
			t.Errorf("span from capture %q", s.Capture)
		}
		if s.Client.IP != "10.231.28.1" || s.Server.IP != "10.231.28.2" {
			t.Errorf("span %s: %s > %s, want the overlay addresses", s.Name, s.Client.IP, s.Server.IP)
		}
		if s.LinkReason != "tcp_seq" {
			continue
		}
		links++
		p := byID[s.ParentSpanID]
		if p == nil || p.Capture == s.Capture || p.Name != s.Name || p.ReqSeq != s.ReqSeq {
			t.Errorf("tcp_seq link of %s (%s) to %+v", s.Name, s.Capture, p)
		}
	}
	if links != 3 {
		t.Errorf("%d tcp_seq links, want 3", links)
	}
}
