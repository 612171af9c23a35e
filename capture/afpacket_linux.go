package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/socket"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Ring geometry. See Documentation/networking/packet_mmap.rst.
const (
	// retireTimeout is how long (ms) a TPACKET_V3 block with packets waits
	// for more before the kernel hands it over.
	retireTimeout = 50
	// ringOverhead bounds the ring's per-packet header room: tpacket3_hdr
	// (48), sockaddr_ll (20) and alignment.
	ringOverhead = 128
	// headroom is the room kept before the packet in the scratch buffer for
	// an SLL2 header and a VLAN tag.
	headroom = sll2Len + vlanLen
	sll2Len  = 20
	vlanLen  = 4
)

// htons converts a host-order uint16 to network order.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// liveSys is the Linux state of a Live.
type liveSys struct {
	socks []*liveSocket
	ctx   context.Context
	stop  func() bool // stops the context.AfterFunc

	mu        sync.Mutex // guards cancelled, deadline and the conns' deadlines
	cancelled bool
	deadline  time.Time

	rmu    sync.Mutex // held by ReadPacket; Close takes it before unmapping
	closed atomic.Bool
	number int64

	// With several sockets, one goroutine per socket reads its ring and
	// hands each packet over on ready, then waits on its ack channel until
	// the reader is done with the packet (the ring is the only buffer).
	ready chan int
	done  chan struct{}
	last  int // socket whose packet ReadPacket returned last, or -1
	timer *time.Timer
	wg    sync.WaitGroup

	statsMu sync.Mutex
	closeMu sync.Mutex
	final   *LiveStats // set by close
}

// liveSocket is one AF_PACKET socket and its ring.
type liveSocket struct {
	conn    *socket.Conn
	rc      syscall.RawConn
	name    string
	iface   int
	link    LinkType
	cooked  bool
	version RingVersion
	snaplen int

	mem       []byte
	blockSize int
	nblocks   int
	cur       int  // current block (V3) or frame (V2)
	held      bool // the current block or frame belongs to us
	left      int  // V3: packets left in the current block
	off       int  // V3: offset of the next packet in mem
	ready     func(fd uintptr) bool

	buf []byte // headroom + snaplen: plain reads, VLAN, SLL2 header

	// plain reads
	msg   unix.Msghdr
	iov   unix.Iovec
	from  unix.RawSockaddrLinklayer
	oob   [128]byte
	rn    int
	rerr  error
	oobn  int
	flags int

	pkt Packet // filled by the socket's goroutine with several sockets
	err error
	ack chan struct{}

	delivered      atomic.Uint64
	received       uint64 // accumulated PACKET_STATISTICS
	drops, freezes uint64
}

// OpenLive opens one AF_PACKET socket per interface of cfg, each with its
// own ring, and returns them as one Source. Cancelling ctx makes ReadPacket
// return io.EOF. It needs CAP_NET_RAW.
func OpenLive(ctx context.Context, cfg *LiveConfig) (*Live, error) {
	c := cfg.withDefaults()
	return openLive(ctx, &c, -1)
}

