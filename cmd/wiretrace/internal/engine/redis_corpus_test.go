package engine_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/redis"
)

// redisCaptures lists every Redis capture of the shared corpus. INDEX.md
// gives tshark's count of packets holding RESP, not of commands, so the
// command counts here were read off the captures (tshark -z follow,tcp) and
// agree with Zeek's redis.log and deepflow's .result where those exist
// (compared below). port is a non-standard server port (tshark's -d).
var redisCaptures = []struct {
	file        string
	port        uint16
	commands    int // command spans
	unsolicited int // pub/sub message spans
	parseErrors uint64
}{
	{"deepflow/redis/redis-debug.pcap", 0, 1, 0, 0},
	{"deepflow/redis/redis-error.pcap", 0, 1, 0, 0},
	{"deepflow/redis/redis.pcap", 0, 10, 0, 0},
	{"packetbeat/redis/redis_one_transaction.pcap", 6380, 1, 0, 0},
	{"packetbeat/redis/redis_session.pcap", 6380, 11, 0, 0},
	{"tcpdump/redis/resp_1_benchmark.pcap", 0, 15, 0, 0},
	{"tcpdump/redis/resp_2_inline.pcap", 0, 12, 0, 0},
	// Deliberately malformed commands, one connection each: junk inline
	// lines are commands without a name (Redis answers "unknown command"),
	// "*1000...0" is the one parse error (Redis answers "invalid multibulk
	// length" and closes), "*-20", "+hello" without a line end and the
	// like get no reply and are not recognised; "$0" and "$-1" sent by the
	// client look like replies (complete bulk strings), so those two
	// connections are read reversed (their lines still count as commands).
	{"tcpdump/redis/resp_3_malicious.pcap", 0, 20, 0, 1},
	// One packet with a negative bulk length: not recognised, no loop.
	{"tcpdump/redis/resp_4_infiniteloop.pcapng", 0, 0, 0, 0},
	// The server answers "not RESP": the flow stops with one parse error.
	{"zeek/redis/almost-resp.pcap", 0, 2, 0, 1},
	{"zeek/redis/array-element-object-exhaustion.pcap", 0, 1, 0, 0},
	{"zeek/redis/attr.pcap", 0, 2, 0, 0},
	{"zeek/redis/auth.pcap", 0, 3, 0, 0},
	{"zeek/redis/bulk-loading.pcap", 0, 1001, 0, 0},
	{"zeek/redis/client-skip-while-off.pcap", 0, 7, 0, 0},
	{"zeek/redis/django-cloud.pcapng", 10625, 158, 0, 0},
	{"zeek/redis/excessive-pipelining.pcap", 0, 12, 0, 0},
	{"zeek/redis/pipeline-quotes.pcap", 0, 8, 0, 0},
	{"zeek/redis/pipeline-with-commands.pcap", 0, 4, 0, 0},
	{"zeek/redis/pipelining-example.pcap", 0, 3, 0, 0},
	{"zeek/redis/pubsub.pcap", 0, 7, 3, 0},
	{"zeek/redis/redis-50-pings.pcap", 0, 54, 0, 0},
	{"zeek/redis/reply-off-on-2conn.pcap", 0, 6, 0, 0},
	{"zeek/redis/reply-off-on.pcap", 0, 8, 0, 0},
	{"zeek/redis/set.pcap", 0, 3, 0, 0},
	// The capture starts with the server's reply to a command not seen.
	{"zeek/redis/start-with-server.pcapng", 0, 1, 0, 0},
	{"zeek/redis/stream.pcap", 0, 4, 0, 0},
}

// redisZeekExceptions lists captures whose commands differ from Zeek's
// redis.log, and why.
var redisZeekExceptions = map[string]string{
	"zeek/redis/pubsub.pcap": "Zeek logs SUBSCRIBE and PSUBSCRIBE without a reply; wiretrace pairs each with its " +
		"confirmations (one per channel) and reports the messages as unsolicited spans",
	"zeek/redis/excessive-pipelining.pcap": "Zeek stops tracking commands beyond its pipelining limit and logs 7 replies without a command; " +
		"wiretrace pairs all 12 PINGs",
}

func redisReplay(t *testing.T, dir, file string, port uint16) ([]*correlate.Span, *engine.Engine) {
	t.Helper()
	cfg := &engine.Config{}
	cfg.Driver.Registry = protocols.NewRegistry(redis.Protocol)
	if port != 0 {
		cfg.Driver.PortProtocols = map[uint16]string{port: "redis"}
	}
	spans, errs, e := replay(t, filepath.Join(dir, file), cfg)
	if e == nil {
		t.Fatalf("%s: %v", file, errs)
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].StartNS < spans[j].StartNS })
	return spans, e
}

func isRedisPush(s *correlate.Span) bool {
	return strings.HasPrefix(s.Name, "PUBSUB ") || strings.HasPrefix(s.Name, "PUSH") || s.Name == "MONITOR"
}

