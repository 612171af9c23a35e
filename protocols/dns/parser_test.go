package dns_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dns"
)

var update = flag.Bool("update", false, "rewrite testdata from the message builders")

const (
	up   = protocols.ToServer
	down = protocols.ToClient
)

// msg describes a DNS message to build.
type msg struct {
	id       uint16
	resp     bool
	opcode   dnsmessage.OpCode
	rcode    dnsmessage.RCode
	tc       bool
	qs       []dnsmessage.Question
	answers  []dnsmessage.Resource
	auth     []dnsmessage.Resource
	extra    []dnsmessage.Resource
	extRcode dnsmessage.RCode // > 15: an OPT record carrying it
	opt      bool             // an OPT record (EDNS(0))
}

func q(name string, t dnsmessage.Type) dnsmessage.Question {
	return dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: t, Class: dnsmessage.ClassINET}
}

func rrA(name string, a ...byte) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: 60},
		Body:   &dnsmessage.AResource{A: [4]byte(a)},
	}
}

func rrAAAA(name string, a [16]byte) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: 60},
		Body:   &dnsmessage.AAAAResource{AAAA: a},
	}
}

func rrCNAME(name, target string) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: 60},
		Body:   &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(target)},
	}
}

func rrPTR(name, target string) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: 120},
		Body:   &dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(target)},
	}
}

func rrSOA(name string) dnsmessage.Resource {
	n := dnsmessage.MustNewName(name)
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: 3600},
		Body:   &dnsmessage.SOAResource{NS: n, MBox: n, Serial: 1, Refresh: 2, Retry: 3, Expire: 4, MinTTL: 5},
	}
}

// wire builds m with dnsmessage.Builder (no compression, so cuts are
// predictable).
func (m msg) wire(tb testing.TB) []byte {
	tb.Helper()
	h := dnsmessage.Header{ID: m.id, Response: m.resp, OpCode: m.opcode, RCode: m.rcode & 0xf, Truncated: m.tc, RecursionDesired: true}
	b := dnsmessage.NewBuilder(nil, h)
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(b.StartQuestions())
	for _, x := range m.qs {
		must(b.Question(x))
	}
	add := func(rs []dnsmessage.Resource) {
		for _, r := range rs {
			switch body := r.Body.(type) {
			case *dnsmessage.AResource:
				must(b.AResource(r.Header, *body))
			case *dnsmessage.AAAAResource:
				must(b.AAAAResource(r.Header, *body))
			case *dnsmessage.CNAMEResource:
				must(b.CNAMEResource(r.Header, *body))
			case *dnsmessage.PTRResource:
				must(b.PTRResource(r.Header, *body))
			case *dnsmessage.SOAResource:
				must(b.SOAResource(r.Header, *body))
			default:
				tb.Fatalf("unsupported body %T", body)
			}
		}
	}
	must(b.StartAnswers())
	add(m.answers)
	must(b.StartAuthorities())
	add(m.auth)
	must(b.StartAdditionals())
	add(m.extra)
	if m.extRcode != 0 || m.opt {
		var rh dnsmessage.ResourceHeader
		must(rh.SetEDNS0(1232, m.extRcode, false))
		must(b.OPTResource(rh, dnsmessage.OPTResource{}))
	}
	out, err := b.Finish()
	must(err)
	return out
}

// framed prefixes a message with its TCP length.
func framed(b []byte) []byte { return append([]byte{byte(len(b) >> 8), byte(len(b))}, b...) }

