package mongodb_test

import (
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mongodb"
)

// FuzzParser feeds arbitrary bytes, split at an arbitrary point, in each
// direction, with a gap in the middle, and checks the Parser invariants: no
// panic, 0 <= n <= len(data), and an error never comes with a message.
func FuzzParser(f *testing.F) {
	insertBody := doc().AppendString("insert", "orders").AppendString("$db", "shop").Build()
	for _, s := range [][]byte{
		findReq(7, "orders", "traceparent='"+tp+"'"),
		okReply(7),
		opMsg(5, 0, 1, insertBody, [][]byte{doc().AppendInt32("_id", 1).Build()}),
		opQuery(1, "admin.$cmd", doc().AppendInt32("isMaster", 1).Build()),
		opReply(1, 2, doc().AppendString("$err", "x").Build()),
		compress(findReq(8, "orders", ""), 1),
		compress(okReply(8), 2),
		compress(findReq(9, "orders", ""), 3),
		opMsg(10, 9, 0, doc().AppendArray("writeErrors", bsoncoreArray(doc().AppendInt32("code", 11000).Build())).Build(), nil),
	} {
		f.Add(s, uint16(len(s)/2), uint16(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, split, gap uint16) {
		for _, dir := range []protocols.Direction{protocols.ToServer, protocols.ToClient} {
			p := mongodb.New(&protocols.Config{MaxHeaderBytes: 256})
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
