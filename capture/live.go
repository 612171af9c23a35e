package capture

import (
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/bpf"
)

// DefaultSnaplen is the default [LiveConfig.Snaplen]: libpcap's
// MAXIMUM_SNAPLEN (262144), tcpdump's default. It covers every L7 header and
// whole GRO/GSO super-packets (up to 64 KiB on loopback and veth), so TCP
// reassembly sees no snaplen gaps. With TPACKET_V3 a small packet uses only
// its own length of the ring, so a large snaplen costs no ring memory.
const DefaultSnaplen = 256 << 10

// DefaultRingSize is the default [LiveConfig.RingSize] per socket: 8 MiB.
const DefaultRingSize = 8 << 20

// LiveConfig configures [OpenLive]. A nil *LiveConfig means defaults; the
// zero value of each field is its default.
type LiveConfig struct {
	// Interfaces names the interfaces to capture on, one socket each.
	// "any" captures on every interface of the network namespace through
	// one cooked socket (LinkTypeLinuxSLL2). Default: "any".
	Interfaces []string
	// Snaplen is the largest number of bytes kept of one packet.
	// Default: DefaultSnaplen.
	Snaplen int
	// RingSize is the size in bytes of each socket's receive ring (rounded
	// up to whole blocks, at least two). Default: DefaultRingSize.
	RingSize int
	// NoPromisc leaves the interfaces out of promiscuous mode. Default:
	// promiscuous (never for "any").
	NoPromisc bool
	// Filter is a classic BPF program, attached with SO_ATTACH_FILTER
	// before the socket is bound, so no unfiltered packet is ever queued.
	// Its return value caps the captured length as well as Snaplen does.
	// Default: accept everything up to Snaplen.
	Filter []bpf.RawInstruction
	// CookedFilter, when set, is attached instead of Filter to cooked
	// sockets ("any", and interfaces without Ethernet framing). The kernel
	// runs a cooked socket's filter on the packet from its network header,
	// with the link-layer protocol as SKF_AD_PROTOCOL, not on the SLL2
	// frame the Live delivers (filter.Filter.Kernel builds both).
	CookedFilter []bpf.RawInstruction
	// Workers is the number of sockets [OpenLiveWorkers] joins into one
	// PACKET_FANOUT group per interface. OpenLive ignores it. Default: 1.
	Workers int
	// FanoutGroup is the fanout group id of the first interface; interface
	// i uses FanoutGroup+i. Default: derived from the process id.
	FanoutGroup uint16
	// Version forces a ring version: RingV3, RingV2 or RingNone (plain
	// recvmsg reads). Default (RingUnknown): TPACKET_V3, falling back to
	// TPACKET_V2 and then to plain reads when the kernel refuses one.
	Version RingVersion
	// Logger receives lifecycle events (ring chosen, fallbacks). Nil
	// discards them.
	Logger *slog.Logger
}

// RingVersion says how a live socket receives packets.
type RingVersion uint8

// Ring versions. The zero value means not chosen yet.
const (
	RingUnknown RingVersion = iota
	RingV3                  // TPACKET_V3 block ring (Linux 3.2+)
	RingV2                  // TPACKET_V2 frame ring
	RingNone                // no ring: one recvmsg(2) per packet
)

// String returns "unknown", "tpacket_v3", "tpacket_v2" or "recvmsg".
func (v RingVersion) String() string {
	switch v {
	case RingV3:
		return "tpacket_v3"
	case RingV2:
		return "tpacket_v2"
	case RingNone:
		return "recvmsg"
	}
	return "unknown"
}

// LiveStats are the counters of a live capture.
type LiveStats struct {
	// Received counts the packets the kernel passed the filter, dropped
	// ones included (PACKET_STATISTICS tp_packets), as libpcap's ps_recv.
	Received uint64
	// Delivered counts the packets ReadPacket returned.
	Delivered uint64
	// KernelDrops counts packets the kernel dropped because the ring or
	// the socket buffer was full (tp_drops).
	KernelDrops uint64
	// Freezes counts how often a TPACKET_V3 ring was full (tp_freeze_q_cnt).
	Freezes uint64
	// Version is the ring in use (the first socket's, if they differ).
	Version RingVersion
}

// Each calls f with each counter's snake_case name and value; the ring
// version is "live_ring_version" (1 V3, 2 V2, 3 plain reads).
func (s LiveStats) Each(f func(name string, v uint64)) {
	f("live_received", s.Received)
	f("live_delivered", s.Delivered)
	f("live_kernel_drops", s.KernelDrops)
	f("live_freezes", s.Freezes)
	f("live_ring_version", uint64(s.Version))
}

// add accumulates counters of another socket.
func (s *LiveStats) add(o LiveStats) {
	s.Received += o.Received
	s.Delivered += o.Delivered
	s.KernelDrops += o.KernelDrops
	s.Freezes += o.Freezes
	if s.Version == RingUnknown {
		s.Version = o.Version
	}
}

// liveCounters are updated by the reader and read by Stats from any
// goroutine.
type liveCounters struct {
	received, delivered, drops, freezes atomic.Uint64
}

// withDefaults returns a copy of cfg with the defaults filled in.
func (c *LiveConfig) withDefaults() LiveConfig {
	var out LiveConfig
	if c != nil {
		out = *c
	}
	if len(out.Interfaces) == 0 {
		out.Interfaces = []string{"any"}
	}
	if out.Snaplen <= 0 {
		out.Snaplen = DefaultSnaplen
	}
	if out.RingSize <= 0 {
		out.RingSize = DefaultRingSize
	}
	if out.Workers <= 0 {
		out.Workers = 1
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out
}

// Live reads packets from AF_PACKET sockets, one per interface (and per
// worker with [OpenLiveWorkers]). It implements [Source]: ReadPacket blocks
// until a packet arrives and returns io.EOF once the context given to
// OpenLive is cancelled or Close is called. Packet.Data points into the
// memory-mapped ring (or a buffer of the Live) and is valid until the next
// ReadPacket or Close.
//
// ReadPacket must be called from one goroutine at a time; Close, Stats and
// SetReadDeadline may be called from any goroutine.
type Live struct {
	sys liveSys
}

// ReadPacket fills p with the next packet. It returns io.EOF after Close or
// when OpenLive's context is done, and an error wrapping
// os.ErrDeadlineExceeded when the deadline set with SetReadDeadline passes
// first (the Live stays usable).
func (l *Live) ReadPacket(p *Packet) error { return l.sys.readPacket(p) }

// SetReadDeadline makes a blocked or later ReadPacket return an error
// wrapping os.ErrDeadlineExceeded at t; the zero t means no deadline. The
// CLI uses it to advance packet time when no packet arrives.
func (l *Live) SetReadDeadline(t time.Time) error { return l.sys.setReadDeadline(t) }

// Close unblocks ReadPacket, releases the rings and closes the sockets. It
// is idempotent.
func (l *Live) Close() error { return l.sys.close() }

// Stats returns the counters so far, summed over the Live's sockets.
func (l *Live) Stats() LiveStats { return l.sys.stats() }

var _ Source = (*Live)(nil)

// symmetricFanout reports whether a kernel of release rel (uname -r, e.g.
// "6.18.44-fc") hashes PACKET_FANOUT_HASH symmetrically: Linux 4.7 and
// newer. A release it cannot read counts as new.
func symmetricFanout(rel string) bool {
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return true
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return true
	}
	return major > 4 || major == 4 && minor >= 7
}
