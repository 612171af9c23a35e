package decode_test

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/decode"
)

// sharedTestdata is the public capture corpus, read in place (STYLE.md).
const sharedTestdata = "../../shared/testdata"

// packetReader is what pcapgo's pcap and pcapng readers share.
type packetReader interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// openCapture opens a pcap or pcapng file with pcapgo. The capture
// package's own reader is not used so that this test stands alone.
func openCapture(path string) (packetReader, func(int) capture.LinkType, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	br := bufio.NewReader(f)
	magic, err := br.Peek(4)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	if string(magic) == "\x0a\x0d\x0d\x0a" {
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			f.Close()
			return nil, nil, nil, err
		}
		lt := func(i int) capture.LinkType {
			ifc, err := r.Interface(i)
			if err != nil {
				return capture.LinkType(r.LinkType())
			}
			return capture.LinkType(ifc.LinkType)
		}
		return r, lt, f, nil
	}
	r, err := pcapgo.NewReader(br)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	return r, func(int) capture.LinkType { return capture.LinkType(r.LinkType()) }, f, nil
}

// TestSharedCaptures decodes and assembles every capture in the shared
// corpus: nothing may panic, and every connection is closed exactly once.
func TestSharedCaptures(t *testing.T) {
	if _, err := os.Stat(sharedTestdata); err != nil {
		t.Skipf("shared capture corpus not found at %s (relative to decode/): %v", sharedTestdata, err)
	}
	var files []string
	err := filepath.WalkDir(sharedTestdata, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".pcap", ".pcapng", ".cap":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no captures under %s", sharedTestdata)
	}
	var total decode.AssemblerStats
	var dtotal decode.DecoderStats
	unreadable := 0
	for _, path := range files {
		rel, _ := filepath.Rel(sharedTestdata, path)
		r, linkType, c, err := openCapture(path)
		if err != nil {
			unreadable++
			t.Logf("%s: not readable by pcapgo: %v", rel, err)
			continue
		}
		f := &recFactory{t: t}
		d := decode.NewDecoder(nil)
		a := decode.NewAssembler(nil, f)
		var p decode.Packet
		n := int64(0)
		for {
			data, ci, err := r.ReadPacketData()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					t.Logf("%s: stopped after %d packets: %v", rel, n, err)
				}
				break
			}
			n++
			in := capture.Packet{
				Timestamp: ci.Timestamp.UnixNano(), Data: data, Length: ci.Length,
				LinkType: linkType(ci.InterfaceIndex), Interface: ci.InterfaceIndex,
				Capture: filepath.Base(path), Number: n,
			}
			if err := d.Decode(&in, &p); err == nil {
				a.Add(&p)
			}
		}
		c.Close()
		a.Flush()
		f.checkClosedOnce(t)
		s := a.Stats()
		if s.Active != 0 || s.Buffered != 0 {
			t.Errorf("%s: after Flush %d conns active, %d bytes buffered", rel, s.Active, s.Buffered)
		}
		ds := d.Stats()
		if ds.TCP > 0 && s.Conns == 0 {
			t.Errorf("%s: %d TCP packets but no connection", rel, ds.TCP)
		}
		if os.Getenv("WIRETRACE_VERBOSE") != "" && (s.GapBytes > 0 || ds.UnsupportedLink > 0) {
			t.Logf("%s: gap=%d delivered=%d unsupported_link=%d", rel, s.GapBytes, s.BytesDelivered, ds.UnsupportedLink)
		}
		addStats(&total, s)
		addDecoderStats(&dtotal, ds)
	}
	t.Logf("%d captures (%d unreadable by pcapgo)", len(files), unreadable)
	dtotal.Each(func(name string, v uint64) { t.Logf("decoder %s=%d", name, v) })
	total.Each(func(name string, v uint64) { t.Logf("assembler %s=%d", name, v) })
}

func addStats(t *decode.AssemblerStats, s decode.AssemblerStats) {
	t.Packets += s.Packets
	t.Conns += s.Conns
	t.ClosedFIN += s.ClosedFIN
	t.ClosedRST += s.ClosedRST
	t.EvictedIdle += s.EvictedIdle
	t.Flushed += s.Flushed
	t.Segments += s.Segments
	t.BytesDelivered += s.BytesDelivered
	t.GapBytes += s.GapBytes
	t.RetransBytes += s.RetransBytes
	t.OOOBytes += s.OOOBytes
	t.LatePackets += s.LatePackets
	t.LateBytes += s.LateBytes
	t.RSTNoConn += s.RSTNoConn
}

func addDecoderStats(t *decode.DecoderStats, s decode.DecoderStats) {
	t.Packets += s.Packets
	t.Bytes += s.Bytes
	t.TCP += s.TCP
	t.UDP += s.UDP
	t.NonIP += s.NonIP
	t.OtherProto += s.OtherProto
	t.UnsupportedLink += s.UnsupportedLink
	t.Fragments += s.Fragments
	t.Reassembled += s.Reassembled
	t.FragmentsDropped += s.FragmentsDropped
	t.Truncated += s.Truncated
	t.MalformedLink += s.MalformedLink
	t.MalformedIP += s.MalformedIP
	t.MalformedTransport += s.MalformedTransport
}
