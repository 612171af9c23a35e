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

// needNfpm returns the nfpm binary tools/nfpm/build.sh makes (or
// $WIRETRACE_NFPM), or skips.
func needNfpm(t *testing.T) string {
	t.Helper()
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
	return nfpm
}

// prepareDist builds what make dist leaves for make package in a new
// directory: the static binaries of arches and the gzipped man pages.
func prepareDist(t *testing.T, arches ...string) string {
	t.Helper()
	dist := t.TempDir()
	for _, a := range arches {
		buildStatic(t, dist, a)
	}
	runCmd(t, filepath.Join(dist, "linux-"+arches[0], "wiretrace"), "man", filepath.Join(dist, "man"))
	pages, _ := filepath.Glob(filepath.Join(dist, "man", "*.1"))
	for _, p := range pages {
		runCmd(t, "gzip", "-9n", p)
	}
	return dist
}

// nfpmPackage makes one package (format "deb" or "rpm") of dist's arch
// binary with packaging/nfpm.yaml, as make package does, and returns its
// path.
func nfpmPackage(t *testing.T, nfpm, dist, format, arch, version string) string {
	t.Helper()
	out := filepath.Join(dist, format+"-"+arch+"-"+version)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nfpm, "package", "-f", "packaging/nfpm.yaml", "-p", format, "-t", out+"/")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "WT_ARCH="+arch, "WT_VERSION="+version, "WT_DIST="+dist)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nfpm %s %s %s: %v\n%s", format, arch, version, err, b)
	}
	pkgs, _ := filepath.Glob(filepath.Join(out, "*."+format))
	if len(pkgs) != 1 {
		t.Fatalf("nfpm made %d .%s files for %s, want 1", len(pkgs), format, arch)
	}
	return pkgs[0]
}

// TestPackageDeb builds the amd64 .deb with packaging/nfpm.yaml, as make
// package does, extracts it and checks its files, modes, conffiles and
// maintainer scripts, that the unit passes systemd-analyze verify and that
// the shipped config parses.
func TestPackageDeb(t *testing.T) {
	nfpm := needNfpm(t)
	lookTool(t, "Debian package dpkg", "dpkg-deb")
	dist := prepareDist(t, "amd64")
	deb := nfpmPackage(t, nfpm, dist, "deb", "amd64", "0.0.0+test")

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
	if got := string(runCmd(t, ibin, "version")); !strings.Contains(got, "v0.0.0-test") || !strings.Contains(got, "ebpf: yes, wasm: no") {
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

// TestPackageRpm builds the .rpm packages with packaging/nfpm.yaml, as make
// package does, checks their metadata, files, modes, config flags and
// scriptlets with rpm -qp, installs the amd64 one into a scratch rpm
// database and root (rpm --root, scriptlets off: they would run on the
// host), verifies it with rpm -V, and upgrades it to a newer version with
// the config edited: the edit is kept (config(noreplace)).
func TestPackageRpm(t *testing.T) {
	nfpm := needNfpm(t)
	rpm := lookTool(t, "Debian package rpm", "rpm")
	dist := prepareDist(t, "amd64", "arm64")
	amd64 := nfpmPackage(t, nfpm, dist, "rpm", "amd64", "0.0.0+test")
	arm64 := nfpmPackage(t, nfpm, dist, "rpm", "arm64", "0.0.0+test")
	newer := nfpmPackage(t, nfpm, dist, "rpm", "amd64", "0.0.1+test")

	query := func(file, format string) string {
		t.Helper()
		return strings.TrimSpace(string(runCmd(t, rpm, "-qp", "--qf", format, file)))
	}
	if got := query(amd64, "%{NAME} %{ARCH} %{VERSION}"); got != "wiretrace x86_64 0.0.0+test" {
		t.Errorf("amd64 package: %q", got)
	}
	if got := query(arm64, "%{NAME} %{ARCH} %{VERSION}"); got != "wiretrace aarch64 0.0.0+test" {
		t.Errorf("arm64 package: %q", got)
	}
	files := map[string]string{}
	for _, l := range strings.Split(query(amd64, "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME} %{FILEFLAGS:fflags}\n]"), "\n") {
		if f := strings.SplitN(l, " ", 2); len(f) == 2 {
			files[f[0]] = strings.TrimSpace(f[1])
		}
	}
	for path, want := range map[string]string{
		"/usr/bin/wiretrace":                       "-rwxr-xr-x root",
		"/etc/wiretrace/wiretrace.yaml":            "-rw-r--r-- root cn", // config(noreplace)
		"/lib/systemd/system/wiretrace.service":    "-rw-r--r-- root",
		"/usr/share/man/man1/wiretrace-serve.1.gz": "-rw-r--r-- root",
		"/usr/share/doc/wiretrace/copyright":       "-rw-r--r-- root",
	} {
		if got := files[path]; got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}
	scripts := string(runCmd(t, rpm, "-qp", "--scripts", amd64))
	for _, want := range []string{"postinstall scriptlet", "useradd --system", "preuninstall scriptlet", "remove|purge|0)"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("scriptlets lack %q:\n%s", want, scripts)
		}
	}

	// Install, verify, edit the config, upgrade.
	root := filepath.Join(dist, "root")
	runCmd(t, rpm, "--root", root, "--initdb")
	runCmd(t, rpm, "--root", root, "-i", "--nodeps", "--noscripts", amd64)
	runCmd(t, rpm, "--root", root, "-V", "wiretrace") // exit status 0: every file as packaged
	if got := string(runCmd(t, filepath.Join(root, "usr/bin/wiretrace"), "version")); !strings.Contains(got, "v0.0.0-test") {
		t.Errorf("installed binary's version:\n%s", got)
	}
	conf := filepath.Join(root, "etc/wiretrace/wiretrace.yaml")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("trace-window: 7s\n")
	f.Close()
	runCmd(t, rpm, "--root", root, "-U", "--nodeps", "--noscripts", newer)
	if got := strings.TrimSpace(string(runCmd(t, rpm, "--root", root, "-q", "--qf", "%{VERSION}", "wiretrace"))); got != "0.0.1+test" {
		t.Errorf("after the upgrade, version %q", got)
	}
	if b, err := os.ReadFile(conf); err != nil || !strings.HasSuffix(string(b), "trace-window: 7s\n") {
		t.Errorf("the edited config was not kept over the upgrade (err %v):\n%s", err, b)
	}
}

// debianRoot returns a minimal Debian root made by debootstrap (bookworm,
// minbase), kept in bin/debroot between runs, or skips. Making it needs
// root, debootstrap and the Debian mirror apt uses; about a minute.
func debianRoot(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: debootstrap and chroot")
	}
	root, _ := filepath.Abs(filepath.Join(repoRoot, "bin", "debroot"))
	if _, err := os.Stat(filepath.Join(root, "usr/bin/dpkg")); err == nil {
		return root
	}
	debootstrap := lookTool(t, "Debian package debootstrap", "debootstrap")
	mirror := os.Getenv("WIRETRACE_DEBIAN_MIRROR")
	if mirror == "" {
		mirror = "http://deb.debian.org/debian"
	}
	tmp := root + ".tmp"
	os.RemoveAll(tmp)
	out, err := exec.Command(debootstrap, "--variant=minbase", "bookworm", tmp, mirror).CombinedOutput()
	if err != nil {
		os.RemoveAll(tmp)
		t.Fatalf("debootstrap bookworm from %s (set WIRETRACE_DEBIAN_MIRROR for another mirror): %v\n%s", mirror, err, out)
	}
	if err := os.Rename(tmp, root); err != nil {
		t.Fatal(err)
	}
	return root
}

