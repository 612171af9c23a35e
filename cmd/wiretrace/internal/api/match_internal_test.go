package api

import (
	"net/netip"
	"testing"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/store"
)

func TestParentOf(t *testing.T) {
	sp := &correlate.Span{
		StartNS: 1000, EndNS: 2000,
		Server:     correlate.Endpoint{IP: "10.0.0.4", Port: 9090},
		ServerAddr: netip.MustParseAddrPort("10.0.0.4:9090"),
		Links:      map[string]string{},
	}
	withHeader := *sp
	withHeader.Links = map[string]string{"traceparent_span_id": "00f067aa0ba902b7"}
	get := func(kv map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
	}
	sites := []callSite{
		newCallSite("f067aa0ba902b7", "server", 0, 5000, get(nil)), // named by the header, kind aside
		newCallSite("b1", "client", 500, 2500, get(map[string]string{"server.address": "10.0.0.4", "server.port": "9090"})),
		newCallSite("b2", "client", 900, 2100, get(map[string]string{"net.peer.name": "inventory", "net.peer.port": "9090"})),
		newCallSite("b3", "SPAN_KIND_CLIENT", 990, 2010, get(map[string]string{"http.url": "http://10.0.0.4:9091/x"})),
		newCallSite("b4", "client", 1500, 2500, get(map[string]string{"server.address": "10.0.0.4"})),
	}
	tests := []struct {
		name  string
		sp    *correlate.Span
		names store.Names
		slack int64
		want  string
	}{
		{"header link wins", &withHeader, nil, 0, "f067aa0ba902b7"},
		{"innermost enclosing client with the address", sp, nil, 0, "b1"},
		{"service name as peer", sp, store.Names{"10.0.0.4:9090": "inventory"}, 0, "b2"},
		{"slack admits a span starting late", sp, nil, 600, "b4"},
		{"nothing", &correlate.Span{StartNS: 1, EndNS: 2, Server: correlate.Endpoint{IP: "10.9.9.9", Port: 1}}, nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parentOf(tt.sp, sites, tt.names, tt.slack); got != tt.want {
				t.Errorf("parentOf = %q, want %q", got, tt.want)
			}
		})
	}
}
