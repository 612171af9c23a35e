package http2_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/net/http2/hpack"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/http2"
)

const (
	up   = protocols.ToServer
	down = protocols.ToClient
)

const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// conn builds the bytes of one direction of a connection: frames whose
// header blocks come from an HPACK encoder that keeps its state.
type conn struct {
	buf bytes.Buffer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newConn() *conn {
	c := &conn{}
	c.enc = hpack.NewEncoder(&c.hb)
	return c
}

func (c *conn) raw(s string) *conn { c.buf.WriteString(s); return c }

func (c *conn) frame(typ, flags uint8, stream uint32, payload []byte) *conn {
	var h [9]byte
	h[0], h[1], h[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	h[3], h[4] = typ, flags
	binary.BigEndian.PutUint32(h[5:], stream)
	c.buf.Write(h[:])
	c.buf.Write(payload)
	return c
}

// block encodes header fields given as name, value pairs; a name starting
// with '!' is encoded never-indexed.
func (c *conn) block(kv ...string) []byte {
	c.hb.Reset()
	for i := 0; i < len(kv); i += 2 {
		name, sens := kv[i], false
		if strings.HasPrefix(name, "!") {
			name, sens = name[1:], true
		}
		c.enc.WriteField(hpack.HeaderField{Name: name, Value: kv[i+1], Sensitive: sens})
	}
	return append([]byte(nil), c.hb.Bytes()...)
}

func (c *conn) headers(stream uint32, flags uint8, kv ...string) *conn {
	return c.frame(1, flags|0x4, stream, c.block(kv...))
}

func (c *conn) data(stream uint32, flags uint8, body string) *conn {
	return c.frame(0, flags, stream, []byte(body))
}

func (c *conn) settings(kv ...uint32) *conn {
	var p []byte
	for i := 0; i < len(kv); i += 2 {
		p = binary.BigEndian.AppendUint16(p, uint16(kv[i]))
		p = binary.BigEndian.AppendUint32(p, kv[i+1])
	}
	return c.frame(4, 0, 0, p)
}

func (c *conn) bytes() string { return c.buf.String() }

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
		d.p.Gap(s.dir, s.gap+len(d.tail[s.dir]))
		d.tail[s.dir] = nil
	default:
		buf := append(d.tail[s.dir], s.data...)
		for len(buf) > 0 {
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
	d := &driver{p: http2.Protocol.New(cfg)}
	for _, s := range steps {
		d.step(s)
	}
	return d.msgs, d.err
}

func s(k, v string) protocols.Attr       { return protocols.String(k, v) }
func i(k string, v int64) protocols.Attr { return protocols.Int(k, v) }

// grpcCall returns a unary gRPC call on stream 1 from the connection start.
func grpcCall(status string, reqKV ...string) (req, resp string) {
	c, sv := newConn(), newConn()
	kv := append([]string{
		":method", "POST", ":scheme", "http", ":path", "/hipstershop.CartService/GetCart",
		":authority", "cartservice:7070", "content-type", "application/grpc",
		"user-agent", "grpc-go/1.22.0", "te", "trailers",
	}, reqKV...)
	c.raw(preface).settings().headers(1, 0, kv...).data(1, 1, "\x00\x00\x00\x00\x02ab")
	sv.settings(5, 32768).frame(4, 1, 0, nil).
		headers(1, 0, ":status", "200", "content-type", "application/grpc").
		data(1, 0, "\x00\x00\x00\x00\x01z").
		headers(1, 1, "grpc-status", status, "grpc-message", "")
	return c.bytes(), sv.bytes()
}

func grpcReq(size int, attrs ...protocols.Attr) protocols.Message {
	return protocols.Message{
		Kind: protocols.Request, Name: "hipstershop.CartService/GetCart", Protocol: "grpc",
		ID: 1, HasID: true, Size: size, BodySize: 7,
		Attrs: append([]protocols.Attr{
			s("rpc.system", "grpc"), s("rpc.service", "hipstershop.CartService"), s("rpc.method", "GetCart"),
			s("server.address", "cartservice"), i("server.port", 7070),
			s("user_agent.original", "grpc-go/1.22.0"), s("network.protocol.version", "2"),
			i("http.request.body.size", 7),
		}, attrs...),
	}
}

func grpcResp(size int, code int64, st protocols.Status) protocols.Message {
	return protocols.Message{
		Kind: protocols.Response, Protocol: "grpc", ID: 1, HasID: true, Status: st, Size: size, BodySize: 6,
		Attrs: []protocols.Attr{
			i("http.response.status_code", 200), i("rpc.grpc.status_code", code),
			s("network.protocol.version", "2"), i("http.response.body.size", 6),
		},
	}
}

var diffOpts = cmpopts.EquateEmpty()

type parseTest struct {
	name    string
	cfg     *protocols.Config
	steps   []step
	want    []protocols.Message
	wantErr error
	split   bool // also run with every feed split at every byte position
}

func TestParse(t *testing.T) {
	reqOK, respOK := grpcCall("0")
	_, respNotFound := grpcCall("5")
	_, respInternal := grpcCall("13")
	reqSize := len(reqOK) - len(preface) - 9 // without preface and SETTINGS
	respSize := len(respOK) - 2*9 - 6        // without the SETTINGS frames

	// Plain HTTP with links and secrets.
	hc, hs := newConn(), newConn()
	hc.raw(preface).settings(1, 8192).headers(1, 1,
		":method", "GET", ":scheme", "https", ":path", "/a/b?x=1&y=2", ":authority", "example.com",
		"user-agent", "curl/8.5.0", "!authorization", "Bearer s3cret", "cookie", "sid=c00kie",
		"x-request-id", "rid-1", "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1", "sw8", "1-abc-def-0")
	hs.settings().headers(1, 0, ":status", "100").headers(1, 0, ":status", "503", "set-cookie", "x=1").data(1, 1, "oops")
	httpReq := protocols.Message{
		Kind: protocols.Request, Name: "GET /a/b", ID: 1, HasID: true, Size: len(hc.bytes()) - len(preface) - 15,
		Attrs: []protocols.Attr{
			s("http.request.method", "GET"), s("url.path", "/a/b"), s("url.query", "x=1&y=2"),
			s("url.scheme", "https"), s("server.address", "example.com"), s("user_agent.original", "curl/8.5.0"),
			s("network.protocol.version", "2"), i("http.request.body.size", 0),
		},
		Links: []protocols.Attr{
			s(protocols.LinkXRequestID, "rid-1"),
			s(protocols.LinkTraceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
			s(protocols.LinkB3, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
			s(protocols.LinkSW8, "1-abc-def-0"),
		},
	}
	httpResp := protocols.Message{
		Kind: protocols.Response, ID: 1, HasID: true, Status: protocols.StatusError,
		Size: len(hs.bytes()) - 9, BodySize: 4,
		Attrs: []protocols.Attr{
			i("http.response.status_code", 503), s("network.protocol.version", "2"), i("http.response.body.size", 4),
		},
	}

	// Two streams answered in reverse order, one with CONTINUATION and
	// padding.
	mc, ms := newConn(), newConn()
	mc.raw(preface).settings()
	blk := mc.block(":method", "GET", ":scheme", "http", ":path", "/one", ":authority", "h:8080")
	mc.frame(1, 0x8|0x1, 1, append(append([]byte{3}, blk[:4]...), 0, 0, 0)).frame(9, 0x4, 1, blk[4:])
	mc.headers(3, 1, ":method", "GET", ":scheme", "http", ":path", "/two", ":authority", "h:8080")
	ms.settings().headers(3, 0, ":status", "200").frame(0, 0x9, 3, []byte("\x02ok\x00\x00")).
		headers(1, 0, ":status", "404").data(1, 1, "")
	two := func(id uint64, path string, size int) protocols.Message {
		return protocols.Message{
			Kind: protocols.Request, Name: "GET " + path, ID: id, HasID: true, Size: size,
			Attrs: []protocols.Attr{
				s("http.request.method", "GET"), s("url.path", path), s("url.scheme", "http"),
				s("server.address", "h"), i("server.port", 8080),
				s("network.protocol.version", "2"), i("http.request.body.size", 0),
			},
		}
	}
	respN := func(id uint64, code int64, size, body int) protocols.Message {
		return protocols.Message{
			Kind: protocols.Response, ID: id, HasID: true, Status: protocols.StatusOK, Size: size, BodySize: body,
			Attrs: []protocols.Attr{
				i("http.response.status_code", code), s("network.protocol.version", "2"),
				i("http.response.body.size", int64(body)),
			},
		}
	}

	// RST_STREAM from the client, and a server ending a stream first.
	rc, rs := newConn(), newConn()
	rc.raw(preface).settings().
		headers(1, 0, ":method", "POST", ":scheme", "http", ":path", "/svc.S/Bidi", ":authority", "s", "content-type", "application/grpc").
		headers(3, 0, ":method", "POST", ":scheme", "http", ":path", "/svc.S/Bidi", ":authority", "s", "content-type", "application/grpc")
	rs.settings().headers(3, 1, ":status", "200", "content-type", "application/grpc", "grpc-status", "12")
	rst := newConn().frame(3, 0, 1, []byte{0, 0, 0, 8}).bytes()
	bidi := func(id uint64) protocols.Message {
		return protocols.Message{
			Kind: protocols.Request, Name: "svc.S/Bidi", Protocol: "grpc", ID: id, HasID: true,
			Attrs: []protocols.Attr{
				s("rpc.system", "grpc"), s("rpc.service", "svc.S"), s("rpc.method", "Bidi"),
				s("server.address", "s"), s("network.protocol.version", "2"), i("http.request.body.size", 0),
			},
		}
	}
	bidi1, bidi3 := bidi(1), bidi(3)
	bidi1.Size, bidi3.Size = 51, 9+5 // stream 1 counts its RST_STREAM

	// Mid-stream join: the dynamic table is unknown.
	jc := newConn()
	jc.block(":authority", "svc:1", "user-agent", "old") // entries the capture missed
	jc.headers(5, 0, ":method", "POST", ":scheme", "http", ":path", "/new", ":authority", "svc:1", "user-agent", "old")
	jc.data(5, 1, "abc")
	join := protocols.Message{
		Kind: protocols.Request, Name: "POST /new", ID: 5, HasID: true, Partial: true, Size: len(jc.bytes()), BodySize: 3,
		Attrs: []protocols.Attr{
			s("http.request.method", "POST"), s("url.path", "/new"), s("url.scheme", "http"),
			s("network.protocol.version", "2"), i("http.request.body.size", 3),
		},
	}

	// grpc-trace-bin.
	reqTB, respTB := grpcCall("0", "grpc-trace-bin", "AADG6Vae1MQlcaef6kcy628cAaUNNlulOj+aAgE")
	tbReq := grpcReq(len(reqTB) - len(preface) - 9)
	tbReq.Links = []protocols.Attr{s(protocols.LinkTraceparent, "00-c6e9569ed4c42571a79fea4732eb6f1c-a50d365ba53a3f9a-01")}

	// Gap inside a DATA frame, then a gap losing frame boundaries.
	gc, gs := newConn(), newConn()
	gc.raw(preface).settings().headers(1, 0, ":method", "POST", ":scheme", "http", ":path", "/up", ":authority", "g")
	gcHead := gc.bytes()
	gc.data(1, 1, strings.Repeat("x", 100))
	gcBody := gc.bytes()[len(gcHead):]
	gs.settings().headers(1, 1, ":status", "204")
	gs2 := newConn()
	gs2.headers(3, 1, ":status", "200") // a new encoder: no dynamic refs

	tests := []parseTest{
		{
			name:  "grpc unary",
			steps: []step{feed(up, reqOK), feed(down, respOK)},
			want:  []protocols.Message{grpcReq(reqSize), grpcResp(respSize, 0, protocols.StatusOK)},
			split: true,
		},
		{
			name:  "grpc not found is not a server error",
			steps: []step{feed(up, reqOK), feed(down, respNotFound)},
			want:  []protocols.Message{grpcReq(reqSize), grpcResp(respSize, 5, protocols.StatusOK)},
		},
		{
			name:  "grpc internal is an error",
			steps: []step{feed(up, reqOK), feed(down, respInternal)},
			want:  []protocols.Message{grpcReq(reqSize), grpcResp(len(respInternal)-24, 13, protocols.StatusError)},
		},
		{
			name:  "grpc-trace-bin becomes traceparent",
			steps: []step{feed(up, reqTB), feed(down, respTB)},
			want:  []protocols.Message{tbReq, grpcResp(respSize, 0, protocols.StatusOK)},
		},
		{
			name:  "http links, no secrets, interim skipped",
			cfg:   &protocols.Config{XRequestIDHeaders: []string{"Authorization", "Cookie", "X-Request-ID"}},
			steps: []step{feed(up, hc.bytes()), feed(down, hs.bytes())},
			want:  []protocols.Message{httpReq, httpResp},
			split: true,
		},
		{
			name:  "multiplexed with continuation and padding",
			steps: []step{feed(up, mc.bytes()), feed(down, ms.bytes())},
			want: []protocols.Message{
				two(1, "/one", 17+9+10), two(3, "/two", 9+8), respN(3, 200, 10+14, 2), respN(1, 404, 10+9, 0),
			},
			split: true,
		},
		{
			name: "rst stream and server ending first",
			steps: []step{
				feed(up, rc.bytes()), feed(down, rs.bytes()), feed(up, rst),
			},
			want: []protocols.Message{
				bidi3,
				{
					Kind: protocols.Response, Protocol: "grpc", ID: 3, HasID: true, Status: protocols.StatusError,
					Size: len(rs.bytes()) - 9,
					Attrs: []protocols.Attr{
						i("http.response.status_code", 200), i("rpc.grpc.status_code", 12),
						s("network.protocol.version", "2"), i("http.response.body.size", 0),
					},
				},
				bidi1,
				{
					Kind: protocols.Response, Protocol: "grpc", ID: 1, HasID: true, Status: protocols.StatusError,
					Attrs: []protocols.Attr{
						s("error.type", "CANCEL"), s("network.protocol.version", "2"), i("http.response.body.size", 0),
					},
				},
			},
		},
		{
			name:  "mid-stream join decodes what it can",
			steps: []step{feed(up, jc.bytes())},
			want:  []protocols.Message{join},
			split: true,
		},
		{
			name: "gap inside data keeps framing",
			steps: []step{
				feed(up, gcHead+gcBody[:30]), gap(up, 50), feed(up, gcBody[80:]),
				feed(down, gs.bytes()),
			},
			want: []protocols.Message{
				{
					Kind: protocols.Request, Name: "POST /up", ID: 1, HasID: true, Partial: true,
					Size: len(gcHead) - len(preface) - 9 + 109, BodySize: 100,
					Attrs: []protocols.Attr{
						s("http.request.method", "POST"), s("url.path", "/up"), s("url.scheme", "http"),
						s("server.address", "g"), s("network.protocol.version", "2"), i("http.request.body.size", 100),
					},
				},
				respN(1, 204, len(gs.bytes())-9, 0),
			},
		},
		{
			name: "gap losing frame boundaries resynchronises",
			steps: []step{
				feed(up, gcHead), feed(down, gs.bytes()[:9+6]), gap(down, 7), feed(down, "\x00\x01\x02"+gs2.bytes()),
			},
			want: []protocols.Message{
				{
					Kind: protocols.Request, Name: "HTTP/2 stream", ID: 3, HasID: true, Partial: true,
					Attrs: []protocols.Attr{s("network.protocol.version", "2"), i("http.request.body.size", 0)},
				},
				respN(3, 200, len(gs2.bytes()), 0),
			},
		},
		{
			name:    "bad frame after preface",
			steps:   []step{feed(up, preface+"\x00\x00\x04\x04\x00\x00\x00\x00\x00abcd")},
			wantErr: http2.ErrFrame,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc, tc.steps)
			if !tc.split {
				return
			}
			for si, st := range tc.steps {
				if st.data == "" {
					continue
				}
				for k := 1; k < len(st.data); k++ {
					steps := append([]step(nil), tc.steps[:si]...)
					steps = append(steps, feed(st.dir, st.data[:k]), feed(st.dir, st.data[k:]))
					steps = append(steps, tc.steps[si+1:]...)
					if !check(t, tc, steps) {
						t.Fatalf("split step %d at %d", si, k)
					}
				}
			}
		})
	}
}

func check(t *testing.T, tc parseTest, steps []step) bool {
	t.Helper()
	got, err := run(tc.cfg, steps)
	if tc.wantErr != nil {
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("err = %v, want %v", err, tc.wantErr)
			return false
		}
		return true
	}
	if err != nil {
		t.Errorf("unexpected error %v", err)
		return false
	}
	if diff := cmp.Diff(tc.want, got, diffOpts); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
		return false
	}
	return true
}

