package plugin

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/plugin/guest"
)

func TestRecords(t *testing.T) {
	enc := func(f func(o *guest.Output)) []byte {
		var o guest.Output
		f(&o)
		return o.Bytes()
	}
	tests := []struct {
		name      string
		in        []byte
		wantLinks []protocols.Attr
		wantAttrs []protocols.Attr
		wantErr   bool
	}{
		{name: "empty"},
		{
			name: "links and attributes",
			in: enc(func(o *guest.Output) {
				o.Link("txn_serial", "TX-1")
				o.Link("key_other", "v")
				o.Link("x_request_id", "req-1")
				o.Link("empty", "")
				o.Attr("bank.branch", "042")
				o.Int("bank.amount_cents", 1250)
				o.Field("ignored", "by inspect")
			}),
			wantLinks: []protocols.Attr{
				protocols.String("key_txn_serial", "TX-1"),
				protocols.String("key_other", "v"),
				protocols.String("x_request_id", "req-1"),
			},
			wantAttrs: []protocols.Attr{protocols.String("bank.branch", "042"), protocols.Int("bank.amount_cents", 1250)},
		},
		{name: "short header", in: []byte{'L', 1, 0, 0}, wantErr: true},
		{name: "value past the end", in: []byte{'L', 1, 0, 9, 0, 0, 0, 'k', 'v'}, wantErr: true},
		{name: "key too long", in: enc(func(o *guest.Output) { o.Link(string(make([]byte, maxKeyLen+1)), "v") }), wantErr: true},
		{name: "value too long", in: enc(func(o *guest.Output) { o.Attr("k", string(make([]byte, maxValueLen+1))) }), wantErr: true},
		{name: "empty key", in: enc(func(o *guest.Output) { o.Attr("", "v") }), wantErr: true},
		{name: "bad integer", in: enc(func(o *guest.Output) { o.Record('I', "n", "12x") }), wantErr: true},
		{name: "too many records", in: enc(func(o *guest.Output) {
			for range maxRecords + 1 {
				o.Attr("a", "b")
			}
		}), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m protocols.Message
			err := eachRecord(tc.in, func(tag byte, k, v []byte) error { return addRecord(&m, tag, k, v) })
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrABI) {
					t.Errorf("error %v does not wrap ErrABI", err)
				}
				return
			}
			if diff := cmp.Diff(tc.wantLinks, m.Links); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAttrs, m.Attrs); diff != "" {
				t.Errorf("attrs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStage: what the host stages is what guest.Decode reads.
func TestStage(t *testing.T) {
	f := &protocols.Flow{ID: 42, Protocol: "http", Client: netip.MustParseAddrPort("10.241.6.1:40000"), Server: netip.MustParseAddrPort("[2001:db8::1]:8081")}
	var in instance
	in.stage(f, protocols.ToClient, protocols.Response, false, 1, "http", "POST /pay", []byte("payload bytes"), 7)
	m, ok := guest.Decode(in.in)
	if !ok {
		t.Fatal("guest cannot decode the host's input")
	}
	got := []any{m.Dir, m.Kind, m.Transport, m.Flags, m.Client, m.Server, m.FlowID, string(m.Protocol), string(m.Name), string(m.Payload)}
	want := []any{byte(2), byte(2), byte(6), byte(1), f.Client, f.Server, uint64(42), "http", "POST /pay", "payload"}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	in.stage(nil, protocols.DirUnknown, protocols.KindUnknown, true, 0, "p", "", nil, 10)
	if m, ok := guest.Decode(in.in); !ok || m.Transport != 17 || len(m.Payload) != 0 || m.Client.Port() != 0 {
		t.Errorf("no flow: decoded %+v, %v", m, ok)
	}
}

// FuzzRecords: any output a plugin returns is decoded without panic, and
// either applies entirely or fails with ErrABI.
func FuzzRecords(f *testing.F) {
	var o guest.Output
	o.Link("txn_serial", "TX-1")
	o.Int("n", 3)
	o.Field("consumed", "12")
	f.Add(o.Bytes())
	f.Add([]byte{})
	f.Add([]byte{'L', 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m protocols.Message
		err := eachRecord(b, func(tag byte, k, v []byte) error { return addRecord(&m, tag, k, v) })
		if err != nil && !errors.Is(err, ErrABI) {
			t.Fatalf("error %v does not wrap ErrABI", err)
		}
		if len(m.Links)+len(m.Attrs) > maxRecords {
			t.Fatalf("%d records applied", len(m.Links)+len(m.Attrs))
		}
	})
}

// FuzzDecode: guest.Decode never panics and what it accepts is consistent.
func FuzzDecode(f *testing.F) {
	var in instance
	in.stage(&protocols.Flow{ID: 1, Protocol: "http"}, protocols.ToServer, protocols.Request, false, 0, "http", "GET /", []byte("GET / HTTP/1.1\r\n\r\n"), 100)
	f.Add(append([]byte(nil), in.in...))
	f.Add(make([]byte, headerLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok := guest.Decode(b)
		if ok && headerLen+len(m.Protocol)+len(m.Name)+len(m.Payload) != len(b) {
			t.Fatalf("decoded %d+%d+%d bytes of %d", len(m.Protocol), len(m.Name), len(m.Payload), len(b)-headerLen)
		}
	})
}
