package filter_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
)

var fuzzLinks = []capture.LinkType{capture.LinkTypeEthernet, capture.LinkTypeLinuxSLL, capture.LinkTypeLinuxSLL2,
	capture.LinkTypeRaw, capture.LinkTypeIPv4, capture.LinkTypeIPv6, capture.LinkTypeNull, capture.LinkTypeLoop}

func FuzzCompile(f *testing.F) {
	for i, expr := range diffExprs {
		f.Add(expr, uint8(i))
	}
	f.Fuzz(func(t *testing.T, expr string, l uint8) {
		link := fuzzLinks[int(l)%len(fuzzLinks)]
		prog, err := filter.Compile(expr, link, 0)
		if err != nil {
			var fe *filter.Error
			if !errors.As(err, &fe) || fe.Pos < 0 || fe.Pos > len(expr) || !strings.HasPrefix(expr[fe.Pos:], fe.Token) {
				t.Fatalf("%q: error %#v does not point at a token", expr, err)
			}
			return
		}
		if len(prog) > 4096 {
			t.Fatalf("%q: %d instructions", expr, len(prog))
		}
		if _, err := bpf.Assemble(prog); err != nil {
			t.Fatalf("%q: Assemble: %v", expr, err)
		}
		fl, err := filter.New(expr, link)
		if err != nil {
			t.Fatalf("%q: New: %v after Compile succeeded", expr, err)
		}
		fl.Match([]byte(expr), len(expr)+10)
		if link == capture.LinkTypeEthernet || link == capture.LinkTypeLinuxSLL2 {
			// The kernel variant: exact or ErrNotExact, never longer than
			// the kernel takes.
			kp, err := fl.Kernel(link, 0)
			if err != nil {
				if !errors.Is(err, filter.ErrNotExact) && !errors.Is(err, filter.ErrTooLong) {
					t.Fatalf("%q: Kernel: %v", expr, err)
				}
				return
			}
			if len(kp.Program) > 4096 || len(kp.Program) < 3 {
				t.Fatalf("%q: kernel program of %d instructions", expr, len(kp.Program))
			}
		}
	})
}

func FuzzParseDdd(f *testing.F) {
	for _, expr := range diffExprs[:20] {
		prog, err := filter.Compile(expr, capture.LinkTypeEthernet, 0)
		if err != nil {
			f.Fatal(err)
		}
		raw, err := bpf.Assemble(prog)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(filter.Ddd(raw))
	}
	f.Add("1\n6 0 0 0\n")
	f.Fuzz(func(t *testing.T, text string) {
		raw, err := filter.ParseDdd(text)
		if err != nil {
			if !errors.Is(err, filter.ErrSyntax) {
				t.Fatalf("error %v is not ErrSyntax", err)
			}
			return
		}
		again, err := filter.ParseDdd(filter.Ddd(raw))
		if err != nil || len(again) != len(raw) {
			t.Fatalf("round trip: %v, %d vs %d instructions", err, len(again), len(raw))
		}
		for i := range raw {
			if raw[i] != again[i] {
				t.Fatalf("round trip changed instruction %d: %v vs %v", i, raw[i], again[i])
			}
		}
		_ = filter.DisassembleRaw(raw)
	})
}
