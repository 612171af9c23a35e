package mysql_test

import (
	"bytes"
	"compress/zlib"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mysql"
)

const (
	up   = protocols.ToServer
	down = protocols.ToClient
)

// Packet builders: each returns wire bytes built from readable parts.

func pkt(seq byte, parts ...[]byte) []byte {
	p := bytes.Join(parts, nil)
	return append([]byte{byte(len(p)), byte(len(p) >> 8), byte(len(p) >> 16), seq}, p...)
}

func cat(ps ...[]byte) []byte { return bytes.Join(ps, nil) }
func str(s string) []byte     { return []byte(s) }
func cstr(s string) []byte    { return append([]byte(s), 0) }
func u16(v int) []byte        { return []byte{byte(v), byte(v >> 8)} }
func u32(v uint32) []byte     { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

func lenenc(v int) []byte {
	switch {
	case v < 251:
		return []byte{byte(v)}
	case v < 1<<16:
		return []byte{0xfc, byte(v), byte(v >> 8)}
	}
	return []byte{0xfd, byte(v), byte(v >> 8), byte(v >> 16)}
}

func lstr(s string) []byte { return append(lenenc(len(s)), s...) }

const (
	capsBase     = 0x00000200 | 0x00008000 | 0x00080000 | 0x00000008 // PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, CONNECT_WITH_DB
	capSSL       = 0x00000800
	capCompress  = 0x00000020
	capDeprecate = 0x01000000
)

func greeting(version string, caps uint32) []byte {
	return pkt(0, []byte{10}, cstr(version), u32(42), str("abcdefgh"), []byte{0},
		u16(int(caps&0xffff)), []byte{0x21}, u16(2), u16(int(caps>>16)), []byte{21},
		make([]byte, 10), cstr("ijklmnopqrst"), cstr("mysql_native_password"))
}

func login(seq byte, caps uint32, user, password, db string) []byte {
	return pkt(seq, u32(caps), u32(1<<24), []byte{0x21}, make([]byte, 23), cstr(user),
		lstr(password), cstr(db), cstr("mysql_native_password"))
}

func ok(seq byte, affected int, status int) []byte {
	return pkt(seq, []byte{0}, lenenc(affected), lenenc(0), u16(status), u16(0))
}

func eof(seq byte, status int) []byte { return pkt(seq, []byte{0xfe}, u16(0), u16(status)) }

func okEOF(seq byte, status int) []byte {
	return pkt(seq, []byte{0xfe}, lenenc(0), lenenc(0), u16(status), u16(0))
}

func errp(seq byte, code int, msg string) []byte {
	return pkt(seq, []byte{0xff}, u16(code), str("#28000"), str(msg))
}

func colDef(seq byte, name string) []byte {
	return pkt(seq, lstr("def"), lstr("shop"), lstr("orders"), lstr("orders"), lstr(name), lstr(name),
		[]byte{0x0c}, u16(33), u32(255), []byte{253}, u16(0), []byte{0}, u16(0))
}

func query(sql string) []byte { return pkt(0, []byte{3}, str(sql)) }

// resultSet is a two-column result set of n rows starting at sequence id 1.
func resultSet(n int, deprecateEOF bool) []byte {
	out := cat(pkt(1, lenenc(2)), colDef(2, "id"), colDef(3, "name"))
	seq := byte(4)
	if !deprecateEOF {
		out = cat(out, eof(seq, 2))
		seq++
	}
	for i := 0; i < n; i++ {
		out = cat(out, pkt(seq, lstr("1"), lstr("widget")))
		seq++
	}
	if deprecateEOF {
		return cat(out, okEOF(seq, 2))
	}
	return cat(out, eof(seq, 2))
}

func zframe(seq byte, payload []byte, compress bool) []byte {
	if !compress {
		return cat([]byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq, 0, 0, 0}, payload)
	}
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(payload)
	w.Close()
	z := b.Bytes()
	return cat([]byte{byte(len(z)), byte(len(z) >> 8), byte(len(z) >> 16), seq, byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16)}, z)
}

// step is one driver event: bytes in a direction, a gap, or an end.
type step struct {
	dir  protocols.Direction
	data []byte
	gap  int
	end  bool
}

