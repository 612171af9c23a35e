package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/memcached"
)

func memcachedConfig() *engine.Config {
	cfg := &engine.Config{}
	cfg.Driver.Registry = protocols.NewRegistry(memcached.Protocol)
	return cfg
}

// sortedSpans returns spans in start order (ties by span id).
func sortedSpans(spans []*correlate.Span) []*correlate.Span {
	out := slices.Clone(spans)
	slices.SortStableFunc(out, func(a, b *correlate.Span) int {
		if a.StartNS != b.StartNS {
			return int(a.StartNS - b.StartNS)
		}
		return strings.Compare(a.SpanID, b.SpanID)
	})
	return out
}

// deepflowMemcachedRe reads deepflow's expected messages.
var deepflowMemcachedRe = regexp.MustCompile(`msg_type: (Request|Response) request: (.*?)\s+req_size: \d+ result: (.*?)\s+err_msg:`)

// memcachedWords reduces a text command line to deepflow's comparable part:
// the command and its keys (storage commands: the key only).
func memcachedWords(line string) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return ""
	}
	switch f[0] {
	case "set", "add", "replace", "append", "prepend", "cas", "delete", "incr", "decr", "touch":
		return strings.Join(f[:min(2, len(f))], " ")
	}
	return strings.Join(f, " ")
}

// TestMemcachedDeepflow compares the deepflow memcached captures with their
// .result: per exchange, the command and keys, and the reply's first word
// (VALUE when values were returned).
func TestMemcachedDeepflow(t *testing.T) {
	dir := sharedTestdata(t)
	for _, name := range []string{"memcached.pcap", "memcached-userdata.pcap"} {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(dir, "deepflow/memcached", name)
			res, err := os.ReadFile(strings.TrimSuffix(f, ".pcap") + ".result")
			if err != nil {
				t.Fatal(err)
			}
			var reqs, resps []string
			for _, m := range deepflowMemcachedRe.FindAllStringSubmatch(string(res), -1) {
				if m[1] == "Request" {
					reqs = append(reqs, memcachedWords(m[2]))
				} else {
					resps = append(resps, strings.Fields(m[3] + " ")[0])
				}
			}
			spans, _, _ := replay(t, f, memcachedConfig())
			var got []string
			for _, s := range sortedSpans(spans) {
				if s.Name == "quit" {
					continue // deepflow does not list quit
				}
				q, _ := s.Attributes["db.query.text"].(string)
				reply := "(none)"
				if s.HasResponse {
					reply, _ = s.Attributes["db.response.status_code"].(string)
					if n, _ := s.Attributes["db.response.returned_rows"].(int64); n > 0 {
						reply = "VALUE"
					}
				}
				got = append(got, q+" => "+reply)
			}
			var want []string
			for i, r := range reqs {
				reply := "(none)"
				if i < len(resps) {
					reply = resps[i]
				}
				want = append(want, r+" => "+reply)
			}
			// Compared as multisets: deepflow's order of equal-time
			// exchanges differs from wiretrace's start order.
			count := map[string]int{}
			for _, w := range want {
				count[w]++
			}
			match := 0
			for _, g := range got {
				if count[g] > 0 {
					count[g]--
					match++
				} else {
					t.Logf("wiretrace only: %q", g)
				}
			}
			t.Logf("%s: %d of %d deepflow exchanges match (wiretrace: %d spans)", name, match, len(want), len(got))
			if len(want) == 0 || len(got) != len(want) || match != len(want) {
				t.Errorf("%d of %d exchanges match, %d spans", match, len(want), len(got))
			}
		})
	}
}

// memcachedCounts gives, per packetbeat capture, tshark's memcache
// message count (INDEX.md "memcache pkts=N") and the spans wiretrace
// makes: requests and replies.
var memcachedCounts = []struct {
	file            string
	tshark          int
	requests, resps int
	why             string // why requests+resps differs from tshark's count
}{
	{"packetbeat/memcached/memcache_bin_tcp_counter_ops.pcap", 10, 5, 5, ""},
	{"packetbeat/memcached/memcache_bin_tcp_delete.pcap", 8, 4, 4, ""},
	{"packetbeat/memcached/memcache_bin_tcp_multi_store_load.pcap", 14, 10, 10, "4 of the 5 getkq get no reply packet: the noop's reply answers them"},
	{"packetbeat/memcached/memcache_bin_tcp_single_load_store.pcap", 6, 3, 3, ""},
	{"packetbeat/memcached/memcache_bin_tcp_stats.pcap", 9, 4, 4, "the stat reply's packets (one per statistic) are one reply"},
	{"packetbeat/memcached/memcache_bin_udp_counter_ops.pcap", 3, 3, 0, ""},
	{"packetbeat/memcached/memcache_bin_udp_delete.pcap", 2, 2, 0, ""},
	{"packetbeat/memcached/memcache_bin_udp_multi_store.pcap", 3, 3, 0, ""},
	{"packetbeat/memcached/memcache_bin_udp_single_store.pcap", 1, 1, 0, ""},
	{"packetbeat/memcached/memcache_text_tcp_counter_ops.pcap", 9, 5, 4, ""},
	{"packetbeat/memcached/memcache_text_tcp_delete.pcap", 7, 4, 3, ""},
	{"packetbeat/memcached/memcache_text_tcp_multi_store_load.pcap", 9, 5, 4, ""},
	{"packetbeat/memcached/memcache_text_tcp_single_load_store.pcap", 5, 3, 2, ""},
	{"packetbeat/memcached/memcache_text_tcp_stats.pcap", 7, 4, 3, ""},
	{"packetbeat/memcached/memcache_text_udp_counter_ops.pcap", 3, 3, 0, ""},
	{"packetbeat/memcached/memcache_text_udp_delete.pcap", 2, 2, 0, ""},
	{"packetbeat/memcached/memcache_text_udp_multi_store.pcap", 3, 3, 0, ""},
	{"packetbeat/memcached/memcache_text_udp_single_store.pcap", 1, 1, 0, ""},
	{"ndpi/memcached/memcached.cap", 2, 1, 1, ""},
}

// TestMemcachedCorpusCounts checks every public memcached capture: spans,
// replies, no parse errors, and no span without a command name.
func TestMemcachedCorpusCounts(t *testing.T) {
	dir := sharedTestdata(t)
	for _, c := range memcachedCounts {
		t.Run(c.file, func(t *testing.T) {
			spans, errs, e := replay(t, filepath.Join(dir, c.file), memcachedConfig())
			for _, err := range errs {
				t.Logf("input error: %v", err)
			}
			resps := 0
			var names []string
			for _, s := range spans {
				if s.HasResponse {
					resps++
				}
				names = append(names, fmt.Sprintf("%s(%s)", s.Name, s.Status))
				if s.Protocol != "memcached" || s.Name == "memcached" || s.Status == correlate.StatusPartial {
					t.Errorf("span %q protocol %q status %s", s.Name, s.Protocol, s.Status)
				}
			}
			if len(spans) != c.requests || resps != c.resps {
				t.Errorf("got %d spans, %d replies (%v); want %d, %d", len(spans), resps, names, c.requests, c.resps)
			}
			if c.why == "" && len(spans)+resps != c.tshark {
				t.Errorf("%d requests and replies, tshark %d", len(spans)+resps, c.tshark)
			}
			if m := parseErrorsRe.FindStringSubmatch(e.StatsLine()); m == nil || m[1] != "0" {
				t.Errorf("parse errors: %s", e.StatsLine())
			}
		})
	}
}
