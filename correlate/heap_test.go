package correlate

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestGroupHeapOrder moves, merges and emits random groups and checks that
// the heap yields exactly the open groups in (last, id) order, as the
// search tree it replaced did.
func TestGroupHeapOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q groupHeap
	var open []*group
	now := int64(0)
	for step := 0; step < 20000; step++ {
		now += int64(r.IntN(3))
		switch op := r.IntN(10); {
		case op < 4 || len(open) == 0: // a new group
			g := &group{id: uint64(step + 1), last: now}
			open = append(open, g)
			q.push(g)
		case op < 7: // activity
			g := open[r.IntN(len(open))]
			if now > g.last {
				g.last = now
				q.push(g)
			}
		case op < 8 && len(open) > 1: // merge b into a
			i, j := r.IntN(len(open)), r.IntN(len(open))
			if i == j {
				continue
			}
			a, b := open[i], open[j]
			b.gone = true
			open = slices.Delete(open, j, j+1)
			if b.last > a.last {
				a.last = b.last
				q.push(a)
			}
		default: // emit the least recent groups
			for n := r.IntN(4); n > 0; n-- {
				g := q.min()
				if g == nil {
					break
				}
				q.pop()
				g.emitted = true
				open = slices.DeleteFunc(open, func(o *group) bool { return o == g })
			}
		}
		if len(q.h) > 2*len(open)+1024 {
			t.Fatalf("step %d: %d entries for %d open groups", step, len(q.h), len(open))
		}
	}
	want := slices.Clone(open)
	slices.SortFunc(want, func(a, b *group) int { return cmp.Or(cmp.Compare(a.last, b.last), cmp.Compare(a.id, b.id)) })
	var got []*group
	for g := q.min(); g != nil; g = q.min() {
		got = append(got, g)
		q.pop()
	}
	if !slices.Equal(got, want) {
		t.Fatalf("heap order: got %d groups, want %d, or a different order", len(got), len(want))
	}
}