func feed(dir protocols.Direction, b ...[]byte) step { return step{dir: dir, data: cat(b...)} }
func gap(dir protocols.Direction, n int) step        { return step{dir: dir, gap: n} }
func end(dir protocols.Direction) step               { return step{dir: dir, end: true} }

// driver feeds a parser as protocols.Driver does.
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
		lost := s.gap + len(d.tail[s.dir])
		if sv, ok := d.p.(protocols.Salvager); ok && len(d.tail[s.dir]) > 0 {
			m.Reset()
			if sv.Salvage(s.dir, d.tail[s.dir], &m) {
				d.keep(&m)
				lost = s.gap
			}
		}
		d.p.Gap(s.dir, lost)
		d.tail[s.dir] = nil
	default:
		buf := append(d.tail[s.dir], s.data...)
		for guard := 0; guard < 1<<16; guard++ {
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

func run(cfg *protocols.Config, steps []step) ([]protocols.Message, error) {
	d := &driver{p: mysql.Protocol.New(cfg)}
	for _, s := range steps {
		d.step(s)
	}
	return d.msgs, d.err
}

func s(k, v string) protocols.Attr       { return protocols.String(k, v) }
func i(k string, v int64) protocols.Attr { return protocols.Int(k, v) }

func req(name string, size int, attrs ...protocols.Attr) protocols.Message {
	return protocols.Message{Kind: protocols.Request, Name: name, Size: size, Attrs: attrs}
}

func resp(status protocols.Status, size int, attrs ...protocols.Attr) protocols.Message {
	return protocols.Message{Kind: protocols.Response, Status: status, Size: size, Attrs: attrs}
}

var (
	sysMySQL = s("db.system.name", "mysql")
	nsShop   = s("db.namespace", "shop")
)

func handshake(caps uint32) []step {
	return []step{
		feed(down, greeting("8.0.36", caps|capsBase)),
		feed(up, login(1, caps|capsBase, "alice", "s3cret-scramble", "shop")),
		feed(down, ok(2, 0, 2)),
	}
}

var loginSize = len(login(1, capsBase, "alice", "s3cret-scramble", "shop"))

// mariadbLogin is a handshake response whose filler ends in MariaDB's
// extended capability flags (MARIADB_CLIENT_EXTENDED_METADATA).
var mariadbLogin = pkt(1, u32(capsBase), u32(1<<24), []byte{0x21}, make([]byte, 19), []byte{0x10, 0, 0, 0},
	cstr("alice"), lstr("s3cret-scramble"), cstr("shop"), cstr("mysql_native_password"))

type testCase struct {
	name    string
	cfg     *protocols.Config
	steps   []step
	want    []protocols.Message
	wantErr error
	noSplit bool // the steps contain gaps whose meaning depends on the split
}

func cases() []testCase {
	sel := "SELECT id, name FROM orders WHERE id = 1"
	ins := "INSERT INTO orders (name) VALUES ('widget')"
	commented := "SELECT * FROM orders /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',tracestate='congo%3Dt61rcWkgMzE',x_request_id='req-42'*/"
	return []testCase{
		{
			name: "handshake query result set",
			steps: append(handshake(0),
				feed(up, query(sel)),
				feed(down, resultSet(3, false)),
				feed(up, pkt(0, []byte{1})), // COM_QUIT
			),
			want: []protocols.Message{
				req("CONNECT", loginSize, sysMySQL, nsShop),
				resp(protocols.StatusOK, 11),
				req("SELECT", 4+1+len(sel), sysMySQL, nsShop, s("db.operation.name", "SELECT"), s("db.query.text", sel)),
				resp(protocols.StatusOK, len(resultSet(3, false)), i("db.response.returned_rows", 3)),
				{Kind: protocols.Request, Name: "QUIT", NoResponse: true, Size: 5, Attrs: []protocols.Attr{sysMySQL, nsShop, s("db.operation.name", "QUIT")}},
			},
		},
		{
			// MariaDB clients put their extended capabilities in the last
			// 4 bytes of the handshake response's filler.
			name: "mariadb extended capabilities in the filler",
			steps: []step{
				feed(down, greeting("8.0.36", capsBase)),
				feed(up, mariadbLogin),
				feed(down, ok(2, 0, 2)),
			},
			want: []protocols.Message{
				req("CONNECT", len(mariadbLogin), sysMySQL, nsShop),
				resp(protocols.StatusOK, 11),
			},
		},
		{
			name: "deprecate EOF and affected rows",
			steps: append(handshake(capDeprecate),
				feed(up, query(sel)),
				feed(down, resultSet(2, true)),
				feed(up, query(ins)),
				feed(down, ok(1, 1, 2)),
			),
			want: []protocols.Message{
				req("CONNECT", loginSize, sysMySQL, nsShop),
				resp(protocols.StatusOK, 11),
				req("SELECT", 4+1+len(sel), sysMySQL, nsShop, s("db.operation.name", "SELECT"), s("db.query.text", sel)),
				resp(protocols.StatusOK, len(resultSet(2, true)), i("db.response.returned_rows", 2)),
				req("INSERT", 4+1+len(ins), sysMySQL, nsShop, s("db.operation.name", "INSERT"), s("db.query.text", ins)),
				resp(protocols.StatusOK, 11, i("db.response.returned_rows", 1)),
			},
		},
		{
			name: "login error",
			steps: []step{
				feed(down, greeting("5.7.44", capsBase)),
				feed(up, login(1, capsBase, "alice", "wrong", "shop")),
				feed(down, errp(2, 1045, "Access denied for user 'alice'")),
			},
			want: []protocols.Message{
				req("CONNECT", len(login(1, capsBase, "alice", "wrong", "shop")), sysMySQL, nsShop),
				resp(protocols.StatusError, len(errp(2, 1045, "Access denied for user 'alice'")),
					s("db.response.status_code", "1045"), s("error.type", "1045")),
			},
		},
		{
			name: "auth switch and caching_sha2 fast auth",
			steps: []step{
				feed(down, greeting("8.0.36", capsBase)),
				feed(up, login(1, capsBase, "alice", "scramble1", "shop")),
				feed(down, pkt(2, []byte{0xfe}, cstr("caching_sha2_password"), str("0123456789abcdefghij"), []byte{0})),
				feed(up, pkt(3, str("password-scramble-32-bytes-long!"))),
				feed(down, pkt(4, []byte{1, 3})),
				feed(down, ok(5, 0, 2)),
				feed(up, pkt(0, []byte{0x0e})), // COM_PING
				feed(down, ok(1, 0, 2)),
			},
			want: []protocols.Message{
				req("CONNECT", len(login(1, capsBase, "alice", "scramble1", "shop")), sysMySQL, nsShop),
				resp(protocols.StatusOK, 4+1+22+21+4+2+11),
				req("PING", 5, sysMySQL, nsShop, s("db.operation.name", "PING")),
				resp(protocols.StatusOK, 11),
			},
		},
		{
			name: "prepared statement",
			steps: append(handshake(0),
				feed(up, pkt(0, []byte{0x16}, str("SELECT name FROM orders WHERE id = ?"))),
				feed(down, pkt(1, []byte{0}, u32(7), u16(1), u16(1), []byte{0}, u16(0)), colDef(2, "?"), eof(3, 2), colDef(4, "name"), eof(5, 2)),
				feed(up, pkt(0, []byte{0x17}, u32(7), []byte{0}, u32(1), []byte{0}, []byte{1, 8, 0}, u32(1), u32(0))),
				feed(down, pkt(1, lenenc(1)), colDef(2, "name"), eof(3, 2), pkt(4, []byte{0, 0}, lstr("widget")), eof(5, 2)),
				feed(up, pkt(0, []byte{0x19}, u32(7))),
				feed(up, pkt(0, []byte{0x17}, u32(7), []byte{0}, u32(1))),
				feed(down, errp(1, 1243, "Unknown prepared statement handler")),
			),
			want: []protocols.Message{
				req("CONNECT", loginSize, sysMySQL, nsShop),
				resp(protocols.StatusOK, 11),
				req("PREPARE", 4+1+36, sysMySQL, nsShop, s("db.operation.name", "PREPARE"), s("db.query.text", "SELECT name FROM orders WHERE id = ?")),
				resp(protocols.StatusOK, 16+len(colDef(2, "?"))+9+len(colDef(4, "name"))+9),
				req("EXECUTE SELECT", 4+22, sysMySQL, nsShop, s("db.operation.name", "SELECT"), s("db.query.text", "SELECT name FROM orders WHERE id = ?")),
				resp(protocols.StatusOK, 5+len(colDef(2, "name"))+9+13+9, i("db.response.returned_rows", 1)),
				{Kind: protocols.Request, Name: "STMT_CLOSE", NoResponse: true, Size: 9, Attrs: []protocols.Attr{sysMySQL, nsShop, s("db.operation.name", "STMT_CLOSE")}},
				req("EXECUTE", 4+10, sysMySQL, nsShop, s("db.operation.name", "EXECUTE")),
				resp(protocols.StatusError, len(errp(1, 1243, "Unknown prepared statement handler")), s("db.response.status_code", "1243"), s("error.type", "1243")),
			},
		},
		{
			name: "init db, use and field list",
			steps: append(handshake(0),
				feed(up, pkt(0, []byte{2}, str("billing"))),
				feed(down, ok(1, 0, 2)),
				feed(up, query("USE `crm`")),
				feed(down, ok(1, 0, 2)),
				feed(up, pkt(0, []byte{4}, cstr("accounts"))),
				feed(down, colDef(1, "id"), eof(2, 2)),
			),
			want: []protocols.Message{
				req("CONNECT", loginSize, sysMySQL, nsShop),
				resp(protocols.StatusOK, 11),
				req("INIT_DB", 12, sysMySQL, s("db.namespace", "billing"), s("db.operation.name", "INIT_DB")),
				resp(protocols.StatusOK, 11),
				req("USE", 4+10, sysMySQL, s("db.namespace", "billing"), s("db.operation.name", "USE"), s("db.query.text", "USE `crm`")),
				resp(protocols.StatusOK, 11, i("db.response.returned_rows", 0)),
				req("FIELD_LIST", 4+10, sysMySQL, s("db.namespace", "crm"), s("db.collection.name", "accounts"), s("db.operation.name", "FIELD_LIST")),
				resp(protocols.StatusOK, len(colDef(1, "id"))+9),
			},
		},
		{
			name: "TLS after SSLRequest",
			steps: []step{
				feed(down, greeting("5.5.5-10.11.6-MariaDB", capsBase|capSSL)),
				feed(up, pkt(1, u32(capsBase|capSSL), u32(1<<24), []byte{0x21}, make([]byte, 23))),
				feed(up, str("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 client hello")),
				feed(down, str("\x16\x03\x03\x00\x7a\x02\x00\x00\x76 server hello")),
				feed(up, query("SELECT 'never seen'")),
			},
			want: []protocols.Message{
				{Kind: protocols.Request, Name: "CONNECT", NoResponse: true, Size: 36, Attrs: []protocols.Attr{s("db.system.name", "mariadb"), s("tls.protocol.name", "tls")}},
			},
		},
		{
			name: "compressed protocol",
			steps: append(handshake(capCompress),
				feed(up, zframe(0, query(sel), false)),
				feed(down, zframe(1, resultSet(40, false), true)),
				feed(up, zframe(0, query(ins), true)),
				feed(down, zframe(1, ok(1, 1, 2), false)),
			),
			want: []protocols.Message{
				req("CONNECT", loginSize, sysMySQL, nsShop),
				resp(protocols.StatusOK, 11),
				req("SELECT", 4+1+len(sel), sysMySQL, nsShop, s("db.operation.name", "SELECT"), s("db.query.text", sel)),
				resp(protocols.StatusOK, len(resultSet(40, false)), i("db.response.returned_rows", 40)),
				req("INSERT", 4+1+len(ins), sysMySQL, nsShop, s("db.operation.name", "INSERT"), s("db.query.text", ins)),
				resp(protocols.StatusOK, 11, i("db.response.returned_rows", 1)),
			},
		},
		{
			name: "mid-connection start skips the answer to an unseen command",
			steps: []step{
				feed(down, pkt(5, lstr("1"), lstr("widget")), eof(6, 2)),
				feed(up, query(ins)),
				feed(down, ok(1, 1, 2)),
			},
			want: []protocols.Message{
				req("INSERT", 4+1+len(ins), sysMySQL, s("db.operation.name", "INSERT"), s("db.query.text", ins)),
				resp(protocols.StatusOK, 11, i("db.response.returned_rows", 1)),
			},
		},
		{
			name: "sqlcommenter links",
			steps: []step{
				feed(up, query(commented)),
				feed(down, ok(1, 0, 2)),
			},
			want: []protocols.Message{
				{Kind: protocols.Request, Name: "SELECT", Size: 4 + 1 + len(commented), Attrs: []protocols.Attr{sysMySQL, s("db.operation.name", "SELECT"),
					s("db.query.text", commented)},
					Links: []protocols.Attr{s(protocols.LinkTraceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), s(protocols.LinkTracestate, "congo=t61rcWkgMzE"), s(protocols.LinkXRequestID, "req-42")}},
				resp(protocols.StatusOK, 11, i("db.response.returned_rows", 0)),
			},
		},
		{
			name: "gap inside a row keeps the framing",
			steps: append(handshake(0),
				feed(up, query(sel)),
				feed(down, pkt(1, lenenc(1)), colDef(2, "name"), eof(3, 2), pkt(4, lstr(strings.Repeat("x", 100)))[:40]),
				gap(down, 65),
				feed(down, pkt(5, lstr("y")), eof(6, 2)),
				feed(up, query(sel)),
				feed(down, ok(1, 0, 2)),
			),
			noSplit: true,
			want: []protocols.Message{
				req("CONNECT", loginSize, sysMySQL, nsShop),
				resp(protocols.StatusOK, 11),
				req("SELECT", 4+1+len(sel), sysMySQL, nsShop, s("db.operation.name", "SELECT"), s("db.query.text", sel)),
				{Kind: protocols.Response, Status: protocols.StatusOK, Partial: true, Size: 5 + len(colDef(2, "name")) + 9 + 105 + 6 + 9, Attrs: []protocols.Attr{i("db.response.returned_rows", 2)}},
				req("SELECT", 4+1+len(sel), sysMySQL, nsShop, s("db.operation.name", "SELECT"), s("db.query.text", sel)),
				resp(protocols.StatusOK, 11, i("db.response.returned_rows", 0)),
			},
		},
		{
			name: "gap across packets resynchronises at the next command",
			steps: append(handshake(0),
				feed(up, query(sel)),
				feed(down, pkt(1, lenenc(1)), colDef(2, "name")[:10]),
				gap(down, 300),
				feed(down, pkt(9, lstr("tail of the lost answer"))),
				feed(up, query(ins)),
				feed(down, ok(1, 1, 2)),
			),
			noSplit: true,
			want: []protocols.Message{
				req("CONNECT", loginSize, sysMySQL, nsShop),
				resp(protocols.StatusOK, 11),
				req("SELECT", 4+1+len(sel), sysMySQL, nsShop, s("db.operation.name", "SELECT"), s("db.query.text", sel)),
				{Kind: protocols.Response, Partial: true, Size: 5}, // the cut definition is not counted
				req("INSERT", 4+1+len(ins), sysMySQL, nsShop, s("db.operation.name", "INSERT"), s("db.query.text", ins)),
				resp(protocols.StatusOK, 11, i("db.response.returned_rows", 1)),
			},
		},
		{
			name: "query cut by the snapshot length is salvaged",
			steps: []step{
				feed(up, query(sel)[:20]),
				gap(up, len(sel)+5-20),
				feed(down, ok(1, 0, 2)),
			},
			noSplit: true,
			want: []protocols.Message{
				{Kind: protocols.Request, Name: "SELECT", Partial: true, Size: 4 + 1 + len(sel), Attrs: []protocols.Attr{sysMySQL, s("db.operation.name", "SELECT"), s("db.query.text", sel[:15])}},
				resp(protocols.StatusOK, 11, i("db.response.returned_rows", 0)),
			},
		},
		{
			name:    "unknown command",
			steps:   []step{feed(up, pkt(0, []byte{0x7f}, str("junk")))},
			wantErr: mysql.ErrCommand,
		},
	}
}

func TestParser(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(tc.cfg, tc.steps)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSplits feeds each case with every step split at every position and
// expects the same messages.
func TestSplits(t *testing.T) {
	for _, tc := range cases() {
		if tc.noSplit || tc.wantErr != nil {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			for si, st := range tc.steps {
				for k := 1; k < len(st.data); k++ {
					steps := append([]step(nil), tc.steps[:si]...)
					steps = append(steps, feed(st.dir, st.data[:k]), feed(st.dir, st.data[k:]))
					steps = append(steps, tc.steps[si+1:]...)
					got, err := run(tc.cfg, steps)
					if err != nil {
						t.Fatalf("step %d split at %d: %v", si, k, err)
					}
					if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Fatalf("step %d split at %d (-want +got):\n%s", si, k, diff)
					}
				}
			}
		})
	}
}

