package engine_test

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/engine"
	"github.com/wiretrace/wiretrace/correlate"
)

type discard struct{ spans int }

func (d *discard) WriteTrace(t *correlate.Trace) error { d.spans += len(t.Spans); return nil }
func (d *discard) Close() error                        { return nil }

// BenchmarkPipelineDemo runs the bundled demo capture through the whole
// pipeline (decode, reassembly, HTTP parsing, spans, linking) per iteration.
func BenchmarkPipelineDemo(b *testing.B) {
	src, err := capture.OpenFile(filepath.Join("..", "..", "..", "..", "testdata", "demo.pcap"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	var pkts []capture.Packet
	var bytes int64
	for {
		var p capture.Packet
		err := src.ReadPacket(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		p.Data = append([]byte(nil), p.Data...)
		bytes += int64(len(p.Data))
		pkts = append(pkts, p)
	}
	b.ReportAllocs()
	b.SetBytes(bytes)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink := &discard{}
		e := engine.New(nil, sink)
		for j := range pkts {
			e.Packet(&pkts[j])
		}
		if err := e.Close(); err != nil {
			b.Fatal(err)
		}
		if sink.spans != 9 {
			b.Fatalf("%d spans", sink.spans)
		}
	}
	b.ReportMetric(float64(len(pkts))*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
