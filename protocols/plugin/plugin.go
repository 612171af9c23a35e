package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wiretrace/wiretrace/protocols"
)

// ABIVersion is the version of the ABI this host speaks (see the package
// documentation); wt_abi_version must return it.
const ABIVersion = 1

// Defaults of Config.
const (
	DefaultTimeout          = 50 * time.Millisecond
	DefaultMemoryLimitPages = 1024 // 64 MiB
	DefaultMaxInput         = 64 << 10
	DefaultMaxFailures      = 100
)

// Output bounds: records per call and bytes per key and value.
const (
	maxRecords  = 64
	maxKeyLen   = 64
	maxValueLen = 1024
	maxNameLen  = 1024
	headerLen   = 56
)

// Config configures a plugin. A nil *Config, and the zero value of each
// field, means the defaults.
type Config struct {
	// Timeout bounds one call into the plugin; 0 means 50 ms. It is
	// wall-clock time: a call typically takes microseconds, but on a
	// loaded machine a thread may wait for a CPU for tens of
	// milliseconds, and a call stopped then counts as a timeout.
	Timeout time.Duration
	// MemoryLimitPages bounds each instance's linear memory, in 64 KiB
	// pages; 0 means 1024 (64 MiB). A Go plugin needs a few MiB.
	MemoryLimitPages uint32
	// MaxInput bounds the payload bytes passed in one call; 0 means
	// 64 KiB.
	MaxInput int
	// MaxFailures is how many failed calls disable the plugin altogether;
	// 0 means 100, a negative value never. With the default Timeout, a
	// plugin that loops on every message costs at most 5 s in all.
	MaxFailures int
	// Cache, when set, shares compiled code between the plugins opened
	// with it: a module opened again (the same bytes) is not compiled
	// again. Nil compiles each plugin on its own.
	Cache *Cache
	// Logger receives load and failure events (failures rate-limited to
	// the first of each kind). Nil discards them.
	Logger *slog.Logger
}

// Stats counts a plugin's calls and failures, over every pipeline it
// serves.
type Stats struct {
	Calls         uint64 // calls into the plugin
	Timeouts      uint64 // calls stopped at the time limit
	Traps         uint64 // calls that trapped, exited or failed to allocate
	BadOutput     uint64 // calls whose output broke the ABI
	FlowsDisabled uint64 // flows given up after a failure
	Instances     uint64 // instances made (the first, and one after each failure)
	Disabled      bool   // MaxFailures reached: the plugin is no longer called
}

// Each calls f for each counter, in a fixed order.
func (s *Stats) Each(f func(name string, v uint64)) {
	f("calls", s.Calls)
	f("timeouts", s.Timeouts)
	f("traps", s.Traps)
	f("bad_output", s.BadOutput)
	f("flows_disabled", s.FlowsDisabled)
	f("instances", s.Instances)
	d := uint64(0)
	if s.Disabled {
		d = 1
	}
	f("disabled", d)
}

// Cache holds compiled plugin code in memory, for Config.Cache. It is safe
// for concurrent use.
type Cache struct {
	c wazero.CompilationCache
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{c: wazero.NewCompilationCache()} }

// Close releases the compiled code; plugins still open keep theirs.
func (c *Cache) Close(ctx context.Context) error { return c.c.Close(ctx) }

// ErrABI is wrapped by errors about a module that does not follow the ABI.
var ErrABI = errors.New("plugin ABI violation")

// Plugin is a compiled plugin. It is safe for concurrent use.
type Plugin struct {
	name string
	file string
	cfg  Config
	log  *slog.Logger
	rt   wazero.Runtime
	cm   wazero.CompiledModule

	inspect bool
	proto   *protocols.Protocol

	mu     sync.Mutex
	free   []*instance
	closed bool

	calls, timeouts, traps, badOutput, flowsDisabled, instances atomic.Uint64
	failures                                                    atomic.Int64
	disabled                                                    atomic.Bool
	loggedTrap, loggedTimeout, loggedBad                        atomic.Bool
}

