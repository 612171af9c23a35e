package redis_test

import (
	"encoding/hex"
	"hash/fnv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/redis"
)

// digest is the FNV-1a 64 of v in hex, computed with the standard library.
func digest(v string) string {
	h := fnv.New64a()
	h.Write([]byte(v))
	return hex.EncodeToString(h.Sum(nil))
}

func send(v string) protocols.Attr { return s(protocols.LinkHandoffSend, v) }
func recv(v string) protocols.Attr { return s(protocols.LinkHandoffRecv, v) }

// with returns m with links appended.
func with(m protocols.Message, links ...protocols.Attr) protocols.Message {
	m.Links = append(append([]protocols.Attr(nil), m.Links...), links...)
	return m
}

// query returns the db.query.text of a command with n arguments.
func query(name string, n int) string {
	q := name + strings.Repeat(" ?", min(n, redis.MaxPlaceholders))
	if n > redis.MaxPlaceholders {
		q += " ..."
	}
	return q
}

// c is a command message for the encoded command args.
func c(args ...string) protocols.Message {
	name := strings.ToUpper(args[0])
	return req(name, query(name, len(args)-1), len(cmd(args...)))
}

// bulk encodes a bulk string, arr an array of encoded elements, m3 a
// RESP3 map of encoded key/value pairs.
func bulk(v string) string { return "$" + itoa(len(v)) + "\r\n" + v + "\r\n" }
func arr(elems ...string) string {
	return "*" + itoa(len(elems)) + "\r\n" + strings.Join(elems, "")
}
func m3(pairs ...string) string {
	return "%" + itoa(len(pairs)/2) + "\r\n" + strings.Join(pairs, "")
}

// entry encodes a stream entry [id, [field, value...]].
func entry(id string, fv ...string) string {
	var fields []string
	for _, f := range fv {
		fields = append(fields, bulk(f))
	}
	return arr(bulk(id), arr(fields...))
}

