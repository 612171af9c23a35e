package capture_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/wiretrace/wiretrace/capture"
)

// fuzzMaxRecord keeps the fuzzer's allocations small: a record longer than
// this must be an ErrFormat error, not a buffer of the declared size.
const fuzzMaxRecord = 4096

// FuzzReader feeds arbitrary bytes to NewReader and reads every packet.
// Invariants: no panic; packets are numbered 1, 2, ...; len(Data) is at most
// MaxRecord and at most Length; the reader ends with io.EOF or a
// *capture.Error wrapping ErrTruncated or ErrFormat, and then says io.EOF.
func FuzzReader(f *testing.F) {
	recs := []rec{{sec: 1, frac: 2, data: frame(60, 1)}, {sec: 3, frac: 4, data: frame(20, 2), orig: 1500}}
	ng := (&ngFile{}).shb(le).idb(1, 0, 0, 0).idb(101, 64, 0x80|20, 5).
		epb(0, 1, frame(30, 1), 0, 1).isb(0).epb(1, 1<<40, frame(70, 2), 0, 2).
		shb(be).idb(113, 0, 9, 0).epb(0, 7, frame(10, 3), 0, 0).spb(frame(12, 4), 12).b
	for _, seed := range [][]byte{
		nil,
		[]byte("not a capture"),
		pcapFile(le, false, 1, recs...),
		pcapFile(be, true, 101, recs...),
		gz(f, pcapFile(le, true, 1, recs...)),
		ng,
		ng[:len(ng)-7],
		gz(f, ng),
	} {
		f.Add(seed)
	}
	// Small files of the public corpus, when present.
	if repoRoot, err := filepath.Abs(".."); err == nil {
		dir := filepath.Join(repoRoot, "..", "shared", "testdata")
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if info, err := d.Info(); err != nil || info.Size() > 2048 {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil {
				f.Add(b)
			}
			return nil
		})
	}

	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := capture.NewReader(bytes.NewReader(in), "fuzz", &capture.FileConfig{MaxRecord: fuzzMaxRecord})
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		defer r.Close()
		var p capture.Packet
		// A record takes at least 12 bytes of the (possibly decompressed)
		// input; gzip expands at most ~1032x.
		limit := int64(len(in))*1100 + 1
		for n := int64(1); ; n++ {
			err := r.ReadPacket(&p)
			if err == io.EOF {
				return
			}
			if err != nil {
				checkFuzzError(t, err)
				if err := r.ReadPacket(&p); err != io.EOF {
					t.Fatalf("ReadPacket after error = %v, want io.EOF", err)
				}
				return
			}
			if p.Number != n || len(p.Data) > fuzzMaxRecord || len(p.Data) > p.Length || p.Capture != "fuzz" {
				t.Fatalf("packet %d: Number %d, %d bytes of %d, Capture %q", n, p.Number, len(p.Data), p.Length, p.Capture)
			}
			if n > limit {
				t.Fatalf("more than %d packets from %d bytes", limit, len(in))
			}
		}
	})
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	var ce *capture.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *capture.Error", err, err)
	}
	if !errors.Is(err, capture.ErrTruncated) && !errors.Is(err, capture.ErrFormat) {
		t.Fatalf("error %v wraps neither ErrTruncated nor ErrFormat", err)
	}
}
