package postgresql_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/postgresql"
)

const (
	up   = protocols.ToServer
	down = protocols.ToClient
)

// Message builders: protocol v3 framing (protocol section 55.7).

func msg(typ byte, body ...string) string {
	b := []byte{typ, 0, 0, 0, 0}
	for _, s := range body {
		b = append(b, s...)
	}
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	return string(b)
}

func cstr(s string) string { return s + "\x00" }

func i16(v int) string { return string(binary.BigEndian.AppendUint16(nil, uint16(v))) }
func i32(v int) string { return string(binary.BigEndian.AppendUint32(nil, uint32(v))) }

func startup(params ...string) string {
	body := i32(3 << 16)
	for _, p := range params {
		body += cstr(p)
	}
	body += "\x00"
	return i32(len(body)+4) + body
}

func sslRequest() string { return i32(8) + i32(80877103) }

func query(q string) string       { return msg('Q', cstr(q)) }
func parse(name, q string) string { return msg('P', cstr(name), cstr(q), i16(0)) }
func bind(portal, stmt string) string {
	return msg('B', cstr(portal), cstr(stmt), i16(0), i16(0), i16(0))
}
func describe(kind byte, name string) string { return msg('D', string(kind), cstr(name)) }
func execute(portal string) string           { return msg('E', cstr(portal), i32(0)) }
func sync() string                           { return msg('S') }
func terminate() string                      { return msg('X') }
func password(p string) string               { return msg('p', cstr(p)) }

func authOK() string                 { return msg('R', i32(0)) }
func authMD5() string                { return msg('R', i32(5), "salt") }
func paramStatus(k, v string) string { return msg('S', cstr(k), cstr(v)) }
func keyData() string                { return msg('K', i32(42), i32(7)) }
func ready() string                  { return msg('Z', "I") }
func rowDesc() string {
	return msg('T', i16(1), cstr("n"), i32(0), i16(0), i32(23), i16(4), i32(-1), i16(0))
}
func dataRow(v string) string    { return msg('D', i16(1), i32(len(v)), v) }
func complete(tag string) string { return msg('C', cstr(tag)) }
func parseComplete() string      { return msg('1') }
func bindComplete() string       { return msg('2') }
func noData() string             { return msg('n') }
func emptyQuery() string         { return msg('I') }
func notice() string             { return msg('N', cstr("SNOTICE"), cstr("C00000"), "\x00") }
func errResp(code string) string {
	return msg('E', cstr("SERROR"), cstr("VERROR"), cstr("C"+code), cstr("Mboom"), "\x00")
}

// step is one driver event: bytes in a direction, a gap, or the end of a
// direction.
type step struct {
	dir  protocols.Direction
	data string
	gap  int
	end  bool
}

func feed(dir protocols.Direction, data string) step { return step{dir: dir, data: data} }
func gap(dir protocols.Direction, n int) step        { return step{dir: dir, gap: n} }
func end(dir protocols.Direction) step               { return step{dir: dir, end: true} }

// driver feeds a parser as protocols.Driver does: it keeps each direction's
// unconsumed tail and reports it as lost on a gap.
type driver struct {
	p    protocols.Parser
	tail [3][]byte
	msgs []protocols.Message
	err  error
}

