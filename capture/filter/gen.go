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
		switch n.src {
		case srcAbs:
			g.emit(bpf.LoadAbsolute{Off: n.off, Size: n.size})
		case srcInd:
			g.emit(bpf.LoadMemShift{Off: n.msh})
			g.emit(bpf.LoadIndirect{Off: n.off, Size: n.size})
		case srcLen:
			g.emit(bpf.LoadExtension{Num: bpf.ExtLen})
		}
		if n.mask != 0 {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: n.mask})
		}
		g.cond(n.cond, n.k, false, t, f)
	case relCode:
		return g.relation(n, t, f)
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
	if g.scratch == 16 {
		return fmt.Errorf("expression too complex: more than 16 scratch memory slots")
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