// OpenLiveWorkers opens cfg.Workers Lives whose sockets join one
// PACKET_FANOUT group per interface (PACKET_FANOUT_HASH with
// PACKET_FANOUT_FLAG_DEFRAG), so the kernel spreads packets over the
// workers by flow; run one pipeline per Live.
//
// Since Linux 4.7 (commit "packet: Use symmetric hash for
// PACKET_FANOUT_HASH"; some 4.4 and 4.6 stable releases have it too) the
// kernel hashes each packet with __skb_get_hash_symmetric: the flow
// dissector's addresses and ports, ordered, never a NIC's RSS hash, so both
// directions of a TCP connection or UDP flow land on the same worker, and
// DEFRAG reassembles IP fragments before hashing, keeping them with their
// flow. Older kernels use skb_get_hash, which takes a NIC's RSS hash when
// there is one and that hash may differ by direction: on those (RHEL 7's
// 3.10 among them) OpenLiveWorkers refuses more than one worker
// ([ErrFanoutAsymmetric]).
func OpenLiveWorkers(ctx context.Context, cfg *LiveConfig) ([]*Live, error) {
	c := cfg.withDefaults()
	if c.Workers == 1 {
		l, err := openLive(ctx, &c, -1)
		if err != nil {
			return nil, err
		}
		return []*Live{l}, nil
	}
	if rel, ok := kernelRelease(); ok && !symmetricFanout(rel) {
		return nil, fmt.Errorf("capture: %d fanout workers on Linux %s: %w", c.Workers, rel, ErrFanoutAsymmetric)
	}
	group := int(c.FanoutGroup)
	if group == 0 {
		group = os.Getpid() & 0xffff
	}
	var out []*Live
	for range c.Workers {
		l, err := openLive(ctx, &c, group)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// kernelRelease returns uname -r.
func kernelRelease() (string, bool) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", false
	}
	return unix.ByteSliceToString(u.Release[:]), true
}

func openLive(ctx context.Context, cfg *LiveConfig, fanout int) (*Live, error) {
	l := &Live{}
	s := &l.sys
	s.ctx = ctx
	s.last = -1
	for i, name := range cfg.Interfaces {
		g := -1
		if fanout >= 0 {
			g = (fanout + i) & 0xffff
		}
		sk, err := openSocket(cfg, name, i, g)
		if err != nil {
			for _, o := range s.socks {
				o.release()
			}
			return nil, err
		}
		s.socks = append(s.socks, sk)
		cfg.Logger.Info("live capture opened", "interface", name, "ring", sk.version.String(),
			"link_type", int(sk.link), "snaplen", cfg.Snaplen, "fanout_group", g)
	}
	if len(s.socks) > 1 {
		s.ready = make(chan int, len(s.socks))
		s.done = make(chan struct{})
		s.timer = time.NewTimer(time.Hour)
		s.timer.Stop()
		for i, sk := range s.socks {
			sk.ack = make(chan struct{}, 1)
			s.wg.Add(1)
			go s.pump(i, sk)
		}
	}
	s.stop = context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cancelled = true
		s.unblock()
		s.mu.Unlock()
	})
	return l, nil
}

// unblock sets a past deadline on every socket. Callers hold mu.
func (s *liveSys) unblock() {
	past := time.Unix(1, 0)
	for _, sk := range s.socks {
		sk.conn.SetReadDeadline(past)
	}
}

// pump feeds packets of one socket to ReadPacket (several sockets only).
func (s *liveSys) pump(i int, sk *liveSocket) {
	defer s.wg.Done()
	for {
		sk.err = sk.next(&sk.pkt)
		select {
		case s.ready <- i:
		case <-s.done:
			return
		}
		if sk.err != nil {
			return
		}
		select {
		case <-sk.ack:
		case <-s.done:
			return
		}
	}
}

func (s *liveSys) readPacket(p *Packet) error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.closed.Load() || s.ctx.Err() != nil {
		return io.EOF
	}
	var sk *liveSocket
	var err error
	if s.ready == nil {
		sk = s.socks[0]
		err = sk.next(p)
	} else {
		if s.last >= 0 {
			s.socks[s.last].ack <- struct{}{}
			s.last = -1
		}
		s.mu.Lock()
		d := s.deadline
		s.mu.Unlock()
		var tc <-chan time.Time
		if !d.IsZero() {
			s.timer.Reset(time.Until(d))
			defer s.timer.Stop()
			tc = s.timer.C
		}
		select {
		case i := <-s.ready:
			sk = s.socks[i]
			s.last = i
			*p = sk.pkt
			err = sk.err
		case <-tc:
			return fmt.Errorf("capture: live: %w", os.ErrDeadlineExceeded)
		case <-s.done:
			return io.EOF
		case <-s.ctx.Done():
			return io.EOF
		}
	}
	if err != nil {
		if s.closed.Load() || s.ctx.Err() != nil {
			return io.EOF
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("capture: live: %w", os.ErrDeadlineExceeded)
		}
		return fmt.Errorf("capture: %s: read: %w", sk.name, err)
	}
	s.number++
	p.Number = s.number
	sk.delivered.Add(1)
	return nil
}

