package mysql_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mysql"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// conversation joins a case's bytes per direction.
func conversation(steps []step) (client, server []byte) {
	for _, st := range steps {
		if st.dir == up {
			client = append(client, st.data...)
		} else {
			server = append(server, st.data...)
		}
	}
	return client, server
}

var update = flag.Bool("update", false, "rewrite testdata from the test cases")

// fixtureCases are the cases written to testdata: uncompressed, without
// gaps, so that each direction's bytes can be replayed whole.
var fixtureCases = map[string]string{
	"handshake query result set":      "query_resultset",
	"deprecate EOF and affected rows": "deprecate_eof",
	"prepared statement":              "prepared_statement",
	"init db, use and field list":     "init_db_use_field_list",
	"sqlcommenter links":              "sqlcommenter",
}

// TestTestdata parses each testdata connection (all the client's bytes,
// then all the server's: responses pair with requests in order) without
// error into as many responses as requests that expect one. With -update it
// first rewrites the files from the test cases.
func TestTestdata(t *testing.T) {
	if *update {
		for _, tc := range cases() {
			if name, ok := fixtureCases[tc.name]; ok {
				client, server := conversation(tc.steps)
				os.WriteFile(filepath.Join("testdata", name+".client.bin"), client, 0o644)
				os.WriteFile(filepath.Join("testdata", name+".server.bin"), server, 0o644)
			}
		}
	}
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			got, err := run(nil, []step{feed(up, fx.client), feed(down, fx.server), end(up), end(down)})
			if err != nil {
				t.Fatal(err)
			}
			reqs, resps := 0, 0
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
				t.Errorf("%d requests expecting a response, %d responses", reqs, resps)
			}
		})
	}
}

type fixture struct {
	name           string
	client, server []byte
}

func loadFixtures(tb testing.TB) []fixture {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.client.bin"))
	if len(paths) == 0 {
		tb.Fatal("no fixtures in testdata")
	}
	var out []fixture
	for _, path := range paths {
		client, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		base := strings.TrimSuffix(path, ".client.bin")
		server, err := os.ReadFile(base + ".server.bin")
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, fixture{filepath.Base(base), client, server})
	}
	return out
}

// fuzzConfigs are the configurations each fuzz input runs with: none, a
// StartTLS hook whose TLS is already plaintext (the database protocol
// continues after an SSLRequest), and the TLS parser without keys.
func fuzzConfigs() []*protocols.Config {
	var name string
	return []*protocols.Config{nil, startTLSConfig(&name), {StartTLS: func(inner protocols.Parser, n string) protocols.Parser {
		return tls.NewUpgrade(nil, nil, inner, n)
	}}}
}

// startTLSCases are seeds of connections upgraded by an SSLRequest.
func startTLSCases() []testCase {
	caps := uint32(capsBase | capSSL)
	return []testCase{{name: "starttls", steps: []step{
		feed(down, greeting("5.5.5-10.11.6-MariaDB", caps)),
		feed(up, pkt(1, u32(caps), u32(1<<24), []byte{0x21}, make([]byte, 23))),
		feed(up, login(2, caps, "alice", "s3cret-scramble", "shop")),
		feed(down, ok(3, 0, 2)),
		feed(up, query("SELECT 1")),
		feed(down, resultSet(2, false)),
	}}}
}

// FuzzParser feeds both directions in pieces whose sizes, order and gaps come
// from ctl, and checks the Parser's invariants.
func FuzzParser(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.client, fx.server, []byte{0})
	}
	for _, tc := range append(cases(), startTLSCases()...) {
		client, server := conversation(tc.steps)
		f.Add(client, server, []byte{0})
		f.Add(client, server, []byte{7, 3, 200, 1})
		f.Add(client, server, []byte{13, 0x85, 40, 0x91})
	}
	f.Fuzz(func(t *testing.T, client, server, ctl []byte) {
		for _, cfg := range fuzzConfigs() {
			p := mysql.Protocol.New(cfg)
			type stream struct {
				dir  protocols.Direction
				data []byte
				tail []byte
				dead bool
			}
			streams := [2]*stream{{dir: up, data: client}, {dir: down, data: server}}
			var msg protocols.Message
			parse := func(s *stream) {
				for guard := 0; !s.dead && guard < 1<<16; guard++ {
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
					if done && msg.Kind == protocols.KindUnknown {
						t.Fatalf("%v: message without kind", s.dir)
					}
					if n == 0 && !done {
						if len(s.tail) > 1<<20 {
							t.Fatalf("%v: waits on %d bytes", s.dir, len(s.tail))
						}
						return
					}
				}
			}
			for i := 0; streams[0].data != nil || streams[1].data != nil; i++ {
				c := byte(i)
				if len(ctl) > 0 {
					c = ctl[i%len(ctl)]
				}
				s := streams[c&1]
				if len(s.data) == 0 {
					s = streams[1-c&1]
				}
				if len(s.data) == 0 {
					break
				}
				n := min(len(s.data), 1+int(c>>2))
				if c&2 != 0 && i%3 == 0 && !s.dead {
					// lose n bytes
					if sv, ok := p.(protocols.Salvager); ok && len(s.tail) > 0 {
						msg.Reset()
						sv.Salvage(s.dir, s.tail, &msg)
					}
					p.Gap(s.dir, n+len(s.tail))
					s.tail = nil
				} else {
					s.tail = append(s.tail, s.data[:n]...)
					parse(s)
				}
				s.data = s.data[n:]
				if len(s.data) == 0 {
					s.data = nil
				}
			}
			for _, s := range streams {
				for i := 0; i < 64; i++ {
					msg.Reset()
					if !p.End(s.dir, &msg) {
						break
					}
				}
			}
		}
	})
}
