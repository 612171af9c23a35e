package dns_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dns"
)

// FuzzParser feeds arbitrary bytes to the UDP parser (the input is one
// datagram) and to the TCP parser (the input split into segments, every
// third one preceded by a gap that Salvage sees first), and checks the
// invariants: no panic, 0 <= n <= len, an error means no message, a
// datagram is consumed whole, and sniffing does not panic. Seeds are the
// testdata messages, alone and framed for TCP.
func FuzzParser(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.dns"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(0), b)
		f.Add(uint8(7), framed(b))
		f.Add(uint8(3), append(framed(b), framed(b)...))
	}
	f.Fuzz(func(t *testing.T, split uint8, data []byte) {
		dns.Protocol.Sniff(data)
		dns.Protocol.SniffDatagram(data)

		var m protocols.Message
		dp := dns.NewDatagram(nil)
		for _, dir := range []protocols.Direction{up, down} {
			m.Reset()
			n, done, err := dp.Parse(dir, data, &m)
			if err != nil && (done || m.Kind != protocols.KindUnknown) {
				t.Fatalf("udp: error %v with done %v kind %v", err, done, m.Kind)
			}
			if err == nil && n != len(data) {
				t.Fatalf("udp: consumed %d of %d", n, len(data))
			}
		}

		sp := dns.New(nil)
		chunk := int(split%32) + 1
		for _, dir := range []protocols.Direction{up, down} {
			var tail []byte
			for i, off := 0, 0; off < len(data); i++ {
				end := min(off+chunk, len(data))
				if i%3 == 2 {
					m.Reset()
					lost := 5
					if !sp.Salvage(dir, tail, &m) {
						lost += len(tail)
					}
					tail = tail[:0]
					sp.Gap(dir, lost)
				}
				tail = append(tail, data[off:end]...)
				off = end
				for guard := 0; len(tail) > 0; guard++ {
					if guard > len(data)+1 {
						t.Fatal("tcp: no progress")
					}
					m.Reset()
					n, done, err := sp.Parse(dir, tail, &m)
					if err != nil {
						if done {
							t.Fatalf("tcp: error %v with done", err)
						}
						return
					}
					if n < 0 || n > len(tail) {
						t.Fatalf("tcp: n = %d of %d", n, len(tail))
					}
					tail = tail[n:]
					if !done && n == 0 {
						break
					}
				}
			}
			m.Reset()
			sp.End(dir, &m)
		}
	})
}
