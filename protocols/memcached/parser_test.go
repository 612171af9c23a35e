package memcached_test

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/memcached"
)

type view struct {
	kind    protocols.Kind
	name    string
	status  protocols.Status
	noResp  bool
	partial bool
	id      uint64
	query   string
	code    string
}

const noID = 1 << 63

func viewOf(m *protocols.Message) view {
	id := m.ID
	if !m.HasID {
		id = noID
	}
	return view{m.Kind, m.Name, m.Status, m.NoResponse, m.Partial, id, attr(m, "db.query.text"), attr(m, "db.response.status_code")}
}

func cmd(name, query string) view {
	return view{kind: protocols.Request, name: name, id: noID, query: query}
}
func rep(code string) view {
	return view{kind: protocols.Response, status: protocols.StatusOK, id: noID, code: code}
}

// bin builds a binary protocol packet.
func bin(magic, op byte, key, extras, value string, status uint16, opaque uint32) string {
	h := make([]byte, 24)
	h[0], h[1] = magic, op
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	h[4] = byte(len(extras))
	binary.BigEndian.PutUint16(h[6:], status)
	binary.BigEndian.PutUint32(h[8:], uint32(len(key)+len(extras)+len(value)))
	binary.BigEndian.PutUint32(h[12:], opaque)
	return string(h) + extras + key + value
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  []view
	}{{
		name: "text storage and retrieval",
		steps: []step{
			feed(up, "set foo 0 0 3\r\nbar\r\nget foo baz\r\ngets foo\r\ndelete foo noreply\r\nincr n 5\r\ntouch foo 10\r\n"),
			feed(down, "STORED\r\nVALUE foo 0 3\r\nbar\r\nEND\r\nVALUE foo 0 3 99\r\nbar\r\nEND\r\n7\r\nNOT_FOUND\r\n"),
		},
		want: []view{
			cmd("set", "set foo"), cmd("get", "get foo baz"), cmd("gets", "gets foo"),
			{kind: protocols.Request, name: "delete", noResp: true, id: noID, query: "delete foo"},
			cmd("incr", "incr n"), cmd("touch", "touch foo"),
			rep("STORED"), rep(""), rep(""), rep(""), rep("NOT_FOUND"),
		},
	}, {
		name: "data block in pieces, miss, errors",
		steps: []step{
			feed(up, "append k 0 0 10\r\n01234"), feed(up, "56789\r"), feed(up, "\nget nope\r\nbogus\r\nset k 0 0 x\r\n"),
			feed(down, "NOT_STORED\r\nEND\r\nERROR\r\nCLIENT_ERROR bad data chunk\r\n"),
		},
		want: []view{
			cmd("append", "append k"), cmd("get", "get nope"), cmd("bogus", "bogus"),
		},
	}, {
		name: "stats and version",
		steps: []step{
			feed(up, "stats\r\nversion\r\nstats slabs\r\nstats detail dump\r\n"),
			feed(down, "STAT pid 1\r\nSTAT uptime 2\r\nEND\r\nVERSION 1.6.18\r\nSTAT active_slabs 0\r\nEND\r\n"+
				"PREFIX a get 1 hit 0 set 0 del 0\r\nPREFIX b get 2 hit 1 set 0 del 0\r\nEND\r\n"),
		},
		want: []view{cmd("stats", "stats"), cmd("version", "version"), cmd("stats", "stats slabs"), cmd("stats", "stats detail"),
			rep(""), rep("VERSION"), rep(""), rep("")},
	}, {
		name: "meta commands",
		steps: []step{
			feed(up, "ms k 2 T0\r\nhi\r\nmg k v\r\nmg x v q\r\nmn\r\n"),
			feed(down, "HD\r\nVA 2\r\nhi\r\nMN\r\n"),
		},
		want: []view{cmd("ms", "ms k"), cmd("mg", "mg k"),
			{kind: protocols.Request, name: "mg", noResp: true, id: noID, query: "mg x"}, cmd("mn", "mn"),
			rep("HD"), rep("VA"), rep("MN")},
	}, {
		name: "binary with opaque and quiet requests",
		steps: []step{
			feed(up, bin(0x80, 0x01, "k", "\x00\x00\x00\x00\x00\x00\x00\x00", "value", 0, 1)+
				bin(0x80, 0x09, "a", "", "", 0, 2)+bin(0x80, 0x09, "b", "", "", 0, 3)+bin(0x80, 0x0a, "", "", "", 0, 4)),
			feed(down, bin(0x81, 0x01, "", "", "", 0, 1)+bin(0x81, 0x09, "", "\x00\x00\x00\x00", "vb", 0, 3)+
				bin(0x81, 0x0a, "", "", "", 0, 4)),
		},
		want: []view{
			{kind: protocols.Request, name: "set", id: 1, query: "set k"},
			{kind: protocols.Request, name: "getq", id: 2, query: "getq a"},
			{kind: protocols.Request, name: "getq", id: 3, query: "getq b"},
			{kind: protocols.Request, name: "noop", id: 4, query: "noop"},
			{kind: protocols.Response, status: protocols.StatusOK, id: 1},
			{kind: protocols.Response, status: protocols.StatusOK, id: 2},
			{kind: protocols.Response, status: protocols.StatusOK, id: 3},
			{kind: protocols.Response, status: protocols.StatusOK, id: 4},
		},
	}, {
		name: "binary miss and error",
		steps: []step{
			feed(up, bin(0x80, 0x00, "k", "", "", 0, 9)+bin(0x80, 0x05, "n", strings.Repeat("\x00", 20), "", 0, 10)),
			feed(down, bin(0x81, 0x00, "", "", "Not found", 1, 9)+bin(0x81, 0x05, "", "", "Non-numeric", 6, 10)),
		},
		want: []view{
			{kind: protocols.Request, name: "get", id: 9, query: "get k"},
			{kind: protocols.Request, name: "increment", id: 10, query: "increment n"},
			{kind: protocols.Response, status: protocols.StatusOK, id: 9, code: "0x0001"},
			{kind: protocols.Response, status: protocols.StatusError, id: 10, code: "0x0006"},
		},
	}, {
		name: "gap in a data block",
		steps: []step{
			feed(up, "set k 0 0 10\r\n012"), gap(up, 4), feed(up, "789\r\nget k\r\n"),
			feed(down, "STORED\r\nVALUE k 0 10\r\n01"), gap(down, 5), feed(down, "789\r\nEND\r\n"),
		},
		want: []view{
			{kind: protocols.Request, name: "set", id: noID, query: "set k", partial: true}, cmd("get", "get k"),
			rep("STORED"), {kind: protocols.Response, status: protocols.StatusOK, id: noID, partial: true},
		},
	}, {
		name: "gap in a line resyncs",
		steps: []step{
			feed(up, "get k"), gap(up, 6), feed(up, "ey2\r\ndelete k\r\n"),
		},
		want: []view{{kind: protocols.Request, name: "memcached", id: noID, partial: true}, cmd("delete", "delete k")},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runParser(memcached.New(nil), tc.steps)
			var views []view
			for i := range got {
				views = append(views, viewOf(&got[i]))
			}
			if tc.name == "data block in pieces, miss, errors" {
				// "set k 0 0 x" is not a command: the stream stops there.
				if err == nil {
					t.Error("no error for a bad set line")
				}
				views = views[:min(3, len(views))]
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(views, tc.want) {
				t.Errorf("got\n%+v\nwant\n%+v", views, tc.want)
			}
		})
	}
}

