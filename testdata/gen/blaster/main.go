// Command blaster sends a fixed number of UDP datagrams at a fixed rate, for
// testdata/gen/livebench.sh: the traffic that live capture is measured on.
//
//	blaster -to 10.241.8.3:9999 -count 300000 -rate 100000 -flows 64 -size 64
//
// Datagrams go out from -flows sockets (distinct source ports, so fanout's
// flow hash spreads them) in turn. -rate 0 sends as fast as the senders
// can.
//
//	blaster -pcap synth.pcap -iface wlbs -count 300000 -rate 100000
//
// With -pcap, it sends the Ethernet frames of a capture file instead (the
// first -count of them, in order, from one goroutine) out of -iface with an
// AF_PACKET socket: the TCP and HTTP traffic of testdata/gen/synth, say,
// which the receiving kernel drops (not its addresses) after the packet
// sockets have seen it.
//
// Each of -senders goroutines sends -batch datagrams per sendmmsg(2)
// call (one batch per source socket in turn) and sleeps as needed to keep
// its share of the rate. It prints "sent N in D (R pps)" on stdout.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/wiretrace/wiretrace/capture"
)

func main() {
	to := flag.String("to", "", "destination `ADDR:PORT`")
	count := flag.Int64("count", 100000, "datagrams to send")
	rate := flag.Int64("rate", 0, "datagrams per second (0: as fast as possible)")
	flows := flag.Int("flows", 64, "source sockets (flows)")
	size := flag.Int("size", 64, "UDP payload bytes")
	senders := flag.Int("senders", 2, "sending goroutines")
	batch := flag.Int("batch", 32, "datagrams per sendmmsg(2)")
	pcap := flag.String("pcap", "", "send the Ethernet frames of `FILE` instead")
	iface := flag.String("iface", "", "with -pcap: the interface to send on")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("blaster: ")
	if *pcap != "" {
		sendFrames(*pcap, *iface, *count, *rate)
		return
	}
	dst, err := net.ResolveUDPAddr("udp4", *to)
	if err != nil || *to == "" {
		log.Fatalf("-to %q: want ADDR:PORT (%v)", *to, err)
	}
	if *flows < *senders {
		*flows = *senders
	}
	conns := make([]*net.UDPConn, *flows)
	for i := range conns {
		if conns[i], err = net.DialUDP("udp4", nil, dst); err != nil {
			log.Fatal(err)
		}
		defer conns[i].Close()
	}
	var sent, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	per := *count / int64(*senders)
	for s := range *senders {
		n := per
		if s == 0 {
			n += *count % int64(*senders)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := conns[s*len(conns) / *senders : (s+1)*len(conns) / *senders]
			pcs := make([]*ipv4.PacketConn, len(mine))
			for i, c := range mine {
				pcs[i] = ipv4.NewPacketConn(c)
			}
			msgs := make([]ipv4.Message, *batch)
			for i := range msgs {
				msgs[i].Buffers = [][]byte{make([]byte, *size)}
			}
			r := *rate / int64(*senders)
			t0 := time.Now()
			for i, k := int64(0), 0; i < n; k++ {
				if r > 0 {
					// Wait until i datagrams are due.
					if due := t0.Add(time.Duration(i * int64(time.Second) / r)); time.Until(due) > 0 {
						time.Sleep(time.Until(due))
					}
				}
				m := msgs[:min(int64(len(msgs)), n-i)]
				for j := range m {
					b := m[j].Buffers[0]
					b[0], b[1], b[2], b[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
				}
				w, err := pcs[k%len(pcs)].WriteBatch(m, 0)
				if err != nil && w <= 0 {
					// ENOBUFS under load: not sent, counted.
					failed.Add(int64(len(m)))
					w = len(m)
				} else {
					sent.Add(int64(w))
					failed.Add(int64(len(m) - w))
				}
				i += int64(len(m))
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	fmt.Printf("sent %d in %.3fs (%.0f pps), %d failed\n", sent.Load(), d.Seconds(), float64(sent.Load())/d.Seconds(), failed.Load())
	if sent.Load() == 0 {
		os.Exit(1)
	}
}

// sendFrames sends the first count frames of the Ethernet capture path out
// of iface, rate per second (0: as fast as possible).
func sendFrames(path, iface string, count, rate int64) {
	ifi, err := net.InterfaceByName(iface)
	if err != nil {
		log.Fatalf("-iface %q: %v", iface, err)
	}
	src, err := capture.OpenFile(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Ifindex: ifi.Index}
	var p capture.Packet
	var sent, failed int64
	start := time.Now()
	for i := int64(0); i < count; i++ {
		if err := src.ReadPacket(&p); err != nil {
			break // the file is shorter
		}
		if p.LinkType != capture.LinkTypeEthernet {
			log.Fatalf("%s: link type %d, want Ethernet", path, p.LinkType)
		}
		if rate > 0 && i%64 == 0 {
			if due := start.Add(time.Duration(i * int64(time.Second) / rate)); time.Until(due) > 0 {
				time.Sleep(time.Until(due))
			}
		}
		if err := unix.Sendto(fd, p.Data, 0, to); err != nil {
			failed++
			continue
		}
		sent++
	}
	d := time.Since(start)
	fmt.Printf("sent %d in %.3fs (%.0f pps), %d failed\n", sent, d.Seconds(), float64(sent)/d.Seconds(), failed)
	if sent == 0 {
		os.Exit(1)
	}
}
