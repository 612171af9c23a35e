package wiretrace_test

import (
	"testing"

	"github.com/wiretrace/wiretrace"
	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/mysql"
	"github.com/wiretrace/wiretrace/protocols/postgresql"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// TestRegistryStartTLS checks the registries Config builds: the built-in
// MySQL and PostgreSQL protocols are replaced by ones whose parsers get a
// StartTLS hook, with or without keys; tls.Protocol is replaced only with
// keys or counters; a registry without them is returned as it is.
func TestRegistryStartTLS(t *testing.T) {
	kl := &tls.KeyLog{}
	for _, tc := range []struct {
		name    string
		reg     *protocols.Registry
		sameTLS bool
	}{
		{"nil config", (*wiretrace.Config)(nil).Registry(), true},
		{"keys", (&wiretrace.Config{TLSKeys: kl}).Registry(), false},
		{"counters", (&wiretrace.Config{}).RegistryCounting(&tls.Counters{}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, orig := range []*protocols.Protocol{mysql.Protocol, postgresql.Protocol} {
				p := tc.reg.Lookup(orig.Name)
				if p == nil || p == orig || p.Sniff == nil || p.New == nil {
					t.Fatalf("%s: %p, want a replacement of %p", orig.Name, p, orig)
				}
			}
			if got := tc.reg.Lookup(tls.Name) == tls.Protocol; got != tc.sameTLS {
				t.Errorf("tls.Protocol kept: %v, want %v", got, tc.sameTLS)
			}
		})
	}
	only := protocols.NewRegistry(tls.Protocol)
	if r := (&wiretrace.Config{Driver: protocols.DriverConfig{Registry: only}}).Registry(); r != only {
		t.Error("a registry without MySQL, PostgreSQL or keys was not returned as it is")
	}
}