var (
	queryA = msg{id: 0x1234, qs: []dnsmessage.Question{q("example.com.", dnsmessage.TypeA)}}
	respA  = msg{id: 0x1234, resp: true, qs: queryA.qs, answers: []dnsmessage.Resource{
		rrCNAME("example.com.", "web.example.com."),
		rrA("web.example.com.", 93, 184, 215, 14),
		rrA("web.example.com.", 93, 184, 215, 15),
	}}
	queryEDNS = msg{id: 0x0bad, qs: []dnsmessage.Question{q("example.net.", dnsmessage.TypeNS)}, opt: true}
	queryAAAA = msg{id: 0x5678, qs: []dnsmessage.Question{q("example.com.", dnsmessage.TypeAAAA)}}
	respAAAA  = msg{id: 0x5678, resp: true, qs: queryAAAA.qs, answers: []dnsmessage.Resource{
		rrAAAA("example.com.", [16]byte{0x26, 0x06, 0x28, 0, 0x02, 0x20, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x46}),
	}}
	respNX = msg{id: 7, resp: true, rcode: dnsmessage.RCodeNameError,
		qs: []dnsmessage.Question{q("no.such.host.", dnsmessage.TypeA)}, auth: []dnsmessage.Resource{rrSOA("host.")}}
	respServfail = msg{id: 8, resp: true, rcode: dnsmessage.RCodeServerFailure,
		qs: []dnsmessage.Question{q("broken.example.", dnsmessage.TypeMX)}}
	respBadvers = msg{id: 9, resp: true, qs: []dnsmessage.Question{q("example.com.", dnsmessage.TypeA)}, extRcode: 16}
	respTC      = msg{id: 10, resp: true, tc: true, qs: []dnsmessage.Question{q("big.example.", dnsmessage.TypeTXT)}}
	mdnsQuery   = msg{qs: []dnsmessage.Question{q("_ipp._tcp.local.", dnsmessage.TypePTR), q("_ipps._tcp.local.", dnsmessage.TypePTR)}}
	mdnsAnnounc = msg{resp: true, answers: []dnsmessage.Resource{rrPTR("_ipp._tcp.local.", "printer._ipp._tcp.local.")}}
	axfrQuery   = msg{id: 0x4242, qs: []dnsmessage.Question{q("example.org.", dnsmessage.TypeAXFR)}}
	axfr1       = msg{id: 0x4242, resp: true, qs: axfrQuery.qs, answers: []dnsmessage.Resource{rrSOA("example.org."), rrA("a.example.org.", 10, 0, 0, 1)}}
	axfr2       = msg{id: 0x4242, resp: true, answers: []dnsmessage.Resource{rrA("b.example.org.", 10, 0, 0, 2), rrSOA("example.org.")}}
)

// got is the comparable part of a Message.
type got struct {
	Kind        protocols.Kind
	Name        string
	Status      protocols.Status
	Partial     bool
	NoResponse  bool
	Unsolicited bool
	ID          uint64
	HasID       bool
	Size        int
	Attrs       map[string]any
}

func view(m *protocols.Message) got {
	g := got{Kind: m.Kind, Name: m.Name, Status: m.Status, Partial: m.Partial, NoResponse: m.NoResponse,
		Unsolicited: m.Unsolicited, ID: m.ID, HasID: m.HasID, Size: m.Size, Attrs: map[string]any{}}
	for _, a := range m.Attrs {
		if a.IsInt {
			g.Attrs[a.Key] = a.Int
		} else {
			g.Attrs[a.Key] = a.Str
		}
	}
	return g
}

// datagrams feeds each datagram to one UDP parser.
func datagrams(p *dns.Parser, dgs ...[]byte) ([]got, error) {
	var out []got
	var m protocols.Message
	for _, d := range dgs {
		m.Reset()
		dir := up
		if len(d) > 2 && d[2]&0x80 != 0 {
			dir = down
		}
		n, done, err := p.Parse(dir, d, &m)
		if err != nil {
			return out, err
		}
		if n != len(d) {
			return out, errors.New("datagram not consumed whole")
		}
		if done {
			out = append(out, view(&m))
		}
	}
	return out, nil
}

func req(name, qname, qtype, transport string, id uint64, size int) got {
	return got{Kind: protocols.Request, Name: name, ID: id, HasID: true, Size: size, Attrs: map[string]any{
		"dns.question.name": qname, "dns.question.type": qtype, "network.transport": transport}}
}