func (d *driver) step(s step) {
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
		for {
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

func run(steps []step) ([]protocols.Message, error) { return runCfg(nil, steps) }

func runCfg(cfg *protocols.Config, steps []step) ([]protocols.Message, error) {
	d := &driver{p: postgresql.Protocol.New(cfg)}
	for _, s := range steps {
		d.step(s)
	}
	return d.msgs, d.err
}

func s(k, v string) protocols.Attr       { return protocols.String(k, v) }
func i(k string, v int64) protocols.Attr { return protocols.Int(k, v) }

var sys = s("db.system.name", "postgresql")

func req(name, text string, size int, extra ...protocols.Attr) protocols.Message {
	attrs := []protocols.Attr{sys}
	attrs = append(attrs, extra...)
	if text != "" || name == "" {
		if name != "" {
			attrs = append(attrs, s("db.operation.name", name))
		}
		if text != "" {
			attrs = append(attrs, s("db.query.text", text))
		}
	}
	return protocols.Message{Kind: protocols.Request, Name: name, Size: size, Attrs: attrs}
}

func resp(size int, attrs ...protocols.Attr) protocols.Message {
	return protocols.Message{Kind: protocols.Response, Status: protocols.StatusOK, Size: size, Attrs: attrs}
}

func errMsg(size int, code string) protocols.Message {
	return protocols.Message{
		Kind: protocols.Response, Status: protocols.StatusError, Size: size,
		Attrs: []protocols.Attr{s("db.response.status_code", code)},
	}
}

func partial(m protocols.Message) protocols.Message {
	m.Partial = true
	return m
}

func rows(n int64) protocols.Attr { return i("db.response.returned_rows", n) }

func size(parts ...string) int {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return n
}

type parseTest struct {
	name    string
	steps   []step
	want    []protocols.Message
	wantErr error
	split   bool // also run with every feed split at every byte position
}

func TestParse(t *testing.T) {
	var (
		su      = startup("user", "alice", "database", "shop", "application_name", "psql")
		suResp  = authMD5()
		suResp2 = authOK() + paramStatus("server_version", "16.2") + keyData() + ready()
		sel     = "SELECT n FROM t"
		selResp = rowDesc() + dataRow("1") + dataRow("2") + complete("SELECT 2") + ready()
		ext1    = parse("", sel) + bind("", "") + describe('P', "") + execute("") + sync()
		ext1R   = parseComplete() + bindComplete() + rowDesc() + dataRow("1") + complete("SELECT 1")
		ext2    = parse("s1", "update t set n=$1") + bind("", "s1") + execute("") + sync()
		ext2R   = parseComplete() + bindComplete() + complete("UPDATE 3")
		ns      = []protocols.Attr{s("db.namespace", "shop"), s("user.name", "alice")}
	)
	withNS := func(name, text string, size int) protocols.Message { return req(name, text, size, ns...) }
	tests := []parseTest{
		{
			name:  "simple query",
			steps: []step{feed(up, query(sel)), feed(down, selResp)},
			want:  []protocols.Message{req("SELECT", sel, len(query(sel))), resp(len(selResp), rows(2))},
			split: true,
		},
		{
			name: "startup with password never copied",
			steps: []step{
				feed(up, su), feed(down, suResp), feed(up, password("md5secret")),
				feed(down, suResp2), feed(up, query("select 1")), feed(down, complete("SELECT 1")+ready()),
			},
			want: []protocols.Message{
				req("STARTUP", "", len(su), ns...),
				resp(size(suResp, authOK(), ready())),
				withNS("SELECT", "select 1", len(query("select 1"))),
				resp(size(complete("SELECT 1"), ready()), rows(1)),
			},
			split: true,
		},
		{
			name:  "ssl refused then startup",
			steps: []step{feed(up, sslRequest()), feed(down, "N"), feed(up, su), feed(down, suResp2)},
			want: []protocols.Message{
				req("SSLRequest", "", 8),
				resp(1, s("db.postgresql.ssl_response", "N")),
				req("STARTUP", "", len(su), ns...),
				resp(size(authOK(), ready())),
			},
			split: true,
		},
		{
			name: "ssl accepted stops parsing",
			steps: []step{
				feed(up, sslRequest()), feed(down, "S"), feed(up, "\x16\x03\x01\x00\x05hello"),
				feed(down, "\x16\x03\x03\x00\x02hi"), end(down),
			},
			want: []protocols.Message{req("SSLRequest", "", 8), resp(1, s("db.postgresql.ssl_response", "S"))},
		},
		{
			name:  "error in simple query",
			steps: []step{feed(up, query("selec 1")), feed(down, notice()+errResp("42601")+ready())},
			want:  []protocols.Message{req("SELEC", "selec 1", len(query("selec 1"))), errMsg(size(errResp("42601"), ready()), "42601")},
			split: true,
		},
		{
			name:  "empty query",
			steps: []step{feed(up, query("")), feed(down, emptyQuery()+ready())},
			want:  []protocols.Message{req("", "", len(query(""))), resp(size(emptyQuery(), ready()))},
		},
		{
			name:  "multi-statement query is one span",
			steps: []step{feed(up, query("begin; select 1; commit")), feed(down, complete("BEGIN")+dataRow("1")+complete("SELECT 1")+complete("COMMIT")+ready())},
			want: []protocols.Message{
				req("BEGIN", "begin; select 1; commit", len(query("begin; select 1; commit"))),
				resp(size(complete("BEGIN"), dataRow("1"), complete("SELECT 1"), complete("COMMIT"), ready()), rows(1)),
			},
		},
		{
			name:  "extended pipelined batches",
			steps: []step{feed(up, ext1+ext2), feed(down, ext1R+ready()+ext2R+ready())},
			want: []protocols.Message{
				req("SELECT", sel, size(ext1)-5),
				req("UPDATE", "update t set n=$1", size(ext2)-5),
				resp(len(ext1R), rows(1)),
				resp(len(ext2R)),
			},
			split: true,
		},
		{
			name: "named statement reused across batches",
			steps: []step{
				feed(up, ext2), feed(down, ext2R+ready()),
				feed(up, bind("", "s1")+execute("")+sync()), feed(down, bindComplete()+complete("UPDATE 1")+ready()),
			},
			want: []protocols.Message{
				req("UPDATE", "update t set n=$1", size(ext2)-5),
				resp(len(ext2R)),
				req("UPDATE", "update t set n=$1", size(bind("", "s1"), execute(""))),
				resp(size(bindComplete(), complete("UPDATE 1"))),
			},
		},
		{
			name: "statement prepared before the capture",
			steps: []step{
				feed(up, bind("", "S_18")+execute("")+sync()), feed(down, bindComplete()+dataRow("x")+complete("SELECT 1")+ready()),
			},
			want: []protocols.Message{
				req("EXECUTE", "", size(bind("", "S_18"), execute(""))),
				resp(size(bindComplete(), dataRow("x"), complete("SELECT 1")), rows(1)),
			},
		},
		{
			name: "error skips the rest of the batch",
			steps: []step{
				feed(up, parse("", "insert x")+bind("", "")+execute("")+parse("", sel)+bind("", "")+execute("")+sync()),
				feed(down, parseComplete()+bindComplete()+errResp("23505")+ready()),
			},
			want: []protocols.Message{
				req("INSERT", "insert x", size(parse("", "insert x"), bind("", ""), execute(""))),
				req("SELECT", sel, size(parse("", sel), bind("", ""), execute(""))),
				errMsg(size(parseComplete(), bindComplete(), errResp("23505")), "23505"),
				{Kind: protocols.Response, Status: protocols.StatusError},
			},
			split: true,
		},
		{
			name: "prepare without execute",
			steps: []step{
				feed(up, parse("s2", "delete from t where id=$1")+describe('S', "s2")+sync()),
				feed(down, parseComplete()+msg('t', i16(1), i32(23))+noData()+ready()),
			},
			want: []protocols.Message{
				req("PREPARE", "delete from t where id=$1", size(parse("s2", "delete from t where id=$1"), describe('S', "s2"), sync())),
				resp(size(parseComplete(), msg('t', i16(1), i32(23)), noData(), ready())),
			},
		},
		{
			name: "copy in",
			steps: []step{
				feed(up, query("COPY t FROM STDIN")), feed(down, msg('G', "\x00", i16(1), i16(0))),
				feed(up, msg('d', "1\n")+msg('d', "2\n")+msg('c')), feed(down, complete("COPY 2")+ready()),
			},
			want: []protocols.Message{
				req("COPY", "COPY t FROM STDIN", len(query("COPY t FROM STDIN"))),
				resp(size(msg('G', "\x00", i16(1), i16(0)), complete("COPY 2"), ready()), i("db.postgresql.copy_data.count", 2)),
			},
		},
		{
			name:  "terminate expects no response",
			steps: []step{feed(up, terminate())},
			want:  []protocols.Message{{Kind: protocols.Request, Name: "TERMINATE", Size: 5, NoResponse: true, Attrs: []protocols.Attr{sys}}},
		},
		{
			name:  "cancel request",
			steps: []step{feed(up, i32(16)+i32(80877102)+i32(1234)+i32(5678))},
			want:  []protocols.Message{{Kind: protocols.Request, Name: "CANCEL", Size: 16, NoResponse: true, Attrs: []protocols.Attr{sys}}},
		},
		{
			name: "gap inside a data row is skipped exactly",
			steps: []step{
				feed(up, query(sel)), feed(down, rowDesc()+dataRow("1")+dataRow("abcdefgh")[:9]), gap(down, 4),
				feed(down, dataRow("abcdefgh")[13:]+complete("SELECT 2")+ready()),
			},
			want: []protocols.Message{
				req("SELECT", sel, len(query(sel))),
				partial(resp(size(rowDesc(), dataRow("1"), dataRow("abcdefgh"), complete("SELECT 2"), ready()), rows(2))),
			},
		},
		{
			name: "gap swallowing a query emits a placeholder",
			steps: []step{
				feed(up, query(sel)[:8]), gap(up, len(query(sel))-8), feed(up, query("select 2")),
				feed(down, selResp+complete("SELECT 1")+ready()),
			},
			want: []protocols.Message{
				partial(protocols.Message{Kind: protocols.Request, Attrs: []protocols.Attr{sys}}),
				req("SELECT", "select 2", len(query("select 2"))),
				resp(len(selResp), rows(2)),
				resp(size(complete("SELECT 1"), ready()), rows(1)),
			},
		},
		{
			name: "gap of unknown position resyncs on the next header",
			steps: []step{
				feed(up, query(sel)+query(sel)), feed(down, rowDesc()[:3]), gap(down, 30),
				feed(down, "garbage"+dataRow("1")+complete("SELECT 1")+ready()+selResp),
			},
			want: []protocols.Message{
				req("SELECT", sel, len(query(sel))),
				req("SELECT", sel, len(query(sel))),
				partial(resp(size(dataRow("1"), complete("SELECT 1"), ready()), rows(1))),
				resp(len(selResp), rows(2)),
			},
		},
		{
			name:  "response cut by the end of the stream",
			steps: []step{feed(up, query(sel)), feed(down, rowDesc()+dataRow("1")), end(down), end(down)},
			want:  []protocols.Message{req("SELECT", sel, len(query(sel))), partial(resp(size(rowDesc(), dataRow("1")), rows(1)))},
		},
		{
			name:    "unknown frontend type",
			steps:   []step{feed(up, "Zjunkjunk")},
			wantErr: postgresql.ErrMessageType,
		},
		{
			name:    "bad startup code",
			steps:   []step{feed(up, i32(8)+i32(12345))},
			wantErr: postgresql.ErrStartup,
		},
		{
			name:    "bad ready-for-query length",
			steps:   []step{feed(down, msg('Z', "II"))},
			wantErr: postgresql.ErrLength,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, tt, tt.steps)
			if !tt.split {
				return
			}
			for k, st := range tt.steps {
				for cut := 1; cut < len(st.data); cut++ {
					steps := append([]step(nil), tt.steps[:k]...)
					steps = append(steps, feed(st.dir, st.data[:cut]), feed(st.dir, st.data[cut:]))
					steps = append(steps, tt.steps[k+1:]...)
					check(t, tt, steps)
					if t.Failed() {
						t.Fatalf("split of step %d at %d", k, cut)
					}
				}
			}
		})
	}
}

