package mysql_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wiretrace/wiretrace/protocols"
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

// TestStartTLS checks that after an SSLRequest the connection continues
// through the StartTLS parser: the HandshakeResponse (sequence id 2), its
// OK, then commands, as in plaintext.
func TestStartTLS(t *testing.T) {
	var name string
	sel := "SELECT id FROM orders /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/"
	caps := uint32(capsBase | capSSL)
	got, err := run(startTLSConfig(&name), []step{
		feed(down, greeting("5.5.5-10.11.6-MariaDB", caps)),
		feed(up, pkt(1, u32(caps), u32(1<<24), []byte{0x21}, make([]byte, 23))),
		feed(up, login(2, caps, "alice", "s3cret-scramble", "shop")),
		feed(down, ok(3, 0, 2)),
		feed(up, query(sel)),
		feed(down, resultSet(2, false)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if name != "mysql" {
		t.Errorf("StartTLS got protocol %q, want mysql", name)
	}
	sysMaria := s("db.system.name", "mariadb")
	want := []protocols.Message{
		{Kind: protocols.Request, Name: "CONNECT", NoResponse: true, Size: 36, Attrs: []protocols.Attr{sysMaria, s("tls.protocol.name", "tls")}},
		req("CONNECT", len(login(2, caps, "alice", "s3cret-scramble", "shop")), sysMaria, nsShop),
		resp(protocols.StatusOK, 11),
		{Kind: protocols.Request, Name: "SELECT", Size: 5 + len(sel), Attrs: []protocols.Attr{sysMaria, nsShop, s("db.operation.name", "SELECT"), s("db.query.text", sel)},
			Links: []protocols.Attr{s(protocols.LinkTraceparent, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")}},
		resp(protocols.StatusOK, len(resultSet(2, false)), i("db.response.returned_rows", 2)),
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("messages (-want +got):\n%s", d)
	}
}

// TestStartTLSDeclined checks that a hook returning nil leaves the
// upgraded bytes unread, as without a hook.
func TestStartTLSDeclined(t *testing.T) {
	caps := uint32(capsBase | capSSL)
	cfg := &protocols.Config{StartTLS: func(protocols.Parser, string) protocols.Parser { return nil }}
	got, err := run(cfg, []step{
		feed(down, greeting("8.0.36", caps)),
		feed(up, pkt(1, u32(caps), u32(1<<24), []byte{0x21}, make([]byte, 23))),
		feed(up, query("SELECT 1")),
	})
	if err != nil || len(got) != 1 || !got[0].NoResponse {
		t.Fatalf("got %d messages (%v), want the SSLRequest's CONNECT only", len(got), err)
	}
}