// TestSecrets checks that neither the user name nor the authentication data
// reaches a message.
func TestSecrets(t *testing.T) {
	for _, tc := range cases() {
		got, _ := run(tc.cfg, tc.steps)
		for _, m := range got {
			for _, a := range append(m.Attrs, m.Links...) {
				for _, secret := range []string{"alice", "s3cret", "scramble", "password-scramble"} {
					if strings.Contains(a.Value(), secret) {
						t.Errorf("%s: attribute %s=%q holds a secret", tc.name, a.Key, a.Value())
					}
				}
			}
		}
	}
}

// TestLargePacket checks a query longer than 16 MiB: split over a
// continuation packet, its text is cut at MaxQueryBytes and the packets after
// it are parsed.
func TestLargePacket(t *testing.T) {
	text := "SELECT '" + strings.Repeat("a", 0xffffff) + "'"
	payload := append([]byte{3}, text...)
	first := append([]byte{0xff, 0xff, 0xff, 0}, payload[:0xffffff]...)
	second := append([]byte{byte(len(payload) - 0xffffff), 0, 0, 1}, payload[0xffffff:]...)
	got, err := run(nil, []step{
		feed(up, first[:1<<16]), feed(up, first[1<<16:], second),
		feed(down, ok(1, 0, 2)),
		feed(up, pkt(0, []byte{0x0e})),
		feed(down, ok(1, 0, 2)),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []protocols.Message{
		req("SELECT", 4+0xffffff, sysMySQL, s("db.operation.name", "SELECT"), s("db.query.text", text[:mysql.MaxQueryBytes])),
		resp(protocols.StatusOK, 11, i("db.response.returned_rows", 0)),
		req("PING", 5, sysMySQL, s("db.operation.name", "PING")),
		resp(protocols.StatusOK, 11),
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func TestSniff(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want protocols.Direction
	}{
		{"greeting", greeting("8.0.36", capsBase), down},
		{"query", query("select @@version_comment limit 1"), up},
		{"prepare", pkt(0, []byte{0x16}, str("SELECT * FROM t WHERE id = ?")), up},
		{"login", login(1, capsBase, "u", "p", "db"), up},
		{"compressed query", zframe(0, query("SELECT 1"), false), up},
		{"partial query", query("SELECT 1 FROM t")[:10], protocols.DirUnknown},
		{"binary", pkt(0, []byte{3}, []byte{1, 2, 3, 4}), protocols.DirUnknown},
		{"not a keyword", query("hello world"), protocols.DirUnknown},
		{"http", str("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), protocols.DirUnknown},
		{"postgres query", str("Q\x00\x00\x00\x0dSELECT 1\x00"), protocols.DirUnknown},
		{"ping", pkt(0, []byte{0x0e}), protocols.DirUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mysql.Sniff(tc.in); got != tc.want {
				t.Errorf("Sniff = %v, want %v", got, tc.want)
			}
		})
	}
}

// BenchmarkParse measures a keep-alive connection: one query and its result
// set per iteration.
func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name     string
		caps     uint32
		req      []byte
		response []byte
	}{
		{"query", 0, query("SELECT id, name FROM orders WHERE id = 1"), resultSet(10, false)},
		{"query_deprecate_eof", capDeprecate, query("SELECT id, name FROM orders WHERE id = 1"), resultSet(10, true)},
		{"compressed", capCompress, zframe(0, query("SELECT id, name FROM orders WHERE id = 1"), false), zframe(1, resultSet(10, false), true)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := mysql.New(nil)
			var m protocols.Message
			drain := func(dir protocols.Direction, data []byte) {
				for len(data) > 0 {
					m.Reset()
					n, done, err := p.Parse(dir, data, &m)
					if err != nil {
						b.Fatal(err)
					}
					data = data[n:]
					if n == 0 && !done {
						b.Fatal("stuck")
					}
				}
			}
			for _, st := range handshake(bc.caps) {
				drain(st.dir, st.data)
			}
			b.SetBytes(int64(len(bc.req) + len(bc.response)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				drain(up, bc.req)
				drain(down, bc.response)
			}
		})
	}
}
