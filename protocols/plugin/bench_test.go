package plugin_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/capture"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/plugin"
)

var benchRequest = []byte("POST /payments HTTP/1.1\r\nHost: 10.241.6.2:8081\r\nUser-Agent: Go-http-client/1.1\r\n" +
	"Content-Length: 46\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n" +
	`{"txn_serial":"TXN-2026-001001","amount":"10.00"}`)

// BenchmarkInspect is the cost per message of one inspecting plugin: the
// host stages the message, calls wt_inspect and decodes its records.
func BenchmarkInspect(b *testing.B) {
	// A generous time limit: a benchmark must not fail on a loaded
	// machine (see Config.Timeout).
	p := open(b, "txnjson", &plugin.Config{Timeout: time.Second})
	in := plugin.NewInspector(p)
	f := &protocols.Flow{ID: 1, Protocol: "http", Client: netip.MustParseAddrPort("10.241.6.1:40000"), Server: netip.MustParseAddrPort("10.241.6.2:8081")}
	m := &protocols.Message{Kind: protocols.Request, Name: "POST /payments"}
	b.Run("txnjson", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchRequest)))
		for b.Loop() {
			m.Reset()
			m.Kind, m.Name = protocols.Request, "POST /payments"
			if ok := in.Inspect(f, protocols.ToServer, benchRequest, m); !ok || len(m.Links) != 1 {
				b.Fatal("no link", ok, m.Links, p.Stats())
			}
		}
	})
}

// BenchmarkParse is the cost per message of a protocol plugin's wt_parse.
func BenchmarkParse(b *testing.B) {
	p := open(b, "privrpc", &plugin.Config{Timeout: time.Second})
	ps := p.Protocol().New(nil)
	frame := []byte{0, 0, 0, 0x29, 'P', 'R', 1, 0, 0, 0, 0, 100, 12, 'A', 'c', 'c', 'o', 'u', 'n', 't', 's', '.', 'G', 'e', 't', 0,
		'{', '"', 'a', 'c', 'c', 'o', 'u', 'n', 't', '"', ':', '"', 'A', 'C', 'C', '-', '1', '"', '}'}
	var m protocols.Message
	b.Run("privrpc", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			m.Reset()
			n, done, err := ps.Parse(protocols.ToServer, frame, &m)
			if err != nil || !done || n != len(frame) {
				b.Fatal(n, done, err)
			}
		}
	})
}

// BenchmarkReplay replays the txn capture through a whole pipeline, with no
// plugin and with txnjson: ns/op divided by the 20 messages is the cost
// per message.
func BenchmarkReplay(b *testing.B) {
	p := open(b, "txnjson", &plugin.Config{Timeout: time.Second})
	for _, bc := range []struct {
		name    string
		plugins []*plugin.Plugin
	}{{"none", nil}, {"txnjson", []*plugin.Plugin{p}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				src, err := capture.OpenFile(filepath.Join(repo, "testdata", "plugin_txn.pcap"), nil)
				if err != nil {
					b.Fatal(err)
				}
				var sink collect
				pl, err := wiretrace.New(&wiretrace.Config{Plugins: bc.plugins}, &sink)
				if err != nil {
					b.Fatal(err)
				}
				if err := pl.Run(context.Background(), src); err != nil {
					b.Fatal(err)
				}
				pl.Close()
				src.Close()
				if len(sink.traces) == 0 {
					b.Fatal("no traces")
				}
			}
		})
	}
}
