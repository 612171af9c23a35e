package tls

import (
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// TestJA4Hashes checks the hashed parts against a published raw JA4
// (JA4_r t13d1011h2_00ff,...; https://shigshag.com/tools/ja4, computed by
// FoxIO's algorithm): t13d1011h2_61a7ad8aa9b6_3fcd1a44f3e3.
func TestJA4Hashes(t *testing.T) {
	ciphers := []uint16{0x00ff, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02c, 0xc02f, 0xc030, 0xcca8, 0xcca9}
	exts := []uint16{0x0005, 0x000a, 0x000b, 0x000d, 0x0017, 0x0023, 0x002b, 0x002d, 0x0033}
	sigs := []uint16{0x0503, 0x0403, 0x0807, 0x0806, 0x0805, 0x0804, 0x0601, 0x0501, 0x0401}
	if got := hash12(hexList(ciphers)); got != "61a7ad8aa9b6" {
		t.Errorf("cipher hash %s, want 61a7ad8aa9b6", got)
	}
	if got := hash12(hexList(exts) + "_" + hexList(sigs)); got != "3fcd1a44f3e3" {
		t.Errorf("extension hash %s, want 3fcd1a44f3e3", got)
	}
	// The same ClientHello, with SNI and ALPN (counted, not hashed) and
	// GREASE values (ignored), in another order.
	ch := &clientHello{
		version:    versionTLS12,
		ciphers:    append([]uint16{0x0a0a}, ciphers...),
		extensions: []uint16{0x1a1a, 0x0000, 0x0010, 0x0033, 0x002d, 0x002b, 0x0023, 0x0017, 0x000d, 0x000b, 0x000a, 0x0005},
		sigAlgs:    sigs,
		versions:   []uint16{0x2a2a, versionTLS13, versionTLS12},
		alpn:       []string{"h2", "http/1.1"},
	}
	if got, want := ja4(ch), "t13d1011h2_61a7ad8aa9b6_3fcd1a44f3e3"; got != want {
		t.Errorf("ja4 = %s, want %s", got, want)
	}
}

func TestJA4Parts(t *testing.T) {
	tests := []struct {
		name string
		ch   clientHello
		want string
	}{
		{"empty", clientHello{version: versionTLS10}, "t10i000000_000000000000_000000000000"},
		{"ssl3", clientHello{version: versionSSL30, ciphers: []uint16{0x000a}}, "t00i0100" + "00_" + hash12("000a") + "_000000000000"},
		{"alpn non-alnum", clientHello{version: versionTLS12, alpn: []string{"\x01x"}}, "t12i000001" + "_000000000000_000000000000"},
		{"alpn one char", clientHello{version: versionTLS12, alpn: []string{"x"}}, "t12i0000xx_000000000000_000000000000"},
	}
	tests[1].want = "ts3i010000_" + hash12("000a") + "_000000000000"
	tests[2].want = "t12i000008_000000000000_000000000000" // hex "0178": '0' and '8'
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ja4(&tc.ch); got != tc.want {
				t.Errorf("ja4 = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestJA3 checks JA3 against the string of its definition.
func TestJA3(t *testing.T) {
	ch := &clientHello{version: 771, ciphers: []uint16{0x0a0a, 4865, 4866}, extensions: []uint16{0, 23, 0x3a3a},
		groups: []uint16{0x4a4a, 29, 23}, pointFormats: []uint8{0}}
	// md5("771,4865-4866,0-23,29-23,0")
	if got, want := ja3(ch), md5hex("771,4865-4866,0-23,29-23,0"); got != want {
		t.Errorf("ja3 = %s, want %s", got, want)
	}
}

func TestGREASE(t *testing.T) {
	for v := 0; v < 1<<16; v++ {
		want := v&0x0f0f == 0x0a0a && v>>8 == v&0xff
		if isGREASE(uint16(v)) != want {
			t.Fatalf("isGREASE(%#04x) = %v", v, !want)
		}
	}
	if !isGREASE(0xfafa) || isGREASE(0x0a1a) {
		t.Error("GREASE misclassified")
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"handshake", []byte{22, 3, 1, 0, 100}, true},
		{"appdata", []byte{23, 3, 3, 0x40, 0x00}, true},
		{"max", []byte{23, 3, 3, 0x48, 0x00}, true},
		{"too long", []byte{23, 3, 3, 0x48, 0x01}, false},
		{"type 19", []byte{19, 3, 3, 0, 1}, false},
		{"type 25", []byte{25, 3, 3, 0, 1}, false},
		{"major 2", []byte{22, 2, 0, 0, 1}, false},
		{"minor 5", []byte{22, 3, 5, 0, 1}, false},
		{"http", []byte("GET /"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := parseHeader(tc.in); ok != tc.ok {
				t.Errorf("ok = %v, want %v", ok, tc.ok)
			}
		})
	}
}

func TestResync(t *testing.T) {
	rec := []byte{23, 3, 3, 0, 2, 0xaa, 0xbb}
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"at start", append(append([]byte{}, rec...), rec...), 0},
		{"after junk", append([]byte{1, 2, 3}, append(append([]byte{}, rec...), rec...)...), 3},
		{"junk only", []byte{1, 2, 3, 4, 5, 6, 7, 8}, -1},
		// A header-like run whose successor is not a header is skipped.
		{"false start", append([]byte{23, 3, 3, 0, 1, 0xff, 9, 9, 9, 9, 9}, rec...), 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := resync(tc.in); got != tc.want {
				t.Errorf("resync = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestAlertName(t *testing.T) {
	if alertName(40) != "handshake_failure" || alertName(48) != "unknown_ca" || alertName(200) != "alert_200" {
		t.Error("alert names")
	}
}

// buildClientHello returns a ClientHello body with the given extensions.
func buildClientHello(sni string, alpn []string) []byte {
	var b cryptobyte.Builder
	b.AddUint16(versionTLS12)
	b.AddBytes(make([]byte, 32))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {})
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(0x1301); b.AddUint16(0xc02f) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint8(0) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
		b.AddUint16(extServerName)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				b.AddUint8(0)
				b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(sni)) })
			})
		})
		b.AddUint16(extALPN)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
				for _, a := range alpn {
					b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(a)) })
				}
			})
		})
		b.AddUint16(extSupportedVersions)
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) {
			b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddUint16(versionTLS13); b.AddUint16(versionTLS12) })
		})
	})
	return b.BytesOrPanic()
}

