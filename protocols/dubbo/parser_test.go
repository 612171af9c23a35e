package dubbo_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dubbo"
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

// chunk is bytes flowing one way, or a gap of gap bytes when gap > 0.
type chunk struct {
	dir  protocols.Direction
	data []byte
	gap  int
}

func req(b []byte) chunk  { return chunk{dir: protocols.ToServer, data: b} }
func resp(b []byte) chunk { return chunk{dir: protocols.ToClient, data: b} }

// run drives a parser as the protocols driver does: it keeps the unconsumed
// tail per direction, offers it to Salvage before a gap, and calls End.
func run(cfg *protocols.Config, chunks []chunk) ([]sum, error) {
	p := dubbo.New(cfg)
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

const (
	tp  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	sw8 = "1-YzgxNjRjYWU5MGU5NGZlNjg0OTNjMTA2ZWE5NWYxZWUuNjYuMTY2Njc5ODU0ODg1MTAwNjc=-YzgxNjRjYWU5MGU5NGZlNjg0OTNjMTA2ZWE5NWYxZWUuNjYuMTY2Njc5ODU0ODg1MTAwNjY=-3-ZHViYm8tcHJvdmlkZXI=-ZHViYm8tcHJvdmlkZXJAMTAuMC4wLjE=-bXkuZGVtby5JdGVtU2VydmljZS5maW5kSXRlbQ==-MTAuMC4wLjE6MjA4ODA="
)

// reqSum is the summary of request(id, "shop.OrderService", "get", ...)
// with the given links and extra attributes.
func reqSum(id uint64, links []string, extra ...string) sum {
	s := sum{Kind: protocols.Request, Name: "shop.OrderService/get", ID: id, Attrs: map[string]string{
		"rpc.system": "apache_dubbo", "rpc.service": "shop.OrderService", "rpc.method": "get",
		"dubbo.version": "2.0.2", "dubbo.service.version": "1.0.0", "dubbo.serialization": "hessian2",
		"dubbo.request_id": itoa(id),
	}, Links: links}
	for i := 0; i+1 < len(extra); i += 2 {
		s.Attrs[extra[i]] = extra[i+1]
	}
	return s
}

func okSum(id uint64) sum {
	return sum{Kind: protocols.Response, ID: id, Status: protocols.StatusOK, Attrs: map[string]string{"dubbo.status_code": "20"}}
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

// args encodes arguments of every kind the skipper must get past.
func args() []byte {
	e := &enc{}
	e.str("order-42").int(7).int(100000)
	e.raw('L', 0, 0, 0, 0, 0, 0, 0, 9)                         // long
	e.raw('D', 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18) // double
	e.raw('T', 'N', 0x5b, 0x5d, 0x05)                          // true, null, 0.0, double byte
	e.raw(0x23, 1, 2, 3)                                       // short binary
	e.raw(0x72).str("[int").int(1).int(2)                      // fixed typed list of 2
	e.raw('W').str("x").raw('Z')                               // untyped variable list
	e.raw('M').str("java.util.HashMap").str("k").int(1).raw('Z')
	e.object("shop.Order", "id", "item")
	e.raw(0x60).str("a").str("b") // second instance of the same class
	e.raw('Q', 0x90)              // reference to the first object
	e.raw(0x4a, 0, 0, 1, 0x7c, 0xdc, 0xce, 0x0e, 0)
	return e.b
}

const argDesc = "Ljava/lang/String;IIJDZLjava/lang/Object;DD[B[ILjava/util/List;Ljava/util/Map;Lshop/Order;Lshop/Order;Lshop/Order;Ljava/util/Date;"

func TestParse(t *testing.T) {
	simple := (&enc{}).str("order-42").b
	cases := []struct {
		name    string
		cfg     *protocols.Config
		in      []chunk
		want    []sum
		wantErr error
	}{
		{
			name: "request and response",
			in: []chunk{
				req(request(7, "shop.OrderService", "get", "Ljava/lang/String;", simple, "traceparent", tp, "group", "blue", "timeout", "3000")),
				resp(response(7, "done")),
			},
			want: []sum{reqSum(7, []string{"traceparent=" + tp}, "dubbo.group", "blue"), okSum(7)},
		},
		{
			name: "every argument kind skipped, links after them",
			in: []chunk{req(request(9, "shop.OrderService", "get", argDesc, args(),
				"sw8", sw8, "X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7", "uber-trace-id", "a:b:0:1",
				"EagleEye-TraceID", "0ad1348f1403169275002100356696", "x-request-id", "rid-1"))},
			want: []sum{reqSum(9, []string{"sw8=" + sw8, "x_b3_traceid=80f198ee56343ba864fe8b2a57d3eff7",
				"uber_trace_id=a:b:0:1", "eagleeye_traceid=0ad1348f1403169275002100356696", "x_request_id=rid-1"})},
		},
		{
			name: "configured request id name, first value wins",
			cfg:  &protocols.Config{XRequestIDHeaders: []string{"trace-key"}},
			in:   []chunk{req(request(1, "shop.OrderService", "get", "", nil, "Trace-Key", "k1", "traceparent", tp, "traceparent", "x"))},
			want: []sum{reqSum(1, []string{"x_request_id=k1", "traceparent=" + tp})},
		},
		{
			name: "split byte by byte",
			in: func() []chunk {
				var cs []chunk
				for _, b := range request(3, "shop.OrderService", "get", "Ljava/lang/String;", simple, "traceparent", tp) {
					cs = append(cs, req([]byte{b}))
				}
				return append(cs, resp(response(3, "x")))
			}(),
			want: []sum{reqSum(3, []string{"traceparent=" + tp}), okSum(3)},
		},
		{
			name: "one-way request",
			in:   []chunk{req(frame(0x80|2, 0, 5, (&enc{}).str("2.0.2").str("shop.OrderService").str("1.0.0").str("get").str("").strMap().b))},
			want: []sum{func() sum { s := reqSum(5, nil); s.NoResponse = true; return s }()},
		},
		{
			name: "heartbeat events are not emitted",
			in: []chunk{
				req(frame(0x80|0x40|0x20|2, 0, 1, []byte{'N'})),
				resp(frame(0x20|2, 20, 1, []byte{'N'})),
				req(request(2, "shop.OrderService", "get", "", nil)),
			},
			want: []sum{reqSum(2, nil)},
		},
		{
			name: "error status",
			in:   []chunk{resp(frame(respFlag, 70, 4, (&enc{}).str("java.lang.IllegalStateException: boom").b))},
			want: []sum{{Kind: protocols.Response, ID: 4, Status: protocols.StatusError,
				Attrs: map[string]string{"dubbo.status_code": "70", "error.type": "SERVICE_ERROR"}}},
		},
		{
			name: "exception result",
			in: []chunk{resp(frame(respFlag, 20, 4, (&enc{}).int(3).object("java.lang.IllegalArgumentException",
				"detailMessage", "cause").strMap("dubbo", "2.0.2").b))},
			want: []sum{{Kind: protocols.Response, ID: 4, Status: protocols.StatusError,
				Attrs: map[string]string{"dubbo.status_code": "20", "error.type": "java.lang.IllegalArgumentException"}}},
		},
		{
			name: "gap inside a message: skipped exactly, partial",
			in: func() []chunk {
				m := request(11, "shop.OrderService", "get", "Ljava/lang/String;", (&enc{}).str(strings.Repeat("x", 500)).b, "traceparent", tp)
				return []chunk{req(m[:100]), {dir: protocols.ToServer, gap: 300}, req(m[400:]),
					req(request(12, "shop.OrderService", "get", "", nil))}
			}(),
			want: []sum{func() sum { s := reqSum(11, nil); s.Partial = true; return s }(), reqSum(12, nil)},
		},
		{
			name: "gap past a message end: resynchronised on the next header",
			in: func() []chunk {
				m := request(11, "shop.OrderService", "get", "", nil)
				return []chunk{req(m[:20]), {dir: protocols.ToServer, gap: len(m)},
					req([]byte("garbage\xda")), req(request(13, "shop.OrderService", "get", "", nil))}
			}(),
			want: []sum{func() sum {
				s := sum{Kind: protocols.Request, Name: "dubbo", ID: 11, Partial: true, Attrs: map[string]string{
					"rpc.system": "apache_dubbo", "dubbo.serialization": "hessian2", "dubbo.request_id": "11"}}
				return s
			}(), reqSum(13, nil)},
		},
		{
			name: "large message decoded from its prefix",
			cfg:  &protocols.Config{MaxHeaderBytes: 128},
			in: func() []chunk {
				m := request(14, "shop.OrderService", "get", "Ljava/lang/String;", (&enc{}).str(strings.Repeat("y", 900)).b, "traceparent", tp)
				return []chunk{req(m[:200]), req(m[200:]), resp(response(14, "ok"))}
			}(),
			want: []sum{reqSum(14, nil), okSum(14)},
		},
		{
			name:    "not dubbo",
			in:      []chunk{req([]byte("GET / HTTP/1.1\r\n\r\n"))},
			wantErr: dubbo.ErrMagic,
		},
		{
			name:    "body too large",
			in:      []chunk{req([]byte{0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0, 0, 0})},
			wantErr: dubbo.ErrTooLarge,
		},
		{
			name: "malformed body keeps the framing",
			in:   []chunk{req(frame(reqFlag, 0, 15, []byte{0x05, '2', '.', '0', 0xff})), resp(response(15, "x"))},
			want: []sum{{Kind: protocols.Request, Name: "dubbo", ID: 15, Attrs: map[string]string{
				"rpc.system": "apache_dubbo", "dubbo.serialization": "hessian2", "dubbo.request_id": "15"}}, okSum(15)},
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

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want protocols.Direction
	}{
		{"request", request(1, "a", "b", "", nil), protocols.ToServer},
		{"response", response(1, "x"), protocols.ToClient},
		{"short", []byte{0xda, 0xbb, 0xc2}, protocols.DirUnknown},
		{"no serialization", frame(0xc0, 0, 1, nil), protocols.DirUnknown},
		{"request with status", frame(reqFlag, 20, 1, nil), protocols.DirUnknown},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), protocols.DirUnknown},
	} {
		if got := dubbo.Sniff(c.in); got != c.want {
			t.Errorf("%s: Sniff = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestHostileNesting checks that deep nesting and huge declared lengths
// end the body decoding without panicking or allocating.
func TestHostileNesting(t *testing.T) {
	deep := make([]byte, 0, 10000)
	for range 5000 {
		deep = append(deep, 'W')
	}
	huge := []byte{'X', 'I', 0x7f, 0xff, 0xff, 0xff, 'N'}
	for _, a := range [][]byte{deep, huge, {0x34, 0xff}, {'C', 0x01, 'x', 0x9f}, {0x6f}} {
		m := request(1, "shop.OrderService", "get", "Ljava/lang/Object;", a, "traceparent", tp)
		got, err := run(nil, []chunk{req(m)})
		if err != nil || len(got) != 1 || got[0].Name != "shop.OrderService/get" || len(got[0].Links) != 0 {
			t.Errorf("%x: %+v, %v", a[:2], got, err)
		}
	}
}

func TestAllocs(t *testing.T) {
	p := dubbo.New(nil)
	q := request(7, "shop.OrderService", "get", argDesc, args())
	r := response(7, "done")
	m := protocols.Message{Attrs: make([]protocols.Attr, 0, 16), Links: make([]protocols.Attr, 0, 16)}
	n := testing.AllocsPerRun(100, func() {
		m.Reset()
		p.Parse(protocols.ToServer, q, &m)
		m.Reset()
		p.Parse(protocols.ToClient, r, &m)
	})
	if n != 0 {
		t.Errorf("%v allocations per request and response, want 0", n)
	}
}

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name      string
		req, resp []byte
	}{
		{"simple", request(7, "shop.OrderService", "get", "Ljava/lang/String;", (&enc{}).str("order-42").b, "traceparent", tp), response(7, "done")},
		{"many_args", request(7, "shop.OrderService", "get", argDesc, args(), "sw8", sw8, "traceparent", tp), response(7, "done")},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := dubbo.New(nil)
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
