package fleet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wiretrace/wiretrace/correlate/fleet"
	"github.com/wiretrace/wiretrace/correlate/fleet/internal/fleettest"
)

// memBroker is an in-memory broker: a queue per partition, each partition
// owned by one of the assemblers.
type memBroker struct {
	mu     sync.Mutex
	queues [][]fleet.Message
	down   bool
}

func (b *memBroker) Publish(_ context.Context, msgs []fleet.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down {
		return fmt.Errorf("broker down")
	}
	for _, m := range msgs {
		b.queues[m.Partition] = append(b.queues[m.Partition], fleet.Message{Partition: m.Partition, Data: slices.Clone(m.Data)})
	}
	return nil
}

func (b *memBroker) take(p int) []fleet.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queues[p]
	b.queues[p] = nil
	return q
}

// owner is one assembler's view of the broker.
type owner struct {
	*memBroker
	owns func(int) bool
}

func (o owner) Owns(p int) bool { return o.owns(p) }

// TestEquivalenceInProcess: agents on each capture, N assemblers sharing
// the partitions, give exactly the spans one replay of every capture gives.
func TestEquivalenceInProcess(t *testing.T) {
	want := fleettest.ReplayAll(t, fleettest.Captures)
	if len(want) < 100 {
		t.Fatalf("reference replay gave %d spans, want the captures' 100+", len(want))
	}
	for _, tc := range []struct {
		parts, asms int
		shuffle     int64
	}{{1, 1, 0}, {16, 1, 0}, {16, 2, 0}, {16, 3, 0}, {5, 2, 0}, {16, 2, 1}, {16, 2, 2}, {8, 3, 3}} {
		t.Run(fmt.Sprintf("partitions=%d/assemblers=%d/shuffle=%d", tc.parts, tc.asms, tc.shuffle), func(t *testing.T) {
			b := &memBroker{queues: make([][]fleet.Message, tc.parts)}
			for _, f := range fleettest.Captures {
				fleettest.AgentRun(t, f, b, tc.parts)
			}
			out := fleettest.NewCollect()
			var asms []*fleet.Assembler
			for i := 0; i < tc.asms; i++ {
				i := i
				a, err := fleet.New(&fleet.Config{Partitions: tc.parts}, owner{b, func(p int) bool { return p%tc.asms == i }}, out)
				if err != nil {
					t.Fatal(err)
				}
				asms = append(asms, a)
			}
			ctx := context.Background()
			now := time.Unix(0, 0)
			rnd := rand.New(rand.NewPCG(uint64(tc.shuffle), 1))
			for moved := true; moved; {
				moved = false
				var batch []fleet.Message
				for p := 0; p < tc.parts; p++ {
					batch = append(batch, b.take(p)...)
				}
				if tc.shuffle != 0 {
					rnd.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
				}
				for _, m := range batch {
					moved = true
					asms[m.Partition%tc.asms].Deliver(ctx, fleet.Delivery{Partition: m.Partition, Data: m.Data}, now)
				}
			}
			for _, a := range asms {
				if err := a.Flush(); err != nil {
					t.Fatal(err)
				}
				st := a.Stats()
				t.Logf("assembler stats: %+v relinker: %+v", st, a.RelinkerStats())
				if st.Malformed+st.Foreign != 0 {
					t.Errorf("bad records: %+v", st)
				}
			}
			fleettest.Diff(t, want, out.Spans)
			if out.Dups != 0 {
				t.Errorf("%d spans emitted twice", out.Dups)
			}
		})
	}
}
