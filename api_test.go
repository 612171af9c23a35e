package wiretrace_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/api from the current exported API")

// apiDir holds one file per public package: the output of go doc -all.
const apiDir = "testdata/api"

// publicPackages lists the module's packages an embedder may import: not
// internal, not main.
func publicPackages(t *testing.T, goBin string) []string {
	t.Helper()
	out, err := exec.Command(goBin, "list", "-f", "{{.ImportPath}} {{.Name}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, name, _ := strings.Cut(line, " ")
		if name == "main" || strings.Contains(path+"/", "/internal/") {
			continue
		}
		pkgs = append(pkgs, path)
	}
	sort.Strings(pkgs)
	return pkgs
}

// apiFile names the record of an import path: the path inside the module
// with slashes as underscores; the root package is wiretrace.txt.
func apiFile(path string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(path, "github.com/wiretrace/wiretrace"), "/")
	if rel == "" {
		rel = "wiretrace"
	}
	return strings.ReplaceAll(rel, "/", "_") + ".txt"
}

// TestAPI fails when the exported API of a public package differs from its
// record in testdata/api; go test -run TestAPI -update (make api) rewrites
// the records, whose diff then shows the API change for review.
func TestAPI(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found in PATH")
	}
	pkgs := publicPackages(t, goBin)
	docs := make([][]byte, len(pkgs))
	errs := make([]error, len(pkgs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, pkg := range pkgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			cmd := exec.Command(goBin, "doc", "-all", pkg)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			docs[i], errs[i] = cmd.Output()
			if errs[i] != nil {
				errs[i] = &docError{pkg, errs[i], stderr.String()}
			}
		}()
	}
	wg.Wait()
	want := map[string]bool{}
	for i, pkg := range pkgs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		name := apiFile(pkg)
		want[name] = true
		file := filepath.Join(apiDir, name)
		if *update {
			if err := os.MkdirAll(apiDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, docs[i], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%s: no API record (%v); run make api", pkg, err)
			continue
		}
		if d := cmp.Diff(string(old), string(docs[i])); d != "" {
			t.Errorf("%s: exported API differs from %s (-recorded +now); review and run make api:\n%s", pkg, file, d)
		}
	}
	// A record whose package is gone.
	ents, _ := os.ReadDir(apiDir)
	for _, e := range ents {
		if !want[e.Name()] {
			if *update {
				os.Remove(filepath.Join(apiDir, e.Name()))
				continue
			}
			t.Errorf("%s: record of a package that is gone or no longer public; run make api", filepath.Join(apiDir, e.Name()))
		}
	}
}

type docError struct {
	pkg    string
	err    error
	stderr string
}

func (e *docError) Error() string {
	return "go doc -all " + e.pkg + ": " + e.err.Error() + ": " + e.stderr
}
