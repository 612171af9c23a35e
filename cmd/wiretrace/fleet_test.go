package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kfake"
)

// fleetCaptures are the captures of the fleet tests: three capture points
// (the gateway and backend hosts of one run, the scenario bridge) plus a
// Redis queue, Kafka with headers and gRPC with traceparent, all seen by
// the third agent.
var fleetCaptures = [][]string{
	{"two_points_gateway.pcap"},
	{"two_points_backend.pcap"},
	{"scenario.pcap", "redis_queue.pcap", "kafka_headers.pcap", "grpc_traceparent.pcap"},
}

func tdPath(name string) string { return filepath.Join("..", "..", "testdata", name) }

// startNATS runs an embedded single-node JetStream server on loopback
// (port 0: a free port unless port is given), shut down at the end.
func startNATS(t *testing.T, port int) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// proc is a wiretrace process: this test binary as the command.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuf
	done   chan error
}

// syncBuf is a bytes.Buffer that a process writes while the test reads.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "WIRETRACE_TEST_MAIN=1")
	p := &proc{cmd: cmd, stderr: &syncBuf{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	cmd.Stdout = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		p.done <- nil
		if t.Failed() {
			t.Logf("wiretrace %s:\n%s", strings.Join(args, " "), tail(p.stderr.String(), 3000))
		}
	})
	return p
}

// wait waits for the process to exit, at most d.
func (p *proc) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(d):
		t.Fatalf("wiretrace %v did not exit in %v:\n%s", p.cmd.Args[1:], d, tail(p.stderr.String(), 3000))
		return nil
	}
}