func TestHandoff(t *testing.T) {
	longKey := strings.Repeat("k", 200)
	// The name part of a link for longKey: cut, "~", the digest of all.
	longName := longKey[:redis.MaxLinkName-17] + "~" + digest(longKey)
	var many []string
	var manyLinks []protocols.Attr
	for i := range 100 {
		v := "v" + itoa(i)
		many = append(many, v)
		if i < redis.MaxHandoffLinks {
			manyLinks = append(manyLinks, send("redis-list:jobs:"+digest(v)))
		}
	}
	xreadR2 := arr(
		arr(bulk("orders"), arr(entry("1-1", "item", "42"), entry("1-2", "item", "43"))),
		arr(bulk("audit"), arr(entry("7-0", "who", "me"))))
	xreadR3 := m3(
		bulk("orders"), arr(entry("1-1", "item", "42"), entry("1-2", "item", "43")),
		bulk("audit"), arr(entry("7-0", "who", "me")))
	xreadLinks := []protocols.Attr{
		recv("redis-stream:orders:1-1"), recv("redis-stream:orders:1-2"), recv("redis-stream:audit:7-0"),
	}
	hello3 := cmd("HELLO", "3")
	tests := []struct {
		name  string
		steps []step
		want  []protocols.Message
	}{
		{
			name:  "xadd",
			steps: []step{feed(up, cmd("XADD", "orders", "*", "item", "42")), feed(down, bulk("1526919030474-55"))},
			want: []protocols.Message{
				c("XADD", "orders", "*", "item", "42"),
				with(ok(len(bulk("1526919030474-55"))), send("redis-stream:orders:1526919030474-55")),
			},
		},
		{
			name: "xadd options, null, error",
			steps: []step{
				feed(up, cmd("xadd", "s", "NOMKSTREAM", "MAXLEN", "~", "1000", "*", "f", "v")+cmd("XADD", "s", "5-5", "f", "v")+cmd("XADD", "s", "1-1", "f", "v")),
				feed(down, "$3\r\n9-1\r\n"+nullR+"-ERR The ID specified in XADD is equal or smaller than the target stream top item\r\n"),
			},
			want: []protocols.Message{
				c("XADD", "s", "NOMKSTREAM", "MAXLEN", "~", "1000", "*", "f", "v"), c("XADD", "s", "5-5", "f", "v"), c("XADD", "s", "1-1", "f", "v"),
				with(ok(9), send("redis-stream:s:9-1")), ok(len(nullR)), fail("ERR", 83),
			},
		},
		{
			name:  "xread resp2",
			steps: []step{feed(up, cmd("XREAD", "COUNT", "10", "BLOCK", "0", "STREAMS", "orders", "audit", "0", "0")), feed(down, xreadR2)},
			want: []protocols.Message{
				c("XREAD", "COUNT", "10", "BLOCK", "0", "STREAMS", "orders", "audit", "0", "0"),
				with(ok(len(xreadR2)), xreadLinks...),
			},
		},
		{
			name:  "xread resp3 map",
			steps: []step{feed(up, hello3+cmd("XREAD", "STREAMS", "orders", "audit", "$", "$")), feed(down, helloR+xreadR3)},
			want: []protocols.Message{
				c("HELLO", "3"), c("XREAD", "STREAMS", "orders", "audit", "$", "$"),
				ok(len(helloR)), with(ok(len(xreadR3)), xreadLinks...),
			},
		},
		{
			name: "xread resp3 attribute before the map",
			steps: []step{
				feed(up, hello3+cmd("XREAD", "STREAMS", "orders", "$")),
				feed(down, helloR+"|1\r\n$3\r\nkey\r\n"+arr(bulk("a"), bulk("b"))+m3(bulk("orders"), arr(entry("3-3", "f", "v")))),
			},
			want: []protocols.Message{
				c("HELLO", "3"), c("XREAD", "STREAMS", "orders", "$"),
				ok(len(helloR)), with(ok(82), recv("redis-stream:orders:3-3")),
			},
		},
		{
			name: "xread timeouts",
			steps: []step{
				feed(up, cmd("XREAD", "BLOCK", "1", "STREAMS", "s", "$")+hello3+cmd("XREAD", "BLOCK", "1", "STREAMS", "s", "$")),
				feed(down, "*-1\r\n"+helloR+"_\r\n"),
			},
			want: []protocols.Message{
				c("XREAD", "BLOCK", "1", "STREAMS", "s", "$"), c("HELLO", "3"), c("XREAD", "BLOCK", "1", "STREAMS", "s", "$"),
				ok(5), ok(len(helloR)), ok(3),
			},
		},
		{
			name: "xreadgroup with a deleted entry",
			steps: []step{
				feed(up, cmd("XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "orders", "0")),
				feed(down, arr(arr(bulk("orders"), arr(arr(bulk("1-1"), nullR), entry("1-2", "f", "v"))))),
			},
			want: []protocols.Message{
				c("XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", "orders", "0"),
				with(ok(len(arr(arr(bulk("orders"), arr(arr(bulk("1-1"), nullR), entry("1-2", "f", "v")))))),
					recv("redis-stream:orders:1-1"), recv("redis-stream:orders:1-2")),
			},
		},
		{
			name:  "lpush rpushx",
			steps: []step{feed(up, cmd("LPUSH", "jobs", "a", "b", "")+cmd("rpushx", "jobs", "c")), feed(down, ":3\r\n:4\r\n")},
			want: []protocols.Message{
				with(c("LPUSH", "jobs", "a", "b", ""), send("redis-list:jobs:"+digest("a")), send("redis-list:jobs:"+digest("b")), send("redis-list:jobs:"+digest(""))),
				with(c("RPUSHX", "jobs", "c"), send("redis-list:jobs:"+digest("c"))),
				ok(4), ok(4),
			},
		},
		{
			name:  "inline lpush",
			steps: []step{feed(up, "LPUSH jobs \"hello world\"\r\n"), feed(down, ":1\r\n")},
			want: []protocols.Message{
				with(req("LPUSH", "LPUSH ? ?", 26), send("redis-list:jobs:"+digest("hello world"))),
				ok(4),
			},
		},
		{
			name: "brpop blpop resp2 and resp3, timeout",
			steps: []step{
				feed(up, cmd("BRPOP", "jobs", "other", "0")+cmd("BLPOP", "jobs", "1")+hello3+cmd("BLPOP", "other", "0")),
				feed(down, arr(bulk("jobs"), bulk("a"))+"*-1\r\n"+helloR+arr(bulk("other"), bulk("b"))),
			},
			want: []protocols.Message{
				c("BRPOP", "jobs", "other", "0"), c("BLPOP", "jobs", "1"), c("HELLO", "3"), c("BLPOP", "other", "0"),
				with(ok(len(arr(bulk("jobs"), bulk("a")))), recv("redis-list:jobs:"+digest("a"))),
				ok(5), ok(len(helloR)),
				with(ok(len(arr(bulk("other"), bulk("b")))), recv("redis-list:other:"+digest("b"))),
			},
		},
		{
			name: "lpop rpop with count, null",
			steps: []step{
				feed(up, cmd("LPOP", "jobs")+cmd("RPOP", "jobs", "2")+cmd("LPOP", "empty")+cmd("LPOP", "jobs")+cmd("LPUSH", "", "e")+cmd("LPOP", "")),
				feed(down, bulk("a")+arr(bulk("b"), bulk("c"))+nullR+"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"+":1\r\n"+bulk("e")),
			},
			want: []protocols.Message{
				c("LPOP", "jobs"), c("RPOP", "jobs", "2"), c("LPOP", "empty"), c("LPOP", "jobs"),
				with(c("LPUSH", "", "e"), send("redis-list::"+digest("e"))), c("LPOP", ""),
				with(ok(7), recv("redis-list:jobs:"+digest("a"))),
				with(ok(len(arr(bulk("b"), bulk("c")))), recv("redis-list:jobs:"+digest("b")), recv("redis-list:jobs:"+digest("c"))),
				ok(5), fail("WRONGTYPE", len(errR)), ok(4), with(ok(7), recv("redis-list::"+digest("e"))),
			},
		},
		{
			name: "lmove rpoplpush blmove",
			steps: []step{
				feed(up, cmd("LMOVE", "jobs", "work", "RIGHT", "LEFT")+cmd("RPOPLPUSH", "work", "done")+cmd("BLMOVE", "a", "b", "LEFT", "LEFT", "1")),
				feed(down, bulk("x")+bulk("y")+nullR),
			},
			want: []protocols.Message{
				c("LMOVE", "jobs", "work", "RIGHT", "LEFT"), c("RPOPLPUSH", "work", "done"), c("BLMOVE", "a", "b", "LEFT", "LEFT", "1"),
				with(ok(7), recv("redis-list:jobs:"+digest("x")), send("redis-list:work:"+digest("x"))),
				with(ok(7), recv("redis-list:work:"+digest("y")), send("redis-list:done:"+digest("y"))),
				ok(5),
			},
		},
		{
			name:  "blmpop",
			steps: []step{feed(up, cmd("BLMPOP", "0", "2", "a", "jobs", "LEFT", "COUNT", "2")), feed(down, arr(bulk("jobs"), arr(bulk("p"), bulk("q"))))},
			want: []protocols.Message{
				c("BLMPOP", "0", "2", "a", "jobs", "LEFT", "COUNT", "2"),
				with(ok(len(arr(bulk("jobs"), arr(bulk("p"), bulk("q"))))), recv("redis-list:jobs:"+digest("p")), recv("redis-list:jobs:"+digest("q"))),
			},
		},
		{
			name:  "publish spublish",
			steps: []step{feed(up, cmd("PUBLISH", "events", "hello")+cmd("SPUBLISH", "shard", "x")), feed(down, ":1\r\n:0\r\n")},
			want: []protocols.Message{
				with(c("PUBLISH", "events", "hello"), send("redis-pubsub:events:"+digest("hello"))),
				with(c("SPUBLISH", "shard", "x"), send("redis-pubsub:shard:"+digest("x"))),
				ok(4), ok(4),
			},
		},
		{
			name: "smessage and a resp3 push while blpop waits",
			steps: []step{
				feed(up, hello3+cmd("SSUBSCRIBE", "shard")+cmd("BLPOP", "l", "0")),
				feed(down, helloR+">3\r\n$10\r\nssubscribe\r\n$5\r\nshard\r\n:1\r\n"+">3\r\n$8\r\nsmessage\r\n$5\r\nshard\r\n$1\r\nx\r\n"+arr(bulk("l"), bulk("v"))),
			},
			want: []protocols.Message{
				c("HELLO", "3"), c("SSUBSCRIBE", "shard"), c("BLPOP", "l", "0"),
				ok(len(helloR)), ok(36),
				with(push("PUBSUB smessage", 36), recv("redis-pubsub:shard:"+digest("x"))),
				with(ok(len(arr(bulk("l"), bulk("v")))), recv("redis-list:l:"+digest("v"))),
			},
		},
		{
			name:  "a message-like reply is not a message",
			steps: []step{feed(up, cmd("LRANGE", "l", "0", "-1")), feed(down, msgA)},
			want:  []protocols.Message{c("LRANGE", "l", "0", "-1"), ok(len(msgA))},
		},
		{
			name:  "bounded batch",
			steps: []step{feed(up, cmd(append([]string{"LPUSH", "jobs"}, many...)...)), feed(down, ":100\r\n")},
			want: []protocols.Message{
				with(c(append([]string{"LPUSH", "jobs"}, many...)...), manyLinks...),
				ok(6),
			},
		},
		{
			name: "long key cut the same way on both sides",
			steps: []step{
				feed(up, cmd("LPUSH", longKey, "v")+cmd("BRPOP", longKey, "0")+cmd("LPOP", longKey)),
				feed(down, ":1\r\n"+arr(bulk(longKey), bulk("v"))+bulk("w")),
			},
			want: []protocols.Message{
				with(c("LPUSH", longKey, "v"), send("redis-list:"+longName+":"+digest("v"))), c("BRPOP", longKey, "0"), c("LPOP", longKey),
				ok(4), with(ok(len(arr(bulk(longKey), bulk("v")))), recv("redis-list:"+longName+":"+digest("v"))),
				with(ok(7), recv("redis-list:"+longName+":"+digest("w"))),
			},
		},
		{
			name:  "entry id too long",
			steps: []step{feed(up, cmd("XADD", "s", "*", "f", "v")), feed(down, bulk(strings.Repeat("9", 65)))},
			want:  []protocols.Message{c("XADD", "s", "*", "f", "v"), ok(72)},
		},
		{
			name: "gap inside a value loses that value only",
			steps: []step{
				feed(up, "*5\r\n$5\r\nLPUSH\r\n$4\r\njobs\r\n$1\r\na\r\n$5\r\nhe"), gap(up, 2), feed(up, "o\r\n$1\r\nc\r\n"),
				feed(down, ":3\r\n"),
			},
			want: []protocols.Message{
				partial(with(req("LPUSH", "LPUSH ? ? ? ?", 48), send("redis-list:jobs:"+digest("a")), send("redis-list:jobs:"+digest("c")))),
				ok(4),
			},
		},
		{
			name: "gap inside a reply value",
			steps: []step{
				feed(up, cmd("RPOP", "jobs", "2")),
				feed(down, "*2\r\n$5\r\nhe"), gap(down, 2), feed(down, "o\r\n$1\r\nc\r\n"),
			},
			want: []protocols.Message{
				c("RPOP", "jobs", "2"),
				partial(with(ok(20), recv("redis-list:jobs:"+digest("c")))),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := run(tc.steps)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHandoffValues checks that no value or payload appears in a Message:
// only its digest.
func TestHandoffValues(t *testing.T) {
	const secret = "s3cr3t-payload"
	got, err := run([]step{
		feed(up, cmd("LPUSH", "l", secret)+cmd("PUBLISH", "c", secret)+cmd("XADD", "s", "*", "f", secret)+cmd("LPOP", "l")+cmd("SUBSCRIBE", "c")),
		feed(down, ":1\r\n:1\r\n$3\r\n1-1\r\n"+bulk(secret)+"*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n"+arr(bulk("message"), bulk("c"), bulk(secret))),
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range got {
		n += len(m.Links)
		for _, a := range append(m.Attrs, m.Links...) {
			if strings.Contains(a.Str, secret) {
				t.Errorf("%s: %s = %q holds a value", m.Name, a.Key, a.Str)
			}
		}
	}
	if n != 5 {
		t.Errorf("got %d links, want 5", n)
	}
}

// TestHandoffAllocs checks that a consumer looping on one key allocates
// only the link string per reply.
func TestHandoffAllocs(t *testing.T) {
	p := redis.New(nil)
	up1, down1 := []byte(cmd("LPOP", "jobs")), []byte(bulk("value"))
	var msg protocols.Message
	msg.Attrs = make([]protocols.Attr, 0, 8)
	msg.Links = make([]protocols.Attr, 0, 8)
	step := func() {
		msg.Reset()
		p.Parse(up, up1, &msg)
		msg.Reset()
		p.Parse(down, down1, &msg)
	}
	step()
	if n := testing.AllocsPerRun(100, step); n > 1 {
		t.Errorf("%v allocations per LPOP and reply, want 1 (the link)", n)
	}
}

// BenchmarkHandoff parses a command and its reply per iteration on one
// connection: the cost of the plans, the digests and the link strings.
func BenchmarkHandoff(b *testing.B) {
	big := strings.Repeat("x", 64<<10)
	var entries []string
	for i := range 10 {
		entries = append(entries, entry("1526919030474-"+itoa(i), "item", "42"))
	}
	cases := []struct{ name, up, down string }{
		{"lpush_3", cmd("LPUSH", "jobs", "a", "b", "c"), ":3\r\n"},
		{"lpush_64k", cmd("LPUSH", "jobs", big), ":1\r\n"},
		{"brpop", cmd("BRPOP", "jobs", "0"), arr(bulk("jobs"), bulk("value"))},
		{"lpop", cmd("LPOP", "jobs"), bulk("value")},
		{"xadd", cmd("XADD", "orders", "*", "item", "42"), bulk("1526919030474-55")},
		{"xread_10", cmd("XREAD", "COUNT", "10", "STREAMS", "orders", "0"), arr(arr(bulk("orders"), arr(entries...)))},
		{"get_no_plan", getK, bulkR},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			var msg protocols.Message
			ups, downs := []byte(bc.up), []byte(bc.down)
			b.ReportAllocs()
			b.SetBytes(int64(len(ups) + len(downs)))
			p := redis.New(nil)
			parse := func(dir protocols.Direction, data []byte) {
				for len(data) > 0 {
					msg.Reset()
					n, done, err := p.Parse(dir, data, &msg)
					if err != nil || (n == 0 && !done) {
						b.Fatalf("n=%d done=%v err=%v", n, done, err)
					}
					data = data[n:]
				}
			}
			for range b.N {
				parse(up, ups)
				parse(down, downs)
			}
		})
	}
}

// TestHandoffLongValue checks the digest of a value longer than
// MaxDigestLen: its first MaxDigestLen bytes and its length, the same at
// both ends however the bytes arrive.
func TestHandoffLongValue(t *testing.T) {
	v := strings.Repeat("0123456789", redis.MaxDigestLen/10+100)
	h := fnv.New64a()
	h.Write([]byte(v[:redis.MaxDigestLen]))
	n := uint64(len(v))
	h.Write([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), byte(n >> 32), byte(n >> 40), byte(n >> 48), byte(n >> 56)})
	want := "redis-list:big:" + hex.EncodeToString(h.Sum(nil))
	up1, down1 := cmd("RPUSH", "big", v), arr(bulk("big"), bulk(v))
	for _, chunk := range []int{1 << 20, 1000, 7} {
		var steps []step
		for i := 0; i < len(up1); i += chunk {
			steps = append(steps, feed(up, up1[i:min(i+chunk, len(up1))]))
		}
		steps = append(steps, feed(up, cmd("BRPOP", "big", "0")), feed(down, ":1\r\n"))
		for i := 0; i < len(down1); i += chunk {
			steps = append(steps, feed(down, down1[i:min(i+chunk, len(down1))]))
		}
		got, err := run(steps)
		if err != nil {
			t.Fatal(err)
		}
		var links []protocols.Attr
		for _, m := range got {
			links = append(links, m.Links...)
		}
		if diff := cmp.Diff([]protocols.Attr{send(want), recv(want)}, links); diff != "" {
			t.Errorf("chunks of %d (-want +got):\n%s", chunk, diff)
		}
	}
}