func TestDatagram(t *testing.T) {
	a, aaaa := queryA.wire(t), respA.wire(t)
	cut := aaaa[:len(aaaa)-3]
	tests := []struct {
		name    string
		in      [][]byte
		want    []got
		wantErr error
	}{
		{name: "query and response", in: [][]byte{a, aaaa}, want: []got{
			req("QUERY A example.com", "example.com", "A", "udp", 0x1234, len(a)),
			{Kind: protocols.Response, Name: "QUERY A example.com", Status: protocols.StatusOK, ID: 0x1234, HasID: true, Size: len(aaaa),
				Attrs: map[string]any{"dns.question.name": "example.com", "dns.question.type": "A", "dns.response.code": "NOERROR",
					"dns.response.answer_count": int64(3), "dns.answers": "93.184.215.14,93.184.215.15"}},
		}},
		{name: "aaaa", in: [][]byte{respAAAA.wire(t)}, want: []got{
			{Kind: protocols.Response, Name: "QUERY AAAA example.com", Status: protocols.StatusOK, ID: 0x5678, HasID: true, Size: len(respAAAA.wire(t)),
				Attrs: map[string]any{"dns.question.name": "example.com", "dns.question.type": "AAAA", "dns.response.code": "NOERROR",
					"dns.response.answer_count": int64(1), "dns.answers": "2606:2800:220:1::46"}},
		}},
		{name: "nxdomain is ok", in: [][]byte{respNX.wire(t)}, want: []got{
			{Kind: protocols.Response, Name: "QUERY A no.such.host", Status: protocols.StatusOK, ID: 7, HasID: true, Size: len(respNX.wire(t)),
				Attrs: map[string]any{"dns.question.name": "no.such.host", "dns.question.type": "A", "dns.response.code": "NXDOMAIN",
					"dns.response.answer_count": int64(0)}},
		}},
		{name: "servfail is an error", in: [][]byte{respServfail.wire(t)}, want: []got{
			{Kind: protocols.Response, Name: "QUERY MX broken.example", Status: protocols.StatusError, ID: 8, HasID: true, Size: len(respServfail.wire(t)),
				Attrs: map[string]any{"dns.question.name": "broken.example", "dns.question.type": "MX", "dns.response.code": "SERVFAIL",
					"dns.response.answer_count": int64(0), "error.type": "SERVFAIL"}},
		}},
		{name: "extended rcode", in: [][]byte{respBadvers.wire(t)}, want: []got{
			{Kind: protocols.Response, Name: "QUERY A example.com", Status: protocols.StatusError, ID: 9, HasID: true, Size: len(respBadvers.wire(t)),
				Attrs: map[string]any{"dns.question.name": "example.com", "dns.question.type": "A", "dns.response.code": "BADVERS",
					"dns.response.answer_count": int64(0), "error.type": "BADVERS"}},
		}},
		{name: "truncated bit", in: [][]byte{respTC.wire(t)}, want: []got{
			{Kind: protocols.Response, Name: "QUERY TXT big.example", Status: protocols.StatusOK, ID: 10, HasID: true, Size: len(respTC.wire(t)),
				Attrs: map[string]any{"dns.question.name": "big.example", "dns.question.type": "TXT", "dns.response.code": "NOERROR",
					"dns.response.answer_count": int64(0), "dns.response.truncated": "true"}},
		}},
		{name: "cut in the answers is partial", in: [][]byte{cut}, want: []got{
			{Kind: protocols.Response, Name: "QUERY A example.com", Status: protocols.StatusOK, Partial: true, ID: 0x1234, HasID: true, Size: len(cut),
				Attrs: map[string]any{"dns.question.name": "example.com", "dns.question.type": "A", "dns.response.code": "NOERROR",
					"dns.response.answer_count": int64(3), "dns.answers": "93.184.215.14"}},
		}},
		{name: "mdns query and announcement", in: [][]byte{mdnsQuery.wire(t), mdnsAnnounc.wire(t)}, want: []got{
			{Kind: protocols.Request, Name: "QUERY PTR _ipp._tcp.local", NoResponse: true, HasID: true, Size: len(mdnsQuery.wire(t)),
				Attrs: map[string]any{"dns.question.name": "_ipp._tcp.local", "dns.question.type": "PTR", "network.transport": "udp"}},
			{Kind: protocols.Response, Name: "RESPONSE PTR _ipp._tcp.local", Status: protocols.StatusOK, Unsolicited: true, HasID: true, Size: len(mdnsAnnounc.wire(t)),
				Attrs: map[string]any{"dns.response.code": "NOERROR", "dns.response.answer_count": int64(1)}},
		}},
		{name: "escaped name and unknown type", in: [][]byte{msg{id: 3, qs: []dnsmessage.Question{{
			Name: dnsmessage.Name{Data: [255]byte{'a', ' ', 0x07, '.', '\\', '"', '.'}, Length: 7}, Type: 65280, Class: dnsmessage.ClassINET}}}.wire(t)},
			want: []got{req(`QUERY TYPE65280 a \007.\\\"`, `a \007.\\\"`, "TYPE65280", "udp", 3, 12+8+4)}},
		{name: "header too short", in: [][]byte{a[:11]}, wantErr: dns.ErrHeader},
		{name: "bad question", in: [][]byte{a[:len(a)-2]}, wantErr: dns.ErrQuestion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := datagrams(dns.NewDatagram(nil), tt.in...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, protocols.ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// stream is the bytes of each direction of a TCP connection.
type stream struct{ up, down []byte }

// runStream feeds both directions to a TCP parser in chunks of at most
// chunk bytes, keeping what Parse leaves as the driver does, client bytes
// first.
func runStream(p *dns.Parser, s stream, chunk int) ([]got, error) {
	var out []got
	var m protocols.Message
	for _, side := range []struct {
		dir  protocols.Direction
		data []byte
	}{{up, s.up}, {down, s.down}} {
		var tail []byte
		for off := 0; off < len(side.data); {
			end := min(off+chunk, len(side.data))
			tail = append(tail, side.data[off:end]...)
			off = end
			for len(tail) > 0 {
				m.Reset()
				n, done, err := p.Parse(side.dir, tail, &m)
				if err != nil {
					return out, err
				}
				if n < 0 || n > len(tail) {
					return out, errors.New("n out of range")
				}
				tail = tail[n:]
				if done {
					out = append(out, view(&m))
				} else if n == 0 {
					break
				}
			}
		}
		if m.Reset(); p.End(side.dir, &m) {
			out = append(out, view(&m))
		}
	}
	return out, nil
}

func TestStream(t *testing.T) {
	qa, qaaaa := queryA.wire(t), queryAAAA.wire(t)
	ra, raaaa := respA.wire(t), respAAAA.wire(t)
	qx, r1, r2 := axfrQuery.wire(t), axfr1.wire(t), axfr2.wire(t)
	respOf := func(m msg, b []byte, attrs map[string]any) got {
		a := map[string]any{"dns.question.name": "example.com", "dns.question.type": m.qs[0].Type.String()[4:], "dns.response.code": "NOERROR",
			"dns.response.answer_count": int64(len(m.answers))}
		for k, v := range attrs {
			a[k] = v
		}
		return got{Kind: protocols.Response, Name: "QUERY " + a["dns.question.type"].(string) + " example.com", Status: protocols.StatusOK,
			ID: uint64(m.id), HasID: true, Size: len(b) + 2, Attrs: a}
	}
	tests := []struct {
		name    string
		in      stream
		want    []got
		wantErr error
	}{
		{name: "pipelined, answered out of order",
			in: stream{up: append(framed(qa), framed(qaaaa)...), down: append(framed(raaaa), framed(ra)...)},
			want: []got{
				req("QUERY A example.com", "example.com", "A", "tcp", 0x1234, len(qa)+2),
				req("QUERY AAAA example.com", "example.com", "AAAA", "tcp", 0x5678, len(qaaaa)+2),
				respOf(respAAAA, raaaa, map[string]any{"dns.answers": "2606:2800:220:1::46"}),
				respOf(respA, ra, map[string]any{"dns.answers": "93.184.215.14,93.184.215.15"}),
			}},
		{name: "zone transfer continuation is consumed",
			in: stream{up: framed(qx), down: append(append(framed(r1), framed(r2)...), framed(r2)...)},
			want: []got{
				req("QUERY AXFR example.org", "example.org", "AXFR", "tcp", 0x4242, len(qx)+2),
				{Kind: protocols.Response, Name: "QUERY AXFR example.org", Status: protocols.StatusOK, ID: 0x4242, HasID: true, Size: len(r1) + 2,
					Attrs: map[string]any{"dns.question.name": "example.org", "dns.question.type": "AXFR", "dns.response.code": "NOERROR",
						"dns.response.answer_count": int64(2), "dns.answers": "10.0.0.1"}},
			}},
		{name: "length below a header", in: stream{up: []byte{0, 5, 1, 2, 3, 4, 5}}, wantErr: dns.ErrHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			total := max(len(tt.in.up), len(tt.in.down))
			for chunk := 1; chunk <= total; chunk++ {
				got, err := runStream(dns.New(nil), tt.in, chunk)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("chunk %d: error %v, want %v", chunk, err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("chunk %d: (-want +got)\n%s", chunk, diff)
				}
			}
		})
	}
}

// TestStreamContinuations checks the counter of consumed zone transfer
// messages.
func TestStreamContinuations(t *testing.T) {
	p := dns.New(nil)
	in := stream{up: framed(axfrQuery.wire(t)), down: append(append(framed(axfr1.wire(t)), framed(axfr2.wire(t))...), framed(axfr2.wire(t))...)}
	if _, err := runStream(p, in, 1<<16); err != nil {
		t.Fatal(err)
	}
	if got := p.Stats().Continuations; got != 2 {
		t.Errorf("continuations = %d, want 2", got)
	}
}

// TestStreamGap covers the three ways a gap meets the framing: a salvaged
// message start (skip the rest exactly), a cut length prefix (search), a
// gap at a boundary (search).
func TestStreamGap(t *testing.T) {
	qa, qaaaa, qx := framed(queryA.wire(t)), framed(queryAAAA.wire(t)), framed(axfrQuery.wire(t))
	qe := framed(queryEDNS.wire(t))
	type step struct {
		data    []byte
		salvage []byte // the tail offered to Salvage before the gap
		gap     int
	}
	tests := []struct {
		name    string
		steps   []step
		want    []string // names, "~" prefix for Partial
		resyncs uint64
	}{
		{name: "salvaged start, exact skip",
			steps: []step{{salvage: qe[:len(qe)-4], gap: 2}, {data: append(qe[len(qe)-2:len(qe):len(qe)], qaaaa...)}},
			want:  []string{"~QUERY NS example.net", "QUERY AAAA example.com"}},
		{name: "unsalvageable start, exact skip",
			steps: []step{{salvage: qa[:10], gap: len(qa) - 10}, {data: qaaaa}},
			want:  []string{"QUERY AAAA example.com"}},
		{name: "gap past the cut message, search",
			steps: []step{{salvage: qa[:10], gap: len(qa) + 5}, {data: append(qx[len(qx)-5:], qaaaa...)}},
			want:  []string{"QUERY AAAA example.com"}, resyncs: 1},
		{name: "gap at a boundary, search",
			steps: []step{{data: qa}, {gap: 100}, {data: append([]byte("junk, then a query"), qaaaa...)}},
			want:  []string{"QUERY A example.com", "QUERY AAAA example.com"}, resyncs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := dns.New(nil)
			var names []string
			var m protocols.Message
			emit := func() {
				n := m.Name
				if m.Partial {
					n = "~" + n
				}
				names = append(names, n)
			}
			for _, s := range tt.steps {
				if s.gap > 0 {
					lost := s.gap
					m.Reset()
					if p.Salvage(up, s.salvage, &m) {
						emit()
					} else {
						lost += len(s.salvage)
					}
					p.Gap(up, lost)
				}
				data := s.data
				for len(data) > 0 {
					m.Reset()
					n, done, err := p.Parse(up, data, &m)
					if err != nil {
						t.Fatal(err)
					}
					data = data[n:]
					if done {
						emit()
					} else if n == 0 {
						break
					}
				}
			}
			if diff := cmp.Diff(tt.want, names); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			if got := p.Stats().Resyncs; got != tt.resyncs {
				t.Errorf("resyncs = %d, want %d", got, tt.resyncs)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name     string
		datagram bool
		in       []byte
		want     protocols.Direction
	}{
		{"udp query", true, queryA.wire(t), up},
		{"udp response", true, respA.wire(t), down},
		{"udp mdns announcement", true, mdnsAnnounc.wire(t), down},
		{"udp short", true, queryA.wire(t)[:11], protocols.DirUnknown},
		{"udp question cut", true, queryA.wire(t)[:20], protocols.DirUnknown},
		{"udp text", true, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), protocols.DirUnknown},
		{"udp zeros", true, make([]byte, 40), protocols.DirUnknown},
		{"udp empty response", true, msg{id: 1, resp: true}.wire(t), protocols.DirUnknown},
		{"tcp query", false, framed(queryA.wire(t)), up},
		{"tcp response start", false, framed(respA.wire(t))[:40], down},
		{"tcp too short", false, framed(queryA.wire(t))[:13], protocols.DirUnknown},
		{"tcp question cut", false, framed(queryA.wire(t))[:20], protocols.DirUnknown},
		{"tcp http", false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), protocols.DirUnknown},
		{"tcp length prefix of another protocol", false, append([]byte{0, 0}, queryA.wire(t)...), protocols.DirUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sniff := dns.Protocol.Sniff
			if tt.datagram {
				sniff = dns.Protocol.SniffDatagram
			}
			if got := sniff(tt.in); got != tt.want {
				t.Errorf("sniff = %v, want %v", got, tt.want)
			}
		})
	}
}

// fixtures are the messages written to testdata, one UDP payload per file.
func fixtures(tb testing.TB) map[string][]byte {
	return map[string][]byte{
		"query_a.dns":           queryA.wire(tb),
		"response_a_cname.dns":  respA.wire(tb),
		"response_aaaa.dns":     respAAAA.wire(tb),
		"response_nxdomain.dns": respNX.wire(tb),
		"response_servfail.dns": respServfail.wire(tb),
		"response_badvers.dns":  respBadvers.wire(tb),
		"mdns_query.dns":        mdnsQuery.wire(tb),
		"mdns_announcement.dns": mdnsAnnounc.wire(tb),
		"axfr_query.dns":        axfrQuery.wire(tb),
		"axfr_first.dns":        axfr1.wire(tb),
		"axfr_next.dns":         axfr2.wire(tb),
	}
}

// TestTestdata checks that testdata holds what the builders make (go test
// -run TestTestdata -update rewrites it) and that every file parses whole.
func TestTestdata(t *testing.T) {
	for name, want := range fixtures(t) {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, b); diff != "" {
			t.Errorf("%s differs from its builder (-want +got):\n%s", name, diff)
		}
		got, err := datagrams(dns.NewDatagram(nil), b)
		if err != nil || len(got) != 1 || got[0].Partial {
			t.Errorf("%s: %+v, %v; want one complete message", name, got, err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	qa, ra := queryA.wire(b), respA.wire(b)
	cases := []struct {
		name   string
		stream bool
		in     [][]byte
	}{
		{"udp_query_response", false, [][]byte{qa, ra}},
		{"tcp_query_response", true, [][]byte{framed(qa), framed(ra)}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p := dns.NewDatagram(nil)
			if c.stream {
				p = dns.New(nil)
			}
			var m protocols.Message
			size := 0
			for _, d := range c.in {
				size += len(d)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for i, d := range c.in {
					m.Reset()
					dir := up
					if i%2 == 1 {
						dir = down
					}
					if _, done, err := p.Parse(dir, d, &m); err != nil || !done {
						b.Fatal(err, done)
					}
				}
			}
		})
	}
}
