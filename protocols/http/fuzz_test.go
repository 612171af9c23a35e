package http_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/http"
)

// fixture is one connection from testdata: both directions' bytes.
type fixture struct {
	name      string
	req, resp []byte
}

func loadFixtures(tb testing.TB) []fixture {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.request.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no fixtures in testdata")
	}
	var out []fixture
	for _, p := range paths {
		req, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		resp, err := os.ReadFile(strings.TrimSuffix(p, ".request.txt") + ".response.txt")
		if err != nil {
			tb.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".request.txt")
		out = append(out, fixture{name, req, resp})
	}
	return out
}

// TestTestdata checks that each fixture parses without error into as many
// responses as requests, all complete.
func TestTestdata(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			got, err := run(nil, []step{feed(up, string(fx.req)), feed(down, string(fx.resp)), end(up), end(down)})
			if err != nil {
				t.Fatal(err)
			}
			var reqs, resps int
			for _, m := range got {
				if m.Partial {
					t.Errorf("partial message %+v", m)
				}
				if m.Kind == protocols.Request {
					reqs++
				} else {
					resps++
				}
			}
			if reqs == 0 || reqs != resps {
				t.Errorf("got %d requests and %d responses", reqs, resps)
			}
		})
	}
}

// fuzzLimit is the header limit used while fuzzing: small, so the bound on
// buffered input is reached quickly.
const fuzzLimit = 512

// maxWait is the most input a parser may leave unconsumed while asking for
// more: a header block, trailer or chunk-size line just under its limit.
const maxWait = max(fuzzLimit, http.MaxChunkLine) + 2

// FuzzParser feeds both directions in pieces whose sizes, order and gaps
// come from ctl, and checks the Parser's invariants.
func FuzzParser(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.req, fx.resp, []byte{0})
		f.Add(fx.req, fx.resp, []byte{7, 3, 200, 1})
		f.Add(fx.req, fx.resp, []byte{13, 0x85, 40, 0x91})
	}
	f.Fuzz(func(t *testing.T, req, resp, ctl []byte) {
		p := http.Protocol.New(&protocols.Config{MaxHeaderBytes: fuzzLimit})
		type stream struct {
			dir  protocols.Direction
			data []byte // not yet delivered
			tail []byte // delivered, not consumed
			dead bool
		}
		streams := [2]*stream{{dir: up, data: req}, {dir: down, data: resp}}
		var msg protocols.Message
		parse := func(s *stream) {
			for !s.dead {
				msg.Reset()
				n, done, err := p.Parse(s.dir, s.tail, &msg)
				if n < 0 || n > len(s.tail) {
					t.Fatalf("%v: n = %d, len = %d", s.dir, n, len(s.tail))
				}
				if err != nil {
					if done {
						t.Fatalf("%v: done with error %v", s.dir, err)
					}
					var pe *protocols.ParseError
					if !errors.As(err, &pe) {
						t.Fatalf("%v: error %T is not a *protocols.ParseError", s.dir, err)
					}
					s.dead = true
					return
				}
				s.tail = s.tail[n:]
				if done {
					checkMsg(t, s.dir, &msg)
				}
				if n == 0 && !done {
					if len(s.tail) > maxWait {
						t.Fatalf("%v: waiting with %d bytes buffered", s.dir, len(s.tail))
					}
					return
				}
			}
		}
		for k := 0; len(streams[0].data) > 0 || len(streams[1].data) > 0; k++ {
			c := byte(k)
			if len(ctl) > 0 {
				c = ctl[k%len(ctl)]
			}
			s := streams[c>>7]
			if len(s.data) == 0 {
				s = streams[1-c>>7]
			}
			size := min(int(c&0x3f)+1, len(s.data))
			if c&0x40 != 0 && k%3 == 0 && !s.dead {
				// Lose the piece instead of delivering it, offering what
				// was left unconsumed to Salvage first (as the driver
				// does) on some gaps.
				lost := size + len(s.tail)
				if c&0x20 != 0 && len(s.tail) > 0 {
					msg.Reset()
					if p.(protocols.Salvager).Salvage(s.dir, s.tail, &msg) {
						checkMsg(t, s.dir, &msg)
						if !msg.Partial || msg.Size > len(s.tail) {
							t.Fatalf("%v: salvaged %+v from %d bytes", s.dir, msg, len(s.tail))
						}
						lost = size
					}
				}
				p.Gap(s.dir, lost)
				s.tail = nil
			} else {
				s.tail = append(s.tail, s.data[:size]...)
				parse(s)
			}
			s.data = s.data[size:]
		}
		for _, s := range streams {
			for range 64 {
				msg.Reset()
				if !p.End(s.dir, &msg) {
					break
				}
				checkMsg(t, s.dir, &msg)
			}
			msg.Reset()
			if p.End(s.dir, &msg) {
				t.Fatalf("%v: End still returns messages after 64 calls", s.dir)
			}
		}
	})
}

func checkMsg(t *testing.T, dir protocols.Direction, m *protocols.Message) {
	t.Helper()
	want := protocols.Request
	if dir == protocols.ToClient {
		want = protocols.Response
	}
	if m.Kind != want || m.Size < 0 || m.BodySize < 0 {
		t.Fatalf("%v: bad message %+v", dir, m)
	}
}

func BenchmarkParse(b *testing.B) {
	fx := map[string]fixture{}
	for _, f := range loadFixtures(b) {
		fx[f.name] = f
	}
	cases := []struct {
		name string
		data []byte
		dir  protocols.Direction
	}{
		{"get_small", []byte(getA), up},
		{"chunked", fx["chunked"].resp, down},
		{"pipelined", fx["pipelined"].req, up},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			var msg protocols.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			p := http.New(nil) // one connection carrying b.N messages
			for range b.N {
				data := bc.data
				for len(data) > 0 {
					msg.Reset()
					n, done, err := p.Parse(bc.dir, data, &msg)
					if err != nil || (n == 0 && !done) {
						b.Fatalf("n=%d done=%v err=%v", n, done, err)
					}
					data = data[n:]
				}
			}
		})
	}
}
