// Package parsertest holds the test harness that protocol packages share:
// a driver that feeds a protocols.Parser as protocols.Driver does (with
// gaps and ends), fixtures of recorded connections in testdata/, and a
// fuzz body that checks a Parser's invariants on bytes fed in random
// pieces.
package parsertest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
)

// Step is one driver event: bytes in a direction, a gap, or the end of a
// direction.
type Step struct {
	dir  protocols.Direction
	data string
	gap  int
	end  bool
}

// Feed is bytes flowing in dir.
func Feed(dir protocols.Direction, data string) Step { return Step{dir: dir, data: data} }

// Gap is n bytes lost in dir.
func Gap(dir protocols.Direction, n int) Step { return Step{dir: dir, gap: n} }

// End is the end of dir.
func End(dir protocols.Direction) Step { return Step{dir: dir, end: true} }

// driver feeds a parser as protocols.Driver does: it keeps each direction's
// unconsumed tail and calls Parse until it neither consumes nor completes;
// on a gap the tail is lost with it.
type driver struct {
	p    protocols.Parser
	tail [3][]byte
	msgs []protocols.Message
	err  error
}

func (d *driver) step(s Step) {
	if d.err != nil {
		return
	}
	var m protocols.Message
	switch {
	case s.end:
		for i := 0; i < 64; i++ {
			m.Reset()
			if !d.p.End(s.dir, &m) {
				break
			}
			d.keep(&m)
		}
	case s.gap > 0:
		d.p.Gap(s.dir, s.gap+len(d.tail[s.dir]))
		d.tail[s.dir] = nil
	default:
		buf := append(d.tail[s.dir], s.data...)
		for guard := 0; ; guard++ {
			if guard > 1<<16 {
				d.err = errors.New("no progress")
				return
			}
			m.Reset()
			n, done, err := d.p.Parse(s.dir, buf, &m)
			if n < 0 || n > len(buf) {
				d.err = errors.New("n out of range")
				return
			}
			if err != nil {
				d.err = err
				return
			}
			buf = buf[n:]
			if done {
				d.keep(&m)
			}
			if n == 0 && !done {
				break
			}
		}
		d.tail[s.dir] = append([]byte(nil), buf...)
	}
}

func (d *driver) keep(m *protocols.Message) {
	c := *m
	c.Attrs = append([]protocols.Attr(nil), m.Attrs...)
	c.Links = append([]protocols.Attr(nil), m.Links...)
	d.msgs = append(d.msgs, c)
}

// Run feeds p the steps as protocols.Driver would and returns the
// messages it completed (copies) and the first error.
func Run(p protocols.Parser, steps []Step) ([]protocols.Message, error) {
	d := &driver{p: p}
	for _, s := range steps {
		d.step(s)
	}
	return d.msgs, d.err
}

// Fixture is one connection from testdata: both directions' bytes.
type Fixture struct {
	Name      string
	Req, Resp []byte
}

// LoadFixtures reads testdata/NAME.request.* and the matching
// NAME.response.* of the calling package.
func LoadFixtures(tb testing.TB) []Fixture {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.request.*"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no fixtures in testdata")
	}
	var out []Fixture
	for _, p := range paths {
		req, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		resp, err := os.ReadFile(strings.Replace(p, ".request.", ".response.", 1))
		if err != nil {
			tb.Fatal(err)
		}
		name := strings.Split(filepath.Base(p), ".")[0]
		out = append(out, Fixture{name, req, resp})
	}
	return out
}

// Attr returns the value of the attribute key of m, or "".
func Attr(m *protocols.Message, key string) string {
	for _, a := range m.Attrs {
		if a.Key == key {
			return a.Value()
		}
	}
	return ""
}

// Links returns m's links as "key=value" strings.
func Links(m *protocols.Message) []string {
	var out []string
	for _, l := range m.Links {
		out = append(out, l.Key+"="+l.Str)
	}
	return out
}

// FuzzParser feeds both directions in pieces whose sizes, order and gaps
// come from ctl, and checks the Parser's invariants.
func FuzzParser(t *testing.T, p protocols.Parser, sniff func([]byte) protocols.Direction, maxWait int, req, resp, ctl []byte) {
	type stream struct {
		dir  protocols.Direction
		data []byte
		tail []byte
		dead bool
	}
	streams := [2]*stream{{dir: protocols.ToServer, data: req}, {dir: protocols.ToClient, data: resp}}
	var msg protocols.Message
	check := func(dir protocols.Direction, m *protocols.Message) {
		want := protocols.Request
		if dir == protocols.ToClient {
			want = protocols.Response
		}
		if m.Kind != want || m.Size < 0 || m.BodySize < 0 || (m.Unsolicited && dir != protocols.ToClient) {
			t.Fatalf("%v: bad message %+v", dir, m)
		}
	}
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
					t.Fatalf("%v: error %v (done %v)", s.dir, err, done)
				}
				s.dead = true
				return
			}
			s.tail = s.tail[n:]
			if done {
				check(s.dir, &msg)
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
			check(s.dir, &msg)
		}
		msg.Reset()
		if p.End(s.dir, &msg) {
			t.Fatalf("%v: End still returns messages after 64 calls", s.dir)
		}
	}
	sniff(req)
	sniff(resp)
}

// SplitBytes returns steps with every data step cut into one-byte steps,
// to check that a parser gives the same messages fed a byte at a time.
func SplitBytes(steps []Step) []Step {
	var out []Step
	for _, s := range steps {
		if s.data == "" {
			out = append(out, s)
			continue
		}
		for i := range len(s.data) {
			out = append(out, Step{dir: s.dir, data: s.data[i : i+1]})
		}
	}
	return out
}
