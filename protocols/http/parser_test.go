package http_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/http"
)

const (
	up   = protocols.ToServer
	down = protocols.ToClient
)

// step is one driver event: bytes in a direction, a gap, or the end of a
// direction.
type step struct {
	dir  protocols.Direction
	data string
	gap  int
	end  bool
	lose bool // the gap drops the tail without offering it to Salvage
}

func feed(dir protocols.Direction, data string) step { return step{dir: dir, data: data} }
func gap(dir protocols.Direction, n int) step        { return step{dir: dir, gap: n} }
func end(dir protocols.Direction) step               { return step{dir: dir, end: true} }

// lose is a gap whose preceding tail is dropped unseen, as by a driver that
// does not call Salvage.
func lose(dir protocols.Direction, n int) step { return step{dir: dir, gap: n, lose: true} }

// driver feeds a parser as protocols.Driver does: it keeps each direction's
// unconsumed tail, calls Parse until it neither consumes nor completes, and
// on a gap offers the tail to Salvage, then reports the gap (and the tail
// too, when Salvage did not take it) as lost.
type driver struct {
	p    protocols.Parser
	tail [3][]byte
	msgs []protocols.Message
	err  error
}

func newDriver(cfg *protocols.Config) *driver {
	return &driver{p: http.Protocol.New(cfg)}
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
		if sv, ok := d.p.(protocols.Salvager); ok && !s.lose && len(d.tail[s.dir]) > 0 {
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

func run(cfg *protocols.Config, steps []step) ([]protocols.Message, error) {
	d := newDriver(cfg)
	for _, s := range steps {
		d.step(s)
	}
	return d.msgs, d.err
}

func s(k, v string) protocols.Attr       { return protocols.String(k, v) }
func i(k string, v int64) protocols.Attr { return protocols.Int(k, v) }

const (
	getA    = "GET /a?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
	getB    = "GET /b HTTP/1.1\r\nHost: example.com\r\n\r\n"
	headC   = "HEAD /c HTTP/1.1\r\nHost: example.com\r\n\r\n"
	postD   = "POST /d HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello"
	ok5     = "HTTP/1.1 200 OK\r\nServer: nginx/1.25.3\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nworld"
	ok5Head = "HTTP/1.1 200 OK\r\nServer: nginx/1.25.3\r\nContent-Length: 5\r\n\r\n"
	chunked = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n"
)

var (
	wantGetA = protocols.Message{
		Kind: protocols.Request, Name: "GET /a", Size: len(getA),
		Attrs: []protocols.Attr{
			s("http.request.method", "GET"), s("url.path", "/a"), s("url.query", "x=1"),
			s("server.address", "example.com"), i("server.port", 8080),
			s("user_agent.original", "curl/8.5.0"), s("network.protocol.version", "1.1"),
			i("http.request.body.size", 0),
		},
	}
	wantGetB    = reqMsg("GET", "/b", len(getB), 0)
	wantHeadC   = reqMsg("HEAD", "/c", len(headC), 0)
	wantPostD   = reqMsg("POST", "/d", len(postD), 5)
	wantOK5     = respMsg(200, len(ok5), 5)
	wantOK5Head = respMsg(200, len(ok5Head), 0)
	wantChunked = respMsg(201, len(chunked), 23)
)

const (
	spaceReq      = "GET /Hello Arkime HTTP/1.1\r\nHost: example.com\r\n\r\n"
	chunkOverflow = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n"
	zerosReq      = "POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 00000000000000000000000000000003\r\n\r\nabc"
	teGzipReq     = "POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: gzip\r\n\r\n"
	teListReq     = "POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: ,\tchunked,\r\n\r\n0\r\n\r\n"
)

func reqMsg(method, path string, size, body int) protocols.Message {
	return protocols.Message{
		Kind: protocols.Request, Name: method + " " + path, Size: size, BodySize: body,
		Attrs: []protocols.Attr{
			s("http.request.method", method), s("url.path", path),
			s("server.address", "example.com"), s("network.protocol.version", "1.1"),
			i("http.request.body.size", int64(body)),
		},
	}
}

func respMsg(code, size, body int) protocols.Message {
	st := protocols.StatusOK
	if code >= 500 {
		st = protocols.StatusError
	}
	return protocols.Message{
		Kind: protocols.Response, Status: st, Size: size, BodySize: body,
		Attrs: []protocols.Attr{
			i("http.response.status_code", int64(code)), s("network.protocol.version", "1.1"),
			i("http.response.body.size", int64(body)),
		},
	}
}

func partial(m protocols.Message) protocols.Message {
	m.Partial = true
	return m
}

func withLinks(m protocols.Message, links ...protocols.Attr) protocols.Message {
	m.Links = links
	return m
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
	const (
		expectReq = "POST /upload HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
		cont      = "HTTP/1.1 100 Continue\r\n\r\n"
		closeResp = "HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6\r\n\r\n"
		gapBody   = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
		linkReq   = "GET /l HTTP/1.1\r\nHost: example.com\r\n" +
			"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n" +
			"tracestate: congo=t61rcWkgMzE\r\n" +
			"b3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1\r\n" +
			"X-B3-TraceId: 80f198ee56343ba864fe8b2a57d3eff7\r\nX-B3-SpanId: e457b5a2e4d86bd1\r\n" +
			"X-B3-ParentSpanId: 05e3ac9a4f6e3b90\r\nuber-trace-id: 1:2:3:1\r\nsw8: 1-abc-def-0\r\n\r\n"
		linkResp = "HTTP/1.1 503 Service Unavailable\r\nX-Request-ID: r-1\r\n" +
			"traceparent:  00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01 \r\nContent-Length: 0\r\n\r\n"
		ridReq  = "GET /r HTTP/1.1\r\nHost: example.com\r\nX-Request-ID: second\r\nx-trace: first\r\n\r\n"
		upReq   = "GET /ws HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
		upResp  = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
		conReq  = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
		conOK   = "HTTP/1.1 200 Connection established\r\n\r\n"
		salvReq = "POST /biz/check?a=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: okhttp/3.12\r\n" +
			"X-Request-ID: second\r\nsw8: 1-abc-def-0\r\nx-trace: first\r\nAuthorization: Bearer x\r\n" +
			"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\nContent-Length: 1000\r\nX-Cut: ab"
		salvResp = "HTTP/1.1 503 Service Unavailable\r\nX-Request-ID: r-9\r\nContent-Length: 100\r\nServ"
	)
	tests := []parseTest{
		{
			name:  "get with query and port",
			steps: []step{feed(up, getA), feed(down, ok5)},
			want:  []protocols.Message{wantGetA, wantOK5},
			split: true,
		},
		{
			name:  "pipelined three",
			steps: []step{feed(up, getB+headC+postD), feed(down, ok5+ok5Head+chunked)},
			want:  []protocols.Message{wantGetB, wantHeadC, wantPostD, wantOK5, wantOK5Head, wantChunked},
			split: true,
		},
		{
			name:  "chunked with extensions and trailers",
			steps: []step{feed(up, getB), feed(down, chunked)},
			want:  []protocols.Message{wantGetB, wantChunked},
			split: true,
		},
		{
			name:  "head response has no body",
			steps: []step{feed(up, headC), feed(down, ok5Head+ok5Head)},
			want:  []protocols.Message{wantHeadC, wantOK5Head},
		},
		{
			name: "204 and 304 have no body",
			steps: []step{
				feed(up, getB+getB),
				feed(down, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"),
			},
			want: []protocols.Message{
				wantGetB, wantGetB,
				respMsg(204, len("HTTP/1.1 204 No Content\r\n\r\n"), 0),
				respMsg(304, len("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"), 0),
			},
		},
		{
			name:  "100 continue is not the response",
			steps: []step{feed(up, expectReq), feed(down, cont), feed(up, "data"), feed(down, ok5)},
			want: []protocols.Message{
				reqMsg("POST", "/upload", len(expectReq)+4, 4),
				wantOK5,
			},
			split: true,
		},
		{
			name:  "read until close",
			steps: []step{feed(up, getB), feed(down, closeResp+"hello "), feed(down, "world"), end(down), end(down)},
			want: []protocols.Message{wantGetB, {
				Kind: protocols.Response, Status: protocols.StatusOK, Size: len(closeResp) + 11, BodySize: 11,
				Attrs: []protocols.Attr{
					i("http.response.status_code", 200), s("network.protocol.version", "1.0"),
					i("http.response.body.size", 11),
				},
			}},
			split: true,
		},
		{
			name:  "gap in read-until-close body",
			split: true,
			steps: []step{feed(up, getB), feed(down, closeResp+"abc"), gap(down, 5), feed(down, "xyz"), end(down)},
			want: []protocols.Message{wantGetB, {
				Kind: protocols.Response, Status: protocols.StatusOK, Partial: true, Size: len(closeResp) + 6, BodySize: 11,
				Attrs: []protocols.Attr{
					i("http.response.status_code", 200), s("network.protocol.version", "1.0"),
					i("http.response.body.size", 11),
				},
			}},
		},
		{
			name:  "gap inside body",
			split: true,
			steps: []step{feed(up, getB), feed(down, gapBody+"abc"), gap(down, 4), feed(down, "xyz"+ok5)},
			want: []protocols.Message{
				wantGetB,
				partial(respMsg(200, len(gapBody)+6, 10)),
				wantOK5,
			},
		},
		{
			name:  "gap ending a body exactly",
			steps: []step{feed(up, getB+getB), feed(down, gapBody+"abc"), gap(down, 7), feed(down, ok5)},
			want: []protocols.Message{
				wantGetB, wantGetB,
				partial(respMsg(200, len(gapBody)+3, 10)),
				wantOK5,
			},
		},
		{
			name:  "gap in request header then resync",
			split: true,
			steps: []step{feed(up, "GET /lost HTTP/1.1\r\nHo"), lose(up, 5), feed(up, "me: x\r\n\r\n"+getB)},
			want: []protocols.Message{
				{Kind: protocols.Request, Name: "HTTP", Partial: true, Attrs: []protocols.Attr{i("http.request.body.size", 0)}},
				wantGetB,
			},
		},
		{
			name:  "gap in request header salvages the request",
			split: true,
			steps: []step{feed(up, "GET /lost HTTP/1.1\r\nHo"), gap(up, 5), feed(up, "me: x\r\n\r\n"+getB)},
			want: []protocols.Message{
				{
					Kind: protocols.Request, Name: "GET /lost", Partial: true, Size: len("GET /lost HTTP/1.1\r\nHo"),
					Attrs: []protocols.Attr{
						s("http.request.method", "GET"), s("url.path", "/lost"),
						s("network.protocol.version", "1.1"), i("http.request.body.size", 0),
					},
				},
				wantGetB,
			},
		},
		{
			name:  "salvaged request with links pairs with its response",
			split: true,
			cfg:   &protocols.Config{XRequestIDHeaders: []string{"X-Trace", "X-Request-ID"}},
			steps: []step{
				feed(up, salvReq), gap(up, 300), feed(up, "tail of the body\r\n"+getB),
				feed(down, ok5+ok5),
			},
			want: []protocols.Message{
				{
					Kind: protocols.Request, Name: "POST /biz/check", Partial: true, Size: len(salvReq),
					Attrs: []protocols.Attr{
						s("http.request.method", "POST"), s("url.path", "/biz/check"), s("url.query", "a=1"),
						s("server.address", "example.com"), i("server.port", 8080),
						s("user_agent.original", "okhttp/3.12"), s("network.protocol.version", "1.1"),
						i("http.request.body.size", 0),
					},
					Links: []protocols.Attr{
						s(protocols.LinkXRequestID, "first"),
						s(protocols.LinkTraceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
						s(protocols.LinkSW8, "1-abc-def-0"),
					},
				},
				wantGetB,
				wantOK5, wantOK5,
			},
		},
		{
			name:  "salvaged head request keeps response framing",
			split: true,
			steps: []step{
				feed(up, "HEAD /h HTTP/1.1\r\nHost: exa"), gap(up, 20), feed(up, getB),
				feed(down, ok5Head+ok5),
			},
			want: []protocols.Message{
				{
					Kind: protocols.Request, Name: "HEAD /h", Partial: true, Size: len("HEAD /h HTTP/1.1\r\nHost: exa"),
					Attrs: []protocols.Attr{
						s("http.request.method", "HEAD"), s("url.path", "/h"),
						s("network.protocol.version", "1.1"), i("http.request.body.size", 0),
					},
				},
				wantGetB, wantOK5Head, wantOK5,
			},
		},
		{
			name:  "gap in response header salvages the response",
			split: true,
			steps: []step{
				feed(up, getB+getB), feed(down, salvResp), gap(down, 50),
				feed(down, "body bytes\r\n"+ok5),
			},
			want: []protocols.Message{
				wantGetB, wantGetB,
				withLinks(partial(respMsg(503, len(salvResp), 0)), s(protocols.LinkXRequestID, "r-9")),
				wantOK5,
			},
		},
		{
			name:  "interim response is not salvaged",
			steps: []step{feed(up, getB), feed(down, "HTTP/1.1 100 Continue\r\nX-A"), gap(down, 5), feed(down, ok5)},
			want: []protocols.Message{
				wantGetB,
				{Kind: protocols.Response, Partial: true, Attrs: []protocols.Attr{i("http.response.body.size", 0)}},
				wantOK5,
			},
		},
		{
			name:  "cut start line is not salvaged",
			steps: []step{feed(up, "GET /very/long/pa"), gap(up, 5), feed(up, getB)},
			want: []protocols.Message{
				{Kind: protocols.Request, Name: "HTTP", Partial: true, Attrs: []protocols.Attr{i("http.request.body.size", 0)}},
				wantGetB,
			},
		},
		{
			name:  "request right after gap is kept",
			split: true,
			steps: []step{feed(up, getB), gap(up, 40), feed(up, headC)},
			want: []protocols.Message{
				wantGetB,
				{Kind: protocols.Request, Name: "HTTP", Partial: true, Attrs: []protocols.Attr{i("http.request.body.size", 0)}},
				wantHeadC,
			},
		},
		{
			name:  "lost response header keeps pairing",
			split: true,
			steps: []step{
				feed(up, getB+headC), feed(down, "HTTP/1.1 200 OK\r\nCont"), lose(down, 30),
				feed(down, "ent-Length: 3\r\n\r\nab\n"+ok5Head),
			},
			want: []protocols.Message{
				wantGetB, wantHeadC,
				{Kind: protocols.Response, Partial: true, Attrs: []protocols.Attr{i("http.response.body.size", 0)}},
				wantOK5Head,
			},
		},
		{
			name:  "gap in chunked body resyncs",
			split: true,
			steps: []step{
				feed(up, getB+getB), feed(down, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
				gap(down, 10), feed(down, "\r\n0\r\n\r\n"+ok5),
			},
			want: []protocols.Message{
				wantGetB, wantGetB,
				partial(respMsg(200, len("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"), 2)),
				wantOK5,
			},
		},
		{
			name:  "truncated body emitted partial at end",
			steps: []step{feed(up, getB), feed(down, gapBody+"abc"), end(down)},
			want:  []protocols.Message{wantGetB, partial(respMsg(200, len(gapBody)+3, 3))},
		},
		{
			name:    "oversized header",
			cfg:     &protocols.Config{MaxHeaderBytes: 64},
			steps:   []step{feed(up, "GET / HTTP/1.1\r\nHost: example.com\r\nX-Long: "+strings.Repeat("a", 100))},
			wantErr: protocols.ErrTooLarge,
			split:   true,
		},
		{
			name:    "oversized complete header",
			cfg:     &protocols.Config{MaxHeaderBytes: 64},
			steps:   []step{feed(up, "GET / HTTP/1.1\r\nX-Long: "+strings.Repeat("a", 100)+"\r\n\r\n")},
			wantErr: protocols.ErrTooLarge,
		},
		{
			name:    "too many headers",
			steps:   []step{feed(up, "GET / HTTP/1.1\r\n"+strings.Repeat("A: b\r\n", 300)+"\r\n")},
			wantErr: protocols.ErrTooLarge,
		},
		{
			name:    "malformed request line",
			steps:   []step{feed(up, "GET / HTTP/2.0\r\n\r\n")},
			wantErr: protocols.ErrMalformed,
		},
		{
			name:    "binary is not a request",
			steps:   []step{feed(up, "\x16\x03\x01\x02\x00\x01")},
			wantErr: protocols.ErrMalformed,
		},
		{
			name:    "malformed status line",
			steps:   []step{feed(up, getB), feed(down, "HTTP/1.1 2x0 OK\r\n\r\n")},
			want:    []protocols.Message{wantGetB},
			wantErr: protocols.ErrMalformed,
		},
		{
			name:  "chunk size overflow loses the framing, not the message",
			steps: []step{feed(up, getB), feed(down, chunkOverflow), end(down)},
			want:  []protocols.Message{wantGetB, partial(respMsg(200, len(chunkOverflow)-len("fffffffffffffffff\r\n"), 0))},
		},
		{
			// Servers (and tshark) take the last word as the version.
			name:  "target with an unencoded space",
			steps: []step{feed(up, spaceReq)},
			want:  []protocols.Message{reqMsg("GET", "/Hello Arkime", len(spaceReq), 0)},
			split: true,
		},
		{
			name:  "content-length with leading zeros",
			steps: []step{feed(up, zerosReq)},
			want:  []protocols.Message{reqMsg("POST", "/", len(zerosReq), 3)},
		},
		{
			name:    "conflicting content-length",
			steps:   []step{feed(up, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")},
			wantErr: http.ErrContentLength,
		},
		{
			name:  "request transfer-encoding not chunked is reported without a body",
			steps: []step{feed(up, teGzipReq)},
			want:  []protocols.Message{reqMsg("POST", "/", len(teGzipReq), 0)},
		},
		{
			name:  "request transfer-encoding with empty list elements",
			steps: []step{feed(up, teListReq)},
			want:  []protocols.Message{reqMsg("POST", "/", len(teListReq), 0)},
		},
		{
			name:  "request id header priority",
			cfg:   &protocols.Config{XRequestIDHeaders: []string{"X-Trace", "X-Request-ID"}},
			steps: []step{feed(up, ridReq)},
			want:  []protocols.Message{withLinks(reqMsg("GET", "/r", len(ridReq), 0), s(protocols.LinkXRequestID, "first"))},
		},
		{
			name:  "request id default header",
			steps: []step{feed(up, ridReq)},
			want:  []protocols.Message{withLinks(reqMsg("GET", "/r", len(ridReq), 0), s(protocols.LinkXRequestID, "second"))},
		},
		{
			name:  "trace context links",
			split: true,
			steps: []step{feed(up, linkReq), feed(down, linkResp)},
			want: []protocols.Message{
				withLinks(reqMsg("GET", "/l", len(linkReq), 0),
					s(protocols.LinkTraceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
					s(protocols.LinkTracestate, "congo=t61rcWkgMzE"),
					s(protocols.LinkB3, "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
					s(protocols.LinkB3TraceID, "80f198ee56343ba864fe8b2a57d3eff7"),
					s(protocols.LinkB3SpanID, "e457b5a2e4d86bd1"),
					s(protocols.LinkB3ParentID, "05e3ac9a4f6e3b90"),
					s(protocols.LinkUberTraceID, "1:2:3:1"),
					s(protocols.LinkSW8, "1-abc-def-0"),
				),
				withLinks(respMsg(503, len(linkResp), 0),
					s(protocols.LinkXRequestID, "r-1"),
					s(protocols.LinkTraceparent, "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"),
				),
			},
		},
		{
			name:  "upgrade stops parsing quietly",
			split: true,
			steps: []step{
				feed(up, upReq), feed(up, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
				feed(down, upResp+"\x81\x05hello"), feed(up, "GET / HTTP/1.1\r\n\r\n"), end(down),
			},
			want: []protocols.Message{reqMsg("GET", "/ws", len(upReq), 0), respMsg(101, len(upResp), 0)},
		},
		{
			name:  "connect tunnel",
			split: true,
			steps: []step{feed(up, conReq), feed(down, conOK+"\x16\x03\x03"), feed(up, "\x16\x03\x01\x02\x00")},
			want: []protocols.Message{
				{
					Kind: protocols.Request, Name: "CONNECT example.com:443", Size: len(conReq),
					Attrs: []protocols.Attr{
						s("http.request.method", "CONNECT"), s("server.address", "example.com"),
						i("server.port", 443), s("network.protocol.version", "1.1"),
						i("http.request.body.size", 0),
					},
				},
				respMsg(200, len(conOK), 0),
			},
		},
		{
			name:  "leading empty lines and bare LF",
			steps: []step{feed(up, "\r\n\nGET /b HTTP/1.1\nHost: example.com\n\n")},
			want:  []protocols.Message{reqMsg("GET", "/b", len("GET /b HTTP/1.1\nHost: example.com\n\n"), 0)},
		},
		{
			name:  "absolute form and ipv6 host",
			steps: []step{feed(up, "GET http://[::1]:3128/p/q?z HTTP/1.0\r\n\r\n")},
			want: []protocols.Message{{
				Kind: protocols.Request, Name: "GET /p/q", Size: len("GET http://[::1]:3128/p/q?z HTTP/1.0\r\n\r\n"),
				Attrs: []protocols.Attr{
					s("http.request.method", "GET"), s("url.path", "/p/q"), s("url.query", "z"),
					s("server.address", "::1"), i("server.port", 3128), s("network.protocol.version", "1.0"),
					i("http.request.body.size", 0),
				},
			}},
		},
		{
			name:  "chunked request",
			steps: []step{feed(up, "PUT /x HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")},
			want: []protocols.Message{reqMsg("PUT", "/x",
				len("PUT /x HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), 3)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, tt, tt.steps)
		})
		if !tt.split {
			continue
		}
		t.Run(tt.name+"/split", func(t *testing.T) {
			for k := range tt.steps {
				if tt.steps[k].data == "" {
					continue
				}
				for at := 1; at < len(tt.steps[k].data); at++ {
					steps := append([]step(nil), tt.steps[:k]...)
					d := tt.steps[k]
					steps = append(steps, feed(d.dir, d.data[:at]), feed(d.dir, d.data[at:]))
					steps = append(steps, tt.steps[k+1:]...)
					if !check(t, tt, steps) {
						t.Fatalf("split of step %d at %d", k, at)
					}
				}
			}
		})
	}
}

func check(t *testing.T, tt parseTest, steps []step) bool {
	t.Helper()
	got, err := run(tt.cfg, steps)
	if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
		t.Errorf("err = %v, want %v", err, tt.wantErr)
		return false
	}
	if err != nil {
		var pe *protocols.ParseError
		if !errors.As(err, &pe) || pe.Protocol != "http" {
			t.Errorf("err = %#v, want *protocols.ParseError from http", err)
			return false
		}
	}
	if diff := cmp.Diff(tt.want, got, diffOpts); diff != "" {
		t.Errorf("messages mismatch (-want +got):\n%s", diff)
		return false
	}
	return true
}

func TestSecretsNotLeaked(t *testing.T) {
	secrets := []string{"Bearer s3cr3t-token", "Basic cHJveHk6c2VjcmV0", "session=c00kie-value", "sid=set-c00kie"}
	reqText := "GET /private HTTP/1.1\r\nHost: example.com\r\nAuthorization: " + secrets[0] +
		"\r\nProxy-Authorization: " + secrets[1] + "\r\nCookie: " + secrets[2] +
		"\r\nX-Request-ID: abc\r\ntraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n"
	respText := "HTTP/1.1 200 OK\r\nSet-Cookie: " + secrets[3] + "; HttpOnly\r\nContent-Length: 0\r\n\r\n"
	// Credential headers are ignored even when configured as request ids.
	cfg := &protocols.Config{XRequestIDHeaders: []string{"Authorization", "Cookie", "X-Request-ID"}}
	got, err := run(cfg, []step{feed(up, reqText), feed(down, respText)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d messages, want 2", len(got))
	}
	if id := got[0].Link(protocols.LinkXRequestID); id != "abc" {
		t.Errorf("request id = %q, want %q", id, "abc")
	}
	for _, m := range got {
		fields := []string{m.Name}
		for _, a := range append(m.Attrs, m.Links...) {
			fields = append(fields, a.Key, a.Value())
		}
		for _, f := range fields {
			for _, sec := range secrets {
				if strings.Contains(f, sec) || strings.Contains(f, sec[len(sec)-6:]) {
					t.Errorf("%v message carries secret %q in %q", m.Kind, sec, f)
				}
			}
		}
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		in   string
		want protocols.Direction
	}{
		{"GET /ind", protocols.ToServer},
		{"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n", protocols.ToServer},
		{"PROPFIND /dav/ HTTP/1.1\r\n", protocols.ToServer},
		{"OPTIONS * HTTP/1.1\r\n", protocols.ToServer},
		{"HTTP/1.1 200 OK\r\n", protocols.ToClient},
		{"HTTP/1.0 404", protocols.ToClient},
		{"HTTP/1.1 200", protocols.ToClient},
		{"HTTP/1.1 200OK", protocols.DirUnknown},
		{"HTTP/1.1 20", protocols.DirUnknown},
		{"HTTP/2.0 200 OK\r\n", protocols.DirUnknown},
		{"HTTP/1.1 2000\r\n", protocols.DirUnknown},
		{"GET ", protocols.DirUnknown},
		{"GE", protocols.DirUnknown},
		{"FOO / HTTP/1.1\r\n", protocols.DirUnknown},
		{"GET / HTTP/2.0\r\n", protocols.DirUnknown},
		{"GET /a b HTTP/1.1\r\n", protocols.DirUnknown},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", protocols.DirUnknown},
		{"\x16\x03\x01\x00\xa5\x01\x00", protocols.DirUnknown},
		{"", protocols.DirUnknown},
	}
	for _, tt := range tests {
		if got := http.Protocol.Sniff([]byte(tt.in)); got != tt.want {
			t.Errorf("Sniff(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestPendingBounded(t *testing.T) {
	// More pipelined HEAD requests than the FIFO holds: the oldest are
	// forgotten, and parsing goes on without error.
	var b strings.Builder
	for range http.MaxPending + 10 {
		b.WriteString(headC)
	}
	got, err := run(nil, []step{feed(up, b.String()), feed(down, ok5Head)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != http.MaxPending+11 {
		t.Fatalf("got %d messages, want %d", len(got), http.MaxPending+11)
	}
}

func TestNoAllocsPerHeader(t *testing.T) {
	var b strings.Builder
	b.WriteString("GET /x HTTP/1.1\r\n")
	for range 100 {
		b.WriteString("X-Some-Header: some value\r\n")
	}
	b.WriteString("\r\n")
	data := []byte(b.String())
	p := http.Protocol.New(nil)
	var m protocols.Message
	allocs := testing.AllocsPerRun(100, func() {
		m.Reset()
		if _, done, err := p.Parse(up, data, &m); !done || err != nil {
			t.Fatal(done, err)
		}
	})
	// Name (with path) is the only string of this request.
	if allocs > 1 {
		t.Errorf("allocs = %v, want <= 1", allocs)
	}
}

func TestUnknownDirection(t *testing.T) {
	p := http.Protocol.New(nil)
	var m protocols.Message
	_, done, err := p.Parse(protocols.DirUnknown, []byte(getB), &m)
	if !errors.Is(err, http.ErrDirection) || done {
		t.Errorf("Parse(DirUnknown) = done %v, err %v; want ErrDirection", done, err)
	}
	p.Gap(protocols.DirUnknown, 10)
	if p.End(protocols.DirUnknown, &m) {
		t.Error("End(DirUnknown) = true")
	}
}

func TestSalvageSecretsNotLeaked(t *testing.T) {
	secrets := []string{"Bearer s3cr3t-token", "Basic cHJveHk6c2VjcmV0", "session=c00kie-value", "sid=set-c00kie"}
	reqText := "GET /private HTTP/1.1\r\nHost: example.com\r\nAuthorization: " + secrets[0] +
		"\r\nProxy-Authorization: " + secrets[1] + "\r\nCookie: " + secrets[2] +
		"\r\nX-Request-ID: abc\r\nAccept: text/ht"
	respText := "HTTP/1.1 200 OK\r\nSet-Cookie: " + secrets[3] + "; HttpOnly\r\nContent-Len"
	cfg := &protocols.Config{XRequestIDHeaders: []string{"Authorization", "Cookie", "Set-Cookie", "X-Request-ID"}}
	got, err := run(cfg, []step{feed(up, reqText), gap(up, 100), feed(down, respText), gap(down, 100)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "GET /private" || !got[0].Partial || !got[1].Partial {
		t.Fatalf("got %+v, want a salvaged request and response", got)
	}
	if id := got[0].Link(protocols.LinkXRequestID); id != "abc" {
		t.Errorf("request id = %q, want %q", id, "abc")
	}
	for _, m := range got {
		fields := []string{m.Name}
		for _, a := range append(m.Attrs, m.Links...) {
			fields = append(fields, a.Key, a.Value())
		}
		for _, f := range fields {
			for _, sec := range secrets {
				if strings.Contains(f, sec) || strings.Contains(f, sec[len(sec)-6:]) {
					t.Errorf("%v message carries secret %q in %q", m.Kind, sec, f)
				}
			}
		}
	}
}

// TestSalvageOnlyHeaders checks that Salvage declines outside a header block
// and for bytes that do not start with a start line.
func TestSalvageOnlyHeaders(t *testing.T) {
	var msg protocols.Message
	p := http.New(nil)
	if p.Salvage(up, []byte("xyz /a HTTP/1.1\r\nHo"), &msg) {
		t.Error("salvaged a request with an unknown method")
	}
	if p.Salvage(down, []byte("GET /a HTTP/1.1\r\nHo"), &msg) {
		t.Error("salvaged a request line as a response")
	}
	if p.Salvage(protocols.DirUnknown, []byte("GET /a HTTP/1.1\r\nHo"), &msg) {
		t.Error("salvaged in an unknown direction")
	}
	head := "POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
	if n, done, err := p.Parse(up, []byte(head+"abc"), &msg); err != nil || done || n != len(head)+3 {
		t.Fatalf("Parse = %d, %v, %v", n, done, err)
	}
	if p.Salvage(up, []byte("GET /a HTTP/1.1\r\nHo"), &msg) {
		t.Error("salvaged inside a body")
	}
	chunk := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	if n, _, err := p.Parse(down, []byte(chunk+"5"), &msg); err != nil || n != len(chunk) {
		t.Fatalf("Parse = %d, %v", n, err)
	}
	if p.Salvage(down, []byte("5"), &msg) {
		t.Error("salvaged a chunk-size line")
	}
}
