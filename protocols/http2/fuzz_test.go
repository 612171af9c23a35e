package http2_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/http2"
)

var update = flag.Bool("update", false, "rewrite the generated testdata fixtures")

// fixture is one connection: both directions' bytes.
type fixture struct {
	name      string
	req, resp []byte
}

// generated returns the fixtures built by this package's connection
// builder; TestFixtures writes them to testdata with -update.
func generated() []fixture {
	req, resp := grpcCall("0", "grpc-trace-bin", "AADG6Vae1MQlcaef6kcy628cAaUNNlulOj+aAgE")
	c, sv := newConn(), newConn()
	c.raw(preface).settings(1, 8192, 4, 65535)
	sv.settings(5, 32768).frame(4, 1, 0, nil)
	for id := uint32(1); id <= 9; id += 2 {
		c.headers(id, 1, ":method", "GET", ":scheme", "http", ":path", "/item?id=1", ":authority", "shop:8080",
			"user-agent", "curl/8.5.0", "x-request-id", "r-1")
	}
	for id := uint32(9); id >= 1 && id <= 9; id -= 2 {
		sv.headers(id, 0, ":status", "200", "content-type", "text/plain").data(id, 1, "hello world")
	}
	return []fixture{
		{"grpc_unary", []byte(req), []byte(resp)},
		{"multiplexed", []byte(c.bytes()), []byte(sv.bytes())},
	}
}

func TestFixtures(t *testing.T) {
	for _, fx := range generated() {
		base := filepath.Join("testdata", fx.name)
		if *update {
			if err := os.WriteFile(base+".request.bin", fx.req, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(base+".response.bin", fx.resp, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
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

// fuzzLimit is the header limit used while fuzzing.
const fuzzLimit = 512

// FuzzParser feeds both directions in pieces whose sizes, order and gaps
// come from ctl, and checks the Parser's invariants.
func FuzzParser(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.req, fx.resp, []byte{0})
		f.Add(fx.req, fx.resp, []byte{7, 3, 200, 1})
		f.Add(fx.req, fx.resp, []byte{13, 0x85, 40, 0x91})
		f.Add(fx.req[len(preface):], fx.resp[20:], []byte{0xc5, 9})
	}
	f.Fuzz(func(t *testing.T, req, resp, ctl []byte) {
		p := http2.Protocol.New(&protocols.Config{MaxHeaderBytes: fuzzLimit})
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
						t.Fatalf("%v: done %v with error %v", s.dir, done, err)
					}
					s.dead = true
					return
				}
				s.tail = s.tail[n:]
				if done {
					checkMsg(t, &msg)
				}
				if n == 0 && !done {
					if len(s.tail) > fuzzLimit+2*9+1 {
						t.Fatalf("%v: waiting with %d bytes buffered", s.dir, len(s.tail))
					}
					return
				}
				if len(s.tail) == 0 {
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
				checkMsg(t, &msg)
			}
		}
	})
}

func checkMsg(t *testing.T, m *protocols.Message) {
	t.Helper()
	if (m.Kind != protocols.Request && m.Kind != protocols.Response) || !m.HasID || m.Size < 0 || m.BodySize < 0 {
		t.Fatalf("bad message %+v", m)
	}
}

// BenchmarkParse measures a keep-alive connection in steady state: each
// operation is one call on a new stream, its request then its response.
func BenchmarkParse(b *testing.B) {
	cases := []struct {
		name string
		call func(c, sv *conn, id uint32)
	}{
		{"grpc_unary", func(c, sv *conn, id uint32) {
			c.headers(id, 0, ":method", "POST", ":scheme", "http", ":path", "/hipstershop.CartService/GetCart",
				":authority", "cartservice:7070", "content-type", "application/grpc", "te", "trailers").
				data(id, 1, "\x00\x00\x00\x00\x02ab")
			sv.headers(id, 0, ":status", "200", "content-type", "application/grpc").
				data(id, 0, "\x00\x00\x00\x00\x01z").headers(id, 1, "grpc-status", "0")
		}},
		{"http_get", func(c, sv *conn, id uint32) {
			c.headers(id, 1, ":method", "GET", ":scheme", "http", ":path", "/item", ":authority", "shop:8080",
				"user-agent", "curl/8.5.0", "x-request-id", "r-1")
			sv.headers(id, 0, ":status", "200", "content-type", "text/plain").data(id, 1, "hello world")
		}},
	}
	const calls = 1024
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			c, sv := newConn(), newConn()
			c.raw(preface).settings()
			sv.settings()
			head := [2]int{c.buf.Len(), sv.buf.Len()}
			var reqs, resps [][]byte
			for k := range calls {
				bc.call(c, sv, uint32(2*k+1))
				reqs = append(reqs, append([]byte(nil), c.buf.Bytes()[head[0]:]...))
				resps = append(resps, append([]byte(nil), sv.buf.Bytes()[head[1]:]...))
				head = [2]int{c.buf.Len(), sv.buf.Len()}
			}
			start := [2][]byte{[]byte(preface + c.bytes()[len(preface):len(preface)+9]), []byte(sv.bytes()[:9])}
			b.ReportAllocs()
			b.SetBytes(int64(len(reqs[1]) + len(resps[1])))
			var msg protocols.Message
			parse := func(p protocols.Parser, dir protocols.Direction, data []byte) {
				for len(data) > 0 {
					msg.Reset()
					k, done, err := p.Parse(dir, data, &msg)
					if err != nil || (k == 0 && !done) {
						b.Fatalf("k=%d done=%v err=%v", k, done, err)
					}
					data = data[k:]
				}
			}
			var p protocols.Parser
			for n := range b.N {
				k := n % calls
				if k == 0 {
					b.StopTimer()
					p = http2.New(nil)
					parse(p, up, start[0])
					parse(p, down, start[1])
					b.StartTimer()
				}
				parse(p, up, reqs[k])
				parse(p, down, resps[k])
			}
		})
	}
}
