package ebpf_test

import (
	"fmt"
	"net/netip"

	"github.com/wiretrace/wiretrace/capture/ebpf"
)

// An Index answers which thread wrote the request that starts at a given
// TCP sequence number, from the records of the BPF programs.
func ExampleIndex() {
	app := netip.MustParseAddrPort("10.241.7.2:40312")
	db := netip.MustParseAddrPort("10.241.7.3:6379")
	x := ebpf.NewIndex(0, 0)
	e := ebpf.Event{Kind: ebpf.KindSend, PID: 4242, TID: 4250, Local: app, Remote: db, Seq: 1000, Len: 27}
	copy(e.Comm[:], "python3")
	x.Add(&e)
	if h, _, ok := x.Lookup(app, db, 1000, true); ok {
		fmt.Println(h.PID, h.TID, h.CommString())
	}
	// Output: 4242 4250 python3
}

func ExampleContainerID() {
	fmt.Println(ebpf.ContainerID("0::/system.slice/docker-3f4e9a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0.scope\n"))
	// Output: 3f4e9a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0
}
