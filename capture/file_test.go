package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wiretrace/wiretrace/capture"
)

var (
	le byteOrder = binary.LittleEndian
	be byteOrder = binary.BigEndian
)

// readAll reads src to the end. It copies each packet's data, returns the
// first error other than io.EOF, and checks that the source then says
// io.EOF.
func readAll(t testing.TB, src capture.Source) ([]capture.Packet, error) {
	t.Helper()
	var got []capture.Packet
	for {
		var p capture.Packet
		err := src.ReadPacket(&p)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			if err2 := src.ReadPacket(&p); err2 != io.EOF {
				t.Errorf("ReadPacket after error %v = %v, want io.EOF", err, err2)
			}
			return got, err
		}
		p.Data = bytes.Clone(p.Data)
		got = append(got, p)
	}
}

func pcapgoFile(t *testing.T, nano bool) []byte {
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if nano {
		w = pcapgo.NewWriterNanos(&buf)
	}
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	for i, d := range [][]byte{frame(60, 1), frame(1514, 2)} {
		ts := time.Unix(1700000000+int64(i), 123456789)
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(d), Length: len(d) + 10*i}
		if err := w.WritePacket(ci, d); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func pcapgoNgFile(t *testing.T) []byte {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	id, err := w.AddInterface(pcapgo.NgInterface{Name: "lo", LinkType: layers.LinkTypeLinuxSLL, TimestampResolution: 9})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range [][]byte{frame(60, 1), frame(99, 2), frame(7, 3)} {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1700000000, int64(i)), CaptureLength: len(d), Length: len(d), InterfaceIndex: i % (id + 1)}
		opts := pcapgo.NgPacketOptions{Flags: &pcapgo.NgEpbFlags{Direction: pcapgo.NgEpbFlag(i % 3)}}
		if err := w.WritePacketWithOptions(ci, d, opts); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pkt is the expected packet of a test file named test.pcap.
func pkt(n int64, ts int64, data []byte, length int, link capture.LinkType, ifc int, dir capture.Direction) capture.Packet {
	return capture.Packet{Timestamp: ts, Data: data, Length: length, LinkType: link, Interface: ifc, Capture: "test.pcap", Direction: dir, Number: n}
}

func TestReadFile(t *testing.T) {
	const sec = 1700000000
	const ns = sec * int64(time.Second)
	eth, raw, sll := capture.LinkTypeEthernet, capture.LinkTypeRaw, capture.LinkTypeLinuxSLL
	unk, in, out := capture.DirectionUnknown, capture.DirectionInbound, capture.DirectionOutbound

	twoRecs := []rec{{sec: sec, frac: 1, data: frame(60, 1)}, {sec: sec + 1, frac: 999999, data: frame(100, 2), orig: 1514}}
	pcapLE := pcapFile(le, false, 1, twoRecs...)
	ngMulti := (&ngFile{}).shb(le).
		idb(1, 65535, 0, 0). // Ethernet, µs
		idb(101, 0, 9, 0).   // raw IP, ns
		idb(113, 0, 0x80|10, 100).
		epb(0, uint64(sec)*1e6+5, frame(60, 1), 0, 1).
		isb(0).
		epb(1, uint64(ns)+7, frame(40, 2), 1500, 2).
		epb(2, uint64(sec)<<10|512, frame(20, 3), 0, 3). // direction bits 11: invalid, unknown
		b
	ngSections := (&ngFile{}).shb(le).
		idb(1, 0, 0, 0).
		epb(0, uint64(sec)*1e6, frame(60, 1), 0, 2).
		shb(be).
		idb(101, 30, 9, 0).
		epb(0, uint64(ns)+1, frame(40, 2), 0, 1).
		spb(frame(32, 3), 50). // snaplen 30 cuts it
		b
	trunc := pcapFile(le, false, 1, append(twoRecs, rec{sec: sec + 2, data: frame(10, 3)})...)
	trunc = trunc[:len(trunc)-5]
	ngTrunc := ngMulti[:len(ngMulti)-3]
	bigCaplen := pcapFile(le, false, 1, twoRecs...)
	bigCaplen = le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(bigCaplen, sec), 0), 1<<30), 1<<30)
	bigCaplen = append(bigCaplen, frame(100, 0)...)
	gzTrailerCut := gz(t, pcapLE)
	gzTrailerCut = gzTrailerCut[:len(gzTrailerCut)-8]
	badVersion := pcapFile(le, false, 1)
	le.PutUint16(badVersion[4:], 1)
	badIface := (&ngFile{}).shb(le).idb(1, 0, 0, 0).epb(0, 1, frame(4, 0), 0, 0).epb(3, 1, frame(4, 0), 0, 0).b
	badBlockLen := (&ngFile{}).shb(le).idb(1, 0, 0, 0).b
	badBlockLen = le.AppendUint32(le.AppendUint32(badBlockLen, 6), 13)
	hugeBlock := (&ngFile{}).shb(le).idb(1, 0, 0, 0).b
	hugeBlock = le.AppendUint32(le.AppendUint32(hugeBlock, 6), 1<<31)
	hugeBlock = append(hugeBlock, frame(100, 0)...)
	hugeSkipped := (&ngFile{}).shb(le).idb(1, 0, 0, 0).b
	hugeSkipped = le.AppendUint32(le.AppendUint32(hugeSkipped, 0x0bad), 0xfffffff0) // custom block, ~4 GiB
	hugeSkipped = append(hugeSkipped, frame(100, 0)...)
	overrun := (&ngFile{}).shb(le).idb(1, 0, 0, 0).epb(0, 1, frame(8, 0), 0, 0).b
	le.PutUint32(overrun[len(overrun)-len(frame(8, 0))-4-16-4-4-4:], 1000) // caplen field of the EPB
	badTrailer := (&ngFile{}).shb(le).idb(1, 0, 0, 0).epb(0, 1, frame(4, 0), 0, 0).b
	badTrailer[len(badTrailer)-1] ^= 0xff

	wantTwo := []capture.Packet{
		pkt(1, ns+1000, frame(60, 1), 60, eth, 0, unk),
		pkt(2, ns+int64(time.Second)+999999000, frame(100, 2), 1514, eth, 0, unk),
	}

	tests := []struct {
		name    string
		in      []byte
		cfg     *capture.FileConfig
		want    []capture.Packet
		wantErr error
	}{
		{name: "pcap us LE", in: pcapLE, want: wantTwo},
		{name: "pcap us BE", in: pcapFile(be, false, 1, twoRecs...), want: wantTwo},
		{
			name: "pcap ns BE",
			in:   pcapFile(be, true, 101, twoRecs...),
			want: []capture.Packet{
				pkt(1, ns+1, frame(60, 1), 60, raw, 0, unk),
				pkt(2, ns+int64(time.Second)+999999, frame(100, 2), 1514, raw, 0, unk),
			},
		},
		{
			name: "pcap ns LE",
			in:   pcapFile(le, true, 228, rec{sec: sec, frac: 5, data: frame(3, 0)}),
			want: []capture.Packet{pkt(1, ns+5, frame(3, 0), 3, capture.LinkTypeIPv4, 0, unk)},
		},
		{
			name: "pcap by pcapgo",
			in:   pcapgoFile(t, false),
			want: []capture.Packet{
				pkt(1, ns+123456000, frame(60, 1), 60, eth, 0, unk),
				pkt(2, ns+int64(time.Second)+123456000, frame(1514, 2), 1524, eth, 0, unk),
			},
		},
		{
			name: "pcap ns by pcapgo",
			in:   pcapgoFile(t, true),
			want: []capture.Packet{
				pkt(1, ns+123456789, frame(60, 1), 60, eth, 0, unk),
				pkt(2, ns+int64(time.Second)+123456789, frame(1514, 2), 1524, eth, 0, unk),
			},
		},
		{name: "pcap header only", in: pcapFile(le, false, 1)},
		{name: "gzip pcap", in: gz(t, pcapLE), want: wantTwo},
		{
			name: "pcapng interfaces with link types and resolutions",
			in:   ngMulti,
			want: []capture.Packet{
				pkt(1, ns+5000, frame(60, 1), 60, eth, 0, in),
				pkt(2, ns+7, frame(40, 2), 1500, raw, 1, out),
				pkt(3, (sec+100)*int64(time.Second)+int64(time.Second)/2, frame(20, 3), 20, sll, 2, unk),
			},
		},
		{
			name: "pcapng two sections, second big-endian",
			in:   ngSections,
			want: []capture.Packet{
				pkt(1, ns, frame(60, 1), 60, eth, 0, out),
				pkt(2, ns+1, frame(40, 2), 40, raw, 0, in),
				pkt(3, 0, frame(30, 3), 50, raw, 0, unk),
			},
		},
		{
			name: "pcapng by pcapgo",
			in:   pcapgoNgFile(t),
			want: []capture.Packet{
				pkt(1, ns, frame(60, 1), 60, eth, 0, unk),
				pkt(2, ns+1, frame(99, 2), 99, sll, 1, in),
				pkt(3, ns+2, frame(7, 3), 7, eth, 0, out),
			},
		},
		{name: "gzip pcapng", in: gz(t, ngSections), want: []capture.Packet{
			pkt(1, ns, frame(60, 1), 60, eth, 0, out),
			pkt(2, ns+1, frame(40, 2), 40, raw, 0, in),
			pkt(3, 0, frame(30, 3), 50, raw, 0, unk),
		}},
		{name: "pcap truncated last record", in: trunc, want: wantTwo, wantErr: capture.ErrTruncated},
		{name: "pcap truncated record header", in: pcapLE[:len(pcapLE)-100-8], want: wantTwo[:1], wantErr: capture.ErrTruncated},
		{
			name: "pcapng truncated last block",
			in:   ngTrunc,
			want: []capture.Packet{
				pkt(1, ns+5000, frame(60, 1), 60, eth, 0, in),
				pkt(2, ns+7, frame(40, 2), 1500, raw, 1, out),
			},
			wantErr: capture.ErrTruncated,
		},
		{name: "gzip trailer missing", in: gzTrailerCut, want: wantTwo, wantErr: capture.ErrTruncated},
		{name: "gzip header only", in: gz(t, nil)[:10], wantErr: capture.ErrTruncated},
		{name: "caplen over limit", in: bigCaplen, want: wantTwo, wantErr: capture.ErrFormat},
		{name: "caplen over configured limit", in: pcapLE, cfg: &capture.FileConfig{MaxRecord: 80}, want: wantTwo[:1], wantErr: capture.ErrFormat},
		{name: "garbage", in: []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), wantErr: capture.ErrFormat},
		{name: "gzip garbage", in: gz(t, []byte("hello, world")), wantErr: capture.ErrFormat},
		{name: "short garbage", in: []byte("hi"), wantErr: capture.ErrFormat},
		{name: "empty file", in: nil, wantErr: capture.ErrTruncated},
		{name: "magic only", in: pcapLE[:4], wantErr: capture.ErrTruncated},
		{name: "pcap bad version", in: badVersion, wantErr: capture.ErrFormat},
		{name: "pcapng undeclared interface", in: badIface, want: []capture.Packet{pkt(1, 1000, frame(4, 0), 4, eth, 0, unk)}, wantErr: capture.ErrFormat},
		{name: "pcapng bad block length", in: badBlockLen, wantErr: capture.ErrFormat},
		{name: "pcapng huge block", in: hugeBlock, wantErr: capture.ErrFormat},
		{name: "pcapng huge skipped block", in: hugeSkipped, wantErr: capture.ErrTruncated},
		{name: "pcapng caplen overruns block", in: overrun, wantErr: capture.ErrFormat},
		{name: "pcapng bad trailing length", in: badTrailer, wantErr: capture.ErrFormat},
		{name: "pcapng bad byte-order magic", in: append([]byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0}, frame(20, 0)...), wantErr: capture.ErrFormat},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "test.pcap")
			if err := os.WriteFile(path, tt.in, 0o644); err != nil {
				t.Fatal(err)
			}
			open := map[string]func() (*capture.File, error){
				"OpenFile":  func() (*capture.File, error) { return capture.OpenFile(path, tt.cfg) },
				"NewReader": func() (*capture.File, error) { return capture.NewReader(bytes.NewReader(tt.in), "test.pcap", tt.cfg) },
			}
			for _, how := range []string{"OpenFile", "NewReader"} {
				f, err := open[how]()
				var got []capture.Packet
				if err == nil {
					got, err = readAll(t, f)
					if n := f.Packets(); n != int64(len(got)) {
						t.Errorf("%s: Packets() = %d, read %d", how, n, len(got))
					}
					if cerr := f.Close(); cerr != nil {
						t.Errorf("%s: Close: %v", how, cerr)
					}
				}
				if testing.Verbose() && err != nil {
					t.Logf("%s: %v", how, err)
				}
				if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
					t.Errorf("%s: error = %v, want %v", how, err, tt.wantErr)
				}
				if err != nil {
					var ce *capture.Error
					if !errors.As(err, &ce) {
						t.Errorf("%s: error %v is not a *capture.Error", how, err)
					}
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: packets mismatch (-want +got):\n%s", how, diff)
				}
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	recs := []rec{{data: frame(60, 1)}, {data: frame(100, 2)}, {data: frame(10, 3)}}
	trunc := pcapFile(le, false, 1, recs...)
	trunc = trunc[:len(trunc)-5]
	big := pcapFile(le, false, 1, recs[0])
	big = le.AppendUint32(le.AppendUint32(le.AppendUint32(le.AppendUint32(big, 0), 0), 300000), 300000)

	tests := []struct {
		name    string
		in      []byte
		want    string
		wantPos [2]int64 // packet, offset
	}{
		{
			name:    "truncated",
			in:      trunc,
			want:    "capture: trace.pcap: packet 3 at offset 216: truncated record (file ends mid-record: 5 of 10 bytes)",
			wantPos: [2]int64{3, 216},
		},
		{
			name:    "caplen",
			in:      big,
			want:    "capture: trace.pcap: packet 2 at offset 100: caplen 300000 exceeds limit 262144 (snaplen 65535)",
			wantPos: [2]int64{2, 100},
		},
		{
			name:    "truncated file header",
			in:      pcapFile(le, false, 1)[:10],
			want:    "capture: trace.pcap: truncated file header (file ends mid-record: 10 of 24 bytes)",
			wantPos: [2]int64{0, 0},
		},
		{
			name:    "not a capture",
			in:      []byte("x,y\n1,2\n"),
			want:    "capture: trace.pcap: not a pcap or pcapng file (magic 0x782c790a)",
			wantPos: [2]int64{0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := capture.NewReader(bytes.NewReader(tt.in), "trace.pcap", nil)
			if err == nil {
				_, err = readAll(t, f)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			var ce *capture.Error
			if !errors.As(err, &ce) {
				t.Fatalf("%T is not *capture.Error", err)
			}
			if diff := cmp.Diff(tt.wantPos, [2]int64{ce.Packet, ce.Offset}); diff != "" {
				t.Errorf("position (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenFileName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "capture.bin")
	if err := os.WriteFile(path, gz(t, pcapFile(le, false, 1, rec{data: frame(1, 0)})), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		cfg  *capture.FileConfig
		want string
	}{
		{cfg: nil, want: "capture.bin"},
		{cfg: &capture.FileConfig{Name: "edge-1"}, want: "edge-1"},
	} {
		f, err := capture.OpenFile(path, tt.cfg)
		if err != nil {
			t.Fatal(err)
		}
		var p capture.Packet
		if err := f.ReadPacket(&p); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, p.Capture); diff != "" {
			t.Errorf("Capture (-want +got):\n%s", diff)
		}
		if f.Format() != capture.FormatPcap {
			t.Errorf("Format() = %v", f.Format())
		}
		f.Close()
		if err := f.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := f.ReadPacket(&p); !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReadPacket after Close = %v, want os.ErrClosed", err)
		}
	}
	if _, err := capture.OpenFile(filepath.Join(dir, "missing.pcap"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}

// manyPackets returns a file of n packets of varied sizes.
func manyPackets(n int, ng bool) []byte {
	if !ng {
		recs := make([]rec, n)
		for i := range recs {
			recs[i] = rec{sec: uint32(i / 1000), frac: uint32(i % 1000), data: frame(60+i%1400, byte(i))}
		}
		return pcapFile(le, false, 1, recs...)
	}
	w := (&ngFile{}).shb(le).idb(1, 0, 0, 0).idb(113, 0, 9, 0)
	for i := range n {
		w.epb(uint32(i%2), uint64(i), frame(60+i%1400, byte(i)), 0, uint32(1+i%2))
	}
	return w.b
}

func TestReadPacketAllocs(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{name: "pcap", in: manyPackets(3000, false)},
		{name: "pcapng", in: manyPackets(3000, true)},
		{name: "pcap.gz", in: gz(t, manyPackets(3000, false))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := capture.NewReader(bytes.NewReader(tt.in), "test", nil)
			if err != nil {
				t.Fatal(err)
			}
			var p capture.Packet
			allocs := testing.AllocsPerRun(2000, func() {
				if err := f.ReadPacket(&p); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("ReadPacket: %v allocs per packet, want 0", allocs)
			}
		})
	}
}

func BenchmarkReadPacket(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   []byte
	}{
		{name: "pcap", in: manyPackets(10000, false)},
		{name: "pcapng", in: manyPackets(10000, true)},
		{name: "pcap.gz", in: gz(b, manyPackets(10000, false))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var (
				f     *capture.File
				p     capture.Packet
				bytes int64
			)
			open := func() {
				var err error
				f, err = capture.NewReader(bytesReader(bc.in), "bench", nil)
				if err != nil {
					b.Fatal(err)
				}
			}
			open()
			for b.Loop() {
				err := f.ReadPacket(&p)
				if err == io.EOF {
					b.StopTimer()
					open()
					b.StartTimer()
					err = f.ReadPacket(&p)
				}
				if err != nil {
					b.Fatal(err)
				}
				bytes += int64(len(p.Data))
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "bytes/pkt")
		})
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// sharedTestdata returns ../shared/testdata beside the repository root, the
// public capture corpus that STYLE.md says is read in place.
func sharedTestdata(t *testing.T) string {
	t.Helper()
	repoRoot, err := filepath.Abs("..") // tests run in capture/
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(repoRoot, "..", "shared", "testdata")
	if _, err := os.Stat(filepath.Join(dir, "INDEX.md")); err != nil {
		t.Skipf("public capture corpus not found: %v (expected at ../shared/testdata beside the repository root)", err)
	}
	return dir
}

// indexCounts reads the packet count of every capture listed in INDEX.md,
// from the "format / link / pkts / duration" column ("... / 20 pkts / ...").
func indexCounts(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "INDEX.md"))
	if err != nil {
		t.Fatal(err)
	}
	counts := make(map[string]int64)
	for line := range strings.Lines(string(b)) {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 8 {
			continue
		}
		path := strings.Trim(strings.TrimSpace(cols[1]), "`")
		m := pktsRE.FindStringSubmatch(cols[6])
		if m == nil {
			continue
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			t.Fatalf("INDEX.md: %s: %v", path, err)
		}
		counts[path] = n
	}
	if len(counts) == 0 {
		t.Fatal("INDEX.md: no packet counts found")
	}
	return counts
}

var pktsRE = regexp.MustCompile(`(?:^|/)\s*(\d+) pkts\s*(?:/|$)`)

// TestSharedTestdata reads every file of the public corpus. Captures must
// not panic, must yield the packet count INDEX.md gives, and must end with
// io.EOF or an ErrTruncated/ErrFormat error; every other file must be
// rejected as not a capture.
func TestSharedTestdata(t *testing.T) {
	dir := sharedTestdata(t)
	counts := indexCounts(t, dir)
	var clean, errored, rejected, packets int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		want, indexed := counts[rel]
		f, err := capture.OpenFile(path, nil)
		if err != nil {
			if indexed {
				t.Errorf("%s: listed in INDEX.md with %d packets: %v", rel, want, err)
			} else if !errors.Is(err, capture.ErrFormat) {
				t.Errorf("%s: %v, want an ErrFormat error", rel, err)
			}
			rejected++
			return nil
		}
		defer f.Close()
		var p capture.Packet
		var n int64
		for {
			err = f.ReadPacket(&p)
			if err != nil {
				break
			}
			n++
			if p.Number != n || len(p.Data) > p.Length || len(p.Data) > capture.DefaultMaxRecord {
				t.Errorf("%s: packet %d: Number %d, %d bytes of %d", rel, n, p.Number, len(p.Data), p.Length)
			}
		}
		packets += n
		switch {
		case err == io.EOF:
			clean++
		case errors.Is(err, capture.ErrTruncated), errors.Is(err, capture.ErrFormat):
			errored++
			t.Logf("%s: %d packets, then %v", rel, n, err)
		default:
			t.Errorf("%s: %v: neither ErrTruncated nor ErrFormat", rel, err)
		}
		if !indexed {
			t.Logf("%s: capture not in INDEX.md: %d packets", rel, n)
		} else if n != want {
			t.Errorf("%s: read %d packets, INDEX.md says %d (err %v)", rel, n, want, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if clean+errored != int64(len(counts)) {
		t.Errorf("read %d captures, INDEX.md lists %d", clean+errored, len(counts))
	}
	t.Logf("%d captures (%d packets): %d read to io.EOF, %d ended with an error; %d other files rejected as not captures",
		clean+errored, packets, clean, errored, rejected)
}

// TestSharedTestdataMatchesPcapgo compares every packet of the public
// corpus with what gopacket's pcapgo readers return: timestamp, lengths,
// interface, link type, direction and bytes.
func TestSharedTestdataMatchesPcapgo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the packet-by-packet comparison with pcapgo")
	}
	dir := sharedTestdata(t)
	var files, compared, withDir int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := capture.OpenFile(path, nil)
		if err != nil {
			return nil
		}
		defer f.Close()
		next, closeRef, err := pcapgoReader(path, f.Format())
		if err != nil {
			// pcapgo rejects some files Wireshark reads (a pcap header
			// whose version is in the other byte order).
			t.Logf("%s: skipped, pcapgo cannot open it: %v", path, err)
			return nil
		}
		defer closeRef()
		files++
		for n := 1; ; n++ {
			var p capture.Packet
			err := f.ReadPacket(&p)
			want, werr := next()
			if err == nil && werr != nil && werr != io.EOF {
				// pcapgo gives up on some records Wireshark reads.
				t.Logf("%s: packet %d: skipped the rest, pcapgo: %v", path, n, werr)
				break
			}
			if err != nil || werr != nil {
				if (err == io.EOF) != (werr == io.EOF) {
					t.Errorf("%s: packet %d: capture: %v, pcapgo: %v", path, n, err, werr)
				}
				break
			}
			if p.Direction != capture.DirectionUnknown {
				withDir++
			}
			got := capture.Packet{Timestamp: p.Timestamp, Data: p.Data, Length: p.Length, LinkType: p.LinkType, Interface: p.Interface, Direction: p.Direction}
			same := got.Timestamp == want.Timestamp && got.Length == want.Length && got.LinkType == want.LinkType &&
				got.Interface == want.Interface && got.Direction == want.Direction && bytes.Equal(got.Data, want.Data)
			if !same {
				t.Errorf("%s: packet %d (-pcapgo +capture):\n%s", path, n, cmp.Diff(want, got))
				break
			}
			compared++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d captures, %d packets identical to pcapgo (%d with a direction)", files, compared, withDir)
}

// pcapgoReader opens path with pcapgo and returns a function yielding its
// packets in the fields the comparison uses.
func pcapgoReader(path string, format capture.Format) (func() (capture.Packet, error), func(), error) {
	osf, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	closeFn := func() { osf.Close() }
	if format == capture.FormatPcap {
		r, err := pcapgo.NewReader(osf)
		if err != nil {
			closeFn()
			return nil, nil, err
		}
		return func() (capture.Packet, error) {
			data, ci, err := r.ReadPacketData()
			return capture.Packet{Timestamp: ci.Timestamp.UnixNano(), Data: data, Length: ci.Length, LinkType: capture.LinkType(r.LinkType())}, err
		}, closeFn, nil
	}
	r, err := pcapgo.NewNgReader(osf, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return func() (capture.Packet, error) {
		data, ci, opts, err := r.ReadPacketDataWithOptions()
		p := capture.Packet{Timestamp: ci.Timestamp.UnixNano(), Data: data, Length: ci.Length, Interface: ci.InterfaceIndex}
		if opts.Flags != nil {
			switch opts.Flags.Direction {
			case pcapgo.NgEpbFlagDirectionInbound:
				p.Direction = capture.DirectionInbound
			case pcapgo.NgEpbFlagDirectionOutbound:
				p.Direction = capture.DirectionOutbound
			}
		}
		if len(ci.AncillaryData) > 0 {
			p.LinkType = capture.LinkType(ci.AncillaryData[0].(layers.LinkType))
		}
		return p, err
	}, closeFn, nil
}
