package kafka_test

import (
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/kafka"
)

// FuzzParser feeds arbitrary bytes, split at an arbitrary point, as
// requests and then as responses (after requests that make their ids
// pending), with a gap in the middle, and checks the Parser invariants: no
// panic, 0 <= n <= len(data), and an error never comes with a message.
func FuzzParser(f *testing.F) {
	batch := kafka.Batch(0, kafka.CodecGzip, recs(3, [2]string{"traceparent", tp}))
	plain := kafka.Batch(5, kafka.CodecNone, recs(2, [2]string{"sw8", "1-a"}))
	for _, s := range [][]byte{
		produceReq(9, 1, "orders", 3, -1, batch),
		produceReq(3, 1, "orders", 3, 1, plain),
		produceResp(9, 1, "orders", 3, 0, 42),
		fetchReq(12, 1, "orders", 0, 1),
		fetchResp(12, 1, "orders", 0, 0, append(plain, batch...)),
		fetchResp(4, 1, "orders", 0, 0, plain),
		kafka.Request(18, 3, 1, "adminclient-1", nil),
		kafka.Response(18, 3, 1, []byte{0, 35}),
	} {
		f.Add(s, uint16(len(s)/2), uint16(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, split, gap uint16) {
		for _, dir := range []protocols.Direction{protocols.ToServer, protocols.ToClient} {
			p := kafka.New(&protocols.Config{MaxHeaderBytes: 256})
			var m protocols.Message
			if dir == protocols.ToClient {
				// Make the usual ids pending, for each API the parser decodes.
				for _, key := range []int16{0, 1, 8, 11, 18, 3} {
					for _, ver := range []int16{0, 3, 4, 7, 9, 12, 13} {
						m.Reset()
						p.Parse(protocols.ToServer, kafka.Request(key, ver, 1+int32(key)*100+int32(ver), "c", nil), &m)
					}
				}
			}
			cut := min(int(split), len(data))
			parts := [][]byte{data[:cut], data[cut:]}
			var tail []byte
			for i, part := range parts {
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
