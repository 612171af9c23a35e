package ebpf_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/capture/ebpf"
)

func comm(s string) (c [16]byte) {
	copy(c[:], s)
	return c
}

func TestEventRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   ebpf.Event
	}{
		{"ipv4 send", ebpf.Event{Time: 123456789, PID: 42, TID: 43, Seq: 0xfffffff0, Len: 100, NetNS: 4026531840, Kind: ebpf.KindSend,
			Local: netip.MustParseAddrPort("10.241.7.2:8080"), Remote: netip.MustParseAddrPort("10.241.7.1:50000"), Comm: comm("python3")}},
		{"ipv6 recv", ebpf.Event{PID: 1, TID: 1, Seq: 7, Len: 1, Kind: ebpf.KindRecv,
			Local: netip.MustParseAddrPort("[fd00::2]:6379"), Remote: netip.MustParseAddrPort("[fd00::1]:1"), Comm: comm("redis-server")}},
		{"close", ebpf.Event{Kind: ebpf.KindClose,
			Local: netip.MustParseAddrPort("127.0.0.1:1"), Remote: netip.MustParseAddrPort("127.0.0.1:2")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.in.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var got ebpf.Event
			if err := got.UnmarshalBinary(append(b, 0, 0, 0, 0)); err != nil { // perf pads records
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.in, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventUnmarshalErrors(t *testing.T) {
	good, _ := (&ebpf.Event{Kind: ebpf.KindSend, Local: netip.MustParseAddrPort("127.0.0.1:1"), Remote: netip.MustParseAddrPort("127.0.0.1:2")}).MarshalBinary()
	badKind := append([]byte(nil), good...)
	badKind[30] = 9
	badFamily := append([]byte(nil), good...)
	badFamily[28], badFamily[29] = 7, 0
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ebpf.ErrShortEvent},
		{"short", good[:ebpf.EventSize-1], ebpf.ErrShortEvent},
		{"kind", badKind, ebpf.ErrMalformed},
		{"family", badFamily, ebpf.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e ebpf.Event
			if err := e.UnmarshalBinary(tc.in); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCommString(t *testing.T) {
	for in, want := range map[string]string{"": "", "nginx": "nginx", "0123456789abcdef": "0123456789abcdef"} {
		e := ebpf.Event{Comm: comm(in)}
		if got := e.CommString(); got != want {
			t.Errorf("CommString(%q) = %q", in, got)
		}
	}
}

func TestContainerID(t *testing.T) {
	const id = "3f4e9a1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccdd0"
	for _, tc := range []struct{ name, in, want string }{
		{"none", "0::/user.slice/user-0.slice/session-1.scope\n", ""},
		{"docker v1", "12:pids:/docker/" + id + "\n11:cpu:/docker/" + id + "\n", id},
		{"docker systemd", "0::/system.slice/docker-" + id + ".scope\n", id},
		{"containerd", "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + id + ".scope\n", id},
		{"crio", "0::/kubepods/burstable/pod1/crio-" + id + "\n", id},
		{"libpod", "0::/machine.slice/libpod-" + id + ".scope/container\n", id},
		{"v2 preferred", "1:name=systemd:/docker/" + id[:63] + "1\n0::/docker/" + id + "\n", id},
		{"uppercase is not an id", "0::/docker/" + "3F4E9A1B2C3D4E5F60718293A4B5C6D7E8F90112233445566778899AABBCCDD0" + "\n", ""},
		{"63 hex", "0::/docker/" + id[:63] + "\n", ""},
		{"garbage", "no colons here\n::\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ebpf.ContainerID(tc.in); got != tc.want {
				t.Errorf("ContainerID = %q, want %q", got, tc.want)
			}
		})
	}
}
