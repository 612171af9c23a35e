package kafkabus_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/wiretrace/wiretrace/correlate/fleet"
	"github.com/wiretrace/wiretrace/correlate/fleet/internal/fleettest"
	"github.com/wiretrace/wiretrace/correlate/fleet/kafkabus"
)

func init() { fleettest.Root = "../../.." }

func open(t *testing.T, url, name string, parts int) *kafkabus.Bus {
	t.Helper()
	b, err := kafkabus.Open(context.Background(), &kafkabus.Config{URL: url, Partitions: parts, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEquivalence: agents publish to Kafka (kfake), two assemblers in
// one consumer group give what one replay of every capture gives.
func TestEquivalence(t *testing.T) {
	cl, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	url := "kafka://" + strings.Join(cl.ListenAddrs(), ",")
	const parts = 8
	want := fleettest.ReplayAll(t, fleettest.Captures)
	// The assemblers join first and the agents publish once the group has
	// settled: a rebalance while traces are open may write one twice
	// (see correlate/fleet, Limits).
	out := fleettest.NewCollect()
	var mu sync.Mutex
	var stats []fleet.Stats
	var wg sync.WaitGroup
	var buses []*kafkabus.Bus
	for i := 0; i < 2; i++ {
		b := open(t, url, fmt.Sprintf("asm-%d", i), parts)
		if err := b.Consume(context.Background()); err != nil {
			t.Fatal(err)
		}
		buses = append(buses, b)
	}
	settled := func() bool {
		n := 0
		for p := 0; p < parts; p++ {
			for _, b := range buses {
				if b.Owns(p) {
					n++
				}
			}
		}
		return n == parts && buses[0].Owns(0) != buses[1].Owns(0)
	}
	for deadline := time.Now().Add(30 * time.Second); !settled(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the consumer group did not settle")
		}
	}
	for i, b := range buses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer b.Close()
			a, err := fleet.New(&fleet.Config{Partitions: parts}, b, out)
			if err != nil {
				t.Error(err)
				return
			}
			if err := fleet.Run(context.Background(), a, b, &fleet.RunConfig{ExitWhenIdle: 6 * time.Second}); err != nil {
				t.Error(err)
			}
			mu.Lock()
			stats = append(stats, a.Stats())
			mu.Unlock()
			_ = i
		}()
	}
	var awg sync.WaitGroup
	for i, f := range fleettest.Captures {
		awg.Add(1)
		go func() {
			defer awg.Done()
			b := open(t, url, fmt.Sprintf("agent-%d", i), parts)
			defer b.Close()
			fleettest.AgentRun(t, f, b, parts)
		}()
	}
	awg.Wait()
	wg.Wait()
	for _, st := range stats {
		t.Logf("assembler: %+v", st)
	}
	fleettest.Diff(t, want, out.Spans)
}
