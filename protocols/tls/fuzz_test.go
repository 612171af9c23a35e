package tls_test

import (
	ctls "crypto/tls"
	"encoding/binary"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	phttp "github.com/wiretrace/wiretrace/protocols/http"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// encode turns chunks into a fuzz input: per chunk a direction byte, a
// 16-bit length and the bytes.
func encode(chunks []chunk) []byte {
	var out []byte
	for _, c := range chunks {
		d := byte(0)
		if c.dir == protocols.ToClient {
			d = 1
		}
		b := c.b
		for len(b) > 0 {
			n := min(len(b), 0xffff)
			out = append(out, d)
			out = binary.BigEndian.AppendUint16(out, uint16(n))
			out = append(out, b[:n]...)
			b = b[n:]
		}
	}
	return out
}

func decodeChunks(in []byte) []chunk {
	var out []chunk
	for len(in) >= 3 {
		d := protocols.ToServer
		if in[0]&1 == 1 {
			d = protocols.ToClient
		}
		n := min(int(binary.BigEndian.Uint16(in[1:])), len(in)-3)
		out = append(out, chunk{d, in[3 : 3+n]})
		in = in[3+n:]
	}
	return out
}

// FuzzParser feeds chunks in both directions, with the keys of the seed
// sessions (so that decryption runs on the seeds and fails on mutations),
// and checks the driver's invariants: no panic, consumption in range (in
// drive), and a bounded number of messages.
func FuzzParser(f *testing.F) {
	kl := &tls.KeyLog{}
	for _, v := range []struct {
		min, max uint16
		suites   []uint16
	}{
		{ctls.VersionTLS12, ctls.VersionTLS12, nil},
		{ctls.VersionTLS12, ctls.VersionTLS12, []uint16{ctls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}},
		{ctls.VersionTLS12, ctls.VersionTLS12, []uint16{ctls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
		{ctls.VersionTLS13, ctls.VersionTLS13, nil},
	} {
		s := record(f, v.min, v.max, v.suites, 0, 2)
		kl.Write(s.keys)
		f.Add(encode(s.chunks))
	}
	f.Add([]byte{0, 0, 5, 22, 3, 1, 0, 0})
	reg := protocols.NewRegistry(phttp.Protocol)
	f.Fuzz(func(t *testing.T, in []byte) {
		cfg := &tls.Config{Keys: kl, Inner: reg, Counters: &tls.Counters{}}
		msgs, _ := drive(tls.NewParser(nil, cfg), decodeChunks(in))
		if len(msgs) > len(in)+16 {
			t.Fatalf("%d messages from %d bytes", len(msgs), len(in))
		}
	})
}

// FuzzKeyLog writes arbitrary bytes to a KeyLog.
func FuzzKeyLog(f *testing.F) {
	f.Add([]byte("CLIENT_RANDOM 0101010101010101010101010101010101010101010101010101010101010101 aabb\n"))
	f.Add([]byte("# x\n\nSERVER_TRAFFIC_SECRET_0 zz 00\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var kl tls.KeyLog
		kl.Write(in)
		kl.Flush()
		st := kl.Stats()
		if st.Sessions > st.Lines {
			t.Fatalf("stats %+v", st)
		}
	})
}
