package engine_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate/jsonl"
)

// TestTLSCorpus replays the public captures with TLS. nDPI's http_ipv6
// holds six HTTPS connections (tshark finds six ClientHellos, all with JA3
// d3e627f423a33ea41841c19b8af79293; four to www.ntop.org, whose server
// sends a warning unrecognized_name alert before its ServerHello, two to
// s-static.ak.facebook.com): six handshake spans, ok. The MySQL and
// PostgreSQL captures switch to TLS after the database protocol's own
// SSLRequest (STARTTLS style): their flows stay mysql and postgresql, and
// the upgraded part gives one TLS handshake span (the version and cipher
// tshark reads from the ServerHello; one ClientHello in each) and
// encrypted exchanges.
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
	for _, c := range []struct{ file, db, version, cipher string }{
		{"zeek/mysql/tls-12-amazon-rds.pcap", "mysql", "1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
		{"zeek/mysql/tls-13-amazon-rds.pcap", "mysql", "1.3", "TLS_AES_256_GCM_SHA384"},
		{"zeek/postgresql/psql-aws-ssl-require.pcap", "postgresql", "1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
		{"ndpi/mysql/mysql.pcapng", "mysql", "1.3", "TLS_AES_256_GCM_SHA384"},
	} {
		spans, _, _ := replay(t, filepath.Join(dir, c.file), nil)
		var hs, enc, db int
		for _, s := range spans {
			switch {
			case s.Protocol == "tls" && strings.HasPrefix(s.Name, "handshake"):
				hs++
				if s.Status != "ok" || s.Attributes["tls.protocol.version"] != c.version || s.Attributes["tls.cipher"] != c.cipher {
					t.Errorf("%s: handshake %s %v, want %s %s", c.file, s.Status, s.Attributes, c.version, c.cipher)
				}
			case s.Protocol == "tls" && strings.HasPrefix(s.Name, "encrypted"):
				enc++
			case s.Protocol == c.db:
				db++
			default:
				t.Errorf("%s: span %s %s", c.file, s.Protocol, s.Name)
			}
		}
		if hs != 1 || enc < 3 || db < 1 {
			t.Errorf("%s: %d handshakes, %d encrypted, %d %s spans; want 1, at least 3, at least 1", c.file, hs, enc, db, c.db)
		}
	}
}

// TestParallelTLS: with a key log, the sharded runner decrypts as the
// single engine does and counts the same TLS sessions.
func TestParallelTLS(t *testing.T) {
	td := filepath.Join("..", "..", "..", "..", "testdata")
	keys, err := wiretrace.OpenKeyLog(filepath.Join(td, "tls13_h2.keys"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(n int) (string, string) {
		src, err := capture.OpenFile(filepath.Join(td, "tls13_h2.pcap"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var out bytes.Buffer
		sink := jsonl.New(nopWriteCloser{&out})
		cfg := &engine.Config{TLSKeys: keys}
		var r interface {
			Run(capture.Source, func(error)) int
			Close() error
			StatsLine() string
		}
		if n == 0 {
			r = engine.New(cfg, sink)
		} else {
			r = engine.NewParallel(cfg, sink, n)
		}
		r.Run(src, func(error) {})
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		sink.Close()
		line := r.StatsLine()
		return out.String(), line[strings.Index(line, "tls_handshakes"):strings.Index(line, " spans=")]
	}
	want, wantStats := run(0)
	if !strings.Contains(want, `"protocol":"http2"`) || !strings.Contains(wantStats, "tls_decrypted_sessions=1 ") {
		t.Fatalf("one engine did not decrypt: %s", wantStats)
	}
	got, gotStats := run(2)
	if got != want || gotStats != wantStats {
		t.Errorf("2 workers: output or TLS counters differ: %s vs %s", gotStats, wantStats)
	}
}