func (s *liveSys) setReadDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancelled || s.closed.Load() {
		return nil
	}
	s.deadline = t
	if s.ready != nil {
		return nil // the sockets' own deadlines only serve Close
	}
	return s.socks[0].conn.SetReadDeadline(t)
}

func (s *liveSys) close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	if s.stop != nil {
		s.stop()
	}
	s.mu.Lock()
	s.unblock()
	s.mu.Unlock()
	if s.done != nil {
		close(s.done)
		s.wg.Wait()
	}
	s.rmu.Lock() // wait for a ReadPacket in progress before unmapping
	defer s.rmu.Unlock()
	st := s.stats()
	s.final = &st
	var errs []error
	for _, sk := range s.socks {
		errs = append(errs, sk.release())
	}
	return errors.Join(errs...)
}

func (s *liveSys) stats() LiveStats {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.final != nil {
		return *s.final
	}
	var out LiveStats
	for _, sk := range s.socks {
		out.add(sk.stats())
	}
	return out
}

// stats reads and accumulates PACKET_STATISTICS (which resets on read).
func (sk *liveSocket) stats() LiveStats {
	if sk.version == RingV3 {
		if st, err := sk.conn.GetsockoptTpacketStatsV3(unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			sk.received += uint64(st.Packets)
			sk.drops += uint64(st.Drops)
			sk.freezes += uint64(st.Freeze_q_cnt)
		}
	} else if st, err := sk.conn.GetsockoptTpacketStats(unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
		sk.received += uint64(st.Packets)
		sk.drops += uint64(st.Drops)
	}
	return LiveStats{Received: sk.received, Delivered: sk.delivered.Load(),
		KernelDrops: sk.drops, Freezes: sk.freezes, Version: sk.version}
}

// release unmaps the ring and closes the socket.
func (sk *liveSocket) release() error {
	var err error
	if sk.mem != nil {
		err = unix.Munmap(sk.mem)
		sk.mem = nil
	}
	return errors.Join(err, sk.conn.Close())
}

// permissionHint is appended to errors caused by a missing CAP_NET_RAW.
const permissionHint = "; live capture needs CAP_NET_RAW: run as root or grant it with 'sudo setcap cap_net_raw+ep bin/wiretrace'"

// opError wraps a syscall error of interface name in a *net.OpError, adding
// the capability hint to permission errors.
func opError(name, op string, err error) error {
	oe := &net.OpError{Op: op, Net: "packet", Err: err}
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("capture: interface %s: %w%s", name, oe, permissionHint)
	}
	return fmt.Errorf("capture: interface %s: %w", name, oe)
}