func TestParseClientHello(t *testing.T) {
	body := buildClientHello("shop.test\x00", []string{"h2", "http/1.1"})
	var ch clientHello
	if !parseClientHello(body, &ch) {
		t.Fatal("parse failed")
	}
	if ch.serverName != "shop.test?" || len(ch.alpn) != 2 || ch.alpn[0] != "h2" || len(ch.versions) != 2 {
		t.Errorf("got %+v", ch)
	}
	// Cut anywhere, it does not parse, but where the extension block
	// starts (a ClientHello may have none).
	const noExtensions = 2 + 32 + 1 + 2 + 4 + 1 + 1
	for i := 0; i < len(body); i++ {
		var c clientHello
		if parseClientHello(body[:i], &c) != (i == noExtensions) {
			t.Errorf("cut at %d: parsed %v", i, i != noExtensions)
		}
	}
}

func md5hex(s string) string { return md5Hex([]byte(s)) }

// FuzzHandshake parses arbitrary handshake message bodies.
func FuzzHandshake(f *testing.F) {
	f.Add(buildClientHello("shop.test", []string{"h2"}))
	f.Add([]byte{3, 3})
	f.Fuzz(func(t *testing.T, body []byte) {
		var ch clientHello
		if parseClientHello(body, &ch) {
			_ = ja3(&ch)
			if s := ja4(&ch); len(s) != 36 {
				t.Fatalf("ja4 %q", s)
			}
		}
		var sh serverHello
		if parseServerHello(body, &sh) {
			_ = ja3s(&sh)
		}
		parseCertificate(body, true)
		parseCertificate(body, false)
		parseEncryptedExtensions(body)
		if i := resync(body); i >= len(body) {
			t.Fatalf("resync %d of %d", i, len(body))
		}
	})
}
