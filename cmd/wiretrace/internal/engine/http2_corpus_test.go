package engine_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/http2"
)

func TestHTTP2Dump(t *testing.T) {
	dir := sharedTestdata(t)
	files := map[string]uint16{
		"deepflow/http/grpc-unary.pcap": 30035, "deepflow/http/grpc-segmented.pcap": 20035,
		"deepflow/http/h2c_ascii.pcap": 7070, "deepflow/http/http2-multi.pcap": 3550,
		"deepflow/http/httpv2-stream-id.pcap": 11800, "deepflow/http/grpc-unknown.pcap": 7000,
		"deepflow/http/grpc-server-stream.pcap": 9001, "deepflow/http/grpc-service-name.pcap": 38888,
		"packt-grpc/grpc/unary.pcapng": 50051, "packt-grpc/grpc/bidi_streaming.pcapng": 50051,
		"packt-grpc/grpc/client_streaming.pcapng": 50051, "packt-grpc/grpc/server_streaming.pcapng": 50051,
		"arkime/http2/http2-nghttp2.pcap": 80, "ndpi/http2/http2.pcapng": 29518,
		"suricata-verify/http2/bug-5929-02.pcap": 80, "suricata-verify/http2/http2-authority-mismatch.pcap": 80,
		"suricata-verify/http2/http2-bugfixes.pcap": 443, "suricata-verify/http2/http2-continuation.pcap": 8080,
		"suricata-verify/http2/http2-deflate.pcap": 8080, "suricata-verify/http2/http2-errorcode.pcap": 8888,
		"suricata-verify/http2/http2-keywords2.pcap": 80, "suricata-verify/http2/http2-range.pcap": 8080,
	}
	var names []string
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		for _, forced := range []bool{false, true} {
			cfg := &engine.Config{}
			cfg.Driver.Registry = protocols.NewRegistry(http2.Protocol)
			if forced {
				cfg.Driver.PortProtocols = map[uint16]string{files[f]: "http2"}
			}
			spans, errs, e := replay(t, filepath.Join(dir, f), cfg)
			var b strings.Builder
			for _, s := range spans {
				fmt.Fprintf(&b, "  %s %q %s %v %v\n", s.Protocol, s.Name, s.Status, s.Attributes, s.Links)
			}
			t.Logf("%s forced=%v: %d spans errs=%v stats=%+v\n%s", f, forced, len(spans), errs, e.StatsLine(), b.String())
		}
	}
}
