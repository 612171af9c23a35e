package fleet_test

import (
	"context"
	"errors"
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
				for _, a := range asms {
					a.FlushForwards(ctx)
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

// TestBadRecords: malformed and foreign records are counted and skipped
// (acked, so they do not come back); a record with fields this version
// does not know is accepted.
func TestBadRecords(t *testing.T) {
	good := []byte(`{"v":1,"agent":"h","keys":["x:abcd"],"future_field":{"a":[1,2]},"span":{"trace_id":"","span_id":"0123456789abcdef","parent_span_id":"","protocol":"http","name":"GET /","side":"client","start_ns":1000,"end_ns":2000,"client":{"ip":"10.0.0.1","port":1234},"server":{"ip":"10.0.0.2","port":80},"capture":"eth0","status":"ok","attributes":{"http.response.status_code":200,"x.ratio":0.5},"links":{"x_request_id":"abcd"},"link_reason":"","new_span_field":true},"state":{"done_ns":2000,"has_response":true,"new_state_field":"x"}}`)
	for _, tc := range []struct {
		name    string
		data    string
		wantErr error
	}{
		{"not json", "garbage", fleet.ErrMalformed},
		{"truncated", string(good[:len(good)/2]), fleet.ErrMalformed},
		{"no span", `{"v":1,"keys":[]}`, fleet.ErrMalformed},
		{"bad span id", `{"v":1,"span":{"span_id":"xyz"}}`, fleet.ErrMalformed},
		{"links not strings", `{"v":1,"span":{"span_id":"0123456789abcdef","links":{"a":1}}}`, fleet.ErrMalformed},
		{"attribute object", `{"v":1,"span":{"span_id":"0123456789abcdef","attributes":{"a":{}}}}`, fleet.ErrMalformed},
		{"version 2", `{"v":2,"span":{"span_id":"0123456789abcdef"}}`, fleet.ErrVersion},
		{"no version", `{"span":{"span_id":"0123456789abcdef"}}`, fleet.ErrVersion},
		{"unknown fields", string(good), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := fleet.Decode([]byte(tc.data))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Decode: err %v, want %v", err, tc.wantErr)
			}
			if err == nil {
				if v := r.Span.Attributes["http.response.status_code"]; v != int64(200) {
					t.Errorf("integral attribute decoded as %T %v, want int64 200", v, v)
				}
			}
		})
	}

	b := &memBroker{queues: make([][]fleet.Message, 1)}
	out := fleettest.NewCollect()
	a, err := fleet.New(&fleet.Config{Partitions: 1}, owner{b, func(int) bool { return true }}, out)
	if err != nil {
		t.Fatal(err)
	}
	acked := 0
	for _, d := range []string{"garbage", `{"v":2,"span":{"span_id":"0123456789abcdef"}}`, `{"v":1,"keys":[]}`, string(good)} {
		a.Deliver(context.Background(), fleet.Delivery{Data: []byte(d), Ack: func() { acked++ }}, time.Unix(0, 0))
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	st := a.Stats()
	if st.Malformed != 2 || st.Foreign != 1 || st.Records != 4 || st.Emitted != 1 {
		t.Errorf("stats %+v: want 2 malformed, 1 foreign, 1 emitted", st)
	}
	if acked != 4 {
		t.Errorf("%d records acked, want 4 (bad ones are skipped for good)", acked)
	}
	if len(out.Spans) != 1 {
		t.Errorf("%d spans out, want the good one", len(out.Spans))
	}
}

// FuzzDecode: Decode never panics; a record it accepts encodes again.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"keys":["q:1"],"span":{"span_id":"0123456789abcdef","attributes":{"a":1.5}},"state":{"done_ns":5}}`))
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`garbage`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := fleet.Decode(b)
		if err != nil {
			if r != nil {
				t.Fatal("record with an error")
			}
			return
		}
		if _, err := fleet.Encode(nil, r); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

// TestSpool: while the broker is down records wait in memory and, past
// MaxMemory, in Dir; they all arrive once it is back. Without Dir the
// overflow is dropped and counted.
func TestSpool(t *testing.T) {
	for _, dir := range []bool{true, false} {
		t.Run(fmt.Sprintf("dir=%v", dir), func(t *testing.T) {
			b := &memBroker{queues: make([][]fleet.Message, 2), down: true}
			cfg := &fleet.SpoolConfig{MaxMemory: 100, Retry: 20 * time.Millisecond}
			if dir {
				cfg.Dir = t.TempDir()
			}
			sp, err := fleet.OpenSpool(cfg, b)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 50 {
				sp.Put(fleet.Message{Partition: i % 2, Data: fmt.Appendf(nil, "record-%02d", i)})
			}
			time.Sleep(100 * time.Millisecond)
			st := sp.Stats()
			if dir && (st.SpooledDisk == 0 || st.Dropped != 0) {
				t.Errorf("stats %+v: want records on disk, none dropped", st)
			}
			if !dir && st.Dropped == 0 {
				t.Errorf("stats %+v: want drops counted", st)
			}
			b.mu.Lock()
			b.down = false
			b.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = sp.Close(ctx)
			st = sp.Stats()
			n := len(b.queues[0]) + len(b.queues[1])
			if dir {
				if err != nil || n != 50 || st.Published != 50 {
					t.Errorf("after the broker is back: err %v, %d published (stats %+v), want 50", err, n, st)
				}
				seen := map[string]bool{}
				for _, q := range b.queues {
					for _, m := range q {
						seen[string(m.Data)] = true
					}
				}
				if len(seen) != 50 {
					t.Errorf("%d distinct records arrived, want 50", len(seen))
				}
			} else if err == nil || uint64(n)+st.Dropped != 50 {
				t.Errorf("without dir: err %v, %d published + %d dropped, want 50 and an error", err, n, st.Dropped)
			}
		})
	}
}
