package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// buildPlugin builds testdata/plugins/NAME into dir (GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared) and returns the .wasm path.
func buildPlugin(t *testing.T, dir, name string) string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	out := filepath.Join(dir, name+".wasm")
	cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", out, "./testdata/plugins/"+name)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, b)
	}
	return out
}

// TestPluginFlags: --plugin and the config file's plugin key load an
// example plugin; its links and counters show in the output, with one
// worker or several. (protocols/plugin tests the plugins themselves.)
func TestPluginFlags(t *testing.T) {
	dir := t.TempDir()
	txn := buildPlugin(t, dir, "txnjson")

	out, _, err := run(t, "replay", "--format", "jsonl", testdata("plugin_txn.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, `"link_reason":"link_key"`); n != 0 {
		t.Errorf("without --plugin: %d link_key spans", n)
	}

	out, errOut, err := run(t, "replay", "--format", "jsonl", "--plugin", txn, "--plugin-timeout", "2s", testdata("plugin_txn.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	spans := parseJSONL(t, out)
	linked := 0
	for _, s := range spans {
		if s.LinkReason == "link_key" && s.Links["key_txn_serial"] != "" {
			linked++
		}
	}
	if len(spans) != 10 || linked != 5 {
		t.Errorf("--plugin txnjson: %d spans, %d linked by key_txn_serial; want 10 and 5", len(spans), linked)
	}
	if !strings.Contains(errOut, "plugin_txnjson_calls=20 ") || !strings.Contains(errOut, "plugin_txnjson_timeouts=0 ") {
		t.Errorf("stats line lacks the plugin's counters: %s", errOut)
	}

	cfg := filepath.Join(dir, "wiretrace.yaml")
	if err := os.WriteFile(cfg, []byte("plugin:\n  - "+txn+"\nplugin-timeout: 2s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// From the config file, with --workers: the plugin serves every worker.
	out, _, err = run(t, "replay", "--format", "jsonl", "--workers", "2", "--config", cfg, testdata("plugin_txn.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, `"link_reason":"link_key"`); n != 5 {
		t.Errorf("--workers 2: %d link_key spans, want 5", n)
	}

	if _, _, err := run(t, "replay", "--plugin", filepath.Join(dir, "missing.wasm"), testdata("plugin_txn.pcap")); err == nil || !strings.Contains(err.Error(), "missing.wasm") {
		t.Errorf("missing plugin: error %v", err)
	}
	if _, _, err := run(t, "replay", "--plugin", txn, "--plugin", txn, testdata("plugin_txn.pcap")); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Errorf("plugin loaded twice: error %v", err)
	}
}
