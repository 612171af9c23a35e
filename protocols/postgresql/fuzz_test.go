package postgresql_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/postgresql"
)

var update = flag.Bool("update", false, "rewrite testdata fixtures from their builders")

// fixture is one connection: both directions' bytes.
type fixture struct {
	name      string
	req, resp []byte
}

// fixtureSources builds the testdata fixtures (see testdata/README.md).
func fixtureSources() []fixture {
	f := func(name string, req, resp string) fixture { return fixture{name, []byte(req), []byte(resp)} }
	sel := "SELECT id, name FROM users WHERE id = 1"
	return []fixture{
		f("login_simple",
			sslRequest()+startup("user", "alice", "database", "shop")+password("md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")+
				query(sel)+query("selec 1")+terminate(),
			"N"+authMD5()+authOK()+paramStatus("server_version", "16.2")+keyData()+ready()+
				rowDesc()+dataRow("1")+complete("SELECT 1")+ready()+errResp("42601")+ready()),
		f("extended_pipeline",
			parse("", sel)+bind("", "")+describe('P', "")+execute("")+sync()+
				parse("s1", "update t set n=$1")+bind("", "s1")+execute("")+sync()+
				bind("", "s1")+execute("")+parse("", "bad")+bind("", "")+execute("")+sync(),
			parseComplete()+bindComplete()+rowDesc()+dataRow("1")+complete("SELECT 1")+ready()+
				parseComplete()+bindComplete()+complete("UPDATE 3")+ready()+
				bindComplete()+complete("UPDATE 1")+errResp("42601")+ready()),
		f("copy",
			query("COPY t FROM STDIN")+msg('d', "1\tx\n")+msg('d', "2\ty\n")+msg('c')+query("COPY t TO STDOUT"),
			msg('G', "\x00", i16(2), i16(0), i16(0))+complete("COPY 2")+ready()+
				msg('H', "\x00", i16(2), i16(0), i16(0))+msg('d', "1\tx\n")+msg('c')+complete("COPY 1")+ready()),
	}
}

func loadFixtures(tb testing.TB) []fixture {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.request.bin"))
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
		resp, err := os.ReadFile(strings.TrimSuffix(p, ".request.bin") + ".response.bin")
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, fixture{strings.TrimSuffix(filepath.Base(p), ".request.bin"), req, resp})
	}
	return out
}

// TestFixtures checks that testdata matches its builders (-update rewrites
// it) and that each fixture parses into as many responses as requests
// that expect one, none of them Partial.
func TestFixtures(t *testing.T) {
	for _, fx := range fixtureSources() {
		base := filepath.Join("testdata", fx.name)
		if *update {
			if err := os.WriteFile(base+".request.bin", fx.req, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(base+".response.bin", fx.resp, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		req, _ := os.ReadFile(base + ".request.bin")
		resp, _ := os.ReadFile(base + ".response.bin")
		if !bytes.Equal(req, fx.req) || !bytes.Equal(resp, fx.resp) {
			t.Errorf("%s: testdata differs from its builder; run go test -update", fx.name)
		}
	}
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			// Interleave as a client and server would: each request
			// batch before its answer is not needed for pairing, since
			// requests come first.
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
				case m.Kind == protocols.Request && !m.NoResponse:
					reqs++
				case m.Kind == protocols.Response:
					resps++
				}
			}
			if reqs == 0 || reqs != resps {
				t.Errorf("got %d requests and %d responses", reqs, resps)
			}
		})
	}
}

// maxWait is the most input a parser may leave unconsumed while asking for
// more: a Parse message with its text at the limit, or the header after a
// resynchronisation candidate.
const maxWait = postgresql.MaxQueryBytes + 4<<10 + 64<<10 + 16

// FuzzParser feeds both directions in pieces whose sizes, order and gaps
// come from ctl, and checks the Parser's invariants.
func FuzzParser(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.req, fx.resp, []byte{0})
		f.Add(fx.req, fx.resp, []byte{7, 3, 200, 1})
		f.Add(fx.req, fx.resp, []byte{13, 0x85, 40, 0x91})
	}
	for _, ctl := range [][]byte{{0}, {7, 3, 200, 1}} {
		var req, resp string
		for _, st := range startTLSSteps("SELECT 1 /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/") {
			if st.dir == up {
				req += st.data
			} else {
				resp += st.data
			}
		}
		f.Add([]byte(req), []byte(resp), ctl)
	}
	f.Fuzz(func(t *testing.T, req, resp, ctl []byte) {
		postgresql.Protocol.Sniff(req)
		postgresql.Protocol.Sniff(resp)
		for _, cfg := range fuzzConfigs() {
			p := postgresql.Protocol.New(cfg)
			type stream struct {
				dir  protocols.Direction
				data []byte
				tail []byte
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
		}
	})
}

func checkMsg(t *testing.T, dir protocols.Direction, m *protocols.Message) {
	t.Helper()
	want := protocols.Request
	if dir == protocols.ToClient {
		want = protocols.Response
	}
	if m.Kind != want || m.Size < 0 {
		t.Fatalf("%v: bad message %+v", dir, m)
	}
	for _, a := range m.Attrs {
		if strings.Contains(a.Str, "md5aaaa") {
			t.Fatalf("%v: password in attribute %+v", dir, a)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	sel := "SELECT id, name FROM users WHERE id = $1"
	cases := []struct {
		name string
		data string
		dir  protocols.Direction
	}{
		{"simple_query", query("SELECT id, name FROM users WHERE id = 1"), up},
		{"simple_response", rowDesc() + dataRow("1") + dataRow("2") + complete("SELECT 2") + ready(), down},
		{"extended_request", parse("", sel) + bind("", "") + describe('P', "") + execute("") + sync(), up},
		{"extended_response", parseComplete() + bindComplete() + rowDesc() + dataRow("1") + complete("SELECT 1") + ready(), down},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			var msg protocols.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			p := postgresql.New(nil) // one connection carrying b.N messages
			data := []byte(bc.data)
			for range b.N {
				d := data
				for len(d) > 0 {
					msg.Reset()
					n, done, err := p.Parse(bc.dir, d, &msg)
					if err != nil || (n == 0 && !done) {
						b.Fatalf("n=%d done=%v err=%v", n, done, err)
					}
					d = d[n:]
				}
			}
		})
	}
}
