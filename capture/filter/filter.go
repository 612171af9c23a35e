package filter

import (
	"encoding/binary"

	"golang.org/x/net/bpf"

	"github.com/wiretrace/wiretrace/capture"
)

// Filter matches packets against one expression. It parses the expression
// once and compiles it lazily for each link type it meets, so one Filter
// serves a replay that mixes link types. A Filter is not safe for
// concurrent use; give each worker its own.
type Filter struct {
	expr  string
	root  node
	link  capture.LinkType
	progs []linkProg // one per link type seen, in first-use order
}

type linkProg struct {
	link capture.LinkType
	prog []bpf.RawInstruction
	err  error
}

// New parses expr and compiles it for link, the link type [Filter.Match]
// assumes. Syntax errors and errors for link are returned here; programs
// for other link types are compiled on first use by [Filter.MatchPacket].
func New(expr string, link capture.LinkType) (*Filter, error) {
	n, err := parse(expr)
	if err != nil {
		return nil, err
	}
	f := &Filter{expr: expr, root: n, link: link}
	if _, err := f.Program(link); err != nil {
		return nil, err
	}
	return f, nil
}

// String returns the expression.
func (f *Filter) String() string { return f.expr }

// Program returns the assembled program for link, compiling it on first
// use. Programs accept with [DefaultSnaplen].
func (f *Filter) Program(link capture.LinkType) ([]bpf.RawInstruction, error) {
	for i := range f.progs {
		if f.progs[i].link == link {
			return f.progs[i].prog, f.progs[i].err
		}
	}
	lp := linkProg{link: link}
	var prog []bpf.Instruction
	if prog, lp.err = compile(f.expr, f.root, link, DefaultSnaplen); lp.err == nil {
		lp.prog, lp.err = bpf.Assemble(prog)
	}
	f.progs = append(f.progs, lp)
	return lp.prog, lp.err
}

// Match reports whether a packet of the link type given to [New] matches.
// data is the captured bytes and wireLen the length on the wire, which
// "len", "greater" and "less" test; like the kernel, a load beyond the
// captured bytes rejects the packet. Match does not allocate.
func (f *Filter) Match(data []byte, wireLen int) bool {
	return run(f.progs[0].prog, data, wireLen) != 0
}

// MatchPacket reports whether p matches, compiling for p.LinkType on first
// use. The error, from compiling for a link type the expression cannot
// express (vlan on Linux cooked capture), is returned for every packet of
// that link type.
func (f *Filter) MatchPacket(p *capture.Packet) (bool, error) {
	prog, err := f.Program(p.LinkType)
	if err != nil {
		return false, err
	}
	return run(prog, p.Data, p.Length) != 0, nil
}

// run executes a classic BPF program as the kernel does (see
// Documentation/networking/filter.rst), returning the accepted length. It
// differs from [bpf.VM] in taking the wire length for "ld #pktlen", which
// matters for truncated captures. Malformed programs return 0.
func run(prog []bpf.RawInstruction, pkt []byte, wireLen int) uint32 {
	var a, x uint32
	var mem [16]uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		k := in.K
		switch in.Op & 0x07 {
		case clsLD, clsLDX:
			var v uint32
			switch mode := in.Op & 0xe0; mode {
			case mdIMM:
				v = k
			case mdLEN:
				v = uint32(wireLen)
			case mdMEM:
				if k >= 16 {
					return 0
				}
				v = mem[k]
			case mdABS, mdIND, mdMSH:
				off := uint64(k)
				if mode == mdIND {
					off += uint64(x)
				}
				var size uint64
				switch in.Op & 0x18 {
				case szW:
					size = 4
				case szH:
					size = 2
				case szB:
					size = 1
				}
				if size == 0 || off+size > uint64(len(pkt)) {
					return 0
				}
				switch size {
				case 4:
					v = binary.BigEndian.Uint32(pkt[off:])
				case 2:
					v = uint32(binary.BigEndian.Uint16(pkt[off:]))
				default:
					v = uint32(pkt[off])
				}
				if mode == mdMSH {
					v = 4 * (v & 0xf)
				}
			default:
				return 0
			}
			if in.Op&0x07 == clsLD {
				a = v
			} else {
				x = v
			}
		case clsST, clsSTX:
			if k >= 16 {
				return 0
			}
			if in.Op&0x07 == clsST {
				mem[k] = a
			} else {
				mem[k] = x
			}
		case clsALU:
			v := k
			if in.Op&0x08 == srcX {
				v = x
			}
			switch in.Op & 0xf0 {
			case 0x00:
				a += v
			case 0x10:
				a -= v
			case 0x20:
				a *= v
			case 0x30:
				if v == 0 {
					return 0
				}
				a /= v
			case 0x90:
				if v == 0 {
					return 0
				}
				a %= v
			case 0x40:
				a |= v
			case 0x50:
				a &= v
			case 0xa0:
				a ^= v
			case 0x60:
				a <<= v
			case 0x70:
				a >>= v
			case 0x80:
				a = -a
			default:
				return 0
			}
		case clsJMP:
			if in.Op&0xf0 == 0x00 {
				pc += int(k)
				continue
			}
			v := k
			if in.Op&0x08 == srcX {
				v = x
			}
			var ok bool
			switch in.Op & 0xf0 {
			case 0x10:
				ok = a == v
			case 0x20:
				ok = a > v
			case 0x30:
				ok = a >= v
			case 0x40:
				ok = a&v != 0
			default:
				return 0
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case clsRET:
			switch in.Op & 0x18 {
			case 0x00:
				return k
			case 0x10:
				return a
			}
			return x
		case clsMISC:
			if in.Op&0xf8 == 0 {
				x = a
			} else {
				a = x
			}
		}
	}
	return 0
}
