package redis_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/redis"
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
// replies as commands, all complete.
func TestTestdata(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			got, err := run([]step{feed(up, string(fx.req)), feed(down, string(fx.resp)), end(up), end(down)})
			if err != nil {
				t.Fatal(err)
			}
			var reqs, resps int
			for _, m := range got {
				if m.Partial {
					t.Errorf("partial message %+v", m)
				}
				switch {
				case m.Kind == protocols.Request:
					reqs++
				case !m.Unsolicited:
					resps++
				}
			}
			if reqs == 0 || reqs != resps {
				t.Errorf("got %d commands and %d replies", reqs, resps)
			}
		})
	}
}

// maxWait is the most input the parser may leave unconsumed while asking
// for more: an inline command line just under its limit.
const maxWait = redis.MaxInline

// FuzzParser feeds both directions in pieces whose sizes, order and gaps
// come from ctl, and checks the Parser's invariants.
func FuzzParser(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.req, fx.resp, []byte{0})
		f.Add(fx.req, fx.resp, []byte{7, 3, 200, 1})
		f.Add(fx.req, fx.resp, []byte{13, 0x85, 40, 0x91})
	}
	f.Fuzz(func(t *testing.T, req, resp, ctl []byte) {
		p := redis.Protocol.New(nil)
		type stream struct {
			dir  protocols.Direction
			data []byte // not yet delivered
			tail []byte // delivered, not consumed
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
				p.Gap(s.dir, size+len(s.tail))
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
		// Sniff must not panic on any prefix.
		for _, b := range [][]byte{req, resp} {
			redis.Protocol.Sniff(b)
		}
	})
}

func checkMsg(t *testing.T, dir protocols.Direction, m *protocols.Message) {
	t.Helper()
	want := protocols.Request
	if dir == protocols.ToClient {
		want = protocols.Response
	}
	if m.Kind != want || m.Size < 0 || m.BodySize < 0 || (m.Unsolicited && dir != protocols.ToClient) {
		t.Fatalf("%v: bad message %+v", dir, m)
	}
	for _, a := range m.Attrs {
		if a.Key == "" {
			t.Fatalf("%v: empty attribute key in %+v", dir, m)
		}
	}
	if len(m.Links) > redis.MaxHandoffLinks {
		t.Fatalf("%v: %d links", dir, len(m.Links))
	}
	for _, l := range m.Links {
		kind, rest, _ := strings.Cut(l.Str, ":")
		if l.Key != protocols.LinkHandoffSend && l.Key != protocols.LinkHandoffRecv ||
			kind != "redis-stream" && kind != "redis-list" && kind != "redis-pubsub" ||
			strings.LastIndexByte(rest, ':') < 0 || len(l.Str) > 13+1+redis.MaxLinkName+1+64 {
			t.Fatalf("%v: bad link %+v", dir, l)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	fx := map[string]fixture{}
	for _, f := range loadFixtures(b) {
		fx[f.name] = f
	}
	big := "$65536\r\n" + strings.Repeat("x", 65536) + "\r\n"
	cases := []struct {
		name string
		data []byte
		dir  protocols.Direction
	}{
		{"get_small", []byte(getK), up},
		{"set_small", []byte(setKV), up},
		{"pipeline_commands", fx["pipeline"].req, up},
		{"bulk_reply", []byte(bulkR), down},
		{"bulk_64k", []byte(big), down},
		{"resp3_replies", []byte("%1\r\n$1\r\na\r\n*2\r\n,1.5\r\n#t\r\n"), down},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			var msg protocols.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			p := redis.New(nil) // one connection carrying b.N messages
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
