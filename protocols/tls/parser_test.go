package tls_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	ctls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wiretrace/wiretrace/protocols"
	phttp "github.com/wiretrace/wiretrace/protocols/http"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// chunk is what one side wrote (ToServer) or the client read (ToClient).
type chunk struct {
	dir protocols.Direction
	b   []byte
}

// recConn records a client's writes and reads in the order they happen.
type recConn struct {
	net.Conn
	mu     *sync.Mutex
	chunks *[]chunk
}

func (c recConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	*c.chunks = append(*c.chunks, chunk{protocols.ToServer, append([]byte(nil), b...)})
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c recConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		*c.chunks = append(*c.chunks, chunk{protocols.ToClient, append([]byte(nil), b[:n]...)})
		c.mu.Unlock()
	}
	return n, err
}

var (
	certOnce sync.Once
	cert     ctls.Certificate
)

func testCert(tb testing.TB) ctls.Certificate {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "shop.test", Organization: []string{"wiretrace test"}},
			DNSNames:     []string{"shop.test"},
			NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		cert = ctls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	})
	return cert
}

// session is a recorded TLS connection carrying HTTP/1.1 requests, and
// its key log.
type session struct {
	chunks []chunk
	keys   []byte
}

// record runs n HTTP/1.1 requests over an in-memory crypto/tls connection
// with the given version bounds and TLS 1.2 suites.
func record(tb testing.TB, minV, maxV uint16, suites []uint16, serverMax uint16, n int) session {
	tb.Helper()
	cc, sc := net.Pipe()
	var mu sync.Mutex
	var s session
	var keys bytes.Buffer
	srvCfg := &ctls.Config{Certificates: []ctls.Certificate{testCert(tb)}, MaxVersion: serverMax,
		CipherSuites: suites, NextProtos: []string{"http/1.1"}, SessionTicketsDisabled: true}
	cliCfg := &ctls.Config{InsecureSkipVerify: true, ServerName: "shop.test", MinVersion: minV, MaxVersion: maxV,
		CipherSuites: suites, NextProtos: []string{"http/1.1"}, KeyLogWriter: &keys}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer sc.Close()
		srv := ctls.Server(sc, srvCfg)
		br := bufio.NewReader(srv)
		for i := 0; i < n; i++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			status := "200 OK"
			if strings.HasSuffix(req.URL.Path, "/fail") {
				status = "503 Service Unavailable"
			}
			fmt.Fprintf(srv, "HTTP/1.1 %s\r\nContent-Length: 2\r\n\r\nok", status)
		}
		srv.Close()
	}()
	cli := ctls.Client(recConn{cc, &mu, &s.chunks}, cliCfg)
	cli.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(cli)
	for i := 0; i < n; i++ {
		path := fmt.Sprintf("/item/%d", i)
		if i == n-1 {
			path = "/fail"
		}
		if _, err := fmt.Fprintf(cli, "GET %s HTTP/1.1\r\nHost: shop.test\r\nAuthorization: Bearer tls-Secret-1\r\n\r\n", path); err != nil {
			break
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	io.Copy(io.Discard, br) // the server's close_notify
	cli.Close()
	cc.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	s.keys = keys.Bytes()
	return s
}

// drive feeds a session to p as the protocols driver does: Turn before
// each chunk, Parse until it needs more, End at the end.
func drive(p *tls.Parser, chunks []chunk) ([]protocols.Message, error) {
	var out []protocols.Message
	var tail [2][]byte
	var m protocols.Message
	keep := func() {
		c := m
		c.Attrs = append([]protocols.Attr(nil), m.Attrs...)
		c.Links = append([]protocols.Attr(nil), m.Links...)
		out = append(out, c)
	}
	idx := func(d protocols.Direction) int {
		if d == protocols.ToClient {
			return 1
		}
		return 0
	}
	for _, c := range chunks {
		other := protocols.ToClient
		if c.dir == protocols.ToClient {
			other = protocols.ToServer
		}
		for i := 0; i < 64; i++ {
			m.Reset()
			if !p.Turn(other, &m) {
				break
			}
			keep()
		}
		buf := append(tail[idx(c.dir)], c.b...)
		for guard := 0; len(buf) > 0 && guard < 1<<16; guard++ {
			m.Reset()
			n, done, err := p.Parse(c.dir, buf, &m)
			if err != nil {
				return out, err
			}
			if n < 0 || n > len(buf) {
				return out, fmt.Errorf("consumed %d of %d", n, len(buf))
			}
			buf = buf[n:]
			if done {
				keep()
			} else if n == 0 {
				break
			}
		}
		tail[idx(c.dir)] = append([]byte(nil), buf...)
	}
	for _, d := range []protocols.Direction{protocols.ToServer, protocols.ToClient} {
		for i := 0; i < 64; i++ {
			m.Reset()
			if !p.End(d, &m) {
				break
			}
			keep()
		}
	}
	return out, nil
}

func attr(m *protocols.Message, key string) string {
	for _, a := range m.Attrs {
		if a.Key == key {
			return a.Value()
		}
	}
	return ""
}

// corrupt returns a key log whose secrets are all changed.
func corrupt(keys []byte) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(strings.TrimSpace(string(keys)), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 {
			f[2] = strings.Repeat("ab", len(f[2])/2)
		}
		b.WriteString(strings.Join(f, " ") + "\n")
	}
	return b.Bytes()
}

