package plugin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/plugin"
)

// repo is the module root, relative to this package.
const repo = "../.."

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// buildPlugins builds the plugins under testdata/plugins once per test
// binary (GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared) and
// returns the directory of the .wasm files.
func buildPlugins(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			goBin = "go"
		}
		buildDir, buildErr = os.MkdirTemp("", "wwasm-plugins-")
		if buildErr != nil {
			return
		}
		var wg sync.WaitGroup
		errs := make([]error, 3)
		for i, name := range []string{"txnjson", "privrpc", "hostile"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", filepath.Join(buildDir, name+".wasm"), "./testdata/plugins/"+name)
				cmd.Dir = repo
				cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
				if out, err := cmd.CombinedOutput(); err != nil {
					errs[i] = fmt.Errorf("go build %s: %v\n%s", name, err, out)
				}
			}()
		}
		wg.Wait()
		if buildErr = errors.Join(errs...); buildErr != nil {
			return
		}
		// Compile the three at once into the cache (seconds each under
		// the race detector), rather than one by one as tests open them.
		for i, name := range []string{"txnjson", "privrpc", "hostile"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := plugin.Open(context.Background(), filepath.Join(buildDir, name+".wasm"), &plugin.Config{Cache: cache})
				if err != nil {
					errs[i] = err
					return
				}
				p.Close(context.Background())
			}()
		}
		wg.Wait()
		buildErr = errors.Join(errs...)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildDir
}

// cache spares the tests compiling each plugin again (seconds under the
// race detector).
var cache = plugin.NewCache()

