package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// gen emits instructions with symbolic jump targets (labels). Every label
// is placed after the jumps to it, so all jumps are forward as classic BPF
// requires; layout resolves them and routes conditional jumps further than
// 255 instructions through a "ja".
type gen struct {
	code    []insn
	labels  int
	scratch int // scratch memory slots in use
}

type insnKind uint8

const (
	kindPlain insnKind = iota // ins
	kindCond                  // if A cond (k or X) goto t else goto f
	kindJump                  // ja t
	kindLabel                 // marks label t
)

type insn struct {
	kind insnKind
	ins  bpf.Instruction
	cond bpf.JumpTest
	k    uint32
	x    bool // compare with X instead of k
	t, f int
}

func (g *gen) label() int { g.labels++; return g.labels - 1 }

func (g *gen) place(l int) { g.code = append(g.code, insn{kind: kindLabel, t: l}) }

func (g *gen) emit(ins bpf.Instruction) { g.code = append(g.code, insn{kind: kindPlain, ins: ins}) }

func (g *gen) jump(l int) { g.code = append(g.code, insn{kind: kindJump, t: l}) }

func (g *gen) cond(c bpf.JumpTest, k uint32, x bool, t, f int) {
	g.code = append(g.code, insn{kind: kindCond, cond: c, k: k, x: x, t: t, f: f})
}

// bool emits code that jumps to t when n holds and to f otherwise.
func (g *gen) bool(n node, t, f int) error {
	switch n := n.(type) {
	case constNode:
		if n {
			g.jump(t)
		} else {
			g.jump(f)
		}
	case andNode:
		m := g.label()
		if err := g.bool(n.l, m, f); err != nil {
			return err
		}
		g.place(m)
		return g.bool(n.r, t, f)
	case orNode:
		m := g.label()
		if err := g.bool(n.l, t, m); err != nil {
			return err
		}
		g.place(m)
		return g.bool(n.r, t, f)
	case notNode:
		return g.bool(n.x, f, t)
	case testNode:
		switch {
		case n.src == srcLen:
			g.emit(bpf.LoadExtension{Num: bpf.ExtLen})
			if n.lenAdd != 0 {
				g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: n.lenAdd})
			}
		case n.src == srcProto:
			g.emit(bpf.LoadExtension{Num: bpf.ExtProto})
		case n.src == srcVLANTag:
			g.emit(bpf.LoadExtension{Num: bpf.ExtVLANTag})

		case n.reg != 0 && n.src == srcAbs:
			g.emit(bpf.LoadScratch{Dst: bpf.RegX, N: n.reg - 1})
			g.emit(bpf.LoadIndirect{Off: n.off, Size: n.size})
		case n.reg != 0:
			g.ipHeaderEnd(n.reg-1, n.msh)
			g.emit(bpf.LoadIndirect{Off: n.off, Size: n.size})
		case n.src == srcAbs:
			g.emit(bpf.LoadAbsolute{Off: n.off, Size: n.size})
		default:
			g.emit(bpf.LoadMemShift{Off: n.msh})
			g.emit(bpf.LoadIndirect{Off: n.off, Size: n.size})
		}
		if n.mask != 0 {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: n.mask})
		}
		g.cond(n.cond, n.k, false, t, f)
	case relCode:
		return g.relation(n, t, f)
	case storeNode:
		g.store(n)
		g.jump(t)
	default:
		return fmt.Errorf("internal error: node %T", n)
	}
	return nil
}

func (g *gen) relation(n relCode, t, f int) error {
	cond, swap := bpf.JumpEqual, false
	switch n.rel.op {
	case "!=":
		swap = true
	case ">":
		cond = bpf.JumpGreaterThan
	case ">=":
		cond = bpf.JumpGreaterOrEqual
	case "<":
		cond, swap = bpf.JumpGreaterOrEqual, true
	case "<=":
		cond, swap = bpf.JumpGreaterThan, true
	}
	if swap {
		t, f = f, t
	}
	if k, ok := n.rel.r.(numArith); ok {
		if err := g.arith(n.c, n.rel.l); err != nil {
			return err
		}
		g.cond(cond, k.v, false, t, f)
		return nil
	}
	if err := g.binary(n.c, n.rel.l, n.rel.r); err != nil {
		return err
	}
	g.cond(cond, 0, true, t, f)
	return nil
}

// binary leaves l in A and r in X, keeping r in scratch memory while l is
// computed.
func (g *gen) binary(c *compiler, l, r arith) error {
	if g.scratch == firstTunnelSlot {
		return fmt.Errorf("expression too complex: more than %d scratch memory slots", firstTunnelSlot)
	}
	slot := g.scratch
	g.scratch++
	defer func() { g.scratch-- }()
	if err := g.arith(c, r); err != nil {
		return err
	}
	g.emit(bpf.StoreScratch{Src: bpf.RegA, N: slot})
	if err := g.arith(c, l); err != nil {
		return err
	}
	g.emit(bpf.LoadScratch{Dst: bpf.RegX, N: slot})
	return nil
}

