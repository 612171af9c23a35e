package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dbSpans returns "protocol name status query error links" for the
// database spans, in start order, leaving out the SSLRequest spans (which
// plaintext connections do not have) and TCP sequence links.
func dbSpans(spans []span) []string {
	var out []string
	slices.SortFunc(spans, func(a, b span) int { return int(a.StartNS - b.StartNS) })
	for _, s := range spans {
		if s.Protocol != "mysql" && s.Protocol != "postgresql" || s.Name == "SSLRequest" ||
			s.Attributes["tls.protocol.name"] != nil {
			continue
		}
		var links []string
		for k, v := range s.Links {
			if !strings.HasSuffix(k, "_tcp_seq") {
				links = append(links, k+"="+v)
			}
		}
		slices.Sort(links)
		if len(links) > 0 {
			links = append(links, "trace="+s.TraceID)
		}
		out = append(out, fmt.Sprintf("%s %s %s %q %v %v", s.Protocol, s.Name, s.Status,
			s.Attributes["db.query.text"], s.Attributes["error.type"], links))
	}
	return out
}

// TestStartTLS replays the captures of testdata/gen/starttls.sh (MariaDB
// and PostgreSQL connections upgraded to TLS by their SSLRequest) with
// their key logs: the database spans equal those of the same queries in
// plaintext (names, statuses, query text, errors, sqlcommenter links and
// the trace they join), each connection has its TLS handshake span, the
// password shows nowhere, and tshark with the key log decodes as many
// queries.
func TestStartTLS(t *testing.T) { checkStartTLS(t, testdata) }

