package engine_test

import (
	"path/filepath"
	"testing"
)

// TestTLSCorpus replays the public captures with TLS. nDPI's http_ipv6
// holds six HTTPS connections (tshark finds six ClientHellos, all with JA3
// d3e627f423a33ea41841c19b8af79293; four to www.ntop.org, whose server
// sends a warning unrecognized_name alert before its ServerHello, two to
// s-static.ak.facebook.com): six handshake spans, ok. The MySQL and
// PostgreSQL captures switch to TLS after the database protocol's own
// greeting (STARTTLS style): their flows stay mysql and postgresql and give
// no TLS span.
func TestTLSCorpus(t *testing.T) {
	dir := sharedTestdata(t)
	spans, errs, _ := replay(t, filepath.Join(dir, "ndpi/http/http_ipv6.pcap"), nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	sni := map[string]int{}
	for _, s := range spans {
		if s.Protocol != "tls" || s.Attributes["tls.client.ja4"] == nil {
			continue
		}
		if s.Status != "ok" || s.Attributes["tls.client.ja3"] != "d3e627f423a33ea41841c19b8af79293" ||
			s.Attributes["tls.protocol.version"] != "1.2" {
			t.Errorf("handshake %s: %s %v", s.Name, s.Status, s.Attributes)
		}
		sni[s.Attributes["tls.client.server_name"].(string)]++
	}
	if sni["www.ntop.org"] != 4 || sni["s-static.ak.facebook.com"] != 2 || len(sni) != 2 {
		t.Errorf("handshakes by server name %v, want 4 www.ntop.org and 2 s-static.ak.facebook.com", sni)
	}
	for _, f := range []string{"zeek/mysql/tls-12-amazon-rds.pcap", "zeek/mysql/tls-13-amazon-rds.pcap",
		"zeek/postgresql/psql-aws-ssl-require.pcap", "ndpi/mysql/mysql.pcapng"} {
		spans, _, _ := replay(t, filepath.Join(dir, f), nil)
		for _, s := range spans {
			if s.Protocol == "tls" {
				t.Errorf("%s: tls span %s", f, s.Name)
			}
		}
	}
}