func TestSniff(t *testing.T) {
	req, resp := grpcCall("0")
	mid := newConn()
	mid.frame(8, 0, 0, []byte{0, 0, 1, 0}).headers(7, 0, ":method", "GET", ":path", "/")
	midResp := newConn()
	midResp.frame(6, 1, 0, make([]byte, 8)).headers(7, 0, ":status", "200")
	tests := []struct {
		name string
		in   string
		want protocols.Direction
	}{
		{"preface", req, up},
		{"preface cut", preface[:10], protocols.DirUnknown},
		{"server settings", resp, down},
		{"settings ack is ambiguous", newConn().frame(4, 1, 0, nil).bytes(), protocols.DirUnknown},
		{"mid-stream request", mid.bytes(), up},
		{"mid-stream response", midResp.bytes(), down},
		{"http/1 request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", protocols.DirUnknown},
		{"http/1 response", "HTTP/1.1 200 OK\r\n\r\n", protocols.DirUnknown},
		{"mysql greeting", "\x4a\x00\x00\x00\x0a8.0.36\x00", protocols.DirUnknown},
		{"kafka request", "\x00\x00\x00\x2a\x00\x03\x00\x09\x00\x00\x00\x01", protocols.DirUnknown},
		{"unknown flags", "\x00\x00\x00\x04\x80\x00\x00\x00\x00", protocols.DirUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := http2.Protocol.Sniff([]byte(tc.in)); got != tc.want {
				t.Errorf("Sniff = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnknownDirection(t *testing.T) {
	p := http2.New(nil)
	var m protocols.Message
	if _, done, err := p.Parse(protocols.DirUnknown, []byte(preface), &m); !errors.Is(err, http2.ErrDirection) || done {
		t.Errorf("Parse(DirUnknown) = done %v, err %v; want ErrDirection", done, err)
	}
	p.Gap(protocols.DirUnknown, 10)
	if p.End(protocols.DirUnknown, &m) {
		t.Error("End(DirUnknown) = true")
	}
}
