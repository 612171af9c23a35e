package tls_test

import (
	ctls "crypto/tls"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	phttp "github.com/wiretrace/wiretrace/protocols/http"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// BenchmarkParser parses a recorded connection of 20 HTTP/1.1 requests:
// without keys (handshake and encrypted spans) and decrypted.
func BenchmarkParser(b *testing.B) {
	reg := protocols.NewRegistry(phttp.Protocol)
	for _, v := range []struct {
		name string
		ver  uint16
	}{{"tls12", ctls.VersionTLS12}, {"tls13", ctls.VersionTLS13}} {
		s := record(b, v.ver, v.ver, nil, 0, 20)
		kl := &tls.KeyLog{}
		kl.Write(s.keys)
		size := 0
		for _, c := range s.chunks {
			size += len(c.b)
		}
		for _, mode := range []string{"nokeys", "keys"} {
			b.Run(v.name+"/"+mode, func(b *testing.B) {
				cfg := &tls.Config{Inner: reg}
				if mode == "keys" {
					cfg.Keys = kl
				}
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for i := 0; i < b.N; i++ {
					if _, err := drive(tls.NewParser(nil, cfg), s.chunks); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
