package postgresql_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// clearTLS stands for a TLS parser whose records are already plaintext: it
// hands every byte to the inner parser, as the decrypting TLS parser does.
type clearTLS struct{ inner protocols.Parser }

func (c *clearTLS) Parse(d protocols.Direction, b []byte, m *protocols.Message) (int, bool, error) {
	return c.inner.Parse(d, b, m)
}
func (c *clearTLS) Gap(d protocols.Direction, n int)                     { c.inner.Gap(d, n) }
func (c *clearTLS) End(d protocols.Direction, m *protocols.Message) bool { return c.inner.End(d, m) }

// startTLSConfig returns a config whose StartTLS hook records the protocol
// name it was given and returns a clearTLS parser.
func startTLSConfig(name *string) *protocols.Config {
	return &protocols.Config{StartTLS: func(inner protocols.Parser, n string) protocols.Parser {
		*name = n
		return &clearTLS{inner}
	}}
}

// startTLSSteps is a connection upgraded by an SSLRequest: the
// StartupMessage, a query with a trace comment and an error follow inside
// TLS.
func startTLSSteps(q string) []step {
	su := startup("user", "alice", "database", "shop")
	return []step{
		feed(up, sslRequest()), feed(down, "S"),
		feed(up, su), feed(down, authOK()+paramStatus("server_version", "15.8")+ready()),
		feed(up, query(q)), feed(down, rowDesc()+dataRow("1")+complete("SELECT 1")+ready()),
		feed(up, query("SELECT * FROM missing")), feed(down, errResp("42P01")+ready()),
	}
}

// TestStartTLS checks that after an accepted SSLRequest the connection
// continues through the StartTLS parser from its startup phase.
func TestStartTLS(t *testing.T) {
	var name string
	q := "SELECT 1 /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/"
	got, err := runCfg(startTLSConfig(&name), startTLSSteps(q))
	if err != nil {
		t.Fatal(err)
	}
	if name != "postgresql" {
		t.Errorf("StartTLS got protocol %q, want postgresql", name)
	}
	ns := []protocols.Attr{s("db.namespace", "shop"), s("user.name", "alice")}
	sel := req("SELECT", q, len(query(q)), ns...)
	sel.Links = []protocols.Attr{s(protocols.LinkTraceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")}
	want := []protocols.Message{
		req("SSLRequest", "", 8),
		resp(1, s("db.postgresql.ssl_response", "S")),
		req("STARTUP", "", len(startup("user", "alice", "database", "shop")), ns...),
		resp(size(authOK(), ready())),
		sel,
		resp(size(rowDesc(), dataRow("1"), complete("SELECT 1"), ready()), rows(1)),
	}
	if len(got) != 8 {
		t.Fatalf("%d messages, want 8: %+v", len(got), got)
	}
	if d := cmp.Diff(want, got[:6], cmpopts.EquateEmpty()); d != "" {
		t.Errorf("messages (-want +got):\n%s", d)
	}
	if got[7].Status != protocols.StatusError {
		t.Errorf("missing table: status %v, want error", got[7].Status)
	}
}

// TestStartTLSDirect checks PostgreSQL 17's direct TLS: a ClientHello in
// place of the startup packet goes to the StartTLS parser whole.
func TestStartTLSDirect(t *testing.T) {
	var seen []byte
	hello := "\x16\x03\x01\x00\x05hello"
	cfg := &protocols.Config{StartTLS: func(inner protocols.Parser, n string) protocols.Parser {
		return &recorder{seen: &seen}
	}}
	if _, err := runCfg(cfg, []step{feed(up, hello)}); err != nil {
		t.Fatal(err)
	}
	if string(seen) != hello {
		t.Errorf("TLS parser saw %q, want %q", seen, hello)
	}
}

// recorder is a TLS parser that keeps what it is given.
type recorder struct{ seen *[]byte }

func (r *recorder) Parse(d protocols.Direction, b []byte, m *protocols.Message) (int, bool, error) {
	*r.seen = append(*r.seen, b...)
	return len(b), false, nil
}
func (r *recorder) Gap(protocols.Direction, int)                     {}
func (r *recorder) End(protocols.Direction, *protocols.Message) bool { return false }

// fuzzConfigs are the configurations each fuzz input runs with: none, a
// StartTLS hook whose TLS is already plaintext, and the TLS parser without
// keys.
func fuzzConfigs() []*protocols.Config {
	var name string
	return []*protocols.Config{nil, startTLSConfig(&name), {StartTLS: func(inner protocols.Parser, n string) protocols.Parser {
		return tls.NewUpgrade(nil, nil, inner, n)
	}}}
}
