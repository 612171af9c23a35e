package memcached_test

import (
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/memcached"
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
		fuzzParser(t, memcached.Protocol.New(nil), memcached.Sniff, (*protocols.Config)(nil).HeaderLimit()+24, req, resp, ctl)
	})
}

// FuzzDatagram parses each input as one UDP datagram in each direction.
func FuzzDatagram(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(append([]byte{0, 1, 0, 0, 0, 1, 0, 0}, fx.Req...), append([]byte{0, 1, 0, 0, 0, 1, 0, 0}, fx.Resp...))
	}
	f.Fuzz(func(t *testing.T, req, resp []byte) {
		p := memcached.NewDatagram(nil)
		for i := 0; i < 2; i++ {
			for _, d := range []struct {
				dir  protocols.Direction
				data []byte
			}{{protocols.ToServer, req}, {protocols.ToClient, resp}} {
				var m protocols.Message
				n, done, err := p.Parse(d.dir, d.data, &m)
				if err == nil && n != len(d.data) {
					t.Fatalf("consumed %d of %d", n, len(d.data))
				}
				if err != nil && done {
					t.Fatal("done with an error")
				}
				if done && !m.HasID {
					t.Fatal("datagram message without id")
				}
			}
		}
		memcached.SniffDatagram(req)
		memcached.SniffDatagram(resp)
	})
}

// BenchmarkParse measures a text client's stream of set and get with
// 100-byte values, and the replies.
func BenchmarkParse(b *testing.B) {
	val := make([]byte, 100)
	for i := range val {
		val[i] = 'v'
	}
	var up, down []byte
	for range 64 {
		up = append(up, "set user:12345 0 0 100\r\n"...)
		up = append(up, val...)
		up = append(up, "\r\nget user:12345\r\n"...)
		down = append(down, "STORED\r\nVALUE user:12345 0 100\r\n"...)
		down = append(down, val...)
		down = append(down, "\r\nEND\r\n"...)
	}
	var m protocols.Message
	b.ReportAllocs()
	b.SetBytes(int64(len(up) + len(down)))
	for b.Loop() {
		p := memcached.New(nil)
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