// readSpans reads JSONL output as span id → line.
func readSpans(t *testing.T, path string, into map[string]string, dups *int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return
		}
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var s struct {
			SpanID string `json:"span_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if old, ok := into[s.SpanID]; ok {
			*dups++
			if old != sc.Text() {
				t.Errorf("span %s emitted twice, differently:\n%s\n%s", s.SpanID, old, sc.Text())
			}
		}
		into[s.SpanID] = sc.Text()
	}
}

// reference is replay of every capture together.
func reference(t *testing.T, files []string, min int) map[string]string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ref.jsonl")
	args := []string{"replay", "-q", "--format", "jsonl", "-o", out}
	for _, f := range files {
		args = append(args, tdPath(f))
	}
	p := startProc(t, args...)
	if err := p.wait(t, time.Minute); err != nil {
		t.Fatalf("replay: %v", err)
	}
	m := map[string]string{}
	var d int
	readSpans(t, out, m, &d)
	if len(m) < min {
		t.Fatalf("reference gave %d spans", len(m))
	}
	return m
}

func allFiles(groups [][]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// startAgents starts one agent process per group of captures.
func startAgents(t *testing.T, url string, groups [][]string, extra ...string) []*proc {
	var ps []*proc
	for i, g := range groups {
		args := append([]string{"replay", "--publish", url, "--agent", "host" + strconv.Itoa(i), "--partitions", "8"}, extra...)
		for _, f := range g {
			args = append(args, tdPath(f))
		}
		ps = append(ps, startProc(t, args...))
	}
	return ps
}

func startAssembler(t *testing.T, url, out string, extra ...string) *proc {
	args := append([]string{"assemble", "--from", url, "--partitions", "8", "--format", "jsonl", "-o", out}, extra...)
	return startProc(t, args...)
}

func compareFleet(t *testing.T, want map[string]string, outs ...string) {
	t.Helper()
	got := map[string]string{}
	dups := 0
	for _, o := range outs {
		readSpans(t, o, got, &dups)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("assemblers' output differs from replay of every capture (-replay +fleet):\n%s", d)
	}
	t.Logf("%d spans, %d written twice (at-least-once, identical)", len(got), dups)
}

// TestFleetNATS: three agent processes publish to JetStream; two
// assembler processes give, together, exactly what replay gives on every
// capture, span for span.
func TestFleetNATS(t *testing.T) {
	srv := startNATS(t, 0)
	url := srv.ClientURL()
	want := reference(t, allFiles(fleetCaptures), 100)
	dir := t.TempDir()
	outs := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}
	var asms []*proc
	for i, o := range outs {
		asms = append(asms, startAssembler(t, url, o, "--exit-when-idle", "5s", "--name", fmt.Sprintf("asm%d", i)))
	}
	for _, a := range startAgents(t, url, fleetCaptures) {
		if err := a.wait(t, time.Minute); err != nil {
			t.Fatalf("agent: %v", err)
		}
	}
	for _, a := range asms {
		if err := a.wait(t, 2*time.Minute); err != nil {
			t.Fatalf("assembler: %v", err)
		}
		if !strings.Contains(a.stderr.String(), "emitted_spans=") {
			t.Errorf("no stats line:\n%s", a.stderr.String())
		}
	}
	for _, o := range outs {
		if fi, err := os.Stat(o); err != nil || fi.Size() == 0 {
			t.Errorf("assembler output %s is empty: the work was not shared", o)
		}
	}
	compareFleet(t, want, outs...)
}

// TestFleetNATSKillAssembler: kill -9 of one of two assemblers while it
// holds records hands its partitions and records to the other.
func TestFleetNATSKillAssembler(t *testing.T) {
	srv := startNATS(t, 0)
	url := srv.ClientURL()
	want := reference(t, allFiles(fleetCaptures), 100)
	dir := t.TempDir()
	outA, outB := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	common := []string{"--exit-when-idle", "10s", "--lateness", "60s", "--ack-wait", "2s", "--member-ttl", "2s"}
	a := startAssembler(t, url, outA, append(common, "--name", "asmA")...)
	b := startAssembler(t, url, outB, append(common, "--name", "asmB")...)
	for _, ag := range startAgents(t, url, fleetCaptures) {
		if err := ag.wait(t, time.Minute); err != nil {
			t.Fatalf("agent: %v", err)
		}
	}
	// Let B receive its share, then kill it before it emits anything
	// (lateness 60 s keeps every trace open).
	time.Sleep(1500 * time.Millisecond)
	if !strings.Contains(b.stderr.String(), "asmB") {
		t.Fatalf("assembler B did not start:\n%s", b.stderr.String())
	}
	b.cmd.Process.Signal(syscall.SIGKILL)
	b.wait(t, 10*time.Second)
	if err := a.wait(t, 2*time.Minute); err != nil {
		t.Fatalf("assembler A: %v", err)
	}
	logConsumers(t, url)
	if fi, err := os.Stat(outB); err == nil && fi.Size() > 0 {
		t.Logf("B wrote %d bytes before it was killed", fi.Size())
	}
	compareFleet(t, want, outA, outB)
}

// TestFleetSpoolBrokerDown: an agent that cannot reach the broker spools
// (memory, then --spool-dir) and drains when the broker is back.
func TestFleetSpoolBrokerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	groups := [][]string{{"two_points_gateway.pcap"}, {"two_points_backend.pcap"}}
	want := reference(t, allFiles(groups), 12)
	// A tiny memory spool: most records go to disk segments, one
	// directory per agent.
	var agents []*proc
	var spools []string
	for i, g := range groups {
		spool := t.TempDir()
		spools = append(spools, spool)
		agents = append(agents, startAgents(t, url, [][]string{g}, "--agent", "spooler"+strconv.Itoa(i), "--spool-dir", spool, "--spool-memory", "0", "--spool-drain-timeout", "60s")...)
	}
	time.Sleep(2 * time.Second)
	for _, spool := range spools {
		if segs, _ := filepath.Glob(filepath.Join(spool, "spool-*.wts")); len(segs) == 0 {
			t.Errorf("no spool segments in %s while the broker is down", spool)
		}
	}
	srv := startNATS(t, port)
	for _, a := range agents {
		if err := a.wait(t, time.Minute); err != nil {
			t.Fatalf("agent: %v", err)
		}
		if !strings.Contains(a.stderr.String(), "spool_dropped=0") {
			t.Errorf("agent dropped records:\n%s", a.stderr.String())
		}
	}
	for _, spool := range spools {
		if segs, _ := filepath.Glob(filepath.Join(spool, "spool-*.wts")); len(segs) != 0 {
			t.Errorf("spool not drained: %v", segs)
		}
	}
	out := filepath.Join(t.TempDir(), "out.jsonl")
	asm := startAssembler(t, srv.ClientURL(), out, "--exit-when-idle", "3s")
	if err := asm.wait(t, time.Minute); err != nil {
		t.Fatal(err)
	}
	compareFleet(t, want, out)
}

var _ = context.Background

// logConsumers logs the state of the partitions' consumers.
func logConsumers(t *testing.T, url string) {
	nc, err := nats.Connect(url)
	if err != nil {
		t.Log(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for p := 0; p < 8; p++ {
		c, err := js.Consumer(ctx, "WIRETRACE", fmt.Sprintf("WIRETRACE-p%d", p))
		if err != nil {
			t.Logf("partition %d: %v", p, err)
			continue
		}
		ci, err := c.Info(ctx)
		if err != nil {
			t.Logf("partition %d: %v", p, err)
			continue
		}
		t.Logf("partition %d: delivered=%d ack_floor=%d pending=%d ack_pending=%d redelivered=%d waiting=%d", p, ci.Delivered.Consumer, ci.AckFloor.Consumer, ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting)
	}
}

// TestFleetKafka: the same through Kafka (kfake): three agent processes,
// two assembler processes in one consumer group.
func TestFleetKafka(t *testing.T) {
	cl, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	url := "kafka://" + strings.Join(cl.ListenAddrs(), ",")
	want := reference(t, allFiles(fleetCaptures), 100)
	dir := t.TempDir()
	outs := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}
	// The agents publish once the consumer group has settled (both
	// assemblers have partitions): a rebalance while traces are open may
	// write one twice (see correlate/fleet, Limits).
	var asms []*proc
	for i, o := range outs {
		asms = append(asms, startAssembler(t, url, o, "--exit-when-idle", "20s", "--lateness", "60s", "--name", fmt.Sprintf("asm%d", i)))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := 0
		for _, a := range asms {
			if strings.Contains(a.stderr.String(), `partitions assigned" partitions="[`) {
				n++
			}
		}
		if n == len(asms) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the consumer group did not settle")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	for _, a := range startAgents(t, url, fleetCaptures) {
		if err := a.wait(t, time.Minute); err != nil {
			t.Fatalf("agent: %v", err)
		}
	}
	for _, a := range asms {
		if err := a.wait(t, 2*time.Minute); err != nil {
			t.Fatalf("assembler: %v", err)
		}
	}
	compareFleet(t, want, outs...)
}

// TestServeAgentsListen: serve --agents-listen embeds JetStream; agents
// publish to it and the Jaeger query API serves their traces.
func TestServeAgentsListen(t *testing.T) {
	ports := freePorts(t, 2)
	groups := [][]string{{"two_points_gateway.pcap"}, {"two_points_backend.pcap"}}
	want := reference(t, allFiles(groups), 12)
	srv := startProc(t, "serve", "--agents-listen", ports[0], "--listen", ports[1], "--exit-when-idle", "3s", "--partitions", "8")
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(srv.stderr.String(), "serving the query API") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", srv.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, a := range startAgents(t, "nats://"+ports[0], groups) {
		if err := a.wait(t, time.Minute); err != nil {
			t.Fatalf("agent: %v", err)
		}
	}
	// Every trace of the reference, span for span, from the query API.
	traces := map[string][]string{}
	for id, line := range want {
		var s struct {
			TraceID string `json:"trace_id"`
		}
		json.Unmarshal([]byte(line), &s)
		traces[s.TraceID] = append(traces[s.TraceID], id)
	}
	for deadline = time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		missing := 0
		for tid, spans := range traces {
			got := jaegerSpanIDs(t, "http://"+ports[1]+"/api/traces/"+tid)
			for _, id := range spans {
				if !got[id] {
					missing++
				}
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d spans of %d traces not served:\n%s", missing, len(traces), srv.stderr.String())
		}
	}
	srv.cmd.Process.Signal(os.Interrupt)
	if err := srv.wait(t, 30*time.Second); err != nil {
		t.Fatalf("serve: %v", err)
	}
}

// jaegerSpanIDs returns the span ids of a Jaeger API trace response.
func jaegerSpanIDs(t *testing.T, url string) map[string]bool {
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data []struct {
			Spans []struct {
				SpanID string `json:"spanID"`
			} `json:"spans"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&r)
	out := map[string]bool{}
	for _, d := range r.Data {
		for _, s := range d.Spans {
			out[s.SpanID] = true
		}
	}
	return out
}

// TestConfigRedactsBrokerURL: no password of a broker URL in 'wiretrace
// config' output.
func TestConfigRedactsBrokerURL(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"config", "--from", "nats://fleet:s3cret-pw@broker:4222"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "s3cret-pw") {
		t.Errorf("password in config output:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "from: nats://fleet:xxxxx@broker:4222") {
		t.Errorf("redacted --from missing:\n%s", out.String())
	}
}
