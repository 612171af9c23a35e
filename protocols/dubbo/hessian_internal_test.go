package dubbo

import "testing"

// FuzzHessian feeds arbitrary bytes to the Hessian decoder's entry points
// and checks that it never panics, never moves past the end of its input,
// and stops within its value budget.
func FuzzHessian(f *testing.F) {
	for _, s := range [][]byte{
		{0x05, '2', '.', '0', '.', '2'},
		{'H', 0x01, 'k', 0x01, 'v', 'Z'},
		{'C', 0x01, 'X', 0x92, 0x01, 'a', 0x01, 'b', 0x60, 'N', 0x91},
		{0x72, 0x04, '[', 'i', 'n', 't', 0x91, 0x92},
		{'W', 'W', 'W', 'Z', 'Z', 'Z'},
		{'S', 0x00, 0x02, 0xe4, 0xb8, 0xad, 'a'},
		{'R', 0x00, 0x01, 'a', 0x01, 'b'},
		{0x93, 'C', 0x01, 'E', 0x90, 0x60},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var h hessian
		for entry := 0; entry < 4; entry++ {
			h.reset(b)
			for i := 0; i < 64 && !h.bad && h.off < len(b); i++ {
				before := h.off
				switch entry {
				case 0:
					h.skip(0)
				case 1:
					h.string()
				case 2:
					h.int()
				case 3:
					h.className()
					h.skip(0)
				}
				if h.off < before || h.off > len(b) {
					t.Fatalf("entry %d: offset %d -> %d of %d", entry, before, h.off, len(b))
				}
				if h.off == before && !h.bad {
					break
				}
			}
			if h.values > MaxValues+1 {
				t.Fatalf("%d values read", h.values)
			}
		}
	})
}
