package tls_test

import (
	ctls "crypto/tls"
	"strings"
	"testing"

	"github.com/wiretrace/wiretrace/protocols"
	phttp "github.com/wiretrace/wiretrace/protocols/http"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// TestUpgrade checks NewUpgrade's parser: with keys (and no Inner
// registry) the plaintext goes to the fixed inner parser, whose messages
// carry the given protocol name; the TLS parser's own messages name
// protocol "tls"; without keys it gives the handshake and encrypted
// exchanges.
func TestUpgrade(t *testing.T) {
	const n = 3
	for _, v := range []uint16{ctls.VersionTLS12, ctls.VersionTLS13} {
		s := record(t, v, v, nil, 0, n)
		for _, keyed := range []bool{true, false} {
			name := "tls12"
			if v == ctls.VersionTLS13 {
				name = "tls13"
			}
			if !keyed {
				name += "/nokeys"
			}
			t.Run(name, func(t *testing.T) {
				cfg := &tls.Config{Counters: &tls.Counters{}}
				if keyed {
					kl := &tls.KeyLog{}
					kl.Write(s.keys)
					cfg.Keys = kl
				}
				msgs, err := drive(tls.NewUpgrade(nil, cfg, phttp.Protocol.New(nil), "db"), s.chunks)
				if err != nil {
					t.Fatal(err)
				}
				var inner, hs, enc int
				for i := range msgs {
					m := &msgs[i]
					switch {
					case m.Protocol == "db":
						inner++
					case m.Protocol != tls.Name:
						t.Errorf("message %q protocol %q", m.Name, m.Protocol)
					case m.Kind == protocols.Request && strings.HasPrefix(m.Name, "handshake"):
						hs++
					case m.Kind == protocols.Request && strings.HasPrefix(m.Name, "encrypted"):
						enc++
					}
				}
				st := cfg.Counters.Stats()
				switch {
				case hs != 1:
					t.Errorf("%d handshakes, want 1", hs)
				case keyed && (inner != 2*n || enc != 0 || st.Decrypted != 1 || st.Fallbacks != 0):
					t.Errorf("keys: %d inner messages (want %d), %d encrypted, stats %+v", inner, 2*n, enc, st)
				case !keyed && (inner != 0 || enc != n):
					t.Errorf("no keys: %d inner messages, %d encrypted (want %d)", inner, enc, n)
				}
			})
		}
	}
}
