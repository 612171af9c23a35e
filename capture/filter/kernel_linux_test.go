package filter_test

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/capture/filter"
)

// TestKernelAccepts attaches every compiled program to an unprivileged UDP
// socket with SO_ATTACH_FILTER: the kernel's verifier is the judge of
// valid classic BPF.
func TestKernelAccepts(t *testing.T) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Skipf("no UDP socket on 127.0.0.1: %v", err)
	}
	defer conn.Close()
	pc := ipv4.NewPacketConn(conn)
	links := []capture.LinkType{capture.LinkTypeEthernet, capture.LinkTypeLinuxSLL, capture.LinkTypeLinuxSLL2,
		capture.LinkTypeRaw, capture.LinkTypeIPv4, capture.LinkTypeIPv6, capture.LinkTypeNull, capture.LinkTypeLoop}
	n := 0
	for _, link := range links {
		for _, expr := range append(append(append([]string{}, diffExprs...), tunnelExprs...), vxlanExprs()...) {
			prog, err := filter.Compile(expr, link, 0)
			if err != nil {
				continue // vlan or ether on a link without them
			}
			raw, err := bpf.Assemble(prog)
			if err != nil {
				t.Fatalf("%s %q: Assemble: %v", linkName(link), expr, err)
			}
			if err := pc.SetBPF(raw); err != nil {
				if errors.Is(err, syscall.EPERM) || errors.Is(err, os.ErrPermission) {
					t.Skipf("SO_ATTACH_FILTER refused for lack of privilege: %v", err)
				}
				t.Errorf("%s %q: kernel rejects the program: %v\n%s", linkName(link), expr, err, filter.Disassemble(prog))
			}
			n++
			if link != capture.LinkTypeEthernet && link != capture.LinkTypeLinuxSLL2 {
				continue
			}
			f, err := filter.New(expr, link)
			if err != nil {
				t.Fatal(err)
			}
			kp, err := f.Kernel(link, 0)
			if errors.Is(err, filter.ErrNotExact) {
				continue
			}
			if err != nil {
				t.Fatalf("%s %q: Kernel: %v", linkName(link), expr, err)
			}
			if err := pc.SetBPF(kp.Program); err != nil {
				t.Errorf("%s %q: kernel rejects the kernel program: %v", linkName(link), expr, err)
			}
			n++
		}
	}
	t.Logf("kernel accepted %d programs", n)
}
