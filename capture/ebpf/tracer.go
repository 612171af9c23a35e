package ebpf

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Tracer. A nil *Config, and the zero value of every
// field, means the defaults.
type Config struct {
	// AllNetNS traces the sockets of every network namespace. By default
	// only those of the namespace of the thread that calls Open are
	// traced: the one whose interfaces a capture opened beside it sees.
	AllNetNS bool
	// BTFPath names a BTF file describing the running kernel, for kernels
	// built without /sys/kernel/btf/vmlinux (e.g. from BTFHub).
	BTFPath string
	// PerCPUBuffer is the size in bytes of the perf buffer of each CPU;
	// 0 means 256 KiB.
	PerCPUBuffer int
	// MaxConns and MaxRanges bound the Index; 0 means DefaultMaxConns and
	// DefaultMaxRanges.
	MaxConns, MaxRanges int
	// Logger receives lifecycle events; nil discards.
	Logger *slog.Logger
}

// Task is a process and thread, as spans report them.
type Task struct {
	// PID and TID are the process (tgid) and thread ids, as seen from the
	// initial PID namespace.
	PID, TID uint32
	// Comm is the thread's name (at most 15 bytes, as the kernel keeps
	// it); by default the executable's.
	Comm string
	// ContainerID is the 64-hex id of the process's container, from its
	// cgroup path; "" when it is not in one.
	ContainerID string
}

// Stats counts the Tracer's events, losses and lookups.
type Stats struct {
	// Events is the records read; Lost the records the kernel dropped
	// because the perf buffer was full; Malformed the records that did not
	// decode.
	Events, Lost, Malformed uint64
	// Syncs counts waits for the perf buffers to be read after a lookup
	// missed; SyncTimeouts those that gave up after 100ms.
	Syncs, SyncTimeouts uint64
	IndexStats
}

// Each calls f for each counter, in a fixed order.
func (s *Stats) Each(f func(name string, v uint64)) {
	f("ebpf_events", s.Events)
	f("ebpf_lost", s.Lost)
	f("ebpf_malformed", s.Malformed)
	f("ebpf_syncs", s.Syncs)
	f("ebpf_sync_timeouts", s.SyncTimeouts)
	s.IndexStats.Each(f)
}

// syncEvery is the shortest time between two waits for the perf buffers
// after lookups that missed; syncTimeout bounds one wait.
const (
	syncEvery   = 2 * time.Millisecond
	syncTimeout = 100 * time.Millisecond
)

// maxContainerCache bounds the container ids cached by PID.
const maxContainerCache = 4096

// maxLocals bounds the local addresses remembered; localsEvery is how
// often the interface addresses are listed again when an address is not
// among them.
const (
	maxLocals   = 1024
	localsEvery = time.Second
)

// Tracer runs the BPF programs and answers which task moved which bytes.
// Open starts it; Close stops it.
type Tracer struct {
	cfg Config
	log *slog.Logger
	sys sys

	syncMu     sync.Mutex // serialises sys.sync
	mu         sync.Mutex
	idx        *Index
	containers map[uint32]string
	stats      Stats
	lastSync   time.Time
	locals     map[netip.Addr]bool // addresses of the traced namespace
	localsAt   time.Time           // when the interface addresses were listed
	closed     atomic.Bool
}

func newTracer(cfg *Config) *Tracer {
	t := &Tracer{containers: make(map[uint32]string), locals: make(map[netip.Addr]bool)}
	if cfg != nil {
		t.cfg = *cfg
	}
	if t.cfg.PerCPUBuffer <= 0 {
		t.cfg.PerCPUBuffer = 256 << 10
	}
	t.log = t.cfg.Logger
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.idx = NewIndex(t.cfg.MaxConns, t.cfg.MaxRanges)
	return t
}

