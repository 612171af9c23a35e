package dubbo_test

import (
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/dubbo"
)

// FuzzParser feeds arbitrary bytes, split at an arbitrary point, in each
// direction, with a gap in the middle, and checks the Parser invariants: no
// panic, 0 <= n <= len(data), and an error never comes with a message.
func FuzzParser(f *testing.F) {
	for _, s := range [][]byte{
		request(7, "shop.OrderService", "get", argDesc, args(), "traceparent", tp, "sw8", sw8),
		request(8, "shop.OrderService", "get", "Ljava/lang/String;", (&enc{}).str("x").b, "group", "g"),
		response(7, "done"),
		frame(respFlag, 20, 4, (&enc{}).int(3).object("java.lang.IllegalArgumentException", "detailMessage").b),
		frame(respFlag, 70, 4, (&enc{}).str("boom").b),
		frame(0x80|0x40|8, 0, 9, []byte("\x03\x072.8.\xb4com.Svc\xe51.0.\xb0ru\xee")),
	} {
		f.Add(s, uint16(len(s)/2), uint16(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, split, gap uint16) {
		for _, dir := range []protocols.Direction{protocols.ToServer, protocols.ToClient} {
			p := dubbo.New(&protocols.Config{MaxHeaderBytes: 256})
			var m protocols.Message
			cut := min(int(split), len(data))
			var tail []byte
			for i, part := range [][]byte{data[:cut], data[cut:]} {
				if i == 1 && gap%3 == 0 {
					if len(tail) > 0 {
						m.Reset()
						p.Salvage(dir, tail, &m)
					}
					p.Gap(dir, int(gap))
					tail = nil
				}
				buf := append(tail, part...)
				for off := 0; off < len(buf); {
					m.Reset()
					n, done, err := p.Parse(dir, buf[off:], &m)
					if n < 0 || n > len(buf)-off {
						t.Fatalf("n = %d out of [0, %d]", n, len(buf)-off)
					}
					if err != nil {
						if done {
							t.Fatal("error with done")
						}
						return
					}
					off += n
					if !done && n == 0 {
						tail = append([]byte(nil), buf[off:]...)
						break
					}
					if off == len(buf) {
						tail = nil
					}
				}
			}
			for i := 0; i < 4; i++ {
				m.Reset()
				if !p.End(dir, &m) {
					break
				}
			}
		}
	})
}
