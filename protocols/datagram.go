package protocols

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/decode"
)

// Defaults for UDP flows.
const (
	defaultDatagramIdle  = 30 * time.Second
	defaultDatagramFlows = 1 << 16
	// maxDatagramSniffs is how many datagrams of a flow are sniffed before
	// it is declared unrecognised: a first datagram that is junk (or cut
	// by the snapshot length) does not cost the flow.
	maxDatagramSniffs = 8
)

// datagramFlowBit marks flow ids of UDP flows, keeping them apart from the
// TCP connection ids that decode assigns.
const datagramFlowBit = 1 << 63

// udpKey identifies a UDP flow: its two ends in a fixed order, in one
// tunnel network (decode.Tunnel.Network), at one capture point.
type udpKey struct {
	lo, hi  netip.AddrPort
	network uint64
	capture string
}

type udpFlow struct {
	id     uint64
	proto  *Protocol
	parser Parser
	flow   Flow
	last   int64
	sniffs int  // datagrams sniffed without recognising the protocol
	dead   bool // declared unrecognised
}

// Datagram handles one UDP packet: the datagrams of a flow are sniffed
// until one is recognised (at most maxDatagramSniffs), then every datagram
// is parsed whole. A parse error drops that datagram only (counted in
// ParseErrors): datagrams are framed independently, so the flow goes on. A
// message made of a datagram cut by the snapshot length is marked Partial.
func (d *Driver) Datagram(p *decode.Packet) {
	if p.Proto != decode.ProtoUDP {
		return
	}
	d.advanceDatagrams(p.Timestamp)
	src := netip.AddrPortFrom(p.Src, p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst, p.DstPort)
	k := udpKey{lo: src, hi: dst, network: p.Tunnel.Network(), capture: p.Capture}
	if k.hi.Compare(k.lo) < 0 {
		k.lo, k.hi = k.hi, k.lo
	}
	f := d.udp[k]
	if f == nil {
		if len(d.udp) >= d.cfg.MaxDatagramFlows {
			d.stats.DatagramFlowsDropped++
			return
		}
		d.udpSeq++
		f = &udpFlow{id: datagramFlowBit | d.udpSeq}
		d.udp[k] = f
		d.stats.Flows++
	}
	f.last = p.Timestamp
	if f.proto == nil && !f.dead && len(p.Payload) > 0 {
		d.startDatagram(f, p, src, dst)
	}
	if f.proto == nil || len(p.Payload) == 0 {
		d.stats.BytesUnparsed += uint64(len(p.Payload))
		return
	}
	dir := ToClient
	if src == f.flow.Client {
		dir = ToServer
	}
	data := p.Payload
	for guard := 0; len(data) > 0 && guard < 1024; guard++ {
		m := &d.msg
		m.Reset()
		n, done, err := f.parser.Parse(dir, data, m)
		if err != nil || n < 0 || n > len(data) || (n == 0 && !done) {
			d.stats.ParseErrors++
			d.countParseError(f.proto.Name)
			d.stats.BytesUnparsed += uint64(len(data))
			return
		}
		data = data[n:]
		if done {
			if p.Missing > 0 {
				// The datagram was cut (snapshot length): whatever
				// the parser made of it lacks its end.
				m.Partial = true
			}
			m.Start, m.End = p.Timestamp, p.Timestamp
			m.Outbound = p.Direction == capture.DirectionOutbound
			m.Inbound = p.Direction == capture.DirectionInbound
			d.stats.Messages++
			d.h.Message(&f.flow, m)
		}
	}
	if p.Missing > 0 {
		f.parser.Gap(dir, p.Missing)
		d.stats.GapBytes += uint64(p.Missing)
	}
}

func (d *Driver) startDatagram(f *udpFlow, p *decode.Packet, src, dst netip.AddrPort) {
	var proto *Protocol
	var pd Direction
	if name, ok := d.cfg.PortProtocols[dst.Port()]; ok {
		proto, pd = d.cfg.Registry.Lookup(name), ToServer
	} else if name, ok := d.cfg.PortProtocols[src.Port()]; ok {
		proto, pd = d.cfg.Registry.Lookup(name), ToClient
	}
	if proto != nil && proto.NewDatagram != nil && proto.SniffDatagram != nil {
		if sd := proto.SniffDatagram(p.Payload); sd != DirUnknown {
			pd = sd
		}
	} else if proto == nil || proto.NewDatagram == nil {
		proto, pd = d.cfg.Registry.SniffDatagram(p.Payload, src.Port(), dst.Port())
	}
	if proto == nil || proto.NewDatagram == nil {
		if f.sniffs++; f.sniffs >= maxDatagramSniffs {
			f.dead = true
			d.stats.FlowsUnrecognised++
		}
		return
	}
	f.proto, f.parser = proto, proto.NewDatagram(d.cfg.Parser)
	f.flow = Flow{ID: f.id, Capture: p.Capture, Protocol: proto.Name, IDLink: proto.IDLink, Client: src, Server: dst, Tunnel: p.Tunnel, Datagram: true}
	if pd == ToClient {
		f.flow.Client, f.flow.Server = dst, src
		f.flow.Tunnel = p.Tunnel.Reverse()
	}
	d.stats.FlowsRecognised++
}

// advanceDatagrams ends UDP flows idle for DatagramIdle, at most once per
// second of packet time.
func (d *Driver) advanceDatagrams(now int64) {
	if now <= d.udpNow {
		return
	}
	d.udpNow = now
	if now-d.udpScanned < int64(time.Second) {
		return
	}
	d.udpScanned = now
	idle := int64(d.cfg.DatagramIdle)
	var ended []*udpFlow
	for k, f := range d.udp {
		if now-f.last >= idle {
			ended = append(ended, f)
			delete(d.udp, k)
		}
	}
	d.endDatagrams(ended, now)
}

// Advance moves packet time to now, ending idle UDP flows. TCP flows end
// through the Assembler.
func (d *Driver) Advance(now int64) { d.advanceDatagrams(now) }

// Flush ends every UDP flow; call it at the end of the input.
func (d *Driver) Flush() {
	ended := make([]*udpFlow, 0, len(d.udp))
	for k, f := range d.udp {
		ended = append(ended, f)
		delete(d.udp, k)
	}
	d.endDatagrams(ended, d.udpNow)
}

// endDatagrams reports the end of flows in id order, so output does not
// depend on map order.
func (d *Driver) endDatagrams(fs []*udpFlow, ts int64) {
	slices.SortFunc(fs, func(a, b *udpFlow) int { return cmp.Compare(a.id, b.id) })
	for _, f := range fs {
		switch {
		case f.proto != nil:
			d.h.FlowEnd(&f.flow, ts)
		case !f.dead && f.sniffs > 0:
			d.stats.FlowsUnrecognised++
		}
	}
}