// checkStartTLS runs TestStartTLS's checks on the captures that file
// names.
func checkStartTLS(t *testing.T, file func(string) string) {
	out, _, err := run(t, "replay", "-q", "--format", "jsonl", file("starttls_plain.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	want := dbSpans(parseJSONL(t, out))
	if len(want) != 12 {
		t.Fatalf("plaintext reference: %d spans, want 12 (per database: connect, 4 queries, quit):\n%s", len(want), strings.Join(want, "\n"))
	}
	for _, c := range []string{"starttls13", "starttls12"} {
		t.Run(c, func(t *testing.T) {
			keys := file(c + ".keys")
			out, stderr, err := run(t, "replay", "--format", "jsonl", "--tls-keylog", keys, file(c+".pcap"))
			if err != nil {
				t.Fatal(err)
			}
			spans := parseJSONL(t, out)
			if got := dbSpans(spans); !slices.Equal(got, want) {
				t.Errorf("decrypted spans\n%s\nwant (plaintext)\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			hs := map[int]int{}
			for _, s := range spans {
				if s.Protocol == "tls" {
					if !strings.HasPrefix(s.Name, "handshake") || s.Status != "ok" {
						t.Errorf("tls span %s %s %v", s.Name, s.Status, s.Attributes)
					}
					hs[s.Server.Port]++
				}
			}
			if hs[3306] != 1 || hs[5432] != 1 || len(hs) != 2 {
				t.Errorf("tls spans by server port %v, want one handshake per connection", hs)
			}
			for _, s := range []string{"tls_decrypted_sessions=2 ", "tls_auth_failures=0 ", "tls_fallbacks=0 ", "parse_errors=0 "} {
				if !strings.Contains(stderr, s) {
					t.Errorf("stats line lacks %q: %s", s, stderr)
				}
			}
			if strings.Contains(out+stderr, "starttls-Secret-4410") {
				t.Error("output shows the database password")
			}
			for _, y := range []string{"mysql.query", "pgsql.query"} {
				if n, ok := tsharkCount(t, file(c+".pcap"), keys, y); ok && n != 4 {
					t.Errorf("tshark decodes %d %s, want 4 (as wiretrace)", n, y)
				}
			}
		})
	}
}

// tsharkCount counts the packets matching filter that tshark decodes with
// the capture's key log; ok is false when tshark is not installed.
func tsharkCount(t *testing.T, pcap, keys, filter string) (int, bool) {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Log("tshark not installed: not compared")
		return 0, false
	}
	keys, _ = filepath.Abs(keys)
	out, err := exec.Command(bin, "-n", "-r", pcap, "-o", "tls.keylog_file:"+keys,
		"-Y", filter, "-T", "fields", "-e", "frame.number").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	return len(strings.Fields(string(out))), true
}

// TestStartTLSNoKeys replays the upgraded connections without keys: after
// the SSLRequest each gives its TLS handshake span and encrypted
// exchanges (protocol tls) instead of going silent, and no query.
func TestStartTLSNoKeys(t *testing.T) {
	out, _, err := run(t, "replay", "-q", "--format", "jsonl", testdata("starttls13.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	hs, enc := map[int]int{}, map[int]int{}
	for _, s := range parseJSONL(t, out) {
		switch {
		case s.Protocol == "tls" && strings.HasPrefix(s.Name, "handshake"):
			hs[s.Server.Port]++
			if s.Attributes["tls.protocol.version"] != "1.3" || s.Status != "ok" {
				t.Errorf("handshake %s %v", s.Status, s.Attributes)
			}
		case s.Protocol == "tls":
			enc[s.Server.Port]++
			if !strings.HasPrefix(s.Name, "encrypted") || s.Attributes["tls.encrypted"] != "true" {
				t.Errorf("encrypted span %s %v", s.Name, s.Attributes)
			}
		case s.Attributes["db.query.text"] != nil:
			t.Errorf("query span without keys: %s", s.Name)
		}
	}
	// Per connection: authentication (MariaDB: HandshakeResponse and OK;
	// PostgreSQL: StartupMessage and the password request, then the
	// password and the rest of the startup), 4 queries, the quit.
	if hs[3306] != 1 || hs[5432] != 1 || enc[3306] != 6 || enc[5432] != 7 {
		t.Errorf("handshakes %v, encrypted exchanges %v by server port; want 1 each, 6 (3306) and 7 (5432)", hs, enc)
	}
}

// TestLiveStartTLS records the STARTTLS captures afresh
// (testdata/gen/starttls.sh: mariadbd and postgres from Debian in a network
// namespace, Go clients writing their key log) while "wiretrace capture -i
// lo --tls-keylog" reads the key log the clients are still appending to:
// the new captures pass TestStartTLS's checks, and the live database spans
// equal the plaintext ones.
func TestLiveStartTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts database servers in a network namespace; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN for ip netns, CAP_NET_RAW to capture)")
	}
	for _, tool := range []struct{ bin, pkg string }{
		{"ip", "iproute2"}, {"tcpdump", "tcpdump"}, {"openssl", "openssl"}, {"setpriv", "util-linux"},
		{"mariadbd", "mariadb-server"}, {"mariadb-install-db", "mariadb-server"},
	} {
		if _, err := exec.LookPath(tool.bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool.bin); err != nil {
				t.Skipf("%s not installed (package %s; .ci/run installs it)", tool.bin, tool.pkg)
			}
		}
	}
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres"); len(m) == 0 {
		t.Skip("postgres not installed (package postgresql; .ci/run installs it)")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "testdata", "gen", "starttls.sh"))
	// SIGTERM lets the script kill its servers and delete its namespace.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	cmd.Env = append(os.Environ(), "WSTLS_OUT="+dir, "WSTLS_WIRETRACE="+self, "WIRETRACE_TEST_MAIN=1",
		"GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("starttls.sh: %v\n%s", err, out)
	}
	file := func(name string) string { return filepath.Join(dir, name) }
	checkStartTLS(t, file)
	out, _, err := run(t, "replay", "-q", "--format", "jsonl", file("starttls_plain.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	want := dbSpans(parseJSONL(t, out))
	for _, c := range []string{"starttls13", "starttls12", "starttls_plain"} {
		b, err := os.ReadFile(file(c + ".live.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if got := dbSpans(parseJSONL(t, string(b))); !slices.Equal(got, want) {
			t.Errorf("%s: live spans\n%s\nwant\n%s", c, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
