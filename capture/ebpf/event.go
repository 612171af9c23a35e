package ebpf

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Kind says what an Event records.
type Kind uint8

// Event kinds, as the BPF programs write them.
const (
	KindUnknown Kind = iota
	// KindSend is bytes written to a socket (write, writev, sendto,
	// sendmsg).
	KindSend
	// KindRecv is bytes read from a socket (read, readv, recvfrom,
	// recvmsg).
	KindRecv
	// KindClose is a connection entering TCP_CLOSE; it has no task, bytes
	// or sequence number.
	KindClose
)

// String returns "send", "recv", "close" or "unknown".
func (k Kind) String() string {
	switch k {
	case KindSend:
		return "send"
	case KindRecv:
		return "recv"
	case KindClose:
		return "close"
	}
	return "unknown"
}

// EventSize is the size of the record the BPF programs write (struct
// event in bpf/wiretrace.c); perf records may carry padding after it.
const EventSize = 84

// Address families of the records.
const (
	afInet  = 2
	afInet6 = 10
)

// Event is one record of the BPF programs.
type Event struct {
	// Time is the kernel's monotonic clock (bpf_ktime_get_ns) in ns.
	Time int64
	// PID is the process id (the kernel's tgid); TID is the thread id.
	PID, TID uint32
	// Seq is the TCP sequence number of the first byte moved and Len the
	// number of bytes: the range [Seq, Seq+Len) of the stream Local→Remote
	// (KindSend) or Remote→Local (KindRecv).
	Seq, Len uint32
	// NetNS is the inode number of the socket's network namespace.
	NetNS uint32
	// Kind says what the record is.
	Kind Kind
	// Local and Remote are the socket's ends (IPv4-mapped IPv6 addresses
	// unmapped).
	Local, Remote netip.AddrPort
	// Comm is the task's name, NUL-padded (see CommString).
	Comm [16]byte
}

// CommString returns Comm up to its first NUL.
func (e *Event) CommString() string { return commString(&e.Comm) }

func commString(c *[16]byte) string {
	for i, b := range c {
		if b == 0 {
			return string(c[:i])
		}
	}
	return string(c[:])
}

// UnmarshalBinary decodes a record in the host's byte order (the BPF
// programs run in it). Errors wrap ErrShortEvent or ErrMalformed; e is then
// left unspecified.
func (e *Event) UnmarshalBinary(b []byte) error {
	if len(b) < EventSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrShortEvent, len(b), EventSize)
	}
	o := binary.NativeEndian
	e.Time = int64(o.Uint64(b[0:]))
	e.PID = o.Uint32(b[8:])
	e.TID = o.Uint32(b[12:])
	e.Seq = o.Uint32(b[16:])
	e.Len = o.Uint32(b[20:])
	e.NetNS = o.Uint32(b[24:])
	family := o.Uint16(b[28:])
	e.Kind = Kind(b[30])
	if e.Kind == KindUnknown || e.Kind > KindClose {
		return fmt.Errorf("%w: kind %d", ErrMalformed, b[30])
	}
	sport, dport := o.Uint16(b[64:]), o.Uint16(b[66:])
	var local, remote netip.Addr
	switch family {
	case afInet:
		local = netip.AddrFrom4([4]byte(b[32:36]))
		remote = netip.AddrFrom4([4]byte(b[48:52]))
	case afInet6:
		local = netip.AddrFrom16([16]byte(b[32:48])).Unmap()
		remote = netip.AddrFrom16([16]byte(b[48:64])).Unmap()
	default:
		return fmt.Errorf("%w: address family %d", ErrMalformed, family)
	}
	e.Local = netip.AddrPortFrom(local, sport)
	e.Remote = netip.AddrPortFrom(remote, dport)
	copy(e.Comm[:], b[68:84])
	return nil
}

// MarshalBinary encodes e as the BPF programs would (tests and tools
// replay events with it). IPv4 addresses are written as AF_INET.
func (e *Event) MarshalBinary() ([]byte, error) {
	b := make([]byte, EventSize)
	o := binary.NativeEndian
	o.PutUint64(b[0:], uint64(e.Time))
	o.PutUint32(b[8:], e.PID)
	o.PutUint32(b[12:], e.TID)
	o.PutUint32(b[16:], e.Seq)
	o.PutUint32(b[20:], e.Len)
	o.PutUint32(b[24:], e.NetNS)
	family := uint16(afInet6)
	if e.Local.Addr().Is4() && e.Remote.Addr().Is4() {
		family = afInet
		l, r := e.Local.Addr().As4(), e.Remote.Addr().As4()
		copy(b[32:], l[:])
		copy(b[48:], r[:])
	} else {
		l, r := e.Local.Addr().As16(), e.Remote.Addr().As16()
		copy(b[32:], l[:])
		copy(b[48:], r[:])
	}
	o.PutUint16(b[28:], family)
	b[30] = byte(e.Kind)
	o.PutUint16(b[64:], e.Local.Port())
	o.PutUint16(b[66:], e.Remote.Port())
	copy(b[68:], e.Comm[:])
	return b, nil
}
