// Command floor is the performance floor wiretrace is measured against: the
// least a Go program built on gopacket does to reassemble TCP from a pcap.
// It reads the file with pcapgo, decodes Ethernet/IPv4/TCP with a
// DecodingLayerParser and feeds github.com/gopacket/gopacket/reassembly with a
// trivial Stream that counts the bytes it is given.
//
//	go run ./testdata/gen/floor FILE
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/gopacket/gopacket/reassembly"
)

// counter is the trivial stream: it counts reassembled bytes.
type counter struct {
	bytes *int64
}

func (c *counter) Accept(*layers.TCP, gopacket.CaptureInfo, reassembly.TCPFlowDirection, reassembly.Sequence, *bool, reassembly.AssemblerContext) bool {
	return true
}

func (c *counter) ReassembledSG(sg reassembly.ScatterGather, _ reassembly.AssemblerContext) {
	n, _ := sg.Lengths()
	*c.bytes += int64(n)
}

func (c *counter) ReassemblyComplete(reassembly.AssemblerContext) bool { return true }

type factory struct {
	bytes   int64
	streams int
}

func (f *factory) New(_, _ gopacket.Flow, _ *layers.TCP, _ reassembly.AssemblerContext) reassembly.Stream {
	f.streams++
	return &counter{bytes: &f.bytes}
}

type context struct{ ci gopacket.CaptureInfo }

func (c *context) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	var (
		eth  layers.Ethernet
		ip4  layers.IPv4
		tcp  layers.TCP
		dec  []gopacket.LayerType
		ctx  context
		fac  factory
		pkts int
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &tcp)
	parser.IgnoreUnsupported = true
	asm := reassembly.NewAssembler(reassembly.NewStreamPool(&fac))
	last := time.Time{}
	for {
		data, ci, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		pkts++
		if err := parser.DecodeLayers(data, &dec); err != nil {
			continue
		}
		if len(dec) < 3 || dec[2] != layers.LayerTypeTCP {
			continue
		}
		ctx.ci = ci
		asm.AssembleWithContext(ip4.NetworkFlow(), &tcp, &ctx)
		// Close connections idle for two minutes of packet time, as
		// wiretrace does, checked once a second.
		if ci.Timestamp.Sub(last) > time.Second {
			last = ci.Timestamp
			asm.FlushCloseOlderThan(ci.Timestamp.Add(-2 * time.Minute))
		}
	}
	asm.FlushAll()
	fmt.Fprintf(os.Stderr, "floor: packets=%d streams=%d bytes=%d\n", pkts, fac.streams, fac.bytes)
}
