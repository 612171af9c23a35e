package filter

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/bpf"
)

// Disassemble prints prog one instruction a line the way "tcpdump -d"
// does (libpcap bpf_image), e.g. "(000) ldh      [12]". An instruction
// that does not assemble is printed as its Go value.
func Disassemble(prog []bpf.Instruction) string {
	var b strings.Builder
	for i, in := range prog {
		raw, err := in.Assemble()
		if err != nil {
			fmt.Fprintf(&b, "(%03d) %v\n", i, in)
			continue
		}
		b.WriteString(image(raw, i))
		b.WriteByte('\n')
	}
	return b.String()
}

// DisassembleRaw is [Disassemble] for assembled programs.
func DisassembleRaw(prog []bpf.RawInstruction) string {
	var b strings.Builder
	for i, raw := range prog {
		b.WriteString(image(raw, i))
		b.WriteByte('\n')
	}
	return b.String()
}

// Ddd prints prog the way "tcpdump -ddd" does: the instruction count, then
// "code jt jf k" in decimal, one instruction a line.
func Ddd(prog []bpf.RawInstruction) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", len(prog))
	for _, r := range prog {
		fmt.Fprintf(&b, "%d %d %d %d\n", r.Op, r.Jt, r.Jf, r.K)
	}
	return b.String()
}

// Classic BPF opcode fields (linux/bpf_common.h).
const (
	clsLD, clsLDX, clsST, clsSTX, clsALU, clsJMP, clsRET, clsMISC = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07

	szW, szH, szB = 0x00, 0x08, 0x10

	mdIMM, mdABS, mdIND, mdMEM, mdLEN, mdMSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xa0

	srcK, srcX = 0x00, 0x08
)

var (
	aluNames = map[uint16]string{0x00: "add", 0x10: "sub", 0x20: "mul", 0x30: "div", 0x40: "or", 0x50: "and", 0x60: "lsh", 0x70: "rsh", 0x80: "neg", 0x90: "mod", 0xa0: "xor"}
	jmpNames = map[uint16]string{0x00: "ja", 0x10: "jeq", 0x20: "jgt", 0x30: "jge", 0x40: "jset"}
	sizeName = map[uint16]string{szW: "", szH: "h", szB: "b"}
)

// image formats one instruction like libpcap's bpf_image.
func image(r bpf.RawInstruction, n int) string {
	op, operand := "unimp", fmt.Sprintf("0x%x", r.Op)
	k := r.K
	switch r.Op & 0x07 {
	case clsLD, clsLDX:
		name := "ld"
		if r.Op&0x07 == clsLDX {
			name = "ldx"
		}
		size, mode := r.Op&0x18, r.Op&0xe0
		switch {
		case mode == mdIMM && size == szW:
			op, operand = name, fmt.Sprintf("#0x%x", k)
		case mode == mdLEN && size == szW:
			op, operand = name, "#pktlen"
		case mode == mdMEM && size == szW:
			op, operand = name, fmt.Sprintf("M[%d]", k)
		case mode == mdABS && name == "ld" && size != 0x18:
			if k >= 0xfffff000 && size == szW {
				op, operand = "ld", extName(k)
				break
			}
			op, operand = name+sizeName[size], fmt.Sprintf("[%d]", k)
		case mode == mdIND && name == "ld" && size != 0x18:
			op, operand = name+sizeName[size], fmt.Sprintf("[x + %d]", k)
		case mode == mdMSH && name == "ldx" && size == szB:
			op, operand = "ldxb", fmt.Sprintf("4*([%d]&0xf)", k)
		}
	case clsST:
		op, operand = "st", fmt.Sprintf("M[%d]", k)
	case clsSTX:
		op, operand = "stx", fmt.Sprintf("M[%d]", k)
	case clsALU:
		if name, ok := aluNames[r.Op&0xf0]; ok {
			op = name
			switch {
			case name == "neg":
				operand = ""
			case r.Op&0x08 == srcX:
				operand = "x"
			case name == "and" || name == "or" || name == "xor":
				operand = fmt.Sprintf("#0x%x", k)
			default:
				operand = fmt.Sprintf("#%d", k)
			}
		}
	case clsJMP:
		name, ok := jmpNames[r.Op&0xf0]
		if !ok {
			break
		}
		if name == "ja" {
			return fmt.Sprintf("(%03d) %-8s %d", n, name, n+1+int(k))
		}
		operand = fmt.Sprintf("#0x%x", k)
		if r.Op&0x08 == srcX {
			operand = "x"
		}
		return fmt.Sprintf("(%03d) %-8s %-16s jt %d\tjf %d", n, name, operand, n+1+int(r.Jt), n+1+int(r.Jf))
	case clsRET:
		op = "ret"
		switch r.Op & 0x18 {
		case 0x00:
			operand = fmt.Sprintf("#%d", k)
		case 0x10:
			operand = "a"
		case 0x08:
			operand = "x"
		}
	case clsMISC:
		switch r.Op & 0xf8 {
		case 0x00:
			op, operand = "tax", ""
		case 0x80:
			op, operand = "txa", ""
		}
	}
	return fmt.Sprintf("(%03d) %-8s %s", n, op, operand)
}

// extName names the Linux ancillary loads (SKF_AD_OFF + n).
func extName(k uint32) string {
	names := map[uint32]string{0: "#proto", 4: "#type", 8: "#ifidx", 12: "#nla", 16: "#nlattr", 20: "#mark", 24: "#queue", 28: "#hatype", 32: "#rxhash", 36: "#cpu", 40: "#vlan_tci", 44: "#vlanp", 48: "#poff", 52: "#random", 56: "#vlan_tpid"}
	if s, ok := names[k-0xfffff000]; ok {
		return s
	}
	return fmt.Sprintf("[%d]", k)
}

// ParseDdd parses a program printed by "tcpdump -ddd": the instruction
// count on the first line, then one "code jt jf k" line (decimal) per
// instruction. Blank lines are ignored.
func ParseDdd(text string) ([]bpf.RawInstruction, error) {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		// Blank lines and '#' comments (a file may note the command that
		// made it) are skipped.
		if l = strings.TrimSpace(l); l != "" && l[0] != '#' {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("filter: ddd: empty program: %w", ErrSyntax)
	}
	n, err := strconv.Atoi(lines[0])
	if err != nil || n <= 0 || n > maxInsns {
		return nil, fmt.Errorf("filter: ddd: line 1: bad instruction count %q: %w", lines[0], ErrSyntax)
	}
	if len(lines)-1 != n {
		return nil, fmt.Errorf("filter: ddd: count says %d instructions, found %d: %w", n, len(lines)-1, ErrSyntax)
	}
	prog := make([]bpf.RawInstruction, n)
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("filter: ddd: line %d: want \"code jt jf k\", got %q: %w", i+2, l, ErrSyntax)
		}
		var v [4]uint64
		bits := [4]int{16, 8, 8, 32}
		for j := range f {
			if v[j], err = strconv.ParseUint(f[j], 10, bits[j]); err != nil {
				return nil, fmt.Errorf("filter: ddd: line %d: bad field %q: %w", i+2, f[j], ErrSyntax)
			}
		}
		prog[i] = bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])}
	}
	return prog, nil
}