// handle decodes one record into the index.
func (t *Tracer) handle(b []byte) {
	var e Event
	err := e.UnmarshalBinary(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.Events++
	if err != nil {
		t.stats.Malformed++
		return
	}
	if e.Kind != KindClose {
		t.addLocal(e.Local.Addr())
	}
	t.idx.Add(&e)
}

// lost counts records the kernel dropped.
func (t *Tracer) lost(n uint64) {
	t.mu.Lock()
	t.stats.Lost += n
	t.mu.Unlock()
}

// Lookup returns the task that wrote (sent) or read (!sent) the byte at seq
// of the TCP stream from→to, on a socket of the traced namespace. When
// the bytes are not found on a connection it has records of, or whose
// local end is an address of the namespace, it waits (at most 100ms) for
// the records already in the perf buffers to be read and looks again: the
// packets of a capture can be read before the records of the same calls.
// For other connections (traffic passing through) it waits at most every
// 2ms.
func (t *Tracer) Lookup(from, to netip.AddrPort, seq uint32, sent bool) (Task, bool) {
	if t == nil || t.closed.Load() {
		return Task{}, false
	}
	t.mu.Lock()
	h, known, ok := t.idx.Lookup(from, to, seq, sent)
	// Bytes missing on a connection the index knows, or on one whose
	// local end is an address of this namespace, are most likely in a
	// record not read yet; others (traffic passing through) wait at most
	// every syncEvery, in case the addresses changed.
	local := to.Addr()
	if sent {
		local = from.Addr()
	}
	retry := !ok && (known || t.isLocal(local) || time.Since(t.lastSync) >= syncEvery)
	if retry {
		t.lastSync = time.Now()
		t.stats.Syncs++
	}
	t.mu.Unlock()
	if retry {
		// One wait at a time: each drains the reader's flush signal.
		t.syncMu.Lock()
		synced := t.sys.sync(syncTimeout)
		t.syncMu.Unlock()
		if !synced {
			t.mu.Lock()
			t.stats.SyncTimeouts++
			t.mu.Unlock()
		}
		t.mu.Lock()
		h, _, ok = t.idx.Lookup(from, to, seq, sent)
		t.mu.Unlock()
	}
	if !ok {
		return Task{}, false
	}
	return Task{PID: h.PID, TID: h.TID, Comm: h.CommString(), ContainerID: t.containerID(h.PID)}, true
}

// isLocal reports whether a is an address of the traced namespace: a
// loopback address, the local end of a socket seen, or an interface
// address (listed again at most every localsEvery). t.mu is held.
func (t *Tracer) isLocal(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsLoopback() || t.locals[a] {
		return true
	}
	if time.Since(t.localsAt) < localsEvery {
		return false
	}
	t.localsAt = time.Now()
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, ia := range addrs {
			if p, err := netip.ParsePrefix(ia.String()); err == nil {
				t.addLocal(p.Addr())
			}
		}
	}
	return t.locals[a]
}

// addLocal records a local address, at most maxLocals. t.mu is held.
func (t *Tracer) addLocal(a netip.Addr) {
	a = a.Unmap()
	if t.locals[a] || !a.IsValid() || a.IsUnspecified() {
		return
	}
	if len(t.locals) >= maxLocals {
		clear(t.locals)
	}
	t.locals[a] = true
}

// containerID returns the container id of pid from /proc, cached.
func (t *Tracer) containerID(pid uint32) string {
	t.mu.Lock()
	id, ok := t.containers[pid]
	t.mu.Unlock()
	if ok {
		return id
	}
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/cgroup")
	if err == nil {
		id = ContainerID(string(b))
	}
	t.mu.Lock()
	if len(t.containers) >= maxContainerCache {
		clear(t.containers)
	}
	t.containers[pid] = id
	t.mu.Unlock()
	return id
}

// Stats returns the counters so far.
func (t *Tracer) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	s.IndexStats = t.idx.Stats()
	return s
}

// Close detaches the programs and stops reading. It is idempotent.
func (t *Tracer) Close() error {
	if t == nil || t.closed.Swap(true) {
		return nil
	}
	if err := t.sys.close(); err != nil {
		return fmt.Errorf("ebpf: close: %w", err)
	}
	return nil
}