func TestErrorReplies(t *testing.T) {
	got, err := runParser(memcached.New(nil), []step{
		feed(up, "get a\r\nfoo\r\nset a 0 0 1\r\nxx\r\n"),
		feed(down, "END\r\nERROR\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	var errs int
	for _, m := range got {
		if m.Status == protocols.StatusError {
			errs++
		}
	}
	if errs != 3 {
		t.Errorf("got %d error replies, want 3", errs)
	}
}

func frame(id, seq, total int, body string) []byte {
	return append([]byte{byte(id >> 8), byte(id), byte(seq >> 8), byte(seq), byte(total >> 8), byte(total), 0, 0}, body...)
}

func TestDatagram(t *testing.T) {
	p := memcached.NewDatagram(nil)
	var got []view
	for _, d := range []struct {
		dir  protocols.Direction
		data []byte
	}{
		{up, frame(1, 0, 1, "set k 0 0 2\r\nhi\r\n")},
		{down, frame(1, 0, 1, "STORED\r\n")},
		{up, frame(2, 0, 1, "get k\r\n")},
		{down, frame(2, 0, 2, "VALUE k 0 3000\r\nxxxx")},
		{down, frame(2, 1, 2, "yyyy\r\nEND\r\n")},
		{up, frame(3, 0, 1, bin(0x80, 0x04, "k", "", "", 0, 0))},
		{down, frame(3, 0, 1, bin(0x81, 0x04, "", "", "", 0, 0))},
	} {
		var m protocols.Message
		n, done, err := p.Parse(d.dir, d.data, &m)
		if err != nil || n != len(d.data) {
			t.Fatalf("Parse(%q) = %d, %v", d.data, n, err)
		}
		if done {
			got = append(got, viewOf(&m))
		}
	}
	want := []view{
		{kind: protocols.Request, name: "set", id: 1, query: "set k"},
		{kind: protocols.Response, status: protocols.StatusOK, id: 1, code: "STORED"},
		{kind: protocols.Request, name: "get", id: 2, query: "get k"},
		{kind: protocols.Response, status: protocols.StatusOK, id: 2},
		{kind: protocols.Request, name: "delete", id: 3, query: "delete k"},
		{kind: protocols.Response, status: protocols.StatusOK, id: 3},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
	var m protocols.Message
	if _, _, err := p.Parse(up, []byte{1, 2, 3}, &m); err == nil {
		t.Error("short datagram: no error")
	}
}

func TestTestdata(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.Name, func(t *testing.T) {
			got, err := runParser(memcached.New(nil), []step{feed(up, string(fx.Req)), feed(down, string(fx.Resp)), end(up), end(down)})
			if err != nil {
				t.Fatal(err)
			}
			var reqs, resps int
			for _, m := range got {
				if m.Partial {
					t.Errorf("partial %+v", m)
				}
				if m.Kind == protocols.Request {
					if !m.NoResponse {
						reqs++
					}
				} else {
					resps++
				}
			}
			if reqs == 0 || reqs != resps {
				t.Errorf("%d requests expecting replies, %d replies", reqs, resps)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		in   string
		want protocols.Direction
	}{
		{"get foo\r\n", up},
		{"set foo 0 0 3\r\nbar\r\n", up},
		{"set foo 0 0\r\n", protocols.DirUnknown},
		{"GET / HTTP/1.1\r\n", protocols.DirUnknown},
		{"get foo", protocols.DirUnknown},
		{bin(0x80, 0x00, "k", "", "", 0, 1), up},
		{bin(0x81, 0x00, "", "", "", 1, 1), down},
		{bin(0x80, 0x70, "k", "", "", 0, 1), protocols.DirUnknown},
	}
	for _, tc := range tests {
		if got := memcached.Sniff([]byte(tc.in)); got != tc.want {
			t.Errorf("Sniff(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if d := memcached.SniffDatagram(frame(1, 0, 1, "get k\r\n")); d != up {
		t.Errorf("SniffDatagram(request) = %v", d)
	}
	if d := memcached.SniffDatagram(frame(1, 0, 1, "END\r\n")); d != down {
		t.Errorf("SniffDatagram(reply) = %v", d)
	}
	if d := memcached.SniffDatagram([]byte("get k\r\n")); d != protocols.DirUnknown {
		t.Errorf("SniffDatagram(no frame) = %v", d)
	}
}
