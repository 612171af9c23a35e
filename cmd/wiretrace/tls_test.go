package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tlsCases are the captures of testdata/gen/tls.sh: curl through a
// TLS-terminating nginx to a plaintext backend.
var tlsCases = []string{"tls12_http1", "tls13_http1", "tls12_h2", "tls13_h2", "tls12_cbc_http1"}

// edge returns "name status http-status" for the spans of the client's
// connection to the gateway (server port), in start order.
func edge(spans []span, port int) []string {
	var out []string
	slices.SortFunc(spans, func(a, b span) int { return int(a.StartNS - b.StartNS) })
	for _, s := range spans {
		if s.Server.Port != port || s.Protocol == "tls" {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s %v", s.Name, s.Status, s.Attributes["http.response.status_code"]))
	}
	return out
}

// TestTLSDecrypt replays each TLS capture with its key log: the HTTP spans
// of the client's connection equal those of the same requests in
// plaintext (names, statuses, count), nothing secret shows, and tshark
// with the same key log decodes as many requests.
func TestTLSDecrypt(t *testing.T) { checkTLSDecrypt(t, testdata) }

// checkTLSDecrypt runs TestTLSDecrypt's checks on the captures that file
// names.
func checkTLSDecrypt(t *testing.T, file func(string) string) {
	out, _, err := run(t, "replay", "-q", "--format", "jsonl", file("tls_plain_http1.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	want := edge(parseJSONL(t, out), 80)
	if len(want) != 5 {
		t.Fatalf("plaintext reference: %d spans, want 5: %q", len(want), want)
	}
	for _, c := range tlsCases {
		t.Run(c, func(t *testing.T) {
			keys := file(c + ".keys")
			out, stderr, err := run(t, "replay", "--format", "jsonl", "--tls-keylog", keys, file(c+".pcap"))
			if err != nil {
				t.Fatal(err)
			}
			spans := parseJSONL(t, out)
			got := edge(spans, 443)
			if !slices.Equal(got, want) {
				t.Errorf("decrypted spans\n%q\nwant (plaintext)\n%q", got, want)
			}
			proto := "http"
			if strings.HasSuffix(c, "_h2") {
				proto = "http2"
			}
			hs := 0
			for _, s := range spans {
				switch {
				case s.Protocol == "tls":
					hs++
					if !strings.HasPrefix(s.Name, "handshake") || s.Attributes["tls.client.server_name"] != "shop.test" {
						t.Errorf("tls span %s %v", s.Name, s.Attributes)
					}
					if strings.HasSuffix(c, "_h2") && s.Attributes["tls.next_protocol"] != "h2" {
						t.Errorf("handshake ALPN %v, want h2 (decrypted EncryptedExtensions in 1.3)", s.Attributes["tls.next_protocol"])
					}
				case s.Server.Port == 443 && s.Protocol != proto:
					t.Errorf("span %s protocol %s, want %s", s.Name, s.Protocol, proto)
				}
			}
			if hs != 1 {
				t.Errorf("%d tls spans, want the handshake only", hs)
			}
			for _, s := range []string{"tls_decrypted_sessions=1 ", "tls_auth_failures=0 ", "tls_fallbacks=0 ", "parse_errors=0 "} {
				if !strings.Contains(stderr, s) {
					t.Errorf("stats line lacks %q: %s", s, stderr)
				}
			}
			// The Authorization header value and the key log's
			// secrets never reach the output.
			secrets := []string{"tls-Secret-4242"}
			kb, err := os.ReadFile(keys)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(string(kb), "\n") {
				if f := strings.Fields(l); len(f) == 3 {
					secrets = append(secrets, f[2])
				}
			}
			for _, s := range secrets {
				if strings.Contains(out+stderr, s) {
					t.Errorf("output shows secret %.12s...", s)
				}
			}
			if n, ok := tsharkRequests(t, file(c+".pcap"), keys); ok && n != len(got) {
				t.Errorf("tshark decodes %d requests to port 443, wiretrace %d", n, len(got))
			}
		})
	}
}

// tsharkRequests counts the requests to port 443 tshark decodes with the
// capture's key log; ok is false when tshark is not installed.
func tsharkRequests(t *testing.T, pcap, keys string) (int, bool) {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Log("tshark not installed: not compared")
		return 0, false
	}
	keys, _ = filepath.Abs(keys)
	cmd := exec.Command(bin, "-n", "-r", pcap, "-o", "tls.keylog_file:"+keys,
		"-Y", "tcp.dstport == 443 && (http.request || http2.headers.method)", "-T", "fields", "-e", "frame.number")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if sc.Text() != "" {
			n++
		}
	}
	return n, true
}

// TestTLSNoKeys replays the captures without keys: a handshake span, and
// encrypted exchanges that parent the gateway's plaintext upstream calls by
// timing.
func TestTLSNoKeys(t *testing.T) {
	for _, c := range tlsCases {
		t.Run(c, func(t *testing.T) {
			out, stderr, err := run(t, "replay", "--format", "jsonl", testdata(c+".pcap"))
			if err != nil {
				t.Fatal(err)
			}
			spans := parseJSONL(t, out)
			byID := map[string]span{}
			for _, s := range spans {
				byID[s.SpanID] = s
			}
			var hs, enc, upstream int
			for _, s := range spans {
				switch {
				case s.Protocol == "tls" && strings.HasPrefix(s.Name, "handshake"):
					hs++
					if ja3, ja3s, ok := tsharkJA3(t, testdata(c+".pcap")); ok &&
						(s.Attributes["tls.client.ja3"] != ja3 || s.Attributes["tls.server.ja3s"] != ja3s) {
						t.Errorf("JA3 %v JA3S %v, tshark %s %s", s.Attributes["tls.client.ja3"], s.Attributes["tls.server.ja3s"], ja3, ja3s)
					}
					if s.Status != "ok" || s.Attributes["tls.client.ja4"] == nil || s.Attributes["tls.client.ja3"] == nil ||
						s.Attributes["tls.cipher"] == nil {
						t.Errorf("handshake %s %v", s.Status, s.Attributes)
					}
					if strings.HasPrefix(c, "tls12") && s.Attributes["tls.server.subject"] != "CN=shop.test,O=wiretrace test" {
						t.Errorf("certificate subject %v", s.Attributes["tls.server.subject"])
					}
				case s.Protocol == "tls":
					enc++
					if s.Name != "encrypted shop.test" || s.Attributes["tls.encrypted"] != "true" || s.Status != "ok" {
						t.Errorf("encrypted span %s %s %v", s.Name, s.Status, s.Attributes)
					}
				case s.Server.Port == 8080:
					upstream++
					p, ok := byID[s.ParentSpanID]
					if !ok || p.Protocol != "tls" || s.LinkReason != "timing" {
						t.Errorf("upstream %s: parent %q (%s) reason %q, want an encrypted span by timing", s.Name, p.Name, p.Protocol, s.LinkReason)
					}
				}
			}
			// HTTP/2 adds exchanges of SETTINGS frames; HTTP/1.1 has one
			// per request.
			if hs != 1 || upstream != 3 || enc < 5 || !strings.HasSuffix(c, "_h2") && enc != 5 {
				t.Errorf("%d handshakes, %d encrypted, %d upstream spans", hs, enc, upstream)
			}
			if !strings.Contains(stderr, "tls_handshakes=1 ") {
				t.Errorf("stats line: %s", stderr)
			}
		})
	}
}

// TestTLSAlert replays a handshake the client ends with an unknown_ca
// alert (curl rejects the self-signed certificate).
func TestTLSAlert(t *testing.T) {
	out, _, err := run(t, "replay", "-q", "--format", "jsonl", testdata("tls_alert.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	spans := parseJSONL(t, out)
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name != "handshake shop.test" || s.Status != "error" || s.Attributes["tls.alert"] != "unknown_ca" ||
		s.Attributes["error.type"] != "unknown_ca" || s.Attributes["tls.server.issuer"] != "CN=shop.test,O=wiretrace test" {
		t.Errorf("span %s %s %v", s.Name, s.Status, s.Attributes)
	}
}

// TestTLSKeylogConfig sets the key log from a config file, and checks the
// error for a missing one and the fallback with the wrong keys.
func TestTLSKeylogConfig(t *testing.T) {
	dir := t.TempDir()
	keys, _ := filepath.Abs(testdata("tls13_http1.keys"))
	cfg := filepath.Join(dir, "wiretrace.yaml")
	if err := os.WriteFile(cfg, []byte("tls-keylog: "+keys+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "replay", "-q", "--format", "jsonl", "--config", cfg, testdata("tls13_http1.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if got := edge(parseJSONL(t, out), 443); len(got) != 5 {
		t.Errorf("with the config file's key log: %q", got)
	}
	if _, _, err := run(t, "replay", "--tls-keylog", filepath.Join(dir, "none"), testdata("tls13_http1.pcap")); err == nil ||
		!strings.Contains(err.Error(), "--tls-keylog") {
		t.Errorf("missing key log: err %v", err)
	}
	// Another session's keys: no secrets for this one.
	out, stderr, err := run(t, "replay", "--format", "jsonl", "--tls-keylog", testdata("tls12_h2.keys"), testdata("tls13_http1.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "tls_no_keys=1 ") || len(edge(parseJSONL(t, out), 443)) != 0 {
		t.Errorf("wrong keys: %s", stderr)
	}
}

// TestLiveTLS records the TLS captures anew (testdata/gen/tls.sh: curl,
// nginx in network namespaces, tcpdump) while "wiretrace capture -i br0
// --tls-keylog" reads the key log curl is still appending to: the replays
// pass TestTLSDecrypt's checks, and the live spans on port 443 equal the
// plaintext ones.
func TestLiveTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers in network namespaces; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN for ip netns, CAP_NET_RAW to capture)")
	}
	for _, tool := range []struct{ bin, pkg string }{
		{"ip", "iproute2"}, {"nginx", "nginx-light"}, {"tcpdump", "tcpdump"}, {"curl", "curl"}, {"openssl", "openssl"},
	} {
		if _, err := exec.LookPath(tool.bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool.bin); err != nil {
				t.Skipf("%s not installed (package %s; .ci/run installs it)", tool.bin, tool.pkg)
			}
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "testdata", "gen", "tls.sh"))
	// SIGTERM lets the script kill its servers and delete its namespaces.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	cmd.Env = append(os.Environ(), "WTLS_OUT="+dir, "WTLS_WIRETRACE="+self, "WIRETRACE_TEST_MAIN=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tls.sh: %v\n%s", err, out)
	}
	file := func(name string) string { return filepath.Join(dir, name) }
	checkTLSDecrypt(t, file)
	checkKeyUpdate(t, file)
	out, _, err := run(t, "replay", "-q", "--format", "jsonl", file("tls_plain_http1.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	want := edge(parseJSONL(t, out), 80)
	for _, c := range tlsCases {
		b, err := os.ReadFile(file(c + ".live.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if got := edge(parseJSONL(t, string(b)), 443); !slices.Equal(got, want) {
			t.Errorf("%s: live spans\n%q\nwant\n%q", c, got, want)
		}
	}
}

// TestTLSKeyUpdate replays a TLS 1.3 session in which the client sends two
// KeyUpdates, the second asking the server for one (openssl s_client "k"
// and "K"): the three requests are decrypted across the key changes.
func TestTLSKeyUpdate(t *testing.T) { checkKeyUpdate(t, testdata) }

func checkKeyUpdate(t *testing.T, file func(string) string) {
	t.Helper()
	keys := file("tls13_keyupdate.keys")
	out, stderr, err := run(t, "replay", "--format", "jsonl", "--tls-keylog", keys, file("tls13_keyupdate.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	got := edge(parseJSONL(t, out), 443)
	want := []string{"GET / ok 200", "GET /api/orders ok 200", "GET /api/orders ok 200"}
	if !slices.Equal(got, want) {
		t.Errorf("spans %q, want %q", got, want)
	}
	for _, s := range []string{"tls_auth_failures=0 ", "tls_fallbacks=0 "} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stats line lacks %q: %s", s, stderr)
		}
	}
	if n, ok := tsharkRequests(t, file("tls13_keyupdate.pcap"), keys); ok && n != len(got) {
		t.Errorf("tshark decodes %d requests, wiretrace %d", n, len(got))
	}
}

// tsharkJA3 returns the JA3 and JA3S tshark computes for the capture's
// (single) ClientHello and ServerHello; ok is false without tshark.
func tsharkJA3(t *testing.T, pcap string) (ja3, ja3s string, ok bool) {
	t.Helper()
	bin, err := exec.LookPath("tshark")
	if err != nil {
		return "", "", false
	}
	out, err := exec.Command(bin, "-n", "-r", pcap, "-Y", "tls.handshake.type == 1 || tls.handshake.type == 2",
		"-T", "fields", "-e", "tls.handshake.ja3", "-e", "tls.handshake.ja3s").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Split(l, "\t")
		if len(f) == 2 && f[0] != "" {
			ja3 = f[0]
		}
		if len(f) == 2 && f[1] != "" {
			ja3s = f[1]
		}
	}
	return ja3, ja3s, true
}
