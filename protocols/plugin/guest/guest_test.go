package guest_test

import (
	"encoding/binary"
	"testing"

	"github.com/wiretrace/wiretrace/protocols/plugin/guest"
)

func TestDecode(t *testing.T) {
	good := make([]byte, 56, 64)
	binary.LittleEndian.PutUint16(good[48:], 2)
	binary.LittleEndian.PutUint16(good[50:], 1)
	binary.LittleEndian.PutUint32(good[52:], 2)
	good = append(good, "hxabc"...)
	for _, tc := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"good", good, true},
		{"short header", good[:55], false},
		{"lengths past the end", good[:60], false},
		{"trailing bytes", append(append([]byte(nil), good...), 'z'), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, ok := guest.Decode(tc.in)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v", ok, tc.ok)
			}
			if ok && (string(m.Protocol) != "hx" || string(m.Name) != "a" || string(m.Payload) != "bc") {
				t.Errorf("decoded %q %q %q", m.Protocol, m.Name, m.Payload)
			}
		})
	}
}

func TestOutput(t *testing.T) {
	var o guest.Output
	o.Link("k", "v1")
	o.RecordBytes('A', "ab", []byte("xyz"))
	want := []byte{'L', 1, 0, 2, 0, 0, 0, 'k', 'v', '1', 'A', 2, 0, 3, 0, 0, 0, 'a', 'b', 'x', 'y', 'z'}
	if string(o.Bytes()) != string(want) {
		t.Errorf("records %q, want %q", o.Bytes(), want)
	}
	if o.Result() == 0 {
		t.Error("Result of records is 0")
	}
	o.Reset()
	if len(o.Bytes()) != 0 || o.Result() != 0 {
		t.Error("Reset left records")
	}
	if guest.Input(1<<20) != nil {
		t.Error("Input beyond the buffer")
	}
	if guest.Alloc(16) == 0 || len(guest.Input(16)) != 16 {
		t.Error("Alloc(16) gave no 16-byte input")
	}
}