// Open reads and compiles the plugin in the file at path.
func Open(ctx context.Context, path string, cfg *Config) (*Plugin, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plugin: %w", err)
	}
	return Compile(ctx, filepath.Base(path), b, cfg)
}

// Compile compiles a plugin module, instantiates it once to read its
// description (wt_info) and keeps that instance for the first call. file
// names the module in errors and logs.
func Compile(ctx context.Context, file string, wasm []byte, cfg *Config) (*Plugin, error) {
	p := &Plugin{file: file}
	if cfg != nil {
		p.cfg = *cfg
	}
	if p.cfg.Timeout <= 0 {
		p.cfg.Timeout = DefaultTimeout
	}
	if p.cfg.MemoryLimitPages == 0 {
		p.cfg.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if p.cfg.MaxInput <= 0 {
		p.cfg.MaxInput = DefaultMaxInput
	}
	if p.cfg.MaxFailures == 0 {
		p.cfg.MaxFailures = DefaultMaxFailures
	}
	p.log = p.cfg.Logger
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(p.cfg.MemoryLimitPages)
	if p.cfg.Cache != nil {
		rc = rc.WithCompilationCache(p.cfg.Cache.c)
	}
	p.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	fail := func(err error) (*Plugin, error) {
		_ = p.rt.Close(ctx)
		return nil, fmt.Errorf("plugin: %s: %w", file, err)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return fail(err)
	}
	cm, err := p.rt.CompileModule(ctx, wasm)
	if err != nil {
		return fail(err)
	}
	p.cm = cm
	exports := cm.ExportedFunctions()
	for _, fn := range []string{"wt_abi_version", "wt_alloc", "wt_info"} {
		if exports[fn] == nil {
			return fail(fmt.Errorf("%w: no exported function %s", ErrABI, fn))
		}
	}
	for name, def := range exports {
		want, ok := signatures[name]
		if !ok {
			continue
		}
		if got := signature(def.ParamTypes(), def.ResultTypes()); got != want {
			return fail(fmt.Errorf("%w: %s has signature %s, want %s", ErrABI, name, got, want))
		}
	}
	_, p.inspect = exports["wt_inspect"]
	_, sniff := exports["wt_sniff"]
	_, parse := exports["wt_parse"]
	if sniff != parse {
		return fail(fmt.Errorf("%w: wt_sniff and wt_parse go together", ErrABI))
	}
	if !p.inspect && !sniff {
		return fail(fmt.Errorf("%w: exports neither wt_inspect nor wt_sniff and wt_parse", ErrABI))
	}
	in, err := p.instantiate(ctx)
	if err != nil {
		return fail(err)
	}
	info, err := p.info(ctx, in)
	if err != nil {
		in.close()
		return fail(err)
	}
	p.name = info["name"]
	if !validName(p.name) {
		in.close()
		return fail(fmt.Errorf("%w: wt_info: name %q: want 1 to 64 letters, digits, '_' or '-'", ErrABI, p.name))
	}
	if sniff {
		pr, err := p.newProtocol(info)
		if err != nil {
			in.close()
			return fail(err)
		}
		p.proto = pr
	}
	p.free = append(p.free, in)
	p.log.Info("plugin: loaded", "file", file, "name", p.name, "inspect", p.inspect, "protocol", info["protocol"])
	return p, nil
}

// signatures are the ABI's exported functions, as signature writes them.
var signatures = map[string]string{
	"wt_abi_version": "() -> (i32)",
	"wt_alloc":       "(i32) -> (i32)",
	"wt_info":        "() -> (i64)",
	"wt_inspect":     "(i32) -> (i64)",
	"wt_sniff":       "(i32) -> (i32)",
	"wt_parse":       "(i32) -> (i64)",
}

// signature writes a function type as "(i32) -> (i64)".
func signature(params, results []api.ValueType) string {
	list := func(ts []api.ValueType) string {
		out := make([]string, len(ts))
		for i, t := range ts {
			out[i] = api.ValueTypeName(t)
		}
		return "(" + strings.Join(out, ", ") + ")"
	}
	return list(params) + " -> " + list(results)
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Name returns the plugin's name, as its wt_info gave it.
func (p *Plugin) Name() string { return p.name }

// File returns the file name the plugin was loaded from.
func (p *Plugin) File() string { return p.file }

// Inspects reports whether the plugin inspects messages (wt_inspect).
func (p *Plugin) Inspects() bool { return p.inspect }

// Protocol returns the protocol the plugin parses, to register after the
// built-in ones, or nil when it parses none.
func (p *Plugin) Protocol() *protocols.Protocol { return p.proto }

// Stats returns the plugin's counters.
func (p *Plugin) Stats() Stats {
	return Stats{
		Calls: p.calls.Load(), Timeouts: p.timeouts.Load(), Traps: p.traps.Load(),
		BadOutput: p.badOutput.Load(), FlowsDisabled: p.flowsDisabled.Load(),
		Instances: p.instances.Load(), Disabled: p.disabled.Load(),
	}
}

// Close releases the compiled module and every instance. Calls after Close
// fail (the flows are given up). Close is idempotent.
func (p *Plugin) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.free = nil
	p.mu.Unlock()
	return p.rt.Close(ctx)
}

// instance is one instantiation of the plugin, used by one call at a time.
type instance struct {
	mod     api.Module
	mem     api.Memory
	inspect api.Function
	sniff   api.Function
	parse   api.Function
	info    api.Function
	buf     uint32 // address of the input buffer
	bufCap  uint32
	in      []byte // input staging, reused
	stack   []uint64
}

func (in *instance) close() { _ = in.mod.Close(context.Background()) }

// bufSize is the size of the input buffer asked of wt_alloc.
func (p *Plugin) bufSize() uint32 { return uint32(headerLen + 2*maxNameLen + p.cfg.MaxInput) }

func (p *Plugin) instantiate(ctx context.Context) (*instance, error) {
	p.instances.Add(1)
	mc := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize")
	ictx, cancel := context.WithTimeout(ctx, 100*p.cfg.Timeout)
	defer cancel()
	mod, err := p.rt.InstantiateModule(ictx, p.cm, mc)
	if err != nil {
		return nil, fmt.Errorf("instantiate: %w", err)
	}
	in := &instance{mod: mod, mem: mod.Memory(), stack: make([]uint64, 2)}
	in.inspect = mod.ExportedFunction("wt_inspect")
	in.sniff = mod.ExportedFunction("wt_sniff")
	in.parse = mod.ExportedFunction("wt_parse")
	in.info = mod.ExportedFunction("wt_info")
	if in.mem == nil {
		in.close()
		return nil, fmt.Errorf("%w: no exported memory", ErrABI)
	}
	v, err := p.callRaw(ictx, in, mod.ExportedFunction("wt_abi_version"))
	if err != nil {
		in.close()
		return nil, fmt.Errorf("wt_abi_version: %w", err)
	}
	if int32(v) != ABIVersion {
		in.close()
		return nil, fmt.Errorf("%w: wt_abi_version %d, this host speaks %d", ErrABI, int32(v), ABIVersion)
	}
	in.bufCap = p.bufSize()
	in.stack[0] = uint64(in.bufCap)
	if err := mod.ExportedFunction("wt_alloc").CallWithStack(ictx, in.stack); err != nil {
		in.close()
		return nil, fmt.Errorf("wt_alloc: %w", err)
	}
	in.buf = uint32(in.stack[0])
	if in.buf == 0 {
		in.close()
		return nil, fmt.Errorf("%w: wt_alloc(%d) returned 0", ErrABI, in.bufCap)
	}
	if _, ok := in.mem.Read(in.buf, in.bufCap); !ok {
		in.close()
		return nil, fmt.Errorf("%w: wt_alloc(%d) returned %#x, outside memory", ErrABI, in.bufCap, in.buf)
	}
	return in, nil
}

func (p *Plugin) callRaw(ctx context.Context, in *instance, fn api.Function, params ...uint64) (uint64, error) {
	if fn == nil {
		return 0, fmt.Errorf("%w: missing export", ErrABI)
	}
	copy(in.stack, params)
	if err := fn.CallWithStack(ctx, in.stack); err != nil {
		return 0, err
	}
	return in.stack[0], nil
}

// info calls wt_info and returns its 'M' records.
func (p *Plugin) info(ctx context.Context, in *instance) (map[string]string, error) {
	ictx, cancel := context.WithTimeout(ctx, 100*p.cfg.Timeout)
	defer cancel()
	v, err := p.callRaw(ictx, in, in.info)
	if err != nil {
		return nil, fmt.Errorf("wt_info: %w", err)
	}
	out, err := in.output(v)
	if err != nil {
		return nil, fmt.Errorf("wt_info: %w", err)
	}
	m := map[string]string{}
	err = eachRecord(out, func(tag byte, k, v []byte) error {
		if tag == 'M' {
			m[string(k)] = string(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("wt_info: %w", err)
	}
	return m, nil
}

// output returns the guest bytes an (address << 32 | length) result names.
func (in *instance) output(v uint64) ([]byte, error) {
	if v == 0 {
		return nil, nil
	}
	addr, n := uint32(v>>32), uint32(v)
	if n > maxRecords*(7+maxKeyLen+maxValueLen) {
		return nil, fmt.Errorf("%w: output of %d bytes", ErrABI, n)
	}
	b, ok := in.mem.Read(addr, n)
	if !ok {
		return nil, fmt.Errorf("%w: output at %#x+%d outside memory", ErrABI, addr, n)
	}
	return b, nil
}

// get takes a free instance, or makes one. It returns nil when the plugin
// is disabled or closed, or instantiation failed (counted).
func (p *Plugin) get() *instance {
	if p.disabled.Load() {
		return nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	if n := len(p.free); n > 0 {
		in := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return in
	}
	p.mu.Unlock()
	in, err := p.instantiate(context.Background())
	if err != nil {
		p.fail(err, false)
		return nil
	}
	return in
}

// put returns a healthy instance to the pool.
func (p *Plugin) put(in *instance) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		in.close()
		return
	}
	p.free = append(p.free, in)
	p.mu.Unlock()
}

// fail counts a failed call and disables the plugin at MaxFailures.
func (p *Plugin) fail(err error, timeout bool) {
	switch {
	case timeout:
		p.timeouts.Add(1)
		if !p.loggedTimeout.Swap(true) {
			p.log.Warn("plugin: call stopped at the time limit (further ones are counted, not logged)", "plugin", p.name, "timeout", p.cfg.Timeout, "err", err)
		}
	case errors.Is(err, ErrABI):
		p.badOutput.Add(1)
		if !p.loggedBad.Swap(true) {
			p.log.Warn("plugin: bad output (further ones are counted, not logged)", "plugin", p.name, "err", err)
		}
	default:
		p.traps.Add(1)
		if !p.loggedTrap.Swap(true) {
			p.log.Warn("plugin: call failed (further ones are counted, not logged)", "plugin", p.name, "err", err)
		}
	}
	if n := p.failures.Add(1); p.cfg.MaxFailures > 0 && n >= int64(p.cfg.MaxFailures) && !p.disabled.Swap(true) {
		p.log.Warn("plugin: disabled after too many failures", "plugin", p.name, "failures", n)
	}
}

// call runs fn with the message in in.in (already staged) and returns its
// result. On failure the instance is closed and the failure counted; the
// caller must not put it back.
func (p *Plugin) call(in *instance, fn api.Function) (uint64, error) {
	p.calls.Add(1)
	if !in.mem.Write(in.buf, in.in) {
		err := fmt.Errorf("%w: input buffer at %#x outside memory", ErrABI, in.buf)
		p.fail(err, false)
		in.close()
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
	in.stack[0] = uint64(len(in.in))
	err := fn.CallWithStack(ctx, in.stack)
	cancel()
	if err != nil {
		var ee *sys.ExitError
		timeout := errors.As(err, &ee) && (ee.ExitCode() == sys.ExitCodeDeadlineExceeded || ee.ExitCode() == sys.ExitCodeContextCanceled)
		p.fail(err, timeout)
		in.close()
		return 0, fmt.Errorf("plugin: %s: %w", p.name, err)
	}
	return in.stack[0], nil
}

// stage writes the message header and its strings into in.in.
func (in *instance) stage(f *protocols.Flow, dir protocols.Direction, kind protocols.Kind, udp bool, flags byte, proto, name string, payload []byte, max int) {
	if len(payload) > max {
		payload = payload[:max]
	}
	if len(proto) > maxNameLen {
		proto = proto[:maxNameLen]
	}
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	b := in.in[:0]
	b = append(b, byte(dir), byte(kind), 6, flags)
	if udp || f != nil && f.Datagram {
		b[2] = 17
	}
	if f != nil {
		c, s := f.Client.Addr().As16(), f.Server.Addr().As16()
		b = append(b, c[:]...)
		b = append(b, s[:]...)
		b = le16(b, f.Client.Port())
		b = le16(b, f.Server.Port())
		b = le64(b, f.ID)
	} else {
		b = append(b, make([]byte, 44)...)
	}
	b = le16(b, uint16(len(proto)))
	b = le16(b, uint16(len(name)))
	b = le32(b, uint32(len(payload)))
	b = append(b, proto...)
	b = append(b, name...)
	b = append(b, payload...)
	in.in = b
}

func le16(b []byte, v uint16) []byte { return append(b, byte(v), byte(v>>8)) }
func le32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}
func le64(b []byte, v uint64) []byte { return le32(le32(b, uint32(v)), uint32(v>>32)) }

// eachRecord calls f for each output record of out, at most maxRecords.
func eachRecord(out []byte, f func(tag byte, k, v []byte) error) error {
	for i := 0; len(out) > 0; i++ {
		if i >= maxRecords {
			return fmt.Errorf("%w: more than %d records", ErrABI, maxRecords)
		}
		if len(out) < 7 {
			return fmt.Errorf("%w: record %d: %d bytes, want a 7-byte header", ErrABI, i, len(out))
		}
		kl := int(out[1]) | int(out[2])<<8
		vl := int(uint32(out[3]) | uint32(out[4])<<8 | uint32(out[5])<<16 | uint32(out[6])<<24)
		if kl > maxKeyLen || vl > maxValueLen || vl < 0 {
			return fmt.Errorf("%w: record %d: key %d bytes, value %d bytes (limits %d, %d)", ErrABI, i, kl, vl, maxKeyLen, maxValueLen)
		}
		if len(out) < 7+kl+vl {
			return fmt.Errorf("%w: record %d: %d bytes left, want %d", ErrABI, i, len(out), 7+kl+vl)
		}
		if err := f(out[0], out[7:7+kl], out[7+kl:7+kl+vl]); err != nil {
			return err
		}
		out = out[7+kl+vl:]
	}
	return nil
}

// linkName returns the link key a plugin's 'L' record names.
func linkName(k []byte) string {
	switch string(k) {
	case protocols.LinkXRequestID, protocols.LinkTraceparent, protocols.LinkTracestate,
		protocols.LinkB3, protocols.LinkB3TraceID, protocols.LinkB3SpanID,
		protocols.LinkB3ParentID, protocols.LinkUberTraceID, protocols.LinkSW8:
		return string(k)
	}
	if strings.HasPrefix(string(k), protocols.LinkKeyPrefix) {
		return string(k)
	}
	return protocols.LinkKeyPrefix + string(k)
}

// addRecord applies an 'L', 'A' or 'I' record to m.
func addRecord(m *protocols.Message, tag byte, k, v []byte) error {
	if len(k) == 0 {
		return fmt.Errorf("%w: record %q with an empty key", ErrABI, tag)
	}
	switch tag {
	case 'L':
		if len(v) > 0 {
			m.Links = append(m.Links, protocols.String(linkName(k), string(v)))
		}
	case 'A':
		m.Attrs = append(m.Attrs, protocols.String(string(k), string(v)))
	case 'I':
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%w: integer attribute %q: %q", ErrABI, k, v)
		}
		m.Attrs = append(m.Attrs, protocols.Int(string(k), n))
	}
	return nil
}
