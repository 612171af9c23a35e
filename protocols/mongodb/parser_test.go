package mongodb_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mongodb"
)

// sum is the part of a Message the tests compare.
type sum struct {
	Kind       protocols.Kind
	Name       string
	ID         uint64
	Status     protocols.Status
	Partial    bool
	NoResponse bool
	Attrs      map[string]string
	Links      []string
}

func summarise(m *protocols.Message) sum {
	s := sum{Kind: m.Kind, Name: m.Name, ID: m.ID, Status: m.Status, Partial: m.Partial,
		NoResponse: m.NoResponse, Attrs: map[string]string{}}
	for _, a := range m.Attrs {
		s.Attrs[a.Key] = a.Value()
	}
	for _, l := range m.Links {
		s.Links = append(s.Links, l.Key+"="+l.Str)
	}
	return s
}

type chunk struct {
	dir  protocols.Direction
	data []byte
	gap  int
}

func req(b []byte) chunk  { return chunk{dir: protocols.ToServer, data: b} }
func resp(b []byte) chunk { return chunk{dir: protocols.ToClient, data: b} }

// run drives a parser as the protocols driver does.
func run(cfg *protocols.Config, chunks []chunk) ([]sum, error) {
	p := mongodb.New(cfg)
	var tail [3][]byte
	var out []sum
	for _, c := range chunks {
		if c.gap > 0 {
			lost := c.gap
			var m protocols.Message
			if len(tail[c.dir]) > 0 && p.Salvage(c.dir, tail[c.dir], &m) {
				out = append(out, summarise(&m))
			} else {
				lost += len(tail[c.dir])
			}
			tail[c.dir] = nil
			p.Gap(c.dir, lost)
			continue
		}
		buf := append(tail[c.dir], c.data...)
		off := 0
		for off < len(buf) {
			var m protocols.Message
			n, done, err := p.Parse(c.dir, buf[off:], &m)
			if err != nil {
				return out, err
			}
			if n < 0 || n > len(buf)-off {
				return out, errors.New("n out of range")
			}
			off += n
			if done {
				out = append(out, summarise(&m))
				continue
			}
			if n == 0 {
				break
			}
		}
		tail[c.dir] = append([]byte(nil), buf[off:]...)
	}
	for _, d := range []protocols.Direction{protocols.ToServer, protocols.ToClient} {
		var m protocols.Message
		for i := 0; i < 4 && p.End(d, &m); i++ {
			out = append(out, summarise(&m))
			m = protocols.Message{}
		}
	}
	return out, nil
}

const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// reqSum is a request summary; kv are extra attributes.
func reqSum(id uint64, name string, links []string, kv ...string) sum {
	s := sum{Kind: protocols.Request, Name: name, ID: id, Attrs: map[string]string{
		"db.system.name": "mongodb", "mongodb.request_id": itoa(id), "mongodb.opcode": "OP_MSG"}, Links: links}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(s.Attrs, kv[i])
			continue
		}
		s.Attrs[kv[i]] = kv[i+1]
	}
	return s
}

