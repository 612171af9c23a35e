package wiretrace_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/jsonl"
	"github.com/wiretrace/wiretrace/protocols"
)

// printSink is a correlate.Sink that prints each span's name, indented
// by its depth in the trace.
type printSink struct{}

func (printSink) WriteTrace(t *correlate.Trace) error {
	for _, s := range t.Spans {
		depth := 0
		for p := s.Parent; p != nil; p = p.Parent {
			depth++
		}
		fmt.Printf("%*s%s %s %s\n", 2*depth, "", s.Protocol, s.Name, s.Status)
	}
	return nil
}

func (printSink) Close() error { return nil }

// Replay a capture file and print the spans of its traces.
func Example() {
	src, err := capture.OpenFile("testdata/demo.pcap", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	p, err := wiretrace.New(nil, printSink{})
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Run(context.Background(), src); err != nil {
		log.Fatal(err)
	}
	if err := p.Close(); err != nil {
		log.Fatal(err)
	}
	st := p.Stats()
	fmt.Println("spans:", st.Correlate.Spans, "traces:", st.Correlate.Traces)
	// Output:
	// http GET /api/orders/42 ok
	//   http GET /api/orders/42 ok
	//     http GET /inventory/42 ok
	// http POST /api/checkout ok
	//   http POST /api/checkout ok
	//     http POST /inventory/widget-7/reserve ok
	// http GET /api/fail error
	//   http GET /api/fail error
	//     http GET /inventory/fail error
	// spans: 9 traces: 3
}

// Write traces as JSON lines, with a request-id header of the site's own.
func ExampleNew() {
	cfg := &wiretrace.Config{}
	cfg.Parser.XRequestIDHeaders = []string{"X-Request-Id", "X-Correlation-Id"}
	p, err := wiretrace.New(cfg, jsonl.New(os.Stdout))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	// Feed packets with p.Run or p.Packet here.
}

// frames builds a TCP connection from 10.0.0.1 to 10.0.0.2:port carrying
// one request and one response, as Ethernet frames.
func frames(port uint16, req, resp string) [][]byte {
	cli := net.IPv4(10, 0, 0, 1)
	srv := net.IPv4(10, 0, 0, 2)
	var out [][]byte
	cseq, sseq := uint32(1000), uint32(5000)
	add := func(toServer, syn, ack bool, payload string) {
		eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: cli, DstIP: srv}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: layers.TCPPort(port), Seq: cseq, Ack: sseq, SYN: syn, ACK: ack, PSH: payload != "", Window: 65535}
		if !toServer {
			ip.SrcIP, ip.DstIP = srv, cli
			tcp.SrcPort, tcp.DstPort = tcp.DstPort, tcp.SrcPort
			tcp.Seq, tcp.Ack = sseq, cseq
		}
		tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
			panic(err)
		}
		out = append(out, bytes.Clone(buf.Bytes()))
		n := uint32(len(payload))
		if syn {
			n = 1
		}
		if toServer {
			cseq += n
		} else {
			sseq += n
		}
	}
	add(true, true, false, "")
	add(false, true, true, "")
	add(true, false, true, "")
	add(true, false, true, req)
	add(false, false, true, resp)
	return out
}

// Feed packets from a source of the embedder's own: here, frames built in
// memory, one millisecond apart.
func ExamplePipeline_Packet() {
	p, err := wiretrace.New(nil, printSink{})
	if err != nil {
		log.Fatal(err)
	}
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req := "GET /health HTTP/1.1\r\nHost: svc\r\n\r\n"
	resp := "HTTP/1.1 204 No Content\r\n\r\n"
	for i, f := range frames(80, req, resp) {
		p.Packet(t.Add(time.Duration(i)*time.Millisecond), capture.LinkTypeEthernet, f, len(f))
	}
	if err := p.Close(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// http GET /health ok
}

// pingParser parses a toy line protocol: the client sends "PING <name>\n",
// the server answers "PONG\n" or "ERR\n".
type pingParser struct{}

func (pingParser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		return 0, false, nil // need more
	}
	line := string(data[:i])
	switch {
	case dir == protocols.ToServer && len(line) > 5 && line[:5] == "PING ":
		msg.Kind, msg.Name = protocols.Request, "PING "+line[5:]
	case dir == protocols.ToClient && (line == "PONG" || line == "ERR"):
		msg.Kind, msg.Status = protocols.Response, protocols.StatusOK
		if line == "ERR" {
			msg.Status = protocols.StatusError
		}
	default:
		return 0, false, &protocols.ParseError{Protocol: "ping", Offset: 0, Err: fmt.Errorf("unexpected line %q", line)}
	}
	msg.Size = i + 1
	return i + 1, true, nil
}

func (pingParser) Gap(protocols.Direction, int)                     {}
func (pingParser) End(protocols.Direction, *protocols.Message) bool { return false }

// Register a protocol parser besides the built-in ones.
func ExampleConfig_protocols() {
	ping := &protocols.Protocol{
		Name:    "ping",
		Summary: "toy PING/PONG line protocol",
		Ports:   []uint16{7777},
		Sniff: func(data []byte) protocols.Direction {
			if bytes.HasPrefix(data, []byte("PING ")) {
				return protocols.ToServer
			}
			return protocols.DirUnknown
		},
		New: func(*protocols.Config) protocols.Parser { return pingParser{} },
	}
	p, err := wiretrace.New(&wiretrace.Config{Protocols: []*protocols.Protocol{ping}}, printSink{})
	if err != nil {
		log.Fatal(err)
	}
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, f := range frames(7777, "PING db1\n", "PONG\n") {
		p.Packet(t.Add(time.Duration(i)*time.Millisecond), capture.LinkTypeEthernet, f, len(f))
	}
	if err := p.Close(); err != nil {
		log.Fatal(err)
	}
	st := p.Stats()
	fmt.Println("spans:", st.Correlate.Spans)
	// Output:
	// ping PING db1 ok
	// spans: 1
}

// Print every counter, as the command's stats line does.
func ExampleStats_Each() {
	src, err := capture.OpenFile("testdata/demo.pcap", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	p, err := wiretrace.New(nil, jsonl.New(io.Discard))
	if err != nil {
		log.Fatal(err)
	}
	if err := p.Run(context.Background(), src); err != nil {
		log.Fatal(err)
	}
	p.Close()
	st := p.Stats()
	st.Each(func(name string, v uint64) {
		if name == "packets" || name == "spans" || name == "traces" {
			fmt.Println(name, v)
		}
	})
	// Output:
	// packets 56
	// spans 9
	// traces 3
}