func TestSessions(t *testing.T) {
	const n = 3
	tests := []struct {
		name       string
		minV, maxV uint16
		suites     []uint16
		version    string
		cipher     string
	}{
		{"tls12 aes128gcm", ctls.VersionTLS12, ctls.VersionTLS12, []uint16{ctls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, "1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{"tls12 aes256gcm sha384", ctls.VersionTLS12, ctls.VersionTLS12, []uint16{ctls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, "1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
		{"tls12 chacha20", ctls.VersionTLS12, ctls.VersionTLS12, []uint16{ctls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, "1.2", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
		{"tls12 aes128cbc sha1", ctls.VersionTLS12, ctls.VersionTLS12, []uint16{ctls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, "1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
		{"tls12 aes256cbc sha1", ctls.VersionTLS12, ctls.VersionTLS12, []uint16{ctls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}, "1.2", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
		{"tls12 aes128cbc sha256", ctls.VersionTLS12, ctls.VersionTLS12, []uint16{ctls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}, "1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
		{"tls13", ctls.VersionTLS13, ctls.VersionTLS13, nil, "1.3", ""},
	}
	reg := protocols.NewRegistry(phttp.Protocol)
	for _, tc := range tests {
		s := record(t, tc.minV, tc.maxV, tc.suites, 0, n)
		for _, mode := range []string{"keys", "nokeys", "badkeys"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				cfg := &tls.Config{Inner: reg, Counters: &tls.Counters{}}
				switch mode {
				case "nokeys":
					cfg.Keys = &tls.KeyLog{}
				case "keys":
					kl := &tls.KeyLog{}
					kl.Write(s.keys)
					cfg.Keys = kl
				case "badkeys":
					kl := &tls.KeyLog{}
					kl.Write(corrupt(s.keys))
					cfg.Keys = kl
				}
				msgs, err := drive(tls.NewParser(nil, cfg), s.chunks)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				var hsResp *protocols.Message
				reqs, resps, errs := 0, 0, 0
				for i := range msgs {
					m := &msgs[i]
					if m.Kind == protocols.Request {
						names = append(names, m.Name)
						if !strings.HasPrefix(m.Name, "handshake") {
							reqs++
						}
						continue
					}
					if hsResp == nil {
						hsResp = m
						continue
					}
					resps++
					if m.Status == protocols.StatusError {
						errs++
					}
				}
				if len(names) == 0 || names[0] != "handshake shop.test" {
					t.Fatalf("requests %q: want the handshake first", names)
				}
				if hsResp == nil || attr(hsResp, tls.AttrVersion) != tc.version ||
					(tc.cipher != "" && attr(hsResp, tls.AttrCipher) != tc.cipher) {
					t.Errorf("handshake response %+v", hsResp)
				}
				if tc.version == "1.2" && attr(hsResp, tls.AttrSubject) != "CN=shop.test,O=wiretrace test" {
					t.Errorf("certificate subject %q", attr(hsResp, tls.AttrSubject))
				}
				if reqs != n || resps != n {
					t.Errorf("%d requests, %d responses, want %d each: %q", reqs, resps, n, names)
				}
				st := cfg.Counters.Stats()
				switch mode {
				case "keys":
					if names[1] != "GET /item/0" || names[n] != "GET /fail" {
						t.Errorf("names %q", names)
					}
					if errs != 1 {
						t.Errorf("%d error responses, want 1 (503)", errs)
					}
					if attr(hsResp, tls.AttrALPN) != "http/1.1" {
						t.Errorf("ALPN %q", attr(hsResp, tls.AttrALPN))
					}
					if tc.version == "1.3" && attr(hsResp, tls.AttrSubject) != "CN=shop.test,O=wiretrace test" {
						t.Errorf("TLS 1.3 certificate with keys: %q", attr(hsResp, tls.AttrSubject))
					}
					if st.Decrypted != 1 || st.AuthFailures != 0 || st.Fallbacks != 0 || st.Records == 0 {
						t.Errorf("stats %+v", st)
					}
					for _, m := range msgs {
						for _, a := range m.Attrs {
							if strings.Contains(a.Str, "tls-Secret-1") {
								t.Errorf("credential in %s", a.Key)
							}
						}
					}
				case "nokeys", "badkeys":
					for _, nm := range names[1:] {
						if nm != "encrypted shop.test" {
							t.Errorf("names %q", names)
							break
						}
					}
					if mode == "badkeys" && (st.AuthFailures != 1 || st.Fallbacks != 1) {
						t.Errorf("stats %+v, want one authentication failure and fallback", st)
					}
					if mode == "nokeys" && st.NoKeys != 1 {
						t.Errorf("stats %+v, want no_keys 1", st)
					}
				}
			})
		}
	}
}

// TestAlert checks that a version mismatch gives an error handshake span.
func TestAlert(t *testing.T) {
	s := record(t, ctls.VersionTLS13, ctls.VersionTLS13, nil, ctls.VersionTLS12, 1)
	msgs, err := drive(tls.NewParser(nil, nil), s.chunks)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[1].Status != protocols.StatusError || attr(&msgs[1], tls.AttrAlert) != "protocol_version" {
		t.Fatalf("messages %+v, want a handshake and a protocol_version alert", msgs)
	}
}

func TestSniff(t *testing.T) {
	s := record(t, ctls.VersionTLS12, ctls.VersionTLS13, nil, 0, 1)
	var first [2][]byte
	for _, c := range s.chunks {
		i := 0
		if c.dir == protocols.ToClient {
			i = 1
		}
		if first[i] == nil {
			first[i] = c.b
		}
	}
	tests := []struct {
		name string
		in   []byte
		want protocols.Direction
	}{
		{"client hello", first[0], protocols.ToServer},
		{"server hello", first[1], protocols.ToClient},
		{"short", first[0][:10], protocols.DirUnknown},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), protocols.DirUnknown},
		{"app data", []byte{23, 3, 3, 0, 60, 1, 0, 0, 56, 3, 3, 0, 0}, protocols.DirUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tls.Sniff(tc.in); got != tc.want {
				t.Errorf("Sniff = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestGap checks that after a gap in the client's application data the
// exchange in progress is partial and record framing resumes.
func TestGap(t *testing.T) {
	s := record(t, ctls.VersionTLS12, ctls.VersionTLS12, nil, 0, 3)
	for _, mode := range []string{"nokeys", "keys"} {
		t.Run(mode, func(t *testing.T) {
			cfg := &tls.Config{Inner: protocols.NewRegistry(phttp.Protocol), Counters: &tls.Counters{}}
			if mode == "keys" {
				kl := &tls.KeyLog{}
				kl.Write(s.keys)
				cfg.Keys = kl
			}
			p := tls.NewParser(nil, cfg)
			appData := 0
			cut := len(s.chunks)
			for i, c := range s.chunks {
				if c.dir == protocols.ToServer && c.b[0] == 23 {
					if appData++; appData == 2 {
						cut = i
						break
					}
				}
			}
			before, err := drive(p, s.chunks[:cut])
			if err != nil {
				t.Fatal(err)
			}
			c := s.chunks[cut]
			p.Gap(protocols.ToServer, len(c.b)/2)
			rest := append([]chunk{{protocols.ToServer, c.b[len(c.b)/2:]}}, s.chunks[cut+1:]...)
			after, err := drive(p, rest)
			if err != nil {
				t.Fatalf("after the gap: %v", err)
			}
			reqs := 0
			for _, m := range append(before, after...) {
				if m.Kind == protocols.Request {
					reqs++
				}
			}
			// The handshake, the first request, the third one after
			// resynchronisation (the second is lost in the gap).
			if reqs != 3 {
				t.Errorf("%d requests, want 3: %+v %+v", reqs, before, after)
			}
			if mode == "keys" && cfg.Counters.Stats().Fallbacks != 1 {
				t.Errorf("stats %+v, want a fallback", cfg.Counters.Stats())
			}
		})
	}
}

func TestKeyLog(t *testing.T) {
	r := strings.Repeat("01", 32)
	var kl tls.KeyLog
	kl.Write([]byte("# comment\nCLIENT_RANDOM " + r + " " + strings.Repeat("aa", 48) + "\nCLIENT_TRAFFIC_SECRET_0 " + r))
	kl.Write([]byte(" " + strings.Repeat("bb", 32) + "\nBOGUS\nEXPORTER_SECRET " + strings.Repeat("02", 32) + " cc\nCLIENT_RANDOM zz" + strings.Repeat("0", 62) + " aa\n"))
	s, ok := kl.Secrets(bytes.Repeat([]byte{1}, 32))
	if !ok || len(s.MasterSecret) != 48 || len(s.ClientTraffic) != 32 {
		t.Fatalf("secrets %v %v", ok, len(s.MasterSecret))
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v %s", s, s, s, s), "aa") {
		t.Error("secrets shown by fmt")
	}
	if _, ok := kl.Secrets(bytes.Repeat([]byte{2}, 32)); ok {
		t.Error("EXPORTER_SECRET made a session")
	}
	st := kl.Stats()
	if st.Lines != 2 || st.Invalid != 2 || st.Sessions != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestAllocs checks that an encrypted exchange without keys, once the
// connection is set up, allocates nothing.
func TestAllocs(t *testing.T) {
	s := record(t, ctls.VersionTLS12, ctls.VersionTLS12, nil, 0, 2)
	p := tls.NewParser(nil, nil)
	if _, err := drive(p, s.chunks); err != nil {
		t.Fatal(err)
	}
	req := []byte{23, 3, 3, 0, 40}
	req = append(req, make([]byte, 40)...)
	resp := []byte{23, 3, 3, 0, 80}
	resp = append(resp, make([]byte, 80)...)
	m := &protocols.Message{Attrs: make([]protocols.Attr, 0, 16)}
	parse := func(d protocols.Direction, b []byte) {
		for len(b) > 0 {
			m.Reset()
			n, _, err := p.Parse(d, b, m)
			if err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		m.Reset()
		p.Turn(protocols.ToClient, m)
		parse(protocols.ToServer, req)
		parse(protocols.ToClient, resp)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per exchange, want 0", allocs)
	}
}

// lateKeys is a key source whose secrets turn up after some lookups, as a
// key log file being written during a live capture.
type lateKeys struct {
	kl   *tls.KeyLog
	miss int
}

func (l *lateKeys) Secrets(r []byte) (tls.Secrets, bool) {
	if l.miss > 0 {
		l.miss--
		return tls.Secrets{}, false
	}
	return l.kl.Secrets(r)
}

// TestLateKeys checks sessions whose secrets are missing at first: the
// records after they turn up are decrypted, none fails authentication, and
// every request is a span, decrypted or encrypted.
func TestLateKeys(t *testing.T) {
	const n = 4
	for _, v := range []struct {
		name string
		ver  uint16
	}{{"tls12", ctls.VersionTLS12}, {"tls13", ctls.VersionTLS13}} {
		s := record(t, v.ver, v.ver, nil, 0, n)
		kl := &tls.KeyLog{}
		kl.Write(s.keys)
		for miss := 1; miss <= 8; miss++ {
			t.Run(fmt.Sprintf("%s/miss%d", v.name, miss), func(t *testing.T) {
				cfg := &tls.Config{Keys: &lateKeys{kl, miss}, Inner: protocols.NewRegistry(phttp.Protocol), Counters: &tls.Counters{}}
				msgs, err := drive(tls.NewParser(nil, cfg), s.chunks)
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				plain := 0
				for _, m := range msgs {
					if m.Kind == protocols.Request && !strings.HasPrefix(m.Name, "handshake") {
						names = append(names, m.Name)
						if m.Protocol == "http" {
							plain++
						}
					}
				}
				st := cfg.Counters.Stats()
				if st.AuthFailures != 0 || st.Fallbacks != 0 {
					t.Errorf("stats %+v", st)
				}
				if len(names) != n || st.Decrypted != 1 || st.NoKeys != 0 {
					t.Errorf("requests %q, stats %+v: want %d requests, decrypted from some point on", names, st, n)
				}
				// Found by the client's first application record, the
				// keys decrypt every request.
				if miss <= 3 && plain != n {
					t.Errorf("%d of %d requests decrypted: %q", plain, n, names)
				}
			})
		}
	}
}