func TestMain(m *testing.M) {
	code := m.Run()
	cache.Close(context.Background())
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// generous is the configuration of tests that must not see a timeout on a
// loaded machine (see Config.Timeout).
var generous = &plugin.Config{Timeout: 2 * time.Second}

func open(t testing.TB, name string, cfg *plugin.Config) *plugin.Plugin {
	t.Helper()
	c := plugin.Config{Cache: cache}
	if cfg != nil {
		c = *cfg
		c.Cache = cache
	}
	p, err := plugin.Open(context.Background(), filepath.Join(buildPlugins(t), name+".wasm"), &c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// collect is a correlate.Sink that keeps the traces.
type collect struct{ traces []*correlate.Trace }

func (c *collect) WriteTrace(t *correlate.Trace) error { c.traces = append(c.traces, t); return nil }
func (c *collect) Close() error                        { return nil }

// replay runs a capture of testdata through a pipeline with the plugins.
func replay(t *testing.T, pcap string, plugins ...*plugin.Plugin) (*collect, wiretrace.Stats) {
	t.Helper()
	src, err := capture.OpenFile(filepath.Join(repo, "testdata", pcap), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var sink collect
	p, err := wiretrace.New(&wiretrace.Config{Plugins: plugins}, &sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	return &sink, p.Stats()
}

// shapes summarises traces as sorted lines "name <- parent (reason)".
func shapes(traces []*correlate.Trace) [][]string {
	var out [][]string
	for _, tr := range traces {
		var lines []string
		for _, s := range tr.Spans {
			l := s.Protocol + " " + s.Name + " " + s.Status
			if k := s.Links["key_txn_serial"]; k != "" {
				l += " [" + k + "]"
			}
			if s.Parent != nil {
				l += " <- " + s.Parent.Name + " (" + s.LinkReason + ")"
			}
			lines = append(lines, l)
		}
		out = append(out, lines)
	}
	return out
}

// TestTxnJSON: two services carry a transaction serial in their JSON
// bodies and nothing else. Without the plugin the payment and its ledger
// entry are separate traces; with it they are one, the ledger call the
// child of the payment by the serial (link_key).
func TestTxnJSON(t *testing.T) {
	without, _ := replay(t, "plugin_txn.pcap")
	var want [][]string
	for i := 1; i <= 5; i++ {
		want = append(want, []string{"http POST /payments ok"}, []string{"http POST /ledger/entries ok"})
	}
	if diff := cmp.Diff(want, shapes(without.traces)); diff != "" {
		t.Errorf("without the plugin (-want +got):\n%s", diff)
	}

	p := open(t, "txnjson", generous)
	with, _ := replay(t, "plugin_txn.pcap", p)
	want = nil
	for i := 1; i <= 5; i++ {
		serial := fmt.Sprintf("TXN-2026-%06d", 1000+i)
		want = append(want, []string{
			"http POST /payments ok [" + serial + "]",
			"http POST /ledger/entries ok [" + serial + "] <- POST /payments (link_key)",
		})
	}
	if diff := cmp.Diff(want, shapes(with.traces)); diff != "" {
		t.Errorf("with the plugin (-want +got):\n%s", diff)
	}
	for _, tr := range with.traces {
		for _, s := range tr.Spans {
			if s.Attributes["bank.txn_serial"] != s.Links["key_txn_serial"] {
				t.Errorf("%s: attribute bank.txn_serial %v, link %q", s.Name, s.Attributes["bank.txn_serial"], s.Links["key_txn_serial"])
			}
		}
	}
	st := p.Stats()
	// 20 messages: 10 requests, 10 responses.
	if st.Calls != 20 || st.Timeouts+st.Traps+st.BadOutput+st.FlowsDisabled != 0 {
		t.Errorf("stats %+v, want 20 calls and no failure", st)
	}
}

// TestPrivRPC: a private length-prefixed protocol becomes spans only with
// the plugin that parses it, with pairing by call id on a connection whose
// answers come in reverse order.
func TestPrivRPC(t *testing.T) {
	without, st := replay(t, "plugin_privrpc.pcap")
	if len(without.traces) != 0 || st.Driver.FlowsUnrecognised != 2 {
		t.Errorf("without the plugin: %d traces, %d unrecognised flows; want 0 and 2", len(without.traces), st.Driver.FlowsUnrecognised)
	}
	p := open(t, "privrpc", generous)
	with, st := replay(t, "plugin_privrpc.pcap", p)
	var got []string
	for _, tr := range with.traces {
		for _, s := range tr.Spans {
			got = append(got, fmt.Sprintf("%s %s %s id=%s txn=%s method=%v code=%v", s.Protocol, s.Name, s.Status,
				s.Links["privrpc_call_id"], s.Links["key_txn_serial"], s.Attributes["rpc.method"], s.Attributes["rpc.privrpc.status_code"]))
		}
	}
	sort.Strings(got)
	want := []string{
		"privrpc Accounts.Credit ok id=102 txn= method=Accounts.Credit code=<nil>",
		"privrpc Accounts.Debit error id=101 txn=TXN-2026-009002 method=Accounts.Debit code=3",
		"privrpc Accounts.Get ok id=100 txn=TXN-2026-009001 method=Accounts.Get code=<nil>",
		"privrpc Batch.Commit ok id=8 txn=TXN-2026-009003 method=Batch.Commit code=<nil>",
		"privrpc Batch.Hold ok id=7 txn= method=Batch.Hold code=<nil>",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spans (-want +got):\n%s", diff)
	}
	for _, tr := range with.traces {
		for _, s := range tr.Spans {
			if s.Attributes["server.port"] != int64(7070) {
				t.Errorf("%s: server.port %#v, want 7070 (the flow passed to wt_parse)", s.Name, s.Attributes["server.port"])
			}
		}
	}
	if st.Driver.FlowsUnrecognised != 0 || st.Driver.ParseErrors != 0 {
		t.Errorf("with the plugin: %d unrecognised flows, %d parse errors", st.Driver.FlowsUnrecognised, st.Driver.ParseErrors)
	}
	if ps := p.Stats(); ps.Timeouts+ps.Traps+ps.BadOutput != 0 {
		t.Errorf("plugin stats %+v", ps)
	}
}

// TestHostile: a plugin that loops, traps and allocates without bound on
// some flows is stopped each time, counted, and given up for those flows;
// every flow still becomes a span, and the others are still inspected.
func TestHostile(t *testing.T) {
	p := open(t, "hostile", &plugin.Config{Timeout: 500 * time.Millisecond, MemoryLimitPages: 512})
	start := time.Now()
	res, st := replay(t, "plugin_hostile.pcap", p)
	elapsed := time.Since(start)
	var seen, unseen int
	for _, tr := range res.traces {
		for _, s := range tr.Spans {
			if s.Status != correlate.StatusOK {
				t.Errorf("span %s: status %s", s.Name, s.Status)
			}
			if s.Attributes["hostile.seen"] == "1" {
				seen++
			} else {
				unseen++
			}
		}
	}
	if seen != 3 || unseen != 3 {
		t.Errorf("%d spans inspected, %d not; want 3 (the hello flows) and 3 (the hostile flows)", seen, unseen)
	}
	ps := p.Stats()
	t.Logf("plugin stats %+v in %v; pipeline spans %d", ps, elapsed, st.Correlate.Spans)
	if ps.Timeouts != 1 || ps.Traps != 2 || ps.FlowsDisabled != 3 || ps.Disabled {
		t.Errorf("plugin stats %+v: want 1 timeout, 2 traps (nil dereference, memory), 3 flows disabled", ps)
	}
	// 3 hello flows x 2 messages + 3 hostile requests (their responses
	// are not inspected).
	if ps.Calls != 9 {
		t.Errorf("%d calls, want 9", ps.Calls)
	}
}

// TestMaxFailures: a plugin that fails too often is disabled altogether
// and the pipeline goes on without it.
func TestMaxFailures(t *testing.T) {
	p := open(t, "hostile", &plugin.Config{Timeout: 200 * time.Millisecond, MaxFailures: 2})
	res, _ := replay(t, "plugin_hostile.pcap", p)
	n := 0
	for _, tr := range res.traces {
		n += len(tr.Spans)
	}
	ps := p.Stats()
	if n != 6 || !ps.Disabled || ps.Timeouts+ps.Traps != 2 {
		t.Errorf("%d spans, stats %+v: want 6 spans, disabled after 2 failures", n, ps)
	}
}

// TestConcurrent: one plugin serves pipelines on several goroutines, each
// getting an instance of its own.
func TestConcurrent(t *testing.T) {
	p := open(t, "txnjson", generous)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, _ := replay(t, "plugin_txn.pcap", p)
			if len(res.traces) != 5 {
				t.Errorf("%d traces, want 5", len(res.traces))
			}
		}()
	}
	wg.Wait()
	if st := p.Stats(); st.Calls != 80 || st.Instances > 4 {
		t.Errorf("stats %+v: want 80 calls on at most 4 instances", st)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "bad.wasm")
	os.WriteFile(notWasm, []byte("not wasm"), 0o644)
	// A valid module that exports nothing: (module).
	empty := filepath.Join(dir, "empty.wasm")
	os.WriteFile(empty, []byte{0, 'a', 's', 'm', 1, 0, 0, 0}, 0o644)
	// Every ABI function exported, all of type () -> ().
	badSig := filepath.Join(dir, "badsig.wasm")
	os.WriteFile(badSig, voidModule("wt_abi_version", "wt_alloc", "wt_info", "wt_inspect"), 0o644)
	for _, tc := range []struct {
		name, path string
		wantABI    bool
		wantIn     string
	}{
		{"missing file", filepath.Join(dir, "nope.wasm"), false, "nope.wasm"},
		{"not wasm", notWasm, false, "bad.wasm"},
		{"no exports", empty, true, "no exported function wt_abi_version"},
		{"wrong signatures", badSig, true, "has signature () -> (), want"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := plugin.Open(context.Background(), tc.path, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "plugin: ") || !strings.Contains(err.Error(), tc.wantIn) || errors.Is(err, plugin.ErrABI) != tc.wantABI {
				t.Errorf("error %q (ErrABI %v)", err, errors.Is(err, plugin.ErrABI))
			}
		})
	}
}

// TestHostileKinds: each way a call can fail is counted as what it is, the
// message keeps only what the host added before, and the plugin serves the
// next message.
func TestHostileKinds(t *testing.T) {
	p := open(t, "hostile", &plugin.Config{Timeout: 500 * time.Millisecond})
	in := plugin.NewInspector(p)
	f := &protocols.Flow{ID: 7, Protocol: "http"}
	for _, tc := range []struct {
		payload string
		want    plugin.Stats
	}{
		{"HOSTILE-LOOP", plugin.Stats{Timeouts: 1}},
		{"HOSTILE-TRAP", plugin.Stats{Traps: 1}},
		{"HOSTILE-ALLOC", plugin.Stats{Traps: 1}},
		{"HOSTILE-EXIT", plugin.Stats{Traps: 1}},
		{"HOSTILE-BADOUT", plugin.Stats{BadOutput: 1}},
	} {
		t.Run(tc.payload, func(t *testing.T) {
			before := p.Stats()
			m := &protocols.Message{Kind: protocols.Request, Links: []protocols.Attr{protocols.String("x_request_id", "keep")}}
			if in.Inspect(f, protocols.ToServer, []byte(tc.payload), m) {
				t.Error("Inspect did not give up on the flow")
			}
			after := p.Stats()
			got := plugin.Stats{Timeouts: after.Timeouts - before.Timeouts, Traps: after.Traps - before.Traps, BadOutput: after.BadOutput - before.BadOutput}
			if got != tc.want || after.FlowsDisabled-before.FlowsDisabled != 1 {
				t.Errorf("counted %+v, %d flows disabled; want %+v, 1", got, after.FlowsDisabled-before.FlowsDisabled, tc.want)
			}
			if len(m.Links) != 1 || len(m.Attrs) != 0 {
				t.Errorf("message after a failure: links %v attrs %v", m.Links, m.Attrs)
			}
			m = &protocols.Message{Kind: protocols.Request}
			if !in.Inspect(f, protocols.ToServer, []byte("hello"), m) || len(m.Attrs) != 1 {
				t.Errorf("the next message: attrs %v, stats %+v", m.Attrs, p.Stats())
			}
		})
	}
}

// voidModule returns a WebAssembly module that exports functions of the
// given names, each of type () -> () with an empty body.
func voidModule(names ...string) []byte {
	section := func(id byte, content []byte) []byte {
		return append([]byte{id, byte(len(content))}, content...)
	}
	n := byte(len(names))
	m := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	m = append(m, section(1, []byte{1, 0x60, 0, 0})...) // one type: () -> ()
	funcs := []byte{n}
	exports := []byte{n}
	code := []byte{n}
	for i, name := range names {
		funcs = append(funcs, 0)
		exports = append(exports, byte(len(name)))
		exports = append(exports, name...)
		exports = append(exports, 0, byte(i)) // a function, its index
		code = append(code, 2, 0, 0x0b)       // body: no locals, end
	}
	m = append(m, section(3, funcs)...)
	m = append(m, section(7, exports)...)
	return append(m, section(10, code)...)
}