var aluOps = map[string]bpf.ALUOp{
	"+": bpf.ALUOpAdd, "-": bpf.ALUOpSub, "*": bpf.ALUOpMul, "/": bpf.ALUOpDiv,
	"%": bpf.ALUOpMod, "&": bpf.ALUOpAnd, "|": bpf.ALUOpOr, "^": bpf.ALUOpXor,
	"<<": bpf.ALUOpShiftLeft, ">>": bpf.ALUOpShiftRight,
}

// arith emits code leaving the value of a in A.
func (g *gen) arith(c *compiler, a arith) error {
	switch a := a.(type) {
	case numArith:
		g.emit(bpf.LoadConstant{Dst: bpf.RegA, Val: a.v})
	case lenArith:
		g.emit(bpf.LoadExtension{Num: bpf.ExtLen})
		if n := c.lenAdd(); n != 0 {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: n})
		}
	case negArith:
		if err := g.arith(c, a.x); err != nil {
			return err
		}
		g.emit(bpf.NegateA{})
	case binArith:
		op := aluOps[a.op]
		if k, ok := a.r.(numArith); ok {
			if err := g.arith(c, a.l); err != nil {
				return err
			}
			g.emit(bpf.ALUOpConstant{Op: op, Val: k.v})
			return nil
		}
		if err := g.binary(c, a.l, a.r); err != nil {
			return err
		}
		g.emit(bpf.ALUOpX{Op: op})
	case loadArith:
		if a.tun > 0 {
			return g.tunnelLoad(c, a)
		}
		nl := c.nl(a.vlans)
		base, transport := nl, false
		switch a.proto {
		case "ether", "link":
			base = 0
		case "tcp", "udp", "sctp", "icmp", "igmp":
			transport = true
		case "icmp6":
			base = nl + 40
		}
		if k, ok := a.idx.(numArith); ok {
			if transport {
				g.emit(bpf.LoadMemShift{Off: nl})
				g.emit(bpf.LoadIndirect{Off: base + k.v, Size: a.size})
			} else {
				g.emit(bpf.LoadAbsolute{Off: base + k.v, Size: a.size})
			}
			return nil
		}
		if err := g.arith(c, a.idx); err != nil {
			return err
		}
		if transport {
			g.emit(bpf.LoadMemShift{Off: nl})
			g.emit(bpf.ALUOpX{Op: bpf.ALUOpAdd})
		}
		g.emit(bpf.TAX{})
		g.emit(bpf.LoadIndirect{Off: base, Size: a.size})
	default:
		return fmt.Errorf("internal error: arith %T", a)
	}
	return nil
}