// TestRedisCorpus replays every Redis capture and checks the command and
// message counts, parse errors, that no AUTH argument leaks, and the
// commands against Zeek's redis.log and deepflow's results.
func TestRedisCorpus(t *testing.T) {
	dir := sharedTestdata(t)
	listed := map[string]bool{}
	for _, c := range redisCaptures {
		listed[c.file] = true
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "redis", "*.pcap*"))
	files = slices.DeleteFunc(files, func(f string) bool { return strings.HasSuffix(f, ".log") })
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f)
		if !listed[rel] {
			t.Errorf("%s: a Redis capture not in redisCaptures", rel)
		}
	}
	for _, c := range redisCaptures {
		t.Run(c.file, func(t *testing.T) {
			spans, e := redisReplay(t, dir, c.file, c.port)
			var cmds, pushes []*correlate.Span
			for _, s := range spans {
				switch {
				case isRedisPush(s):
					pushes = append(pushes, s)
				case s.Name == "redis response":
					// a reply whose command was not seen
				default:
					cmds = append(cmds, s)
				}
				for k, v := range s.Attributes {
					if str, ok := v.(string); ok && (strings.Contains(str, "password") || strings.Contains(str, "noone")) {
						t.Errorf("%s: attribute %s = %q leaks an AUTH argument", s.Name, k, str)
					}
				}
			}
			if len(cmds) != c.commands || len(pushes) != c.unsolicited {
				t.Errorf("%d commands and %d messages, want %d and %d", len(cmds), len(pushes), c.commands, c.unsolicited)
			}
			if m := redisParseErrors.FindStringSubmatch(e.StatsLine()); m == nil || m[1] != strconv.FormatUint(c.parseErrors, 10) {
				t.Errorf("parse errors %v, want %d", m, c.parseErrors)
			}
			if log := zeekRedisLog(dir, c.file); log != "" {
				want := readZeekRedisLog(t, log)
				var got []string
				for _, s := range cmds {
					name, _, _ := strings.Cut(s.Name, " ")
					reply := "-"
					if s.HasResponse {
						reply = "T"
					}
					got = append(got, name+" "+reply)
				}
				sort.Strings(got)
				diff := cmp.Diff(want, got)
				if why, ok := redisZeekExceptions[c.file]; ok {
					if diff == "" {
						t.Errorf("listed as an exception (%s) but agrees with Zeek", why)
					}
				} else if diff != "" {
					t.Errorf("commands (-zeek +wiretrace):\n%s", diff)
				}
			}
			if res := strings.TrimSuffix(filepath.Join(dir, c.file), ".pcap") + ".result"; strings.HasPrefix(c.file, "deepflow/") {
				want, wantErrs := readDeepflowRedis(t, res)
				var got, gotErrs []string
				for _, s := range cmds {
					got = append(got, s.Name)
					if code, ok := s.Attributes["db.response.status_code"].(string); ok {
						gotErrs = append(gotErrs, code)
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("commands (-deepflow +wiretrace):\n%s", diff)
				}
				if diff := cmp.Diff(wantErrs, gotErrs); diff != "" {
					t.Errorf("error codes (-deepflow +wiretrace):\n%s", diff)
				}
			}
		})
	}
}

// zeekRedisLog returns the expected redis.log beside a Zeek capture, or "".
func zeekRedisLog(dir, file string) string {
	if !strings.HasPrefix(file, "zeek/") {
		return ""
	}
	m, _ := filepath.Glob(filepath.Join(dir, file) + ".expected.*redis.log")
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

// readZeekRedisLog returns "NAME T" (a reply was seen) or "NAME -" for each
// row of a Zeek redis.log, sorted (Zeek logs rows in reply order across
// connections). Rows without a command name are skipped.
func readZeekRedisLog(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cols map[string]int
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "#fields\t"); ok {
			cols = map[string]int{}
			for i, c := range strings.Split(rest, "\t") {
				cols[c] = i
			}
			continue
		}
		if strings.HasPrefix(line, "#") || cols == nil {
			continue
		}
		f := strings.Split(line, "\t")
		name, success := f[cols["cmd.name"]], f[cols["success"]]
		if name == "-" {
			continue
		}
		reply := "T"
		if success == "-" {
			reply = "-"
		}
		out = append(out, name+" "+reply)
	}
	sort.Strings(out)
	return out
}

var (
	redisParseErrors = regexp.MustCompile(`\bparse_errors=(\d+)`)
	deepflowRedisReq = regexp.MustCompile(`request_type: "([^"]+)"`)
	deepflowRedisErr = regexp.MustCompile(`error: "-([A-Z]+)[^"]*"`)
)

// readDeepflowRedis returns the request types (upper-cased) and error codes
// of a deepflow Redis .result.
func readDeepflowRedis(t *testing.T, path string) (reqs, errs []string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range deepflowRedisReq.FindAllStringSubmatch(string(b), -1) {
		reqs = append(reqs, strings.ToUpper(m[1]))
	}
	for _, m := range deepflowRedisErr.FindAllStringSubmatch(string(b), -1) {
		errs = append(errs, m[1])
	}
	return reqs, slices.Clip(errs)
}