func openSocket(cfg *LiveConfig, name string, idx int, fanout int) (*liveSocket, error) {
	sk := &liveSocket{name: name, iface: idx, snaplen: cfg.Snaplen, link: LinkTypeEthernet}
	ifindex, mtu := 0, 0
	if name == "any" {
		sk.cooked = true
	} else {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("capture: interface %s: %w", name, err)
		}
		ifindex, mtu = ifi.Index, ifi.MTU
	}
	typ := unix.SOCK_RAW
	if sk.cooked {
		typ = unix.SOCK_DGRAM
	}
	// Protocol 0 receives nothing until bind, so the filter is in place
	// before the first packet is queued (as mdlayher/packet does).
	conn, err := socket.Socket(unix.AF_PACKET, typ, 0, "packet", nil)
	if err != nil {
		return nil, opError(name, "socket", err)
	}
	sk.conn = conn
	fail := func(op string, err error) (*liveSocket, error) {
		sk.release()
		return nil, opError(name, op, err)
	}
	if sk.rc, err = conn.SyscallConn(); err != nil {
		return fail("syscallconn", err)
	}
	if !sk.cooked {
		hatype, err := sk.hardwareType(name)
		if err != nil {
			return fail("ioctl SIOCGIFHWADDR", err)
		}
		if hatype != unix.ARPHRD_ETHER && hatype != unix.ARPHRD_LOOPBACK {
			// Not Ethernet framing (tun, IP tunnels): capture cooked.
			conn.Close()
			if conn, err = socket.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, 0, "packet", nil); err != nil {
				return nil, opError(name, "socket", err)
			}
			sk.conn, sk.cooked = conn, true
			if sk.rc, err = conn.SyscallConn(); err != nil {
				return fail("syscallconn", err)
			}
		}
	}
	if sk.cooked {
		sk.link = LinkTypeLinuxSLL2
	}
	filter := cfg.Filter
	if sk.cooked && len(cfg.CookedFilter) > 0 {
		filter = cfg.CookedFilter
	}
	if len(filter) == 0 {
		// Accept everything, but let the kernel copy only Snaplen bytes.
		filter, _ = bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: uint32(cfg.Snaplen)}})
	}
	if err := conn.SetBPF(filter); err != nil {
		return fail("setsockopt SO_ATTACH_FILTER", err)
	}
	sk.buf = make([]byte, headroom+cfg.Snaplen)
	if err := sk.setupRing(cfg, mtu); err != nil {
		return fail("setsockopt PACKET_RX_RING", err)
	}
	if err := conn.Bind(&unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}); err != nil {
		return fail("bind", err)
	}
	if !cfg.NoPromisc && ifindex != 0 {
		mreq := &unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := conn.SetsockoptPacketMreq(unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq); err != nil {
			return fail("setsockopt PACKET_ADD_MEMBERSHIP", err)
		}
	}
	if fanout >= 0 {
		// The flags reach bit 31: build the C int as 32 bits (int is 32 bits on arm and 386).
		arg := int(int32(uint32(fanout) | uint32(unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16))
		if err := conn.SetsockoptInt(unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			return fail("setsockopt PACKET_FANOUT", err)
		}
	}
	return sk, nil
}

// hardwareType returns the ARPHRD_ type of the interface.
func (sk *liveSocket) hardwareType(name string) (uint16, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	var ierr error
	if err := sk.rc.Control(func(fd uintptr) {
		ierr = unix.IoctlIfreq(int(fd), unix.SIOCGIFHWADDR, ifr)
	}); err != nil {
		return 0, err
	}
	if ierr != nil {
		return 0, ierr
	}
	return ifr.Uint16(), nil // sa_family of ifr_hwaddr
}

// setupRing sets up the ring version cfg asks for, or the best the kernel
// offers.
func (sk *liveSocket) setupRing(cfg *LiveConfig, mtu int) error {
	try := []RingVersion{RingV3, RingV2, RingNone}
	if cfg.Version != RingUnknown {
		try = []RingVersion{cfg.Version}
	}
	var err error
	for _, v := range try {
		switch v {
		case RingV3, RingV2:
			err = sk.mapRing(cfg, v, mtu)
		case RingNone:
			err = sk.setupPlain(cfg)
		default:
			return fmt.Errorf("unknown ring version %d", v)
		}
		if err == nil {
			sk.version = v
			switch v {
			case RingV3:
				sk.ready = sk.blockReady
			case RingV2:
				sk.ready = sk.frameReady
			default:
				sk.ready = sk.recv
			}
			return nil
		}
		cfg.Logger.Warn("live capture: ring unavailable, falling back", "interface", sk.name, "ring", v.String(), "err", err)
	}
	return err
}