// ipHeaderEnd leaves in X the offset of the end of an IPv4 header whose
// start is M[slot] + msh: X = M[slot] + 4*(P[M[slot]+msh] & 0xf). Loads at
// X + msh + k then reach the transport header's byte k.
func (g *gen) ipHeaderEnd(slot int, msh uint32) {
	g.emit(bpf.LoadScratch{Dst: bpf.RegX, N: slot})
	g.emit(bpf.LoadIndirect{Off: msh, Size: 1})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	g.emit(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	g.emit(bpf.TAX{})
}

// tunnelLoad emits proto[idx:size] for a load inside a tunnel: relative to
// the inner link header (ether, link), network header (ip, ip6, arp, rarp,
// icmp6) or, past the IPv4 header, transport header.
func (g *gen) tunnelLoad(c *compiler, a loadArith) error {
	v := 4 * uint32(a.vlans)
	slot, off, transport := nlSlot(a.tun), v, false
	switch a.proto {
	case "ether", "link":
		slot, off = linkSlot(a.tun), 0
	case "tcp", "udp", "sctp", "icmp", "igmp":
		transport = true
	case "icmp6":
		off = v + 40
	}
	base := func() {
		if transport {
			g.ipHeaderEnd(slot, v)
		} else {
			g.emit(bpf.LoadScratch{Dst: bpf.RegX, N: slot})
		}
	}
	if k, ok := a.idx.(numArith); ok {
		base()
		g.emit(bpf.LoadIndirect{Off: off + k.v, Size: a.size})
		return nil
	}
	if g.scratch == firstTunnelSlot {
		return fmt.Errorf("expression too complex: more than %d scratch memory slots", firstTunnelSlot)
	}
	tmp := g.scratch
	g.scratch++
	defer func() { g.scratch-- }()
	if err := g.arith(c, a.idx); err != nil {
		return err
	}
	g.emit(bpf.StoreScratch{Src: bpf.RegA, N: tmp})
	base()
	g.emit(bpf.LoadScratch{Dst: bpf.RegA, N: tmp})
	g.emit(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	g.emit(bpf.TAX{})
	g.emit(bpf.LoadIndirect{Off: off, Size: a.size})
	return nil
}

// store emits a storeNode: A = the offset of the UDP payload (the VXLAN
// or Geneve header), then the inner offsets into the next level's slots.
func (g *gen) store(n storeNode) {
	switch {
	case n.from == 0 && !n.v6:
		g.emit(bpf.LoadMemShift{Off: n.nl})
		g.emit(bpf.TXA{})
		g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: n.nl + 8})
	case n.from == 0:
		g.emit(bpf.LoadConstant{Dst: bpf.RegA, Val: n.nl + 48})
	case !n.v6:
		g.ipHeaderEnd(nlSlot(n.from), n.nl)
		g.emit(bpf.TXA{})
		g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: n.nl + 8})
	default:
		g.emit(bpf.LoadScratch{Dst: bpf.RegA, N: nlSlot(n.from)})
		g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: n.nl + 48})
	}
	to := n.from + 1
	if n.vxlan {
		// An 8-byte header, then Ethernet.
		g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 8})
		g.emit(bpf.StoreScratch{Src: bpf.RegA, N: linkSlot(to)})
		g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 14})
		g.emit(bpf.StoreScratch{Src: bpf.RegA, N: nlSlot(to)})
		return
	}
	// Geneve: 8 bytes and 4*OptLen of options, then what the protocol
	// type names: Ethernet (0x6558), or a network header whose EtherType
	// is the protocol field itself, at X+2 (so the link base is X-10).
	g.emit(bpf.TAX{})
	g.emit(bpf.LoadIndirect{Off: 0, Size: 1})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x3f})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	g.emit(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 8})
	g.emit(bpf.StoreScratch{Src: bpf.RegA, N: nlSlot(to)})
	g.emit(bpf.LoadIndirect{Off: 2, Size: 2})
	eth, other, done := g.label(), g.label(), g.label()
	g.cond(bpf.JumpEqual, 0x6558, false, eth, other)
	g.place(eth)
	g.emit(bpf.LoadScratch{Dst: bpf.RegA, N: nlSlot(to)})
	g.emit(bpf.StoreScratch{Src: bpf.RegA, N: linkSlot(to)})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 14})
	g.emit(bpf.StoreScratch{Src: bpf.RegA, N: nlSlot(to)})
	g.jump(done)
	g.place(other)
	g.emit(bpf.TXA{})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpSub, Val: 10})
	g.emit(bpf.StoreScratch{Src: bpf.RegA, N: linkSlot(to)})
	g.place(done)
}

// layout resolves labels into skips. It drops jumps to the next
// instruction, then repeatedly replaces conditional jumps whose skip does
// not fit in 8 bits by a jump to a pair of "ja" that follow it.
func (g *gen) layout() []bpf.Instruction {
	code := g.code[:0:0]
	for i, in := range g.code {
		if in.kind == kindJump && g.labelFollows(i, in.t) {
			continue
		}
		code = append(code, in)
	}
	pos := make([]int, g.labels)
	for {
		n := 0
		for _, in := range code {
			if in.kind == kindLabel {
				pos[in.t] = n
			} else {
				n++
			}
		}
		var out []insn
		n = 0
		for _, in := range code {
			if in.kind == kindLabel {
				out = append(out, in)
				continue
			}
			if in.kind == kindCond && (pos[in.t]-n-1 > 255 || pos[in.f]-n-1 > 255) {
				lt, lf := g.label(), g.label()
				pos = append(pos, 0, 0)
				out = append(out,
					insn{kind: kindCond, cond: in.cond, k: in.k, x: in.x, t: lt, f: lf},
					insn{kind: kindLabel, t: lt}, insn{kind: kindJump, t: in.t},
					insn{kind: kindLabel, t: lf}, insn{kind: kindJump, t: in.f})
			} else {
				out = append(out, in)
			}
			n++
		}
		if len(out) == len(code) {
			break
		}
		code = out
	}
	var prog []bpf.Instruction
	for _, in := range code {
		n := len(prog)
		switch in.kind {
		case kindPlain:
			prog = append(prog, in.ins)
		case kindJump:
			prog = append(prog, bpf.Jump{Skip: uint32(pos[in.t] - n - 1)})
		case kindCond:
			st, sf := uint8(pos[in.t]-n-1), uint8(pos[in.f]-n-1)
			if in.x {
				prog = append(prog, bpf.JumpIfX{Cond: in.cond, SkipTrue: st, SkipFalse: sf})
			} else {
				prog = append(prog, bpf.JumpIf{Cond: in.cond, Val: in.k, SkipTrue: st, SkipFalse: sf})
			}
		}
	}
	return prog
}

// labelFollows reports whether label l is placed right after code[i], with
// only labels in between.
func (g *gen) labelFollows(i, l int) bool {
	for _, in := range g.code[i+1:] {
		if in.kind != kindLabel {
			return false
		}
		if in.t == l {
			return true
		}
	}
	return false
}
