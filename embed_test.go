package wiretrace_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// appliance is a program outside the module that embeds the pipeline.
const appliance = `package main

import (
	"context"
	"log"
	"os"

	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate/jsonl"
)

func main() {
	src, err := capture.OpenFile(os.Args[1], nil)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	sink := jsonl.New(os.Stdout)
	p, err := wiretrace.New(nil, sink)
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Run(context.Background(), src); err != nil {
		log.Fatal(err)
	}
	if err := p.Close(); err != nil {
		log.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		log.Fatal(err)
	}
}
`

// TestEmbed builds a program in a module of its own that requires this one
// (through a replace directive), runs it on testdata/demo.pcap and checks
// that its JSONL output is the command's (wiretrace replay --format jsonl).
func TestEmbed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two programs; skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found in PATH")
	}
	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/appliance\n\ngo 1.25.0\n\nrequire github.com/wiretrace/wiretrace v0.0.0\n\nreplace github.com/wiretrace/wiretrace => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"go.mod": []byte(gomod), "go.sum": sum, "main.go": []byte(appliance)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	run := func(dir string, name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.Bytes())
		}
		return out
	}
	app := filepath.Join(dir, "appliance")
	run(dir, goBin, "build", "-o", app, ".")
	cli := filepath.Join(dir, "wiretrace")
	run(root, goBin, "build", "-o", cli, "./cmd/wiretrace")
	pcap := filepath.Join(root, "testdata", "demo.pcap")
	got := run(dir, app, pcap)
	want := run(dir, cli, "replay", "--quiet", "--format", "jsonl", pcap)
	if len(want) == 0 {
		t.Fatal("wiretrace replay wrote nothing")
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("embedded pipeline output differs from wiretrace replay --format jsonl (-cli +embedded):\n%s", d)
	}
}
