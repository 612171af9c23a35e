package tls_test

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/http"
	"github.com/wiretrace/wiretrace/protocols/http2"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// ExampleNew builds a registry whose TLS protocol decrypts the sessions of
// a key log and parses their plaintext as HTTP/1.x or HTTP/2.
func ExampleNew() {
	keys := &tls.KeyLog{}
	keys.Write([]byte("CLIENT_RANDOM " + strings.Repeat("ab", 32) + " " + strings.Repeat("01", 48) + "\n"))
	inner := protocols.NewRegistry(http.Protocol, http2.Protocol)
	counters := &tls.Counters{}
	reg := protocols.NewRegistry(http.Protocol, http2.Protocol,
		tls.New(&tls.Config{Keys: keys, Inner: inner, Counters: counters}))
	// Pass reg to protocols.NewDriver (or wiretrace.Config.Driver.Registry).
	fmt.Println(reg.Lookup("tls").Summary != "")
	fmt.Println(keys.Stats().Sessions, "session")
	// Output:
	// true
	// 1 session
}

// ExampleSecrets shows that secrets never print.
func ExampleSecrets() {
	var kl tls.KeyLog
	kl.Write([]byte("CLIENT_RANDOM " + strings.Repeat("ab", 32) + " " + strings.Repeat("01", 48) + "\n"))
	s, ok := kl.Secrets(bytes.Repeat([]byte{0xab}, 32))
	fmt.Println(ok, len(s.MasterSecret), s)
	fmt.Printf("%+v\n", s)
	// Output:
	// true 48 tls.Secrets{redacted}
	// tls.Secrets{redacted}
}
