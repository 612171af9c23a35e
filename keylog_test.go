package wiretrace_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace"
)

// TestKeyLogFileGrows checks that a key log is re-read as it grows (a live
// capture while curl appends to SSLKEYLOGFILE), that a last line without
// its line end is read once the file stops growing, and that a rewritten
// (shorter) file is read from its start.
func TestKeyLogFileGrows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.log")
	r1, r2, r3 := strings.Repeat("01", 32), strings.Repeat("02", 32), strings.Repeat("03", 32)
	line := func(r string) string { return "CLIENT_RANDOM " + r + " " + strings.Repeat("ab", 48) }
	if err := os.WriteFile(path, []byte(line(r1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kl, err := wiretrace.OpenKeyLog(path)
	if err != nil {
		t.Fatal(err)
	}
	has := func(b byte) bool {
		_, ok := kl.Secrets(bytes.Repeat([]byte{b}, 32))
		return ok
	}
	if !has(1) || has(2) {
		t.Fatal("first session")
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(line(r2) + "\n" + line(r3)) // the last line not ended yet
	f.Close()
	if !has(2) {
		t.Error("appended session not read")
	}
	// The unended line is taken once the file has stopped growing.
	if !has(3) && !has(3) {
		t.Error("last line without a line end not read")
	}
	if err := os.WriteFile(path, []byte(line(strings.Repeat("04", 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !has(4) {
		t.Error("rewritten file not read from its start")
	}
	if st := kl.Stats(); st.Sessions != 4 || st.Invalid != 0 {
		t.Errorf("stats %+v", st)
	}
	if _, err := wiretrace.OpenKeyLog(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: no error")
	}
}
