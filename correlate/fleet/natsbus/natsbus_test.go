package natsbus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/wiretrace/wiretrace/correlate/fleet"
	"github.com/wiretrace/wiretrace/correlate/fleet/internal/fleettest"
	"github.com/wiretrace/wiretrace/correlate/fleet/natsbus"
)

func init() { fleettest.Root = "../../.." }

// startServer runs a single-node NATS JetStream server on a free loopback
// port, stopped at the end of the test.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoSigs:    true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

func open(t *testing.T, url, name string, parts int) *natsbus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := natsbus.Open(ctx, &natsbus.Config{URL: url, Partitions: parts, Name: name, AckWait: 2 * time.Second, MemberTTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEquivalence: three agents publish to JetStream, two assemblers
// consume it; their output is what one replay of every capture gives.
func TestEquivalence(t *testing.T) {
	srv := startServer(t)
	url := srv.ClientURL()
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
	var stats []fleet.Stats
	var mu sync.Mutex
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := open(t, url, fmt.Sprintf("asm-%d", i), parts)
			defer b.Close()
			a, err := fleet.New(&fleet.Config{Partitions: parts}, b, out)
			if err != nil {
				t.Error(err)
				return
			}
			ctx := context.Background()
			if err := b.Consume(ctx); err != nil {
				t.Error(err)
				return
			}
			if err := fleet.Run(ctx, a, b, &fleet.RunConfig{ExitWhenIdle: 4 * time.Second, TouchEvery: time.Second}); err != nil {
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
		if st.Emitted == 0 {
			t.Errorf("an assembler emitted nothing: the work was not shared")
		}
	}
	fleettest.Diff(t, want, out.Spans)
}
