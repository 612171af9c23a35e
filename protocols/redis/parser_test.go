package redis_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/redis"
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
}

func feed(dir protocols.Direction, data string) step { return step{dir: dir, data: data} }
func gap(dir protocols.Direction, n int) step        { return step{dir: dir, gap: n} }
func end(dir protocols.Direction) step               { return step{dir: dir, end: true} }

// driver feeds a parser as protocols.Driver does: it keeps each direction's
// unconsumed tail and calls Parse until it neither consumes nor completes;
// on a gap the tail is lost with it.
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

func run(steps []step) ([]protocols.Message, error) {
	d := &driver{p: redis.Protocol.New(nil)}
	for _, s := range steps {
		d.step(s)
	}
	return d.msgs, d.err
}

func s(k, v string) protocols.Attr { return protocols.String(k, v) }

// req is a command message without namespace.
func req(name, query string, size int) protocols.Message {
	return protocols.Message{
		Kind: protocols.Request, Name: name, Size: size,
		Attrs: []protocols.Attr{s("db.system.name", "redis"), s("db.operation.name", name), s("db.query.text", query)},
	}
}

func inDB(m protocols.Message, db string) protocols.Message {
	m.Attrs = append(append([]protocols.Attr(nil), m.Attrs...), s("db.namespace", db))
	return m
}

func noReply(m protocols.Message) protocols.Message { m.NoResponse = true; return m }
func partial(m protocols.Message) protocols.Message { m.Partial = true; return m }

func ok(size int) protocols.Message {
	return protocols.Message{Kind: protocols.Response, Status: protocols.StatusOK, Size: size}
}

func fail(code string, size int) protocols.Message {
	return protocols.Message{Kind: protocols.Response, Status: protocols.StatusError, Size: size,
		Attrs: []protocols.Attr{s("db.response.status_code", code)}}
}

func push(name string, size int) protocols.Message {
	return protocols.Message{Kind: protocols.Response, Status: protocols.StatusOK, Size: size, Unsolicited: true,
		Name: name, Attrs: []protocols.Attr{s("db.system.name", "redis")}}
}