// TestPackageDebInstall installs the .deb into a Debian root made with
// debootstrap, with dpkg in a chroot, so that the maintainer scripts run
// as on a real host: the system user is created, files and conffile are
// where they belong, an upgrade keeps an edited conffile, removal keeps it
// and purge removes it.
func TestPackageDebInstall(t *testing.T) {
	nfpm := needNfpm(t)
	pristine := debianRoot(t)
	dist := prepareDist(t, "amd64")
	old := nfpmPackage(t, nfpm, dist, "deb", "amd64", "0.0.0+test")
	newer := nfpmPackage(t, nfpm, dist, "deb", "amd64", "0.0.1+test")

	// Work on a copy: the cached root stays as debootstrap left it.
	root := filepath.Join(t.TempDir(), "root")
	runCmd(t, "cp", "-a", pristine, root)
	for i, p := range []string{old, newer} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "tmp", []string{"old.deb", "new.deb"}[i]), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	chroot := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(string(runCmd(t, "chroot", append([]string{root}, args...)...)))
	}
	chroot("dpkg", "-i", "/tmp/old.deb")
	if got := chroot("dpkg-query", "-W", "-f", "${Status} ${Version}", "wiretrace"); got != "install ok installed 0.0.0+test" {
		t.Errorf("dpkg status: %q", got)
	}
	if got := chroot("getent", "passwd", "wiretrace"); !strings.HasPrefix(got, "wiretrace:x:") || !strings.HasSuffix(got, ":/var/lib/wiretrace:/usr/sbin/nologin") {
		t.Errorf("system user: %q", got)
	}
	if got := chroot("dpkg-query", "-W", "-f", "${Conffiles}", "wiretrace"); !strings.Contains(got, "/etc/wiretrace/wiretrace.yaml ") {
		t.Errorf("conffiles: %q", got)
	}
	if got := chroot("/usr/bin/wiretrace", "version"); !strings.Contains(got, "v0.0.0-test") {
		t.Errorf("version in the chroot:\n%s", got)
	}
	chroot("/usr/bin/wiretrace", "config", "--config", "/etc/wiretrace/wiretrace.yaml")

	conf := filepath.Join(root, "etc/wiretrace/wiretrace.yaml")
	f, err := os.OpenFile(conf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("trace-window: 7s\n")
	f.Close()
	chroot("dpkg", "-i", "/tmp/new.deb") // the conffile did not change in the package: no prompt
	if got := chroot("dpkg-query", "-W", "-f", "${Version}", "wiretrace"); got != "0.0.1+test" {
		t.Errorf("after the upgrade, version %q", got)
	}
	if b, _ := os.ReadFile(conf); !strings.HasSuffix(string(b), "trace-window: 7s\n") {
		t.Errorf("the upgrade did not keep the edited conffile:\n%s", b)
	}

	chroot("dpkg", "-r", "wiretrace")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/wiretrace")); !os.IsNotExist(err) {
		t.Errorf("binary after dpkg -r: %v", err)
	}
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("conffile after dpkg -r (kept until purge): %v", err)
	}
	chroot("dpkg", "-P", "wiretrace")
	if _, err := os.Stat(conf); !os.IsNotExist(err) {
		t.Errorf("conffile after dpkg -P: %v", err)
	}
}