func (sk *liveSocket) mapRing(cfg *LiveConfig, v RingVersion, mtu int) error {
	// A V3 block holds whole packets of any size, so it must fit Snaplen.
	// V2 frames have a fixed size: like libpcap, size them for the MTU
	// (plus link header and VLAN tag) when that is smaller than Snaplen, or
	// a large Snaplen leaves room for only a few packets. Longer packets
	// (GRO) are then cut to the frame; Packet.Length keeps their length.
	want := cfg.Snaplen
	if v == RingV2 && mtu > 0 && mtu+18 < want {
		want = mtu + 18
	}
	bs := os.Getpagesize()
	for bs < want+ringOverhead {
		bs <<= 1
	}
	n := (cfg.RingSize + bs - 1) / bs
	if n < 2 {
		n = 2
	}
	var err error
	ctl := sk.rc.Control(func(fd uintptr) {
		ver := unix.TPACKET_V3
		if v == RingV2 {
			ver = unix.TPACKET_V2
		}
		if err = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_VERSION, ver); err != nil {
			return
		}
		if v == RingV3 {
			req := unix.TpacketReq3{Block_size: uint32(bs), Block_nr: uint32(n),
				Frame_size: unix.TPACKET_ALIGNMENT << 7, Retire_blk_tov: retireTimeout}
			req.Frame_nr = uint32(bs*n) / req.Frame_size
			err = unix.SetsockoptTpacketReq3(int(fd), unix.SOL_PACKET, unix.PACKET_RX_RING, &req)
		} else {
			// One frame per block: a frame must hold Snaplen bytes.
			req := unix.TpacketReq{Block_size: uint32(bs), Block_nr: uint32(n),
				Frame_size: uint32(bs), Frame_nr: uint32(n)}
			err = unix.SetsockoptTpacketReq(int(fd), unix.SOL_PACKET, unix.PACKET_RX_RING, &req)
		}
		if err != nil {
			return
		}
		sk.mem, err = unix.Mmap(int(fd), 0, bs*n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		if err != nil {
			// Drop the ring so another version can be tried.
			unix.SetsockoptTpacketReq(int(fd), unix.SOL_PACKET, unix.PACKET_RX_RING, &unix.TpacketReq{})
		}
	})
	if ctl != nil {
		return ctl
	}
	if err != nil {
		return err
	}
	sk.blockSize, sk.nblocks = bs, n
	return nil
}

func (sk *liveSocket) setupPlain(cfg *LiveConfig) error {
	var err error
	ctl := sk.rc.Control(func(fd uintptr) {
		if err = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V1); err != nil {
			return
		}
		if err = unix.SetsockoptInt(int(fd), unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			return
		}
		if err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
			return
		}
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.RingSize)
	})
	if ctl != nil {
		return ctl
	}
	if err != nil {
		return err
	}
	sk.iov.Base = &sk.buf[headroom]
	sk.iov.SetLen(cfg.Snaplen)
	return nil
}

// u32 loads a uint32 of the ring at off with acquire semantics.
func (sk *liveSocket) u32(off int) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&sk.mem[off])))
}

func (sk *liveSocket) blockReady(uintptr) bool {
	return sk.u32(sk.cur*sk.blockSize+8)&unix.TP_STATUS_USER != 0
}

func (sk *liveSocket) frameReady(uintptr) bool {
	return sk.u32(sk.cur*sk.blockSize)&unix.TP_STATUS_USER != 0
}

// recv is one non-blocking recvmsg(2); it returns false when there is
// nothing to read.
func (sk *liveSocket) recv(fd uintptr) bool {
	sk.msg.Name = (*byte)(unsafe.Pointer(&sk.from))
	sk.msg.Namelen = unix.SizeofSockaddrLinklayer
	sk.msg.Iov = &sk.iov
	sk.msg.SetIovlen(1)
	sk.msg.Control = &sk.oob[0]
	sk.msg.SetControllen(len(sk.oob))
	sk.msg.Flags = 0
	n, _, errno := unix.Syscall(unix.SYS_RECVMSG, fd, uintptr(unsafe.Pointer(&sk.msg)), unix.MSG_TRUNC|unix.MSG_DONTWAIT)
	if errno == unix.EAGAIN || errno == unix.EINTR {
		return false
	}
	sk.rn, sk.rerr = int(n), nil
	if errno != 0 {
		sk.rerr = errno
	}
	sk.oobn = int(sk.msg.Controllen)
	return true
}