// cmd encodes a command as an array of bulk strings.
func cmd(args ...string) string {
	var b strings.Builder
	b.WriteString("*" + itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.String()
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

var (
	setKV     = cmd("SET", "key", "value")
	getK      = cmd("get", "key")
	selectTwo = cmd("SELECT", "2")
	okR       = "+OK\r\n"
	bulkR     = "$5\r\nvalue\r\n"
	nullR     = "$-1\r\n"
	errR      = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
	subAB     = cmd("SUBSCRIBE", "a", "b")
	confA     = "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
	confB     = "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
	msgA      = "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n"
	pmsgA     = "*4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$1\r\na\r\n$5\r\nhello\r\n"
	unsubAll  = cmd("UNSUBSCRIBE")
	unconfA   = "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n"
	unconfB   = "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n"
	helloAuth = cmd("HELLO", "3", "AUTH", "default", "s3cr3t-hello")
	helloR    = "%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n"
	pushMsg   = ">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n"
	pushConf  = ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		steps   []step
		want    []protocols.Message
		wantErr error
	}{
		{
			name:  "set get",
			steps: []step{feed(up, setKV), feed(down, okR), feed(up, getK), feed(down, bulkR)},
			want:  []protocols.Message{req("SET", "SET ? ?", len(setKV)), ok(5), req("GET", "GET ?", len(getK)), ok(len(bulkR))},
		},
		{
			name:  "pipelined",
			steps: []step{feed(up, setKV+getK+getK), feed(down, okR+bulkR+nullR)},
			want: []protocols.Message{
				req("SET", "SET ? ?", len(setKV)), req("GET", "GET ?", len(getK)), req("GET", "GET ?", len(getK)),
				ok(5), ok(len(bulkR)), ok(len(nullR)),
			},
		},
		{
			name: "multi exec",
			steps: []step{
				feed(up, cmd("MULTI")+cmd("INCR", "a")+cmd("LPUSH", "l", "x")+cmd("EXEC")),
				feed(down, "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:1\r\n:1\r\n"),
			},
			want: []protocols.Message{
				req("MULTI", "MULTI", 15), req("INCR", "INCR ?", 21), with(req("LPUSH", "LPUSH ? ?", 29), send("redis-list:l:"+digest("x"))), req("EXEC", "EXEC", 14),
				ok(5), ok(9), ok(9), ok(12),
			},
		},
		{
			name:  "error",
			steps: []step{feed(up, getK), feed(down, errR)},
			want:  []protocols.Message{req("GET", "GET ?", len(getK)), fail("WRONGTYPE", len(errR))},
		},
		{
			name:  "lower-case error word",
			steps: []step{feed(up, getK), feed(down, "-oops\r\n")},
			want:  []protocols.Message{req("GET", "GET ?", len(getK)), fail("ERR", 7)},
		},
		{
			name:  "inline",
			steps: []step{feed(up, "PING\r\n\r\nset k \"a b \\\" c\" 'x \\' y'\r\n"), feed(down, "+PONG\r\n+OK\r\n")},
			want:  []protocols.Message{req("PING", "PING", 6), req("SET", "SET ? ? ?", 27), ok(7), ok(5)},
		},
		{
			name:  "two-word commands",
			steps: []step{feed(up, cmd("client", "setname", "x")+cmd("CONFIG", "GET", "maxmemory")+cmd("XINFO", "STREAM", "s")+cmd("CLIENT", "bogus"))},
			want: []protocols.Message{
				req("CLIENT SETNAME", "CLIENT SETNAME ?", 36), req("CONFIG GET", "CONFIG GET ?", 40),
				req("XINFO STREAM", "XINFO STREAM ?", 34), req("CLIENT", "CLIENT ?", 27),
			},
		},
		{
			name:  "module and junk names",
			steps: []step{feed(up, cmd("ft.search", "idx", "q")+cmd("$0"))},
			want: []protocols.Message{
				req("FT.SEARCH", "FT.SEARCH ? ?", 35),
				{Kind: protocols.Request, Size: 12, Attrs: []protocols.Attr{s("db.system.name", "redis")}},
			},
		},
		{
			name:  "select",
			steps: []step{feed(up, getK+selectTwo+getK+cmd("RESET")+getK)},
			want: []protocols.Message{
				req("GET", "GET ?", len(getK)), req("SELECT", "SELECT ?", len(selectTwo)), inDB(req("GET", "GET ?", len(getK)), "2"),
				inDB(req("RESET", "RESET", 15), "2"), inDB(req("GET", "GET ?", len(getK)), "0"),
			},
		},
		{
			name:  "many arguments",
			steps: []step{feed(up, cmd(append([]string{"DEL"}, strings.Split(strings.Repeat("k ", 40), " ")[:40]...)...))},
			want:  []protocols.Message{req("DEL", "DEL"+strings.Repeat(" ?", 32)+" ...", 14+40*7)},
		},
		{
			name: "hello 3 resp3 replies",
			steps: []step{
				feed(up, helloAuth+cmd("HGETALL", "h")+cmd("SMEMBERS", "s")+cmd("GET", "a")+cmd("GET", "b")+cmd("GET", "c")+cmd("GET", "d")+cmd("GET", "e")+cmd("FCALL", "f")+cmd("LRANGE", "l", "0", "1")),
				feed(down, helloR+
					"%1\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n"+ // map with nested array
					"~2\r\n+a\r\n+b\r\n"+ // set
					"_\r\n"+ // null
					",3.14\r\n"+ // double
					"#t\r\n"+ // boolean
					"(3492890328409238509324850943850943825024385\r\n"+ // big number
					"=15\r\ntxt:Some string\r\n"+ // verbatim
					"!21\r\nSYNTAX invalid syntax\r\n"+ // bulk error
					"|1\r\n+ttl\r\n:3600\r\n*2\r\n$1\r\na\r\n|1\r\n+x\r\n:1\r\n$1\r\nb\r\n"), // attributes
			},
			want: []protocols.Message{
				req("HELLO", "HELLO ? ? ? ?", len(helloAuth)), req("HGETALL", "HGETALL ?", 24), req("SMEMBERS", "SMEMBERS ?", 25),
				req("GET", "GET ?", 20), req("GET", "GET ?", 20), req("GET", "GET ?", 20), req("GET", "GET ?", 20), req("GET", "GET ?", 20),
				req("FCALL", "FCALL ?", 22), req("LRANGE", "LRANGE ? ? ?", 37),
				ok(len(helloR)), ok(23), ok(12), ok(3), ok(7), ok(4), ok(46), ok(22), fail("SYNTAX", 28), ok(47),
			},
		},
		{
			name: "resp2 pub/sub",
			steps: []step{
				feed(up, subAB), feed(down, confA+confB+msgA),
				feed(up, cmd("PSUBSCRIBE", "a*")), feed(down, "*3\r\n$10\r\npsubscribe\r\n$2\r\na*\r\n:3\r\n"+pmsgA+msgA),
				feed(up, cmd("PING")), feed(down, "*2\r\n$4\r\npong\r\n$0\r\n\r\n"),
				feed(up, unsubAll), feed(down, unconfA+unconfB+msgA),
			},
			want: []protocols.Message{
				req("SUBSCRIBE", "SUBSCRIBE ? ?", len(subAB)), ok(len(confA) + len(confB)), with(push("PUBSUB message", len(msgA)), recv("redis-pubsub:a:"+digest("hello"))),
				req("PSUBSCRIBE", "PSUBSCRIBE ?", 29), ok(33), with(push("PUBSUB pmessage", len(pmsgA)), recv("redis-pubsub:a:"+digest("hello"))), with(push("PUBSUB message", len(msgA)), recv("redis-pubsub:a:"+digest("hello"))),
				req("PING", "PING", 14), ok(20),
				req("UNSUBSCRIBE", "UNSUBSCRIBE", len(unsubAll)), ok(len(unconfA) + len(unconfB)), with(push("PUBSUB message", len(msgA)), recv("redis-pubsub:a:"+digest("hello"))),
			},
		},
		{
			name: "resp3 pushes",
			steps: []step{
				feed(up, cmd("HELLO", "3")+cmd("SUBSCRIBE", "a")), feed(down, helloR+pushConf+pushMsg),
				feed(up, getK), feed(down, pushMsg+"*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n"),
			},
			want: []protocols.Message{
				req("HELLO", "HELLO ?", 22), req("SUBSCRIBE", "SUBSCRIBE ?", 26), ok(len(helloR)), ok(len(pushConf)), with(push("PUBSUB message", len(pushMsg)), recv("redis-pubsub:a:"+digest("hello"))),
				req("GET", "GET ?", len(getK)), with(push("PUBSUB message", len(pushMsg)), recv("redis-pubsub:a:"+digest("hello"))), ok(31),
			},
		},
		{
			name: "unexpected confirmation",
			steps: []step{
				feed(up, getK), feed(down, confA+bulkR),
			},
			want: []protocols.Message{req("GET", "GET ?", len(getK)), push("PUBSUB subscribe", len(confA)), ok(len(bulkR))},
		},
		{
			name: "subscribe cut short",
			steps: []step{
				feed(up, subAB+getK), feed(down, confA+bulkR),
			},
			want: []protocols.Message{
				req("SUBSCRIBE", "SUBSCRIBE ? ?", len(subAB)), req("GET", "GET ?", len(getK)),
				ok(len(confA)), ok(len(bulkR)),
			},
		},
		{
			name: "client reply",
			steps: []step{
				feed(up, "PING\r\nCLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\nCLIENT REPLY SKIP\r\nPING\r\nPING\r\n"),
				feed(down, "+PONG\r\n+OK\r\n+PONG\r\n+PONG\r\n"),
			},
			want: []protocols.Message{
				req("PING", "PING", 6), noReply(req("CLIENT REPLY", "CLIENT REPLY ?", 18)), noReply(req("PING", "PING", 6)),
				noReply(req("CLIENT REPLY", "CLIENT REPLY ?", 19)), req("CLIENT REPLY", "CLIENT REPLY ?", 17),
				req("PING", "PING", 6), noReply(req("CLIENT REPLY", "CLIENT REPLY ?", 19)), noReply(req("PING", "PING", 6)), req("PING", "PING", 6),
				ok(7), ok(5), ok(7), ok(7),
			},
		},
		{
			name:  "monitor",
			steps: []step{feed(up, cmd("MONITOR")), feed(down, okR+"+1339518083.107412 [0 127.0.0.1:60866] \"keys\" \"*\"\r\n")},
			want:  []protocols.Message{req("MONITOR", "MONITOR", 17), ok(5), push("MONITOR", 51)},
		},
		{
			name:  "streamed string and aggregate",
			steps: []step{feed(up, getK+getK), feed(down, "$?\r\n;4\r\nHell\r\n;2\r\no!\r\n;0\r\n*?\r\n:1\r\n$1\r\nx\r\n.\r\n")},
			want:  []protocols.Message{req("GET", "GET ?", len(getK)), req("GET", "GET ?", len(getK)), ok(26), ok(18)},
		},
		{
			name:  "null array and empty aggregates",
			steps: []step{feed(up, getK+getK+getK), feed(down, "*-1\r\n*0\r\n%0\r\n")},
			want:  []protocols.Message{req("GET", "GET ?", len(getK)), req("GET", "GET ?", len(getK)), req("GET", "GET ?", len(getK)), ok(5), ok(4), ok(4)},
		},
		{
			name:  "ignored empty commands",
			steps: []step{feed(up, "*0\r\n*-1\r\n"+getK), feed(down, bulkR)},
			want:  []protocols.Message{req("GET", "GET ?", len(getK)), ok(len(bulkR))},
		},
		{
			name: "huge bulk streamed",
			steps: []step{
				feed(up, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\n"), feed(up, strings.Repeat("x", 1<<16)),
				gap(up, 100000000-(1<<16)-1), feed(up, "x\r\n"),
				feed(down, okR),
			},
			want: []protocols.Message{partial(req("SET", "SET ? ?", 32+1<<16+3)), ok(5)},
		},
		{
			name: "gap in a reply bulk",
			steps: []step{
				feed(up, getK+getK), feed(down, "$10\r\n01"), gap(down, 5), feed(down, "789\r\n"+bulkR),
			},
			want: []protocols.Message{req("GET", "GET ?", len(getK)), req("GET", "GET ?", len(getK)), partial(ok(12)), ok(len(bulkR))},
		},
		{
			name: "gap between commands",
			steps: []step{
				feed(up, getK), gap(up, 30), feed(up, setKV),
				feed(down, bulkR), gap(down, 10), feed(down, okR),
			},
			want: []protocols.Message{
				req("GET", "GET ?", len(getK)),
				{Kind: protocols.Request, Partial: true, Attrs: []protocols.Attr{s("db.system.name", "redis")}},
				req("SET", "SET ? ?", len(setKV)),
				ok(len(bulkR)), {Kind: protocols.Response, Partial: true}, ok(5),
			},
		},
		{
			name: "gap inside headers resyncs",
			steps: []step{
				feed(up, "*3\r\n$3\r\nSET\r\n"), gap(up, 20), feed(up, "lue\r\n"+getK+getK),
				feed(down, "*2\r\n$1\r\na"), gap(down, 3), feed(down, "xx\r\n+text\r\n"+bulkR),
			},
			want: []protocols.Message{
				partial(req("SET", "SET ? ?", 13)), req("GET", "GET ?", len(getK)), req("GET", "GET ?", len(getK)),
				{Kind: protocols.Response, Partial: true, Status: protocols.StatusOK, Size: 9},
				ok(7), ok(len(bulkR)),
			},
		},
		{
			name:  "end cuts a command",
			steps: []step{feed(up, getK+"*2\r\n$3\r\nGET\r\n"), end(up)},
			want:  []protocols.Message{req("GET", "GET ?", len(getK)), partial(req("GET", "GET ?", 13))},
		},
		{
			name:  "stray line ends between replies",
			steps: []step{feed(up, getK+getK), feed(down, okR+"\n"+okR)},
			want:  []protocols.Message{req("GET", "GET ?", len(getK)), req("GET", "GET ?", len(getK)), ok(5), ok(5)},
		},
		{
			name:    "argument not a bulk string",
			steps:   []step{feed(up, "*2\r\n$3\r\nGET\r\n:1\r\n")},
			wantErr: redis.ErrArgument,
		},
		{
			name:    "bad length",
			steps:   []step{feed(up, "*2\r\n$x\r\n")},
			wantErr: redis.ErrHeader,
		},
		{
			name:    "bulk too large",
			steps:   []step{feed(up, "*2\r\n$536870913\r\n")},
			wantErr: redis.ErrBulkTooLarge,
		},
		{
			name:    "not resp",
			steps:   []step{feed(up, getK), feed(down, "not RESP\r\n")},
			wantErr: redis.ErrType,
		},
		{
			name:    "too deep",
			steps:   []step{feed(up, getK), feed(down, strings.Repeat("*1\r\n", redis.MaxDepth+1))},
			wantErr: redis.ErrDepth,
		},
		{
			name:    "inline too long",
			steps:   []step{feed(up, strings.Repeat("a", redis.MaxInline))},
			wantErr: redis.ErrInlineTooLong,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(tc.steps)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				var pe *protocols.ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %T is not a *protocols.ParseError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSplits feeds each case split at every position and in single bytes:
// the messages must not depend on how the stream is cut.
func TestSplits(t *testing.T) {
	cases := []struct {
		name, up, down string
		links          int // handoff links expected, when not 0
	}{
		{"pipeline", setKV + getK + "PING\r\n" + selectTwo + getK, okR + bulkR + "+PONG\r\n" + okR + nullR, 0},
		{"pubsub", subAB + cmd("PING") + unsubAll, confA + confB + msgA + pmsgA + "*2\r\n$4\r\npong\r\n$0\r\n\r\n" + unconfA + unconfB, 0},
		{"resp3", helloAuth + getK + getK + getK, helloR + pushMsg + "|1\r\n+ttl\r\n:3600\r\n%1\r\n$1\r\na\r\n~1\r\n,1.5\r\n" + "$?\r\n;4\r\nHell\r\n;0\r\n" + "!3\r\nERR\r\n", 0},
		{"handoff", cmd("LPUSH", "jobs", "a", "bc") + cmd("BRPOP", "jobs", "0") + cmd("LMOVE", "jobs", "w", "LEFT", "LEFT") + cmd("XADD", "s", "*", "f", "v") +
			cmd("XREAD", "STREAMS", "s", "0") + cmd("PUBLISH", "ch", "hello") + cmd("SUBSCRIBE", "ch"),
			":2\r\n" + "*2\r\n$4\r\njobs\r\n$2\r\nbc\r\n" + "$1\r\na\r\n" + "$3\r\n1-1\r\n" +
				"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n" + ":0\r\n" +
				"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n" + "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n", 9},
		{"handoff resp3", cmd("HELLO", "3") + cmd("XREAD", "STREAMS", "s", "t", "0", "0") + cmd("BLPOP", "l", "0"),
			helloR + "%2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nt\r\n*1\r\n*2\r\n$3\r\n2-2\r\n_\r\n" +
				">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n" + "*2\r\n$1\r\nl\r\n$3\r\nxyz\r\n", 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := run([]step{feed(up, tc.up), feed(down, tc.down), end(up), end(down)})
			if err != nil {
				t.Fatal(err)
			}
			if tc.links > 0 {
				n := 0
				for _, m := range want {
					n += len(m.Links)
				}
				if n != tc.links {
					t.Fatalf("%d handoff links in one piece, want %d: %+v", n, tc.links, want)
				}
			}
			for _, dir := range []protocols.Direction{up, down} {
				data := tc.up
				if dir == down {
					data = tc.down
				}
				for i := 0; i <= len(data); i++ {
					steps := []step{feed(dir, data[:i]), feed(dir, data[i:])}
					other := []step{feed(down, tc.down)}
					if dir == down {
						other = []step{feed(up, tc.up)}
					}
					if dir == up {
						steps = append(steps, other...)
					} else {
						steps = append(other, steps...)
					}
					got, err := run(append(steps, end(up), end(down)))
					if err != nil {
						t.Fatalf("%v split at %d: %v", dir, i, err)
					}
					if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
						t.Fatalf("%v split at %d (-want +got):\n%s", dir, i, diff)
					}
				}
				var bytewise []step
				if dir == down {
					bytewise = append(bytewise, feed(up, tc.up))
				}
				for i := 0; i < len(data); i++ {
					bytewise = append(bytewise, feed(dir, data[i:i+1]))
				}
				if dir == up {
					bytewise = append(bytewise, feed(down, tc.down))
				}
				got, err := run(append(bytewise, end(up), end(down)))
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("%v byte by byte (-want +got):\n%s", dir, diff)
				}
			}
		})
	}
}

// TestSecrets checks that no password reaches a Message.
func TestSecrets(t *testing.T) {
	const secret = "s3cr3t"
	steps := []step{
		feed(up, cmd("AUTH", secret)+cmd("AUTH", "user", secret)+"AUTH "+secret+"\r\n"+helloAuth+
			cmd("CONFIG", "SET", "requirepass", secret)+cmd("MIGRATE", "h", "6379", "k", "0", "5", "AUTH", secret)+
			cmd("ACL", "SETUSER", "u", ">"+secret)),
		feed(down, "-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n+OK\r\n"+helloR+"+OK\r\n+OK\r\n+OK\r\n"),
	}
	got, err := run(steps)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 14 {
		t.Errorf("got %d messages, want 14", len(got))
	}
	for _, m := range got {
		for _, a := range append(m.Attrs, m.Links...) {
			if strings.Contains(a.Str, "s3cr3t") || strings.Contains(a.Str, "default") {
				t.Errorf("%s: attribute %s = %q holds a secret", m.Name, a.Key, a.Str)
			}
		}
		if strings.Contains(m.Name, "s3cr3t") {
			t.Errorf("name %q holds a secret", m.Name)
		}
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		in   string
		want protocols.Direction
	}{
		{setKV, up},
		{cmd("get", "k"), up},
		{"PING\r\n", up},
		{"set k v\r\n", up},
		{"PING", protocols.DirUnknown},
		{"GET / HTTP/1.1\r\n", protocols.DirUnknown},
		{"HELLO world\r\n", up},
		{"EHLO example.com\r\n", protocols.DirUnknown},
		{"*2\r\n$3\r\nGE", protocols.DirUnknown},
		{cmd("FAKE", "x"), protocols.DirUnknown},
		{"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", down},
		{"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n$1\r\nb\r\n", up},
		{"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n", protocols.DirUnknown},
		{msgA, down},
		{"*2\r\n:1\r\n:2\r\n", down},
		{"*0\r\n", protocols.DirUnknown},
		{"+OK\r\n", down},
		{"+PONG\r\n", down},
		{"+OK POP3 server ready\r\n", protocols.DirUnknown},
		{"-ERR unknown command\r\n", down},
		{"-x\r\n", protocols.DirUnknown},
		{":42\r\n", down},
		{"$5\r\nhello\r\n", down},
		{"$5\r\nhel", protocols.DirUnknown},
		{"$-1\r\n", down},
		{"%1\r\n+a\r\n:1\r\n", down},
		{">3\r\n$7\r\nmessage\r\n", down},
		{"_\r\n", down},
		{"#t\r\n", down},
		{",1.5\r\n", down},
		{"(123\r\n", down},
		{"=8\r\ntxt:abcd\r\n", down},
		{"!10\r\nERR broken\r\n", down},
		{"|1\r\n+a\r\n+b\r\n:1\r\n", down},
		{"\r\n", protocols.DirUnknown},
		{"", protocols.DirUnknown},
		{"\x16\x03\x01\x02\x00", protocols.DirUnknown},
	}
	for _, tc := range tests {
		if got := redis.Protocol.Sniff([]byte(tc.in)); got != tc.want {
			t.Errorf("Sniff(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
