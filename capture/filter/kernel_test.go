package filter_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"golang.org/x/net/bpf"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
)

func TestKernelProgram(t *testing.T) {
	for _, tc := range []struct {
		name        string
		expr        string
		link        capture.LinkType
		wantRecheck bool
		wantErr     error
	}{
		{"ethernet port", "udp port 53", capture.LinkTypeEthernet, false, nil},
		{"ethernet vlan", "vlan 7 and tcp", capture.LinkTypeEthernet, false, nil},
		{"ethernet len", "greater 100", capture.LinkTypeEthernet, false, nil},
		{"ethernet link relation", "ether[12:2] = 0x800", capture.LinkTypeEthernet, true, nil},
		{"ethernet TPID", "ether proto 0x8100", capture.LinkTypeEthernet, true, nil},
		{"ethernet qinq", "vlan 8 and vlan 7 and udp port 53", capture.LinkTypeEthernet, false, nil},
		{"cooked port", "tcp port 80", capture.LinkTypeLinuxSLL2, false, nil},
		{"cooked len", "len > 100", capture.LinkTypeLinuxSLL2, false, nil},
		{"cooked link relation", "link[0] = 0", capture.LinkTypeLinuxSLL2, false, filter.ErrNotExact},
		{"raw ip", "tcp", capture.LinkTypeRaw, false, filter.ErrNotExact},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := filter.New(tc.expr, tc.link)
			if err != nil {
				t.Fatal(err)
			}
			kp, err := f.Kernel(tc.link, 96)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Kernel(%q) error %v, want %v", tc.expr, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if kp.Recheck != tc.wantRecheck {
				t.Errorf("Recheck %v, want %v", kp.Recheck, tc.wantRecheck)
			}
			prog := make([]bpf.Instruction, len(kp.Program))
			for i, r := range kp.Program {
				prog[i] = r.Disassemble()
			}
			// ld #vlan_avail first; every accept returns the snaplen.
			if prog[0] != (bpf.LoadExtension{Num: bpf.ExtVLANTagPresent}) {
				t.Errorf("first instruction %v, want ld #vlan_avail", prog[0])
			}
			for _, in := range prog {
				if r, ok := in.(bpf.RetConstant); ok && r.Val != 0 && r.Val != 96 {
					t.Errorf("ret #%d, want 0 or 96", r.Val)
				}
				// SKF_AD_VLAN_TPID is Linux 3.19+; older kernels
				// would reject every tagged frame.
				if in == (bpf.LoadExtension{Num: bpf.ExtVLANProto}) {
					t.Errorf("program loads SKF_AD_VLAN_TPID")
				}
			}
		})
	}
}

func TestTagged(t *testing.T) {
	eth := func(et uint16) []byte {
		b := make([]byte, 18)
		b[12], b[13] = byte(et>>8), byte(et)
		return b
	}
	for _, tc := range []struct {
		name string
		p    capture.Packet
		want bool
	}{
		{"ethernet 802.1Q", capture.Packet{LinkType: capture.LinkTypeEthernet, Data: eth(0x8100)}, true},
		{"ethernet 802.1ad", capture.Packet{LinkType: capture.LinkTypeEthernet, Data: eth(0x88a8)}, true},
		{"ethernet IPv4", capture.Packet{LinkType: capture.LinkTypeEthernet, Data: eth(0x0800)}, false},
		{"ethernet short", capture.Packet{LinkType: capture.LinkTypeEthernet, Data: make([]byte, 13)}, false},
		{"sll2 802.1Q", capture.Packet{LinkType: capture.LinkTypeLinuxSLL2, Data: []byte{0x81, 0, 0, 0}}, true},
		{"raw", capture.Packet{LinkType: capture.LinkTypeRaw, Data: eth(0x8100)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := filter.Tagged(&tc.p); got != tc.want {
				t.Errorf("Tagged = %v, want %v", got, tc.want)
			}
		})
	}
}

// sliceSource returns its packets, then io.EOF.
type sliceSource struct{ pkts []capture.Packet }

func (s *sliceSource) ReadPacket(p *capture.Packet) error {
	if len(s.pkts) == 0 {
		return io.EOF
	}
	*p, s.pkts = s.pkts[0], s.pkts[1:]
	return nil
}

func (s *sliceSource) Close() error { return nil }

func TestLivePlan(t *testing.T) {
	f, err := filter.New("ether[12:2] = 0x800", capture.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	plan := f.PlanLive(0)
	for link, want := range map[capture.LinkType]string{
		capture.LinkTypeEthernet: "kernel+user(vlan)", capture.LinkTypeLinuxSLL2: "user",
	} {
		if got := plan.Where(link); got != want {
			t.Errorf("Where(%d) = %q, want %q", link, got, want)
		}
	}
	var lc capture.LiveConfig
	plan.Configure(&lc, 128)
	if len(lc.Filter) < 3 || len(lc.CookedFilter) != 1 {
		t.Errorf("Configure: Filter %d instructions, CookedFilter %d; want the kernel program and accept-all", len(lc.Filter), len(lc.CookedFilter))
	}
	eth := func(et uint16) []byte {
		b := make([]byte, 60)
		b[12], b[13] = byte(et>>8), byte(et)
		return b
	}
	sll2 := make([]byte, 40)
	sll2[0] = 0x08 // IPv4: the expression's ether[12:2] is not 0x800 there
	src := &sliceSource{pkts: []capture.Packet{
		{Number: 1, LinkType: capture.LinkTypeEthernet, Data: eth(0x86dd)}, // the kernel decided: passed
		{Number: 2, LinkType: capture.LinkTypeEthernet, Data: eth(0x8100)}, // tagged: rechecked, rejected
		{Number: 3, LinkType: capture.LinkTypeLinuxSLL2, Data: sll2},       // user space: rejected
		{Number: 4, LinkType: capture.LinkTypeEthernet, Data: eth(0x0800)}, // passed
	}}
	s := filter.NewLiveSource(src, plan)
	var got []int64
	for {
		var p capture.Packet
		if err := s.ReadPacket(&p); err != nil {
			break
		}
		got = append(got, p.Number)
	}
	if fmt.Sprint(got) != "[1 4]" || s.Rejected != 2 {
		t.Errorf("passed %v, rejected %d; want [1 4] and 2", got, s.Rejected)
	}
}
