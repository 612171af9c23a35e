//go:build linux && !noebpf

package ebpf_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/wiretrace/wiretrace/capture/ebpf"
	"golang.org/x/sys/unix"
)

// openTracer opens a Tracer or skips the test naming what is missing.
func openTracer(t *testing.T) *ebpf.Tracer {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_BPF, CAP_PERFMON) to load BPF programs")
	}
	tr, err := ebpf.Open(nil)
	if errors.Is(err, ebpf.ErrNotSupported) {
		t.Skipf("eBPF extension not supported here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TCP_REPAIR_QUEUE values (linux/tcp.h).
const (
	tcpRecvQueue = 1
	tcpSendQueue = 2
)

// queueSeq returns the sequence number of the next byte written to c
// (queue tcpSendQueue) or of the next byte to arrive
// (tcpRecvQueue), through TCP_REPAIR (CAP_NET_ADMIN).
func queueSeq(t *testing.T, c *net.TCPConn, queue int) uint32 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var seq int
	var serr error
	rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_REPAIR, 1); serr != nil {
			return
		}
		defer unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_REPAIR, 0)
		if serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_REPAIR_QUEUE, queue); serr != nil {
			return
		}
		seq, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUEUE_SEQ)
	})
	if serr != nil {
		t.Fatalf("TCP_REPAIR: %v", serr)
	}
	return uint32(seq)
}

// TestTracerLoopback writes and reads on loopback connections (IPv4, IPv6)
// from locked OS threads and checks that Lookup names those threads for the
// bytes' sequence numbers.
func TestTracerLoopback(t *testing.T) {
	tr := openTracer(t)
	for _, ip := range []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} {
		t.Run(ip.String(), func(t *testing.T) { testLoopback(t, tr, ip) })
	}
}

func testLoopback(t *testing.T, tr *ebpf.Tracer, ip net.IP) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip})
	if err != nil {
		t.Skipf("no loopback %s: %v", ip, err)
	}
	defer ln.Close()
	type result struct {
		tid  int
		seq  uint32 // of the first byte read
		err  error
		conn *net.TCPConn
	}
	srv := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c, err := ln.AcceptTCP()
		if err != nil {
			srv <- result{err: err}
			return
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 5)
		_, err = c.Read(buf)
		rcv := queueSeq(t, c, tcpRecvQueue) // the next byte to arrive
		srv <- result{tid: unix.Gettid(), seq: rcv - 5, err: err, conn: c}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seq := queueSeq(t, c, tcpSendQueue)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	r := <-srv
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.conn.Close()
	if r.seq != seq {
		t.Fatalf("server read seq %d, client wrote seq %d", r.seq, seq)
	}
	from := c.LocalAddr().(*net.TCPAddr).AddrPort()
	to := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	pid := uint32(os.Getpid())
	for _, tc := range []struct {
		name string
		seq  uint32
		sent bool
		tid  int
	}{
		{"sent, first byte", seq, true, unix.Gettid()},
		{"sent, last byte", seq + 4, true, unix.Gettid()},
		{"received, first byte", seq, false, r.tid},
		{"received, last byte", seq + 4, false, r.tid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task, ok := tr.Lookup(from, to, tc.seq, tc.sent)
			if !ok {
				st := tr.Stats()
				t.Fatalf("Lookup(%v, %v, %d, %v): not found; stats %+v", from, to, tc.seq, tc.sent, st)
			}
			if task.PID != pid || task.TID != uint32(tc.tid) {
				t.Errorf("task %+v, want pid %d tid %d", task, pid, tc.tid)
			}
			if task.Comm == "" {
				t.Errorf("task %+v has no comm", task)
			}
		})
	}
	if _, ok := tr.Lookup(from, to, seq+5, true); ok {
		t.Errorf("Lookup of a byte never written found a task")
	}
	if _, ok := tr.Lookup(netip.MustParseAddrPort("192.0.2.1:1"), to, seq, true); ok {
		t.Errorf("Lookup on an unknown connection found a task")
	}
}

// BenchmarkSyscallOverhead measures a 64-byte write and read on a
// loopback TCP connection (one request and its echo) with no tracer and
// with a Tracer attached: the cost the tracepoint programs add to the
// traced syscalls.
func BenchmarkSyscallOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to load BPF programs")
	}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	c.SetNoDelay(true)
	buf := make([]byte, 64)
	roundTrip := func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Write(buf); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("no-tracer", roundTrip)
	b.Run("tracer", func(b *testing.B) {
		tr, err := ebpf.Open(nil)
		if errors.Is(err, ebpf.ErrNotSupported) {
			b.Skipf("eBPF extension not supported here: %v", err)
		}
		if err != nil {
			b.Fatal(err)
		}
		defer tr.Close()
		roundTrip(b)
		st := tr.Stats()
		b.ReportMetric(float64(st.Events)/float64(b.N), "events/op")
	})
}

// TestTracerSendfile sends a file with sendfile(2) (Go's TCPConn.ReadFrom
// does on Linux) and checks that its bytes name the sending thread.
func TestTracerSendfile(t *testing.T) {
	tr := openTracer(t)
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err
			return
		}
		defer c.Close()
		_, err = io.ReadFull(c, make([]byte, 1000))
		got <- err
	}()
	f, err := os.CreateTemp(t.TempDir(), "body")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 1000))
	f.Seek(0, io.SeekStart)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c, err := net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	seq := queueSeq(t, c, tcpSendQueue)
	if _, err := c.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	from := c.LocalAddr().(*net.TCPAddr).AddrPort()
	to := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	for _, s := range []uint32{seq, seq + 999} {
		task, ok := tr.Lookup(from, to, s, true)
		if !ok || task.TID != uint32(unix.Gettid()) {
			t.Errorf("Lookup(seq %d) = %+v, %v; want tid %d", s, task, ok, unix.Gettid())
		}
	}
}
