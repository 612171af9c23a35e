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
	var wg sync.WaitGroup
	for i, f := range fleettest.Captures {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := open(t, url, fmt.Sprintf("agent-%d", i), parts)
			defer b.Close()
			fleettest.AgentRun(t, f, b, parts)
		}()
	}
	wg.Wait()
	out := fleettest.NewCollect()
	var mu sync.Mutex
	var stats []fleet.Stats
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := open(t, url, fmt.Sprintf("asm-%d", i), parts)
			defer b.Close()
			// A backlog read by assemblers that join one after the other:
			// traces are final at the end (lateness beyond idle).
			a, err := fleet.New(&fleet.Config{Partitions: parts, Lateness: time.Minute}, b, out)
			if err != nil {
				t.Error(err)
				return
			}
			ctx := context.Background()
			if err := b.Consume(ctx); err != nil {
				t.Error(err)
				return
			}
			if err := fleet.Run(ctx, a, b, &fleet.RunConfig{ExitWhenIdle: 5 * time.Second}); err != nil {
				t.Error(err)
			}
			mu.Lock()
			stats = append(stats, a.Stats())
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, st := range stats {
		t.Logf("assembler: %+v", st)
	}
	fleettest.Diff(t, want, out.Spans)
}