// wait blocks until the current block or frame is ours, or a packet was
// read (plain reads), or the deadline passes.
func (sk *liveSocket) wait() error {
	return sk.rc.Read(sk.ready)
}

// next fills p with the socket's next packet.
func (sk *liveSocket) next(p *Packet) error {
	switch sk.version {
	case RingV3:
		return sk.nextV3(p)
	case RingV2:
		return sk.nextV2(p)
	}
	return sk.nextPlain(p)
}

func (sk *liveSocket) nextV3(p *Packet) error {
	for sk.left == 0 {
		if sk.held {
			// Hand the block back to the kernel (tpacket_hdr_v1.block_status).
			atomic.StoreUint32((*uint32)(unsafe.Pointer(&sk.mem[sk.cur*sk.blockSize+8])), unix.TP_STATUS_KERNEL)
			sk.held = false
			sk.cur = (sk.cur + 1) % sk.nblocks
		}
		if !sk.blockReady(0) {
			if err := sk.wait(); err != nil {
				return err
			}
			continue
		}
		b := sk.cur * sk.blockSize
		sk.held = true
		sk.left = int(binary.NativeEndian.Uint32(sk.mem[b+12:]))
		sk.off = b + int(binary.NativeEndian.Uint32(sk.mem[b+16:]))
	}
	h := sk.mem[sk.off:]
	ne := binary.NativeEndian
	next := int(ne.Uint32(h[0:]))
	sec, nsec := ne.Uint32(h[4:]), ne.Uint32(h[8:])
	caplen, wire := int(ne.Uint32(h[12:])), int(ne.Uint32(h[16:]))
	status := ne.Uint32(h[20:])
	mac := int(ne.Uint16(h[24:]))
	tci, tpid := uint16(ne.Uint32(h[32:])), ne.Uint16(h[36:])
	sll := h[48 : 48+unix.SizeofSockaddrLinklayer]
	data := h[mac : mac+caplen]
	sk.left--
	sk.off += next
	sk.fill(p, data, wire, sec, nsec, status, tci, tpid, sll, false)
	return nil
}

func (sk *liveSocket) nextV2(p *Packet) error {
	if sk.held {
		atomic.StoreUint32((*uint32)(unsafe.Pointer(&sk.mem[sk.cur*sk.blockSize])), unix.TP_STATUS_KERNEL)
		sk.held = false
		sk.cur = (sk.cur + 1) % sk.nblocks
	}
	for !sk.frameReady(0) {
		if err := sk.wait(); err != nil {
			return err
		}
	}
	sk.held = true
	h := sk.mem[sk.cur*sk.blockSize:]
	ne := binary.NativeEndian
	status := ne.Uint32(h[0:])
	wire, caplen := int(ne.Uint32(h[4:])), int(ne.Uint32(h[8:]))
	mac := int(ne.Uint16(h[12:]))
	sec, nsec := ne.Uint32(h[16:]), ne.Uint32(h[20:])
	tci, tpid := ne.Uint16(h[24:]), ne.Uint16(h[26:])
	sll := h[32 : 32+unix.SizeofSockaddrLinklayer]
	sk.fill(p, h[mac:mac+caplen], wire, sec, nsec, status, tci, tpid, sll, false)
	return nil
}

func (sk *liveSocket) nextPlain(p *Packet) error {
	if err := sk.wait(); err != nil {
		return err
	}
	if sk.rerr != nil {
		return os.NewSyscallError("recvmsg", sk.rerr)
	}
	wire := sk.rn
	var sec, nsec uint32
	var status uint32
	var tci, tpid uint16
	ne := binary.NativeEndian
	// Walk the control messages (cmsg(3)) without allocating.
	for b := sk.oob[:sk.oobn]; len(b) >= unix.SizeofCmsghdr; {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(b) {
			break
		}
		d := b[unix.CmsgLen(0):l]
		switch {
		case h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && len(d) >= 20:
			status = ne.Uint32(d[0:])
			wire = int(ne.Uint32(d[4:]))
			tci, tpid = ne.Uint16(d[16:]), ne.Uint16(d[18:])
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(d) >= 16:
			sec, nsec = uint32(ne.Uint64(d[0:])), uint32(ne.Uint64(d[8:]))
		}
		if sp := unix.CmsgSpace(l - unix.CmsgLen(0)); sp < len(b) {
			b = b[sp:]
		} else {
			break
		}
	}
	caplen := min(sk.rn, sk.snaplen)
	sll := unsafe.Slice((*byte)(unsafe.Pointer(&sk.from)), unix.SizeofSockaddrLinklayer)
	sk.fill(p, sk.buf[headroom:headroom+caplen], wire, sec, nsec, status, tci, tpid, sll, true)
	return nil
}

