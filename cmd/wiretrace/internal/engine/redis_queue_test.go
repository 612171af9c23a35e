package engine_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
)

// handoffValue returns the span's handoff link of key ("" when absent).
func handoffValue(s *correlate.Span, key string) string { return s.Links[key] }

// TestRedisQueueHandoff replays testdata/redis_queue.pcap (made by
// testdata/gen/redis_queue.sh: a producer's XADD, LPUSH and PUBLISH, each on
// its own connection, and consumers blocked in XREAD (RESP2 and RESP3),
// BRPOP and SUBSCRIBE (RESP2 and RESP3)) and checks that every producer
// span's handoff_send value is the handoff_recv value of its consumers'
// spans, on other connections.
func TestRedisQueueHandoff(t *testing.T) {
	path := filepath.Join("..", "..", "..", "..", "testdata", "redis_queue.pcap")
	spans, errs, e := replay(t, path, nil)
	if len(errs) > 0 {
		t.Fatalf("replay: %v", errs)
	}
	if m := redisParseErrors.FindStringSubmatch(e.StatsLine()); m == nil || m[1] != "0" {
		t.Errorf("parse errors %v, want 0", m)
	}
	type end struct{ name, kind string }
	sends := map[string]*correlate.Span{}
	recvs := map[string][]*correlate.Span{}
	var got []end
	for _, s := range spans {
		if v := handoffValue(s, protocols.LinkHandoffSend); v != "" {
			if sends[v] != nil {
				t.Errorf("two producers of %s", v)
			}
			sends[v] = s
			kind, _, _ := strings.Cut(v, ":")
			got = append(got, end{"send " + s.Name, kind})
		}
		if v := handoffValue(s, protocols.LinkHandoffRecv); v != "" {
			recvs[v] = append(recvs[v], s)
			kind, _, _ := strings.Cut(v, ":")
			got = append(got, end{"recv " + s.Name, kind})
		}
	}
	want := []end{
		{"recv BRPOP", "redis-list"},
		{"recv PUBSUB message", "redis-pubsub"}, {"recv PUBSUB message", "redis-pubsub"},
		{"recv XREAD", "redis-stream"}, {"recv XREAD", "redis-stream"},
		{"send LPUSH", "redis-list"},
		{"send PUBLISH", "redis-pubsub"},
		{"send XADD", "redis-stream"}, {"send XADD", "redis-stream"},
	}
	slices.SortFunc(got, func(a, b end) int { return strings.Compare(a.name+a.kind, b.name+b.kind) })
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(end{})); diff != "" {
		t.Errorf("handoff spans (-want +got):\n%s", diff)
	}
	for v, p := range sends {
		cs := recvs[v]
		if len(cs) == 0 {
			t.Errorf("%s %s: no consumer span with that handoff_recv", p.Name, v)
		}
		for _, c := range cs {
			if c.FlowID == p.FlowID {
				t.Errorf("%s: producer %s and consumer %s on one connection", v, p.Name, c.Name)
			}
		}
	}
	for v, cs := range recvs {
		if sends[v] == nil {
			t.Errorf("%s %s: no producer span with that handoff_send", cs[0].Name, v)
		}
	}
	if n := len(recvs["redis-pubsub:events:"+fnvHex("hello-1")]); n != 2 {
		t.Errorf("%d subscribers got hello-1, want 2", n)
	}
}

// fnvHex is the FNV-1a 64 of v in hex, written out here so that the test
// does not share the parser's code.
func fnvHex(v string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(v); i++ {
		h ^= uint64(v[i])
		h *= 1099511628211
	}
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[h&0xf]
		h >>= 4
	}
	return string(b[:])
}
