package nats_test

import (
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/nats"
)

// FuzzParser feeds both directions in pieces whose sizes, order and gaps
// come from ctl, and checks the Parser's invariants.
func FuzzParser(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.Req, fx.Resp, []byte{0})
		f.Add(fx.Req, fx.Resp, []byte{7, 3, 200, 1})
		f.Add(fx.Req, fx.Resp, []byte{13, 0x85, 40, 0x91})
	}
	f.Fuzz(func(t *testing.T, req, resp, ctl []byte) {
		// A control line may wait up to MaxControlLine bytes, a header
		// block up to the header limit.
		fuzzParser(t, nats.Protocol.New(nil), nats.Sniff, max(nats.MaxControlLine, (*protocols.Config)(nil).HeaderLimit()), req, resp, ctl)
	})
}

// BenchmarkParse measures a publisher's stream: HPUB with a traceparent
// header and a 128-byte payload.
func BenchmarkParse(b *testing.B) {
	payload := make([]byte, 128)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	one := hpub("HPUB", "orders.created", "", hdr("traceparent: "+tp+"\r\n"), string(payload))
	var stream []byte
	for range 64 {
		stream = append(stream, one...)
	}
	p := nats.New(nil)
	var m protocols.Message
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		data := stream
		for len(data) > 0 {
			m.Reset()
			n, _, err := p.Parse(protocols.ToServer, data, &m)
			if err != nil || n == 0 {
				b.Fatal(err, n)
			}
			data = data[n:]
		}
	}
}