// fill sets p from a received frame. data is the frame as the kernel gave
// it; inBuf says it already sits at sk.buf[headroom:], so headers can be
// put in front without copying it.
func (sk *liveSocket) fill(p *Packet, data []byte, wire int, sec, nsec, status uint32, tci, tpid uint16, sll []byte, inBuf bool) {
	if len(data) > sk.snaplen {
		data = data[:sk.snaplen]
	}
	ne := binary.NativeEndian
	vlan := status&unix.TP_STATUS_VLAN_VALID != 0 || tci != 0
	if vlan && status&unix.TP_STATUS_VLAN_TPID_VALID == 0 {
		tpid = 0x8100
	}
	p.Timestamp = int64(sec)*1e9 + int64(nsec)
	p.LinkType = sk.link
	p.Interface = sk.iface
	p.Capture = sk.name
	switch sll[10] { // sll_pkttype
	case unix.PACKET_OUTGOING:
		p.Direction = DirectionOutbound
	case unix.PACKET_HOST, unix.PACKET_BROADCAST, unix.PACKET_MULTICAST:
		p.Direction = DirectionInbound
	default:
		// PACKET_OTHERHOST: addressed to another host, seen in passing
		// (a bridge, a mirror port, promiscuous mode): neither end is
		// local, so the capture point sees the exchange from the network.
		p.Direction = DirectionUnknown
	}
	switch {
	case sk.cooked:
		// Build a Linux cooked v2 header (pcap-linktype(7), LINKTYPE_LINUX_SLL2)
		// from the sockaddr_ll; a VLAN tag goes between it and the payload,
		// with the protocol field set to the TPID, as libpcap does.
		if !inBuf {
			copy(sk.buf[headroom:], data)
		}
		n := len(data)
		start := headroom
		if vlan {
			start -= vlanLen
			binary.BigEndian.PutUint16(sk.buf[start:], tci)
			copy(sk.buf[start+2:start+4], sll[2:4]) // original protocol, network order
		}
		start -= sll2Len
		h := sk.buf[start:]
		if vlan {
			binary.BigEndian.PutUint16(h[0:], tpid)
		} else {
			copy(h[0:2], sll[2:4])
		}
		h[2], h[3] = 0, 0
		binary.BigEndian.PutUint32(h[4:], ne.Uint32(sll[4:])) // ifindex
		binary.BigEndian.PutUint16(h[8:], ne.Uint16(sll[8:])) // ARPHRD type
		h[10], h[11] = sll[10], min(sll[11], 8)               // packet type, address length
		copy(h[12:20], sll[12:20])                            // address
		p.Data = sk.buf[start : headroom+n]
		p.Length = wire + headroom - start
	case vlan && len(data) >= 12:
		// Re-insert the 802.1Q tag the kernel moved out of the frame.
		if !inBuf {
			copy(sk.buf[headroom:], data)
		}
		n := len(data)
		b := sk.buf[headroom-vlanLen:]
		copy(b[:12], b[vlanLen:vlanLen+12])
		binary.BigEndian.PutUint16(b[12:], tpid)
		binary.BigEndian.PutUint16(b[14:], tci)
		p.Data = b[:n+vlanLen]
		p.Length = wire + vlanLen
	default:
		p.Data = data
		p.Length = wire
	}
}
