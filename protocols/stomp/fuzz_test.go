package stomp_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/stomp"
)

// fixture is one connection from testdata: both directions' bytes.
type fixture struct {
	name      string
	req, resp []byte
}

func loadFixtures(tb testing.TB) []fixture {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.request.bin"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixtures in testdata: %v", err)
	}
	var out []fixture
	for _, p := range paths {
		req, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		resp, err := os.ReadFile(strings.TrimSuffix(p, ".request.bin") + ".response.bin")
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, fixture{strings.TrimSuffix(filepath.Base(p), ".request.bin"), req, resp})
	}
	return out
}

// TestTestdata parses each recorded connection: no error, nothing
// partial, every request answered unless NoResponse.
func TestTestdata(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			got, err := run([]step{feed(up, string(fx.req)), feed(down, string(fx.resp)), end(up), end(down)}, false)
			if err != nil {
				t.Fatal(err)
			}
			var reqs, resps int
			for _, m := range got {
				if m.Partial {
					t.Errorf("partial message %s", m.Name)
				}
				switch {
				case m.Kind == protocols.Request && !m.NoResponse:
					reqs++
				case m.Kind == protocols.Response && !m.Unsolicited:
					resps++
				}
			}
			// The directions are fed one after the other, so a client's
			// close-ok that answers a server close is read before that
			// close and is one response more.
			if reqs == 0 || resps < reqs || resps > reqs+1 {
				t.Errorf("%d requests awaiting a response, %d responses", reqs, resps)
			}
		})
	}
}

// FuzzParser feeds both directions in pieces whose sizes, order and gaps
// come from ctl, and checks the Parser's invariants.
func FuzzParser(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.req, fx.resp, []byte{0})
		f.Add(fx.req, fx.resp, []byte{7, 3, 200, 1})
		f.Add(fx.req, fx.resp, []byte{13, 0x85, 40, 0x91})
	}
	f.Add([]byte(connect+fr("SEND", "abc", "destination:/q", "content-length:3", "traceparent:"+traceparent)), []byte(connected+fr("MESSAGE", "abc", "destination:/q")), []byte{5, 0x83, 9})
	f.Fuzz(func(t *testing.T, req, resp, ctl []byte) {
		p := stomp.New(nil)
		type stream struct {
			dir  protocols.Direction
			data []byte
			tail []byte
			dead bool
		}
		streams := [2]*stream{{dir: up, data: req}, {dir: down, data: resp}}
		var msg protocols.Message
		parse := func(s *stream) {
			for guard := 0; !s.dead; guard++ {
				if guard > 1<<16 {
					t.Fatalf("%v: no progress", s.dir)
				}
				msg.Reset()
				n, done, err := p.Parse(s.dir, s.tail, &msg)
				if n < 0 || n > len(s.tail) {
					t.Fatalf("%v: n = %d, len = %d", s.dir, n, len(s.tail))
				}
				if err != nil {
					var pe *protocols.ParseError
					if done || !errors.As(err, &pe) {
						t.Fatalf("%v: done %v with error %v (%T)", s.dir, done, err, err)
					}
					s.dead = true
					return
				}
				s.tail = s.tail[n:]
				if n == 0 && !done {
					return
				}
				if done && msg.Kind == protocols.KindUnknown {
					t.Fatalf("%v: message without a kind", s.dir)
				}
			}
		}
		i := 0
		for step := 0; step < 1<<12; step++ {
			if len(streams[0].data) == 0 && len(streams[1].data) == 0 {
				break
			}
			c := byte(1)
			if i < len(ctl) {
				c = ctl[i]
				i++
			}
			s := streams[c&1]
			if len(s.data) == 0 {
				s = streams[(c&1)^1]
			}
			n := min(int(c>>1)+1, len(s.data))
			if c&0x80 != 0 && c&0x40 != 0 {
				p.Gap(s.dir, n+len(s.tail))
				s.tail, s.data = nil, s.data[n:]
				continue
			}
			s.tail = append(s.tail, s.data[:n]...)
			s.data = s.data[n:]
			parse(s)
			if len(s.tail) > 70000 {
				t.Fatalf("%v: %d bytes left unconsumed", s.dir, len(s.tail))
			}
		}
		for _, s := range streams {
			for k := 0; k < 200; k++ {
				msg.Reset()
				if !p.End(s.dir, &msg) {
					break
				}
			}
		}
	})
}

// BenchmarkParser parses the recorded connections.
func BenchmarkParser(b *testing.B) {
	for _, fx := range loadFixtures(b) {
		b.Run(fx.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(fx.req) + len(fx.resp)))
			var m protocols.Message
			for b.Loop() {
				p := stomp.New(nil)
				for _, d := range []struct {
					dir  protocols.Direction
					data []byte
				}{{up, fx.req}, {down, fx.resp}} {
					buf := d.data
					for len(buf) > 0 {
						m.Reset()
						n, done, err := p.Parse(d.dir, buf, &m)
						if err != nil {
							b.Fatal(err)
						}
						buf = buf[n:]
						if n == 0 && !done {
							break
						}
					}
				}
			}
		})
	}
}
