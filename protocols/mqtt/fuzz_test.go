package mqtt_test

import (
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mqtt"
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
		// A packet other than PUBLISH, or a PUBLISH header, waits for
		// at most the header limit.
		fuzzParser(t, mqtt.Protocol.New(nil), mqtt.Sniff, (*protocols.Config)(nil).HeaderLimit()+5, req, resp, ctl)
	})
}

// BenchmarkParse measures a publisher's stream: v5 PUBLISH at QoS 1 with a
// traceparent user property and a 128-byte payload, and the broker's
// PUBACKs.
func BenchmarkParse(b *testing.B) {
	payload := make([]byte, 128)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	var up, down []byte
	up = append(up, connect(5, 0x02, str("bench"))...)
	down = append(down, pkt(2, 0, "\x00\x00", props())...)
	for i := 1; i <= 64; i++ {
		up = append(up, publish(1, "orders/created", i, props(userProp("traceparent", tp)), string(payload))...)
		down = append(down, pkt(4, 0, u16(i))...)
	}
	var m protocols.Message
	b.ReportAllocs()
	b.SetBytes(int64(len(up) + len(down)))
	for b.Loop() {
		p := mqtt.New(nil)
		for _, s := range []struct {
			dir  protocols.Direction
			data []byte
		}{{protocols.ToServer, up}, {protocols.ToClient, down}} {
			data := s.data
			for len(data) > 0 {
				m.Reset()
				n, done, err := p.Parse(s.dir, data, &m)
				if err != nil || n == 0 && !done {
					b.Fatal(err, n)
				}
				data = data[n:]
			}
		}
	}
}
