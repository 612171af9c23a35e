package capture_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/capture"
)

// fakeSource yields packets with the given timestamps, then err (io.EOF if
// nil). Like a File it reuses one data buffer, overwriting it on every
// read, so a merge that keeps stale Data slices shows up as wrong bytes.
type fakeSource struct {
	name   string
	ts     []int64
	err    error
	buf    [8]byte
	i      int
	closed int
}

func (s *fakeSource) ReadPacket(p *capture.Packet) error {
	if s.i >= len(s.ts) {
		if s.err != nil {
			err := s.err
			s.err = nil
			return err
		}
		return io.EOF
	}
	for j := range s.buf {
		s.buf[j] = s.name[0] + byte(s.i)
	}
	s.i++
	*p = capture.Packet{Timestamp: s.ts[s.i-1], Data: s.buf[:], Length: len(s.buf), Capture: s.name, Number: int64(s.i)}
	return nil
}

func (s *fakeSource) Close() error {
	s.closed++
	return nil
}

// got is a merged packet, reduced to what identifies it.
type got struct {
	Capture string
	Number  int64
	TS      int64
	Data    string
}

var errBroken = errors.New("broken source")

func TestMerge(t *testing.T) {
	tests := []struct {
		name    string
		sources []*fakeSource
		want    []got
		wantErr []error // errors returned on the way, in order
	}{
		{name: "no sources"},
		{name: "empty sources", sources: []*fakeSource{{name: "a"}, {name: "b"}}},
		{
			name:    "one source",
			sources: []*fakeSource{{name: "a", ts: []int64{1, 2}}},
			want:    []got{{"a", 1, 1, "aaaaaaaa"}, {"a", 2, 2, "bbbbbbbb"}},
		},
		{
			name:    "interleaved",
			sources: []*fakeSource{{name: "a", ts: []int64{1, 4, 5}}, {name: "b", ts: []int64{2, 3, 6}}},
			want: []got{
				{"a", 1, 1, "aaaaaaaa"}, {"b", 1, 2, "bbbbbbbb"}, {"b", 2, 3, "cccccccc"},
				{"a", 2, 4, "bbbbbbbb"}, {"a", 3, 5, "cccccccc"}, {"b", 3, 6, "dddddddd"},
			},
		},
		{
			name:    "ties by source order",
			sources: []*fakeSource{{name: "c", ts: []int64{7, 7}}, {name: "a", ts: []int64{7}}, {name: "b", ts: []int64{1, 7}}},
			want: []got{
				{"b", 1, 1, "bbbbbbbb"}, {"c", 1, 7, "cccccccc"}, {"c", 2, 7, "dddddddd"},
				{"a", 1, 7, "aaaaaaaa"}, {"b", 2, 7, "cccccccc"},
			},
		},
		{
			name:    "error drops the source, others continue",
			sources: []*fakeSource{{name: "a", ts: []int64{1, 3}, err: errBroken}, {name: "b", ts: []int64{2, 4, 6}}},
			want: []got{
				{"a", 1, 1, "aaaaaaaa"}, {"b", 1, 2, "bbbbbbbb"}, {"a", 2, 3, "bbbbbbbb"},
				{"b", 2, 4, "cccccccc"}, {"b", 3, 6, "dddddddd"},
			},
			wantErr: []error{errBroken},
		},
		{
			name:    "error before the first packet",
			sources: []*fakeSource{{name: "a", err: errBroken}, {name: "b", ts: []int64{1}, err: errBroken}},
			want:    []got{{"b", 1, 1, "bbbbbbbb"}},
			wantErr: []error{errBroken, errBroken},
		},
		{
			name:    "timestamps going backwards in one source",
			sources: []*fakeSource{{name: "a", ts: []int64{5, 1}}, {name: "b", ts: []int64{3}}},
			want:    []got{{"b", 1, 3, "bbbbbbbb"}, {"a", 1, 5, "aaaaaaaa"}, {"a", 2, 1, "bbbbbbbb"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcs := make([]capture.Source, len(tt.sources))
			for i, s := range tt.sources {
				srcs[i] = s
			}
			m := capture.Merge(srcs...)
			var gotPkts []got
			var gotErrs []error
			for range 100 {
				var p capture.Packet
				err := m.ReadPacket(&p)
				if err == io.EOF {
					break
				}
				if err != nil {
					gotErrs = append(gotErrs, err)
					continue
				}
				gotPkts = append(gotPkts, got{p.Capture, p.Number, p.Timestamp, string(p.Data)})
			}
			if diff := cmp.Diff(tt.want, gotPkts); diff != "" {
				t.Errorf("packets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, gotErrs, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if err := m.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			m.Close()
			for _, s := range tt.sources {
				if s.closed != 1 {
					t.Errorf("source %s closed %d times, want 1", s.name, s.closed)
				}
			}
		})
	}
}

// TestMergeFiles merges a truncated file with a good one: the caller gets
// the truncation error once and then the rest of the good file.
func TestMergeFiles(t *testing.T) {
	a := pcapFile(le, false, 1, rec{sec: 1, data: frame(10, 1)}, rec{sec: 3, data: frame(10, 2)})
	a = a[:len(a)-1]
	b := pcapFile(le, true, 101, rec{sec: 2, data: frame(20, 3)}, rec{sec: 4, data: frame(20, 4)})
	fa, err := capture.NewReader(bytes.NewReader(a), "a.pcap", nil)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := capture.NewReader(bytes.NewReader(b), "b.pcap", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := capture.Merge(fa, fb)
	var seq []string
	for range 10 {
		var p capture.Packet
		err := m.ReadPacket(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, capture.ErrTruncated) {
				t.Errorf("error %v, want ErrTruncated", err)
			}
			seq = append(seq, "error")
			continue
		}
		seq = append(seq, p.Capture)
	}
	if diff := cmp.Diff([]string{"a.pcap", "error", "b.pcap", "b.pcap"}, seq); diff != "" {
		t.Errorf("sequence (-want +got):\n%s", diff)
	}
}

func TestMergeAllocs(t *testing.T) {
	var srcs []capture.Source
	for i := range 3 {
		f, err := capture.NewReader(bytes.NewReader(manyPackets(2000, i == 1)), "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, f)
	}
	m := capture.Merge(srcs...)
	var p capture.Packet
	allocs := testing.AllocsPerRun(3000, func() {
		if err := m.ReadPacket(&p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Merge ReadPacket: %v allocs per packet, want 0", allocs)
	}
}

func BenchmarkMerge(b *testing.B) {
	files := [][]byte{manyPackets(10000, false), manyPackets(10000, true), manyPackets(10000, false)}
	open := func() capture.Source {
		srcs := make([]capture.Source, len(files))
		for i, in := range files {
			f, err := capture.NewReader(bytes.NewReader(in), "bench", nil)
			if err != nil {
				b.Fatal(err)
			}
			srcs[i] = f
		}
		return capture.Merge(srcs...)
	}
	b.ReportAllocs()
	m := open()
	var p capture.Packet
	for b.Loop() {
		err := m.ReadPacket(&p)
		if err == io.EOF {
			b.StopTimer()
			m = open()
			b.StartTimer()
			err = m.ReadPacket(&p)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