func check(t *testing.T, tt parseTest, steps []step) {
	t.Helper()
	got, err := run(steps)
	if tt.wantErr != nil {
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("error = %v, want %v", err, tt.wantErr)
		}
		var pe *protocols.ParseError
		if !errors.As(err, &pe) {
			t.Errorf("error %T is not a *protocols.ParseError", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error %v", err)
	}
	if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want protocols.Direction
	}{
		{"startup", startup("user", "u"), up},
		{"ssl request", sslRequest(), up},
		{"query", query("select 1"), up},
		{"parse", parse("", "SELECT 1"), up},
		{"auth ok", authOK(), down},
		{"auth md5", authMD5(), down},
		{"ready", ready(), down},
		{"error", errResp("28P01"), down},
		{"parameter status", paramStatus("client_encoding", "UTF8"), down},
		{"parse+bind complete", parseComplete() + bindComplete(), down},
		{"http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", protocols.DirUnknown},
		{"mysql greeting", "J\x00\x00\x00\x0a5.7.30\x00", protocols.DirUnknown},
		{"query binary", "Q\x00\x00\x00\x09\x01\x02\x03\x00", protocols.DirUnknown},
		{"short", "Q\x00", protocols.DirUnknown},
		{"empty query length 4", "Q\x00\x00\x00\x04", protocols.DirUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := postgresql.Protocol.Sniff([]byte(tt.in)); got != tt.want {
				t.Errorf("Sniff = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestExecuteConsumesSync checks that the Sync right behind an Execute is
// consumed with it: the driver would otherwise take the Sync's bytes as the
// start of the next request and give that request this segment's time.
func TestExecuteConsumesSync(t *testing.T) {
	p := postgresql.Protocol.New(nil)
	var m protocols.Message
	buf := []byte(parse("", "SELECT 1") + bind("", "") + describe('P', "") + execute("") + sync())
	for len(buf) > 0 {
		m.Reset()
		n, done, err := p.Parse(protocols.ToServer, buf, &m)
		if err != nil || n == 0 {
			t.Fatalf("Parse = %d, %v, %v", n, done, err)
		}
		buf = buf[n:]
		if done {
			break
		}
	}
	if m.Name != "SELECT" || len(buf) != 0 {
		t.Errorf("request %q with %d bytes left, want SELECT with the Sync consumed", m.Name, len(buf))
	}
	// The next request and the batch's response still pair up.
	msgs, err := run([]step{
		feed(protocols.ToServer, parse("", "SELECT 1")+bind("", "")+execute("")+sync()),
		feed(protocols.ToClient, parseComplete()+bindComplete()+dataRow("1")+complete("SELECT 1")+ready()),
		feed(protocols.ToServer, query("SELECT 2")),
		feed(protocols.ToClient, rowDesc()+dataRow("2")+complete("SELECT 1")+ready()),
	})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range msgs {
		names = append(names, m.Name)
	}
	if len(msgs) != 4 || msgs[0].Name != "SELECT" || msgs[2].Name != "SELECT" ||
		msgs[1].Kind != protocols.Response || msgs[3].Kind != protocols.Response {
		t.Errorf("messages %v, want request, response, request, response", names)
	}
}
