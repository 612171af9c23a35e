package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The captures of testdata/gen/mq.sh (amqp091-go and a small STOMP client
// through a real RabbitMQ) and testdata/gen/activemq.sh (ActiveMQ's own
// OpenWire producer and consumer, and the STOMP client, through a real
// ActiveMQ). Their ids are fixed by testdata/gen/mq.

const mqTrace = "4bf92f3577b34da6a3ce929d0e0e4736" // testdata/gen/mq Traceparent

func TestGoldenMQ(t *testing.T) {
	for _, name := range []string{"amqp_rabbitmq", "stomp_rabbitmq"} {
		t.Run(name, func(t *testing.T) {
			out, _, err := run(t, "replay", "-q", "--format", "tree", testdata(name+".pcap"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".golden.tree", out)
		})
	}
}

// TestGoldenActiveMQ replays the OpenWire and STOMP captures of one
// ActiveMQ together: messages link across the two protocols.
func TestGoldenActiveMQ(t *testing.T) {
	out, _, err := run(t, "replay", "-q", "--format", "tree", testdata("openwire_activemq.pcap"), testdata("stomp_activemq.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "activemq.golden.tree", out)
}

func TestActiveMQHandoff(t *testing.T) {
	checkActiveMQSpans(t, replayJSONL(t, testdata("openwire_activemq.pcap"), testdata("stomp_activemq.pcap")))
}

// TestMQTree checks, in the tree output, that each consumer span hangs
// below its producer's span: the line after a publish/send is its
// delivery, indented one level, linked by queue_handoff.
func TestMQTree(t *testing.T) {
	for _, tc := range []struct {
		files         []string
		parent, child string
		wantPairs     int
	}{
		{[]string{"amqp_rabbitmq.pcap"}, "amqp basic.publish orders ", "amqp basic.deliver orders ", 3},
		{[]string{"amqp_rabbitmq.pcap"}, "amqp basic.publish jobs ", "amqp basic.get jobs ", 1},
		{[]string{"stomp_rabbitmq.pcap"}, "stomp SEND /queue/orders ", "stomp MESSAGE /queue/orders ", 3},
		{[]string{"openwire_activemq.pcap"}, "openwire ActiveMQTextMessage queue://orders ", "openwire MessageDispatch queue://orders ", 2},
		{[]string{"openwire_activemq.pcap", "stomp_activemq.pcap"}, "stomp SEND /queue/stomp-in ", "openwire MessageDispatch queue://stomp-in ", 1},
	} {
		t.Run(tc.parent, func(t *testing.T) {
			var paths []string
			for _, f := range tc.files {
				paths = append(paths, testdata(f))
			}
			out, _, err := run(t, append([]string{"replay", "-q", "--format", "tree"}, paths...)...)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(out, "\n")
			pairs := 0
			for i, l := range lines {
				if !strings.HasPrefix(l, "└─ "+tc.parent) || i+1 >= len(lines) {
					continue
				}
				next := lines[i+1]
				if strings.HasPrefix(next, "   └─ "+tc.child) && strings.Contains(next, "← queue_handoff") {
					pairs++
				} else {
					t.Errorf("after %q: %q, want its consumer's span below it", l, next)
				}
			}
			if pairs != tc.wantPairs {
				t.Errorf("%d producer → consumer pairs, want %d:\n%s", pairs, tc.wantPairs, out)
			}
		})
	}
}

func TestAMQPHandoff(t *testing.T) {
	checkAMQPSpans(t, replayJSONL(t, testdata("amqp_rabbitmq.pcap")))
}

func TestSTOMPHandoff(t *testing.T) {
	checkSTOMPSpans(t, replayJSONL(t, testdata("stomp_rabbitmq.pcap")))
}

// replayJSONL replays captures and checks the stats line's drops.
func replayJSONL(t *testing.T, paths ...string) []span {
	t.Helper()
	out, stderr, err := run(t, append([]string{"replay", "--format", "jsonl"}, paths...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"parse_errors=0 ", "tcp_gap_bytes=0 ", "unmatched_responses=0 ", "timeouts=0 "} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stats line lacks %q: %s", s, stderr)
		}
	}
	return parseJSONL(t, out)
}

// byID indexes spans by span id.
func byID(spans []span) map[string]span {
	m := map[string]span{}
	for _, s := range spans {
		m[s.SpanID] = s
	}
	return m
}

// checkAMQPSpans checks testdata/gen/mq's AMQP run: each delivery of queue
// orders is the child of the publish of the same message id, the first in
// the trace its traceparent names; the request-reply is one chain by
// correlation id; basic.get's message links to its publish; the passive
// declare of a missing queue fails.
func checkAMQPSpans(t *testing.T, spans []span) {
	t.Helper()
	ids := byID(spans)
	publishes := map[string]span{} // by message id
	var delivered, chain int
	var missing bool
	for _, s := range spans {
		if s.Protocol != "amqp" {
			t.Errorf("%s: protocol %q", s.Name, s.Protocol)
		}
		if s.Name == "basic.publish orders" || s.Name == "basic.publish jobs" {
			publishes[s.Attributes["messaging.message.id"].(string)] = s
		}
		if s.Name == "queue.declare missing" {
			missing = s.Status == "error" && s.Attributes["error.type"] == "NOT_FOUND"
		}
	}
	for _, s := range spans {
		switch {
		case s.Name == "basic.deliver orders" || s.Name == "basic.get jobs":
			id, _ := s.Attributes["messaging.message.id"].(string)
			p, ok := publishes[id]
			if !ok || s.ParentSpanID != p.SpanID || s.LinkReason != "queue_handoff" {
				t.Errorf("%s of %q: parent %q (%s), want the publish of that message", s.Name, id, s.ParentSpanID, s.LinkReason)
				continue
			}
			delivered++
			if id == "order-0001" && (s.TraceID != mqTrace || p.TraceID != mqTrace) {
				t.Errorf("order-0001: traces %s and %s, want the traceparent's %s", p.TraceID, s.TraceID, mqTrace)
			}
			if id == "order-0002" && (s.Links["x_request_id"] != "mq-req-0002" || p.Links["x_request_id"] != "mq-req-0002") {
				t.Errorf("order-0002: x_request_id %q and %q", p.Links["x_request_id"], s.Links["x_request_id"])
			}
		case strings.HasPrefix(s.Name, "basic.deliver amq.gen-"):
			// reply delivery ← reply publish ← request delivery ← request publish
			want := []string{"basic.publish amq.gen-", "basic.deliver rpc", "basic.publish rpc"}
			cur := s
			for _, w := range want {
				p, ok := ids[cur.ParentSpanID]
				if !ok || !strings.HasPrefix(p.Name, w) || cur.LinkReason != "queue_handoff" {
					t.Errorf("%s: parent %q (%s), want %s", cur.Name, p.Name, cur.LinkReason, w)
					break
				}
				cur = p
				chain++
			}
			if s.Attributes["messaging.message.conversation_id"] != "rpc-corr-0001" {
				t.Errorf("%s: conversation id %v", s.Name, s.Attributes["messaging.message.conversation_id"])
			}
		}
	}
	if delivered != 4 || chain != 3 || !missing {
		t.Errorf("%d deliveries linked to their publish (want 4: three of orders, one get), rpc chain of %d links (want 3), missing queue error %v",
			delivered, chain, missing)
	}
}

// checkSTOMPSpans checks testdata/gen/mq's STOMP run: each MESSAGE is the
// child of its SEND; the traceparent and x-request-id headers pass
// through; the SEND to an unknown destination fails with the ERROR.
func checkSTOMPSpans(t *testing.T, spans []span) {
	t.Helper()
	ids := byID(spans)
	var linked int
	var refused bool
	for _, s := range spans {
		if s.Protocol != "stomp" {
			t.Errorf("%s: protocol %q", s.Name, s.Protocol)
		}
		switch s.Name {
		case "MESSAGE /queue/orders":
			p, ok := ids[s.ParentSpanID]
			if !ok || p.Name != "SEND /queue/orders" || s.LinkReason != "queue_handoff" || p.TraceID != s.TraceID {
				t.Errorf("MESSAGE: parent %q (%s), want its SEND", p.Name, s.LinkReason)
				continue
			}
			linked++
			if s.Attributes["messaging.system"] != "rabbitmq" {
				t.Errorf("MESSAGE: messaging.system %v", s.Attributes["messaging.system"])
			}
			if s.Links["traceparent_trace_id"] != "" && s.TraceID != mqTrace {
				t.Errorf("MESSAGE with a traceparent in trace %s, want %s", s.TraceID, mqTrace)
			}
		case "SEND /nowhere/x":
			refused = s.Status == "error" && s.Attributes["error.type"] == "Unknown destination"
		}
		for k, v := range s.Attributes {
			if str, ok := v.(string); ok && strings.Contains(str, "guest") {
				t.Errorf("%s: %s = %q leaks the login", s.Name, k, str)
			}
		}
	}
	if linked != 3 || !refused {
		t.Errorf("%d MESSAGEs linked to their SEND (want 3), refused SEND an error: %v", linked, refused)
	}
}

// checkActiveMQSpans checks testdata/gen/activemq.sh's run: each OpenWire
// dispatch of queues orders and loose (tight and loose encoding) is the
// child of its send; the STOMP consumer's MESSAGEs of /queue/ow-out are
// children of the OpenWire sends; the OpenWire dispatch of the STOMP
// SEND to /queue/stomp-in is its child, in the trace its traceparent
// names, with its correlation id.
func checkActiveMQSpans(t *testing.T, spans []span) {
	t.Helper()
	ids := byID(spans)
	want := map[string]int{
		"MessageDispatch queue://orders←ActiveMQTextMessage queue://orders": 2,
		"MessageDispatch queue://loose←ActiveMQTextMessage queue://loose":   1,
		"MESSAGE /queue/ow-out←ActiveMQTextMessage queue://ow-out":          2,
		"MessageDispatch queue://stomp-in←SEND /queue/stomp-in":             1,
	}
	got := map[string]int{}
	for _, s := range spans {
		if s.Attributes["messaging.system"] != nil && s.Attributes["messaging.system"] != "activemq" {
			t.Errorf("%s: messaging.system %v", s.Name, s.Attributes["messaging.system"])
		}
		if !strings.HasPrefix(s.Name, "MessageDispatch") && !strings.HasPrefix(s.Name, "MESSAGE") {
			continue
		}
		p, ok := ids[s.ParentSpanID]
		if !ok || s.LinkReason != "queue_handoff" {
			t.Errorf("%s: parent %q (%s), want its send", s.Name, p.Name, s.LinkReason)
			continue
		}
		got[s.Name+"←"+p.Name]++
		if s.Protocol == p.Protocol && s.Attributes["messaging.message.id"] != p.Attributes["messaging.message.id"] {
			t.Errorf("%s: message id %v, its send's %v", s.Name, s.Attributes["messaging.message.id"], p.Attributes["messaging.message.id"])
		}
		if s.Name == "MessageDispatch queue://stomp-in" {
			if s.TraceID != mqTrace || s.Attributes["messaging.message.conversation_id"] != "amq-corr-0001" || s.Links["x_request_id"] != "mq-req-0002" {
				t.Errorf("%s: trace %s, conversation id %v, x_request_id %q", s.Name, s.TraceID,
					s.Attributes["messaging.message.conversation_id"], s.Links["x_request_id"])
			}
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%d × %s, want %d (all: %v)", got[k], k, n, got)
		}
	}
}

// TestLiveMQ runs testdata/gen/mq.sh — a real RabbitMQ (AMQP and STOMP) in
// a network namespace, testdata/gen/mq as producer and consumer — and
// checks the fresh captures as the committed ones are checked.
func TestLiveMQ(t *testing.T) {
	if testing.Short() {
		t.Skip("starts RabbitMQ in network namespaces; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN for ip netns, CAP_NET_RAW for tcpdump)")
	}
	if _, err := os.Stat("/usr/lib/rabbitmq/bin/rabbitmq-server"); err != nil {
		t.Skip("rabbitmq-server not installed (package rabbitmq-server; .ci/run installs it)")
	}
	for _, tool := range []struct{ bin, pkg string }{{"ip", "iproute2"}, {"tcpdump", "tcpdump"}, {"go", "Go"}} {
		if _, err := exec.LookPath(tool.bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool.bin); err != nil {
				t.Skipf("%s not installed (package %s; .ci/run installs it)", tool.bin, tool.pkg)
			}
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "testdata", "gen", "mq.sh"))
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	cmd.Env = append(os.Environ(), "MQ_OUT="+dir)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mq.sh: %v\n%s", err, out)
	}
	t.Logf("mq.sh took %v", time.Since(start).Round(time.Millisecond))
	t.Run("amqp", func(t *testing.T) { checkAMQPSpans(t, replayJSONL(t, filepath.Join(dir, "amqp_rabbitmq.pcap"))) })
	t.Run("stomp", func(t *testing.T) { checkSTOMPSpans(t, replayJSONL(t, filepath.Join(dir, "stomp_rabbitmq.pcap"))) })
}

// TestLiveActiveMQ runs testdata/gen/activemq.sh — a real ActiveMQ
// (OpenWire and STOMP) in a network namespace, its own OpenWire
// command-line clients and testdata/gen/mq's STOMP client — and checks the
// fresh captures as the committed ones are checked. ActiveMQ starts in a
// few seconds here; the script bounds the wait at 120 s.
func TestLiveActiveMQ(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ActiveMQ in network namespaces; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN for ip netns, CAP_NET_RAW for tcpdump)")
	}
	if _, err := os.Stat("/usr/share/activemq/bin/activemq.jar"); err != nil {
		t.Skip("activemq not installed (package activemq; .ci/run installs it)")
	}
	for _, tool := range []struct{ bin, pkg string }{{"ip", "iproute2"}, {"tcpdump", "tcpdump"}, {"go", "Go"}, {"java", "activemq's default-jre-headless"}} {
		if _, err := exec.LookPath(tool.bin); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool.bin); err != nil {
				t.Skipf("%s not installed (package %s; .ci/run installs it)", tool.bin, tool.pkg)
			}
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join("..", "..", "testdata", "gen", "activemq.sh"))
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	cmd.Env = append(os.Environ(), "AMQ_OUT="+dir)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("activemq.sh: %v\n%s", err, out)
	}
	t.Logf("activemq.sh took %v", time.Since(start).Round(time.Millisecond))
	checkActiveMQSpans(t, replayJSONL(t, filepath.Join(dir, "openwire_activemq.pcap"), filepath.Join(dir, "stomp_activemq.pcap")))
}
