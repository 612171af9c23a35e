package fleet

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/wiretrace/wiretrace/correlate"
)

// DefaultPartitions is the number of partitions when a Config leaves it 0.
// Agents and assemblers of one fleet must agree on it.
const DefaultPartitions = 16

// Message is one encoded record bound for a partition.
type Message struct {
	Partition int
	Data      []byte
}

// Publisher sends records to the broker. Publish returns nil once the
// broker has stored every message (at-least-once: after an error some may
// have been stored and are sent again).
type Publisher interface {
	Publish(ctx context.Context, msgs []Message) error
}

// AgentConfig configures an Agent.
type AgentConfig struct {
	// Name names the agent in its records (the host name, by default in
	// the CLI).
	Name string
	// Partitions is the number of partitions; 0 means DefaultPartitions.
	Partitions int
	// Correlate is the span builder's configuration (its
	// SeparateRequestIDAndTraceID decides the keys); nil means defaults.
	Correlate *correlate.Config
	// Logger receives lifecycle events; nil discards.
	Logger *slog.Logger
}

// AgentStats counts what an Agent published.
type AgentStats struct {
	Spans        uint64 // spans turned into records
	Records      uint64 // records handed to the spool (one per partition of a span's keys)
	EncodeErrors uint64 // spans that could not be encoded
}

// Agent is a correlate.Sink that turns the traces a capture point's
// Builder emits (linked with what only that capture point can link) into
// span records and hands them to a Spool. It is not safe for concurrent
// use.
type Agent struct {
	cfg   AgentConfig
	ccfg  correlate.Config
	spool *Spool
	stats AgentStats
	buf   []byte
	extra map[string][]string
}

var _ correlate.Sink = (*Agent)(nil)

// NewAgent returns an Agent that writes to spool. Closing the Agent does
// not close the spool.
func NewAgent(cfg *AgentConfig, spool *Spool) (*Agent, error) {
	a := &Agent{spool: spool, extra: map[string][]string{}}
	if cfg != nil {
		a.cfg = *cfg
	}
	if a.cfg.Partitions == 0 {
		a.cfg.Partitions = DefaultPartitions
	}
	if a.cfg.Partitions < 1 || a.cfg.Partitions > MaxPartitions {
		return nil, fmt.Errorf("fleet: %d partitions: want 1..%d", a.cfg.Partitions, MaxPartitions)
	}
	if a.cfg.Correlate != nil {
		a.ccfg = *a.cfg.Correlate
	}
	return a, nil
}

// WriteTrace publishes a record for each span of t.
func (a *Agent) WriteTrace(t *correlate.Trace) error {
	clear(a.extra)
	states := make([]correlate.SpanState, len(t.Spans))
	for i, s := range t.Spans {
		st := s.State()
		states[i] = st
		if st.TimingParent != "" && st.TimingJoin {
			// The child and its timing parent meet on the partition of
			// the parent's id.
			k := "m:" + st.TimingParent
			a.extra[s.SpanID] = append(a.extra[s.SpanID], k)
			a.extra[st.TimingParent] = append(a.extra[st.TimingParent], k)
		}
	}
	var err error
	for i, s := range t.Spans {
		keys := correlate.JoinKeys(&a.ccfg, s)
		keys = append(keys, a.extra[s.SpanID]...)
		if len(keys) == 0 {
			keys = []string{"s:" + s.SpanID}
		}
		r := Record{Agent: a.cfg.Name, Keys: keys, Span: s, State: states[i]}
		b, e := Encode(a.buf[:0], &r)
		a.stats.Spans++
		if e != nil {
			a.stats.EncodeErrors++
			if err == nil {
				err = e
			}
			continue
		}
		a.buf = b
		partsOf(keys, a.cfg.Partitions).each(func(p int) {
			a.stats.Records++
			a.spool.Put(Message{Partition: p, Data: append([]byte(nil), b...)})
		})
	}
	return err
}

// Close implements correlate.Sink; it does not close the spool.
func (a *Agent) Close() error { return nil }

// Stats returns the counters so far.
func (a *Agent) Stats() AgentStats { return a.stats }