func okSum(id uint64, kv ...string) sum {
	s := sum{Kind: protocols.Response, ID: id, Status: protocols.StatusOK, Attrs: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		s.Attrs[kv[i]] = kv[i+1]
	}
	return s
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

func findReq(id int32, coll, comment string) []byte {
	d := doc().AppendString("find", coll).AppendDocument("filter", doc().AppendString("name", "secret-value").Build())
	if comment != "" {
		d.AppendString("comment", comment)
	}
	return opMsg(id, 0, 0, d.AppendString("$db", "shop").Build(), nil)
}

func okReply(respTo int32) []byte {
	return opMsg(900+respTo, respTo, 0, doc().AppendDocument("cursor", doc().AppendInt64("id", 0).Build()).AppendDouble("ok", 1).Build(), nil)
}

func find(id uint64, links []string) sum {
	return reqSum(id, "find orders", links, "db.operation.name", "find", "db.collection.name", "orders", "db.namespace", "shop")
}

func TestParse(t *testing.T) {
	insertBody := doc().AppendString("insert", "orders").AppendBoolean("ordered", true).AppendString("$db", "shop").Build()
	docs := [][]byte{doc().AppendInt32("_id", 1).Build(), doc().AppendInt32("_id", 2).Build()}
	insert := reqSum(5, "insert orders", nil, "db.operation.name", "insert", "db.collection.name", "orders", "db.namespace", "shop")
	cases := []struct {
		name    string
		cfg     *protocols.Config
		in      []chunk
		want    []sum
		wantErr error
	}{
		{
			name: "find with a sqlcommenter comment",
			in:   []chunk{req(findReq(7, "orders", "traceparent='"+tp+"',x-request-id='r-1'")), resp(okReply(7))},
			want: []sum{find(7, []string{"traceparent=" + tp, "x_request_id=r-1"}), okSum(7)},
		},
		{
			name: "comment document",
			in: []chunk{req(opMsg(8, 0, 0, doc().AppendString("find", "orders").AppendDocument("comment",
				doc().AppendString("traceparent", tp).AppendInt32("n", 1).AppendString("requestId", "r-2").Build()).AppendString("$db", "shop").Build(), nil))},
			want: []sum{find(8, []string{"traceparent=" + tp, "x_request_id=r-2"})},
		},
		{
			name: "comment without pairs",
			in:   []chunk{req(findReq(8, "orders", "nightly report"))},
			want: []sum{find(8, nil)},
		},
		{
			name: "kind-1 document sequence and checksum",
			in:   []chunk{req(opMsg(5, 0, 1, insertBody, docs)), resp(opMsg(6, 5, 1, doc().AppendInt32("n", 2).AppendDouble("ok", 1).Build(), nil))},
			want: []sum{insert, okSum(5)},
		},
		{
			name: "moreToCome: no response",
			in:   []chunk{req(opMsg(5, 0, 2, insertBody, docs))},
			want: []sum{func() sum { s := insert; s.NoResponse = true; return s }()},
		},
		{
			name: "command error",
			in: []chunk{req(findReq(9, "orders", "")), resp(opMsg(10, 9, 0, doc().AppendDouble("ok", 0).AppendString("errmsg", "not authorized").
				AppendInt32("code", 13).AppendString("codeName", "Unauthorized").Build(), nil))},
			want: []sum{find(9, nil), func() sum {
				s := okSum(9, "error.type", "Unauthorized", "db.response.status_code", "13")
				s.Status = protocols.StatusError
				return s
			}()},
		},
		{
			name: "write errors",
			in: []chunk{resp(opMsg(10, 5, 0, doc().AppendInt32("n", 0).AppendArray("writeErrors", bsoncoreArray(
				doc().AppendInt32("index", 0).AppendInt32("code", 11000).AppendString("errmsg", "E11000 duplicate key").Build())).
				AppendDouble("ok", 1).Build(), nil))},
			want: []sum{func() sum {
				s := okSum(5, "error.type", "11000", "db.response.status_code", "11000")
				s.Status = protocols.StatusError
				return s
			}()},
		},
		{
			name: "sasl: named, comment not read",
			in: []chunk{req(opMsg(3, 0, 0, doc().AppendInt32("saslStart", 1).AppendString("mechanism", "SCRAM-SHA-256").
				AppendBinary("payload", 0, []byte("n,,n=admin,r=secret")).AppendString("comment", "traceparent="+tp).AppendString("$db", "admin").Build(), nil))},
			want: []sum{reqSum(3, "saslStart", nil, "db.operation.name", "saslStart", "db.namespace", "admin")},
		},
		{
			name: "legacy OP_QUERY command and OP_REPLY",
			in: []chunk{
				req(opQuery(1, "admin.$cmd", doc().AppendInt32("isMaster", 1).AppendDocument("client", doc().AppendString("a", "b").Build()).Build())),
				resp(opReply(1, 0, doc().AppendBoolean("ismaster", true).AppendDouble("ok", 1).Build())),
			},
			want: []sum{reqSum(1, "isMaster", nil, "mongodb.opcode", "OP_QUERY", "db.operation.name", "isMaster", "db.namespace", "admin"),
				okSum(1)},
		},
		{
			name: "legacy find wrapped in $query, query failure",
			in: []chunk{
				req(opQuery(2, "shop.orders", doc().AppendDocument("$query", doc().AppendInt32("a", 1).Build()).AppendString("$comment", "traceparent="+tp).Build())),
				resp(opReply(2, 2, doc().AppendString("$err", "bad").AppendInt32("code", 2).Build())),
			},
			want: []sum{reqSum(2, "find orders", []string{"traceparent=" + tp}, "mongodb.opcode", "OP_QUERY", "db.operation.name", "find",
				"db.collection.name", "orders", "db.namespace", "shop"),
				func() sum {
					s := okSum(2, "error.type", "2", "db.response.status_code", "2")
					s.Status = protocols.StatusError
					return s
				}()},
		},
		{
			name: "OP_COMPRESSED snappy, zlib, zstd, noop, unknown",
			in: []chunk{
				req(compress(findReq(11, "orders", ""), 1)), resp(compress(okReply(11), 2)),
				req(compress(findReq(12, "orders", ""), 3)), resp(compress(okReply(12), 0)),
				req(compress(findReq(13, "orders", ""), 9)),
			},
			want: []sum{
				func() sum { s := find(11, nil); s.Attrs["mongodb.compressor"] = "snappy"; return s }(),
				okSum(11, "mongodb.compressor", "zlib"),
				func() sum { s := find(12, nil); s.Attrs["mongodb.compressor"] = "zstd"; return s }(),
				okSum(12, "mongodb.compressor", "noop"),
				reqSum(13, "mongodb", nil, "mongodb.compressor", "unknown", "mongodb.decompressed", "false"),
			},
		},
		{
			name: "legacy insert: no response",
			in:   []chunk{req(header(4, 0, 2002, append(append([]byte{0, 0, 0, 0}, "shop.orders\x00"...), docs[0]...)))},
			want: []sum{func() sum {
				s := reqSum(4, "insert orders", nil, "mongodb.opcode", "OP_INSERT", "db.operation.name", "insert", "db.collection.name", "orders", "db.namespace", "shop")
				s.NoResponse = true
				return s
			}()},
		},
		{
			name: "split byte by byte",
			in: func() []chunk {
				var cs []chunk
				for _, b := range findReq(7, "orders", "traceparent="+tp) {
					cs = append(cs, req([]byte{b}))
				}
				return cs
			}(),
			want: []sum{find(7, []string{"traceparent=" + tp})},
		},
		{
			name: "gap inside a message",
			in: func() []chunk {
				m := opMsg(5, 0, 0, insertBody, [][]byte{doc().AppendString("blob", strings.Repeat("x", 400)).Build()})
				return []chunk{req(m[:80]), {dir: protocols.ToServer, gap: 200}, req(m[280:]), req(findReq(6, "orders", ""))}
			}(),
			want: []sum{func() sum { s := insert; s.Partial = true; return s }(), find(6, nil)},
		},
		{
			name: "gap past the end: resynchronised",
			in: func() []chunk {
				m := findReq(5, "orders", "")
				return []chunk{req(m[:10]), {dir: protocols.ToServer, gap: len(m)}, req([]byte("junk junk junk junk junk")), req(findReq(6, "orders", ""))}
			}(),
			want: []sum{find(6, nil)},
		},
		{
			name: "large message decoded from its prefix",
			cfg:  &protocols.Config{MaxHeaderBytes: 128},
			in: func() []chunk {
				m := opMsg(5, 0, 0, insertBody, [][]byte{doc().AppendString("blob", strings.Repeat("x", 900)).Build()})
				return []chunk{req(m[:200]), req(m[200:])}
			}(),
			want: []sum{insert},
		},
		{
			name:    "not mongodb",
			in:      []chunk{req([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))},
			wantErr: mongodb.ErrLength,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := run(c.cfg, c.in)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	m := header(1, 0, 2013, nil)
	m[0], m[1], m[2], m[3] = 0, 0, 0, 0x7f
	_, err := run(nil, []chunk{req(m)})
	if !errors.Is(err, mongodb.ErrTooLarge) {
		t.Errorf("err = %v", err)
	}
}

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want protocols.Direction
	}{
		{"op_msg request", findReq(1, "orders", ""), protocols.ToServer},
		{"op_msg reply", okReply(1), protocols.ToClient},
		{"op_query", opQuery(1, "admin.$cmd", doc().AppendInt32("isMaster", 1).Build()), protocols.ToServer},
		{"op_reply", opReply(1, 0, doc().AppendDouble("ok", 1).Build()), protocols.ToClient},
		{"compressed", compress(findReq(1, "orders", ""), 2), protocols.ToServer},
		{"short", findReq(1, "orders", "")[:20], protocols.DirUnknown},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), protocols.DirUnknown},
		{"tls", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03abcdefghijklmnop"), protocols.DirUnknown},
	} {
		if got := mongodb.Sniff(c.in); got != c.want {
			t.Errorf("%s: Sniff = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestAllocs(t *testing.T) {
	p := mongodb.New(nil)
	q := findReq(7, "orders", "")
	r := okReply(7)
	m := protocols.Message{Attrs: make([]protocols.Attr, 0, 16), Links: make([]protocols.Attr, 0, 16)}
	n := testing.AllocsPerRun(100, func() {
		m.Reset()
		p.Parse(protocols.ToServer, q, &m)
		m.Reset()
		p.Parse(protocols.ToClient, r, &m)
	})
	if n != 0 {
		t.Errorf("%v allocations per request and reply, want 0", n)
	}
}

func BenchmarkParse(b *testing.B) {
	insertBody := doc().AppendString("insert", "orders").AppendBoolean("ordered", true).AppendString("$db", "shop").Build()
	for _, c := range []struct {
		name      string
		req, resp []byte
	}{
		{"find", findReq(7, "orders", ""), okReply(7)},
		{"find_comment", findReq(7, "orders", "traceparent='"+tp+"'"), okReply(7)},
		{"insert_seq", opMsg(7, 0, 0, insertBody, [][]byte{doc().AppendInt32("_id", 1).AppendString("item", "widget").Build()}), okReply(7)},
		{"find_zstd", compress(findReq(7, "orders", ""), 3), compress(okReply(7), 3)},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := mongodb.New(nil)
			var m protocols.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(c.req) + len(c.resp)))
			for b.Loop() {
				m.Reset()
				if _, done, err := p.Parse(protocols.ToServer, c.req, &m); !done || err != nil {
					b.Fatal(done, err)
				}
				m.Reset()
				if _, done, err := p.Parse(protocols.ToClient, c.resp, &m); !done || err != nil {
					b.Fatal(done, err)
				}
			}
		})
	}
}
