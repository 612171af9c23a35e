package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repoRoot is the module root, seen from cmd/wiretrace.
const repoRoot = "../.."

// lookTool returns the path of the first of names on PATH, or skips the
// test naming what is missing and how to get it.
func lookTool(t *testing.T, hint string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Skipf("%s not found (%s)", strings.Join(names, " or "), hint)
	return ""
}

// buildStatic builds a static wiretrace for linux/arch (arm: GOARM=7)
// into dir/linux-arch/wiretrace, as make dist does.
func buildStatic(t *testing.T, dir, arch string) string {
	t.Helper()
	goarch, goarm := arch, ""
	if arch == "armv7" {
		goarch, goarm = "arm", "7"
	}
	out := filepath.Join(dir, "linux-"+arch, "wiretrace")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w -X main.version=v0.0.0-test", "-o", out, "./cmd/wiretrace")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOARM="+goarm)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", arch, err, b)
	}
	return out
}

func runCmd(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// TestPackageDeb builds the amd64 .deb with packaging/nfpm.yaml, as make
// package does, extracts it and checks its files, modes, conffiles and
// maintainer scripts, that the unit passes systemd-analyze verify and that
// the shipped config parses.
func TestPackageDeb(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a package")
	}
	if runtime.GOOS != "linux" {
		t.Skip("packages are built on linux")
	}
	nfpm := os.Getenv("WIRETRACE_NFPM")
	if nfpm == "" {
		nfpm, _ = filepath.Abs(filepath.Join(repoRoot, "bin", "nfpm"))
	}
	if _, err := os.Stat(nfpm); err != nil {
		t.Skipf("nfpm not found at %s (run tools/nfpm/build.sh, or set WIRETRACE_NFPM)", nfpm)
	}
	lookTool(t, "Debian package dpkg", "dpkg-deb")

	dist := t.TempDir()
	bin := buildStatic(t, dist, "amd64")
	runCmd(t, bin, "man", filepath.Join(dist, "man"))
	pages, _ := filepath.Glob(filepath.Join(dist, "man", "*.1"))
	for _, p := range pages {
		runCmd(t, "gzip", "-9n", p)
	}
	cmd := exec.Command(nfpm, "package", "-f", "packaging/nfpm.yaml", "-p", "deb", "-t", dist+"/")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "WT_ARCH=amd64", "WT_VERSION=0.0.0+test", "WT_DIST="+dist)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nfpm: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("nfpm made %d .deb files, want 1", len(debs))
	}
	deb := debs[0]

	// Control fields, conffiles, scripts.
	if got := strings.TrimSpace(string(runCmd(t, "dpkg-deb", "-f", deb, "Package", "Architecture", "Version"))); got != "Package: wiretrace\nArchitecture: amd64\nVersion: 0.0.0+test" {
		t.Errorf("control fields:\n%s", got)
	}
	if got := strings.TrimSpace(string(runCmd(t, "dpkg-deb", "-I", deb, "conffiles"))); got != "/etc/wiretrace/wiretrace.yaml" {
		t.Errorf("conffiles = %q, want /etc/wiretrace/wiretrace.yaml", got)
	}
	if got := string(runCmd(t, "dpkg-deb", "-I", deb, "postinst")); !strings.Contains(got, "useradd --system") {
		t.Errorf("postinst does not create the system user:\n%s", got)
	}

	// Files and modes. dpkg-deb -x does not run maintainer scripts (dpkg
	// --root --force-all -i would, on the host: it forces script-chrootless).
	root := filepath.Join(dist, "root")
	runCmd(t, "dpkg-deb", "-x", deb, root)
	want := map[string]fs.FileMode{
		"/usr/bin/wiretrace":                       0o755,
		"/etc/wiretrace/wiretrace.yaml":            0o644,
		"/lib/systemd/system/wiretrace.service":    0o644,
		"/usr/share/man/man1/wiretrace.1.gz":       0o644,
		"/usr/share/man/man1/wiretrace-serve.1.gz": 0o644,
		"/usr/share/doc/wiretrace/copyright":       0o644,
	}
	for p, mode := range want {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if fi.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), mode)
		}
	}
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/wiretrace.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"ExecStart=/usr/bin/wiretrace serve -i any --config /etc/wiretrace/wiretrace.yaml",
		"User=wiretrace", "AmbientCapabilities=CAP_NET_RAW", "CapabilityBoundingSet=CAP_NET_RAW",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"StateDirectory=wiretrace", "Restart=on-failure",
	} {
		if !strings.Contains(string(unit), "\n"+line+"\n") {
			t.Errorf("unit lacks %q", line)
		}
	}

	// The installed binary runs, and reads the shipped config, commented
	// (the defaults) and with every example setting uncommented.
	ibin := filepath.Join(root, "usr/bin/wiretrace")
	conf := filepath.Join(root, "etc/wiretrace/wiretrace.yaml")
	if got := string(runCmd(t, ibin, "version")); !strings.Contains(got, "v0.0.0-test") || !strings.Contains(got, "ebpf: no, wasm: yes") {
		t.Errorf("version:\n%s", got)
	}
	runCmd(t, ibin, "config", "--config", conf)
	src, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	var uncommented []string
	for _, l := range strings.Split(string(src), "\n") {
		if len(l) > 1 && l[0] == '#' && l[1] >= 'a' && l[1] <= 'z' && strings.Contains(l, ":") {
			l = l[1:]
		}
		uncommented = append(uncommented, l)
	}
	conf2 := filepath.Join(dist, "uncommented.yaml")
	if err := os.WriteFile(conf2, []byte(strings.Join(uncommented, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd(t, ibin, "config", "--config", conf2)

	// systemd-analyze verify checks ExecStart exists: point it at the
	// extracted binary. It reports problems (unknown keys, bad values) on
	// stderr with exit status 0, so any output fails.
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not found (Debian package systemd): unit not verified")
		return
	}
	udir := filepath.Join(dist, "unit")
	if err := os.MkdirAll(udir, 0o755); err != nil {
		t.Fatal(err)
	}
	u := filepath.Join(udir, "wiretrace.service")
	if err := os.WriteFile(u, bytes.ReplaceAll(unit, []byte("/usr/bin/wiretrace"), []byte(ibin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", u).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestCrossArchQemu runs the arm64 and armv7 binaries under qemu-user on
// the demo capture and compares their jsonl with the native build's, byte
// for byte.
func TestCrossArchQemu(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cross-builds")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("runs on linux/amd64")
	}
	qemu := map[string]string{
		"arm64": lookTool(t, "Debian package qemu-user-static or qemu-user", "qemu-aarch64-static", "qemu-aarch64"),
		"armv7": lookTool(t, "Debian package qemu-user-static or qemu-user", "qemu-arm-static", "qemu-arm"),
	}
	dist := t.TempDir()
	pcap, err := filepath.Abs("../../testdata/demo.pcap")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"replay", "--format", "jsonl", "-q", pcap}
	want := runCmd(t, buildStatic(t, dist, "amd64"), args...)
	if len(want) == 0 {
		t.Fatal("amd64: no output")
	}
	for _, arch := range []string{"arm64", "armv7"} {
		bin := buildStatic(t, dist, arch)
		got := runCmd(t, qemu[arch], append([]string{bin}, args...)...)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: jsonl differs from amd64's (%d vs %d bytes)\n%s", arch, len(got), len(want), got)
		}
	}
}
