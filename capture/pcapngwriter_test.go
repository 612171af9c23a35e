package capture_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wiretrace/wiretrace/capture"
)

func TestPcapngWriterRoundTrip(t *testing.T) {
	in := []capture.Packet{
		{Timestamp: 1700000000123456789, Data: []byte{1, 2, 3, 4, 5}, Length: 5, LinkType: capture.LinkTypeEthernet, Interface: 1, Capture: "eth1", Direction: capture.DirectionInbound},
		{Timestamp: 1700000000123456790, Data: []byte{6, 7, 8}, Length: 1500, LinkType: capture.LinkTypeLinuxSLL2, Interface: 0, Capture: "any", Direction: capture.DirectionOutbound},
		{Timestamp: 1700000000123456791, Data: []byte{9, 10, 11, 12}, Length: 4, LinkType: capture.LinkTypeEthernet, Interface: 1, Capture: "eth1"},
	}
	var buf bytes.Buffer
	w, err := capture.NewPcapngWriter(&buf, 65535)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if err := w.WritePacket(&in[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := capture.NewReader(&buf, "x.pcapng", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []capture.Packet
	for {
		var p capture.Packet
		err := r.ReadPacket(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Data = append([]byte(nil), p.Data...)
		got = append(got, p)
	}
	// The file numbers interfaces in order of first use; names become the
	// file's.
	want := []capture.Packet{in[0], in[1], in[2]}
	want[0].Interface, want[1].Interface, want[2].Interface = 0, 1, 0
	for i := range want {
		want[i].Capture = "x.pcapng"
		want[i].Number = int64(i + 1)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestPcapngWriterAllocs(t *testing.T) {
	w, _ := capture.NewPcapngWriter(io.Discard, 65535)
	p := capture.Packet{Data: make([]byte, 100), Length: 100, LinkType: capture.LinkTypeEthernet, Capture: "eth0", Direction: capture.DirectionInbound}
	w.WritePacket(&p)
	if n := testing.AllocsPerRun(100, func() { w.WritePacket(&p) }); n != 0 {
		t.Errorf("WritePacket allocates %v times per packet", n)
	}
}
