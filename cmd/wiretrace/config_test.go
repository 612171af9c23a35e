package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// parseWith builds the serve command's flags, parses args, applies the
// YAML config and returns the effective configuration.
func parseWith(t *testing.T, yaml string, args ...string) (*cobra.Command, error) {
	t.Helper()
	cmd := newServeCmd()
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	return cmd, applyConfig(cmd.Flags(), "test.yaml", []byte(yaml), allFlagNames())
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"unknown key", "window: 1s\n\nnope: 3\n", `config: test.yaml:3: key "nope": unknown key`},
		{"bad duration", "# c\nwindow: 5x\n", `config: test.yaml:2: key "window": bad value "5x"`},
		{"bad int", "store-max-spans: many\n", `config: test.yaml:1: key "store-max-spans": bad value "many"`},
		{"bad bool", "quiet: perhaps\n", `config: test.yaml:1: key "quiet": bad value "perhaps"`},
		{"duplicate through alias", "local-net: 10.0.0.0/8\nlocal_net: 10.1.0.0/16\n", `config: test.yaml:2: key "local_net": already set on line 1`},
		{"mapping for a scalar", "listen:\n  a: b\n", `config: test.yaml:1: key "listen": want a scalar or a list, got a mapping`},
		{"nested list", "local-net: [[a]]\n", `config: test.yaml:1: key "local-net": line 1: want a list of scalars`},
		{"not a mapping", "- a\n- b\n", `config: test.yaml:1: want a mapping of settings`},
		{"yaml syntax", "a: [\n", `config: test.yaml: yaml: line 1`},
		{"config is not a key", "config: other.yaml\n", `config: test.yaml:1: key "config": unknown key`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseWith(t, tt.yaml)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want prefix %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigValues(t *testing.T) {
	yaml := `
# the first format's keys still work
http_log_x_request_id: X-Request-ID, X-Trace
local_net: [10.231.7.0/24, "10.9.0.1"]
window: 2s
listen: 127.0.0.1:9999
service-name:
  10.231.7.3:8080: orders
  10.231.7.4: inventory
quiet: true
write: ""   # a capture-only key is accepted too (serve has it)
`
	cmd, err := parseWith(t, yaml, "--window", "3s", "--service-name", "10.0.0.1=cli")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, k := range []string{"x-request-id-headers", "local-net", "window", "listen", "service-name", "quiet", "retention"} {
		got[k] = cmd.Flags().Lookup(k).Value.String()
	}
	want := map[string]string{
		"x-request-id-headers": "[X-Request-ID,X-Trace]",
		"local-net":            "[10.231.7.0/24,10.9.0.1]",
		"window":               "3s", // the flag wins
		"listen":               "127.0.0.1:9999",
		"service-name":         "[10.0.0.1=cli]", // the flag wins
		"quiet":                "true",
		"retention":            "1h0m0s",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
	var o outputFlags
	o.xRequestID = []string{"X-Request-ID", " X-Trace"}
	cfg, err := o.engineConfig(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"X-Request-ID", "X-Trace"}, cfg.Parser.XRequestIDHeaders); diff != "" {
		t.Errorf("headers trimmed (-want +got):\n%s", diff)
	}
}

// TestConfigOtherCommandKey: a key of another command is ignored, so one
// file serves every command.
func TestConfigOtherCommandKey(t *testing.T) {
	cmd := newReplayCmd()
	if err := applyConfig(cmd.Flags(), "x.yaml", []byte("listen: 127.0.0.1:1\nwindow: 1s\n"), allFlagNames()); err != nil {
		t.Fatal(err)
	}
	if got := cmd.Flags().Lookup("window").Value.String(); got != "1s" {
		t.Errorf("window = %s", got)
	}
}

func TestConfigCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wt.yaml")
	if err := os.WriteFile(path, []byte("retention: 10m\nservice-name: [10.0.0.3:8080=orders]\nhttp_log_x_request_id: X-Request-ID, X-Trace\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "config", "--config", path, "--store-max-spans", "1000")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"retention: 10m0s\n",
		"store-max-spans: 1000\n",
		"service-name: ['10.0.0.3:8080=orders']\n",
		"x-request-id-headers: [X-Request-ID, X-Trace]\n",
		"listen: 127.0.0.1:16686\n",
		"window: 5s\n",
		"quiet: false\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config output lacks %q:\n%s", want, out)
		}
	}
	// The output is itself a valid config file, with the same result.
	again := filepath.Join(dir, "again.yaml")
	os.WriteFile(again, []byte(out), 0o644)
	out2, _, err := run(t, "config", "--config", again)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(out, out2); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// Errors name the file and line.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("retention: 10m\nretentoin: 5m\n"), 0o644)
	if _, _, err := run(t, "replay", "--config", bad, testdata("demo.pcap")); err == nil || !strings.Contains(err.Error(), bad+`:2: key "retentoin": unknown key`) {
		t.Errorf("replay with a bad config: %v", err)
	}
}

// TestReplayConfigFile: replay reads the request-id headers from the
// config file under the first format's key.
func TestReplayConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wt.yaml")
	os.WriteFile(path, []byte("http_log_x_request_id: X-Nope\nformat: jsonl\n"), 0o644)
	out, _, err := run(t, "replay", "-q", "--config", path, testdata("demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	spans := parseJSONL(t, out)
	// With the request-id header named X-Nope, X-Request-ID is not read:
	// no span carries it and none is linked by it (timing may still link
	// the hops of this one-request-at-a-time capture).
	if len(spans) != 9 {
		t.Errorf("%d spans, want 9", len(spans))
	}
	for _, s := range spans {
		if s.Links["x_request_id"] != "" || s.LinkReason == "x_request_id" {
			t.Errorf("%s: x_request_id %q, link reason %q; want the header ignored", s.Name, s.Links["x_request_id"], s.LinkReason)
		}
	}
}
