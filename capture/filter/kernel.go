package filter

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/net/bpf"

	"github.com/wiretrace/wiretrace/capture"
)

// KernelProgram is a filter program for a live AF_PACKET socket that
// accepts exactly the packets the [Filter] accepts on the frames
// [capture.Live] delivers from that socket.
//
// The kernel runs a socket filter on its own view of the packet, which is
// not the delivered frame in two ways (packet(7), libpcap's pcap-linux.c):
// a cooked (SOCK_DGRAM) socket's filter sees the packet from its network
// header, with the link-layer protocol as the ancillary load
// SKF_AD_PROTOCOL; and the outer VLAN tag of a received frame has been moved
// into the packet's metadata (SKF_AD_VLAN_TAG_PRESENT, SKF_AD_VLAN_TAG) before
// any filter runs, while the Live puts it back. So the program starts with "ld
// #vlan_avail": frames without a moved-out tag run the expression compiled
// for the kernel's frame; frames with one run it compiled with the first
// vlan primitive as ancillary loads and the later offsets four bytes lower.
// Where that second variant is not exact (ether[] or link[] relations,
// which see the tag's bytes, and "ether proto" of a TPID, which would need
// SKF_AD_VLAN_TPID, Linux 3.19+), such frames are accepted and Recheck is set:
// run the Filter on them in user space ([NewLiveSource]).
type KernelProgram struct {
	// Program is the program to attach with SO_ATTACH_FILTER; it accepts
	// with the snaplen it was built for.
	Program []bpf.RawInstruction
	// Recheck says that frames whose VLAN tag the kernel moved out pass
	// Program unfiltered and must be matched in user space.
	Recheck bool
}

// ErrNotExact means no kernel program is exact for the expression on that
// socket: on a cooked socket, len, greater, less and ether[]/link[]
// relations (the kernel's packet has no cooked header). The caller filters
// in user space instead.
var ErrNotExact = errors.New("no exact kernel program")

// Kernel returns the program to attach to a live socket whose frames the
// Live delivers with link type link: capture.LinkTypeEthernet for a SOCK_RAW
// socket on an Ethernet (or loopback) interface, capture.LinkTypeLinuxSLL2
// for a cooked socket ("any", interfaces without Ethernet framing).
// Accepted packets return snaplen (DefaultSnaplen when <= 0). The error
// wraps ErrNotExact when the kernel cannot run the expression exactly,
// or is the [*Error] of compiling it for link.
func (f *Filter) Kernel(link capture.LinkType, snaplen int) (*KernelProgram, error) {
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	cooked := false
	switch link {
	case capture.LinkTypeEthernet:
	case capture.LinkTypeLinuxSLL2:
		cooked = true
	default:
		return nil, fmt.Errorf("filter: %q: kernel program for %s: %w", f.expr, linkName(link), ErrNotExact)
	}
	plain, err := compileKernel(f, link, snaplen, cooked, false)
	if err != nil {
		return nil, err
	}
	kp := &KernelProgram{}
	tagged, err := compileKernel(f, link, snaplen, cooked, true)
	if errors.Is(err, ErrNotExact) {
		kp.Recheck = true
		tagged = []bpf.Instruction{bpf.RetConstant{Val: uint32(snaplen)}}
	} else if err != nil {
		return nil, err
	}
	// ld #vlan_avail; jeq #0 → plain; else tagged.
	prog := []bpf.Instruction{bpf.LoadExtension{Num: bpf.ExtVLANTagPresent}}
	if len(tagged) <= 255 {
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: uint8(len(tagged))})
	} else {
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 1}, bpf.Jump{Skip: uint32(len(tagged))})
	}
	prog = append(append(prog, tagged...), plain...)
	if len(prog) > maxInsns {
		return nil, &Error{Expr: f.expr, Msg: fmt.Sprintf("kernel program has %d instructions, more than %d", len(prog), maxInsns), Err: ErrTooLong}
	}
	if kp.Program, err = bpf.Assemble(prog); err != nil {
		return nil, fmt.Errorf("filter: %q: kernel program: %w", f.expr, err)
	}
	return kp, nil
}

func compileKernel(f *Filter, link capture.LinkType, snaplen int, cooked, aux bool) ([]bpf.Instruction, error) {
	c := &compiler{expr: f.expr, link: link, tunnels: new(int), cooked: cooked, aux: aux}
	prog, err := c.program(f.root, snaplen)
	if errors.Is(err, errNotExact) {
		return nil, fmt.Errorf("filter: %q on %s: %w", f.expr, linkName(link), ErrNotExact)
	}
	return prog, err
}

// Tagged reports whether a delivered frame carries a VLAN tag at its
// outer link layer (Ethernet EtherType or SLL2 protocol): the frames a
// KernelProgram with Recheck leaves to user space.
func Tagged(p *capture.Packet) bool {
	var off int
	switch p.LinkType {
	case capture.LinkTypeEthernet:
		off = 12
	case capture.LinkTypeLinuxSLL2:
		off = 0
	default:
		return false
	}
	if len(p.Data) < off+2 {
		return false
	}
	return isTPID(binary.BigEndian.Uint16(p.Data[off:]))
}

// LivePlan says where a Filter runs on a live capture: in the kernel on
// the sockets whose link type has an exact [KernelProgram], in user space
// (a [Source] from [NewLiveSource]) for the rest and for tagged frames a
// program leaves there.
type LivePlan struct {
	f *Filter
	// Ethernet and Cooked are the programs for SOCK_RAW sockets on
	// Ethernet or loopback interfaces and for cooked sockets; nil where
	// the kernel cannot run the expression exactly.
	Ethernet, Cooked *KernelProgram
}

// PlanLive builds the kernel programs of f for both kinds of live socket,
// accepting snaplen bytes.
func (f *Filter) PlanLive(snaplen int) *LivePlan {
	p := &LivePlan{f: f}
	p.Ethernet, _ = f.Kernel(capture.LinkTypeEthernet, snaplen)
	p.Cooked, _ = f.Kernel(capture.LinkTypeLinuxSLL2, snaplen)
	return p
}

// Configure sets lc's Filter and CookedFilter to the plan's programs; a
// socket kind without one gets a program that accepts snaplen bytes of
// every packet, and the user-space Source filters its packets.
func (p *LivePlan) Configure(lc *capture.LiveConfig, snaplen int) {
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	all, _ := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: uint32(snaplen)}})
	lc.Filter, lc.CookedFilter = all, all
	if p.Ethernet != nil {
		lc.Filter = p.Ethernet.Program
	}
	if p.Cooked != nil {
		lc.CookedFilter = p.Cooked.Program
	}
}

// Where describes where the filter runs for sockets of link type link:
// "kernel", "kernel+user(vlan)" (tagged frames rechecked in user space) or
// "user".
func (p *LivePlan) Where(link capture.LinkType) string {
	kp := p.program(link)
	switch {
	case kp == nil:
		return "user"
	case kp.Recheck:
		return "kernel+user(vlan)"
	}
	return "kernel"
}

func (p *LivePlan) program(link capture.LinkType) *KernelProgram {
	switch link {
	case capture.LinkTypeEthernet:
		return p.Ethernet
	case capture.LinkTypeLinuxSLL2:
		return p.Cooked
	}
	return nil
}

// filtered reports whether the kernel has already decided on pk exactly.
func (p *LivePlan) filtered(pk *capture.Packet) bool {
	kp := p.program(pk.LinkType)
	return kp != nil && !(kp.Recheck && Tagged(pk))
}

// NewLiveSource returns a Source over a live capture configured with
// plan: it passes the packets the kernel filtered exactly and matches the
// others in user space.
func NewLiveSource(src capture.Source, plan *LivePlan) *Source {
	return &Source{src: src, f: plan.f, plan: plan}
}
