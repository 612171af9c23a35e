// Package kafkabus carries fleet span records over Kafka (franz-go), with
// the semantics of natsbus.
//
// Records go to one topic (Config.Topic, "wiretrace-spans") with
// Config.Partitions partitions: the record of a join key's partition p is
// produced to Kafka partition p (manual partitioner; acks from all
// in-sync replicas, idempotent producer). Assemblers form one consumer
// group (Config.Group); Kafka assigns each partition to one of them and
// moves it when one leaves or dies. Offsets are committed, never
// automatically, up to the first record not yet acked, so a record is
// read again by the partition's next owner until its trace was written.
// Kafka has no per-record redelivery: a record an assembler hands back
// (Nak) is read again after the next rebalance or restart.
//
// SASL (PLAIN, SCRAM-SHA-256/512) and TLS (CA, client certificate) are
// options of Config; the password never appears in errors or logs.
package kafkabus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/wiretrace/wiretrace/correlate/fleet"
)

// Config configures a Bus.
type Config struct {
	// URL is kafka://host:port, several separated by commas.
	URL string
	// Topic is the topic; "" means "wiretrace-spans".
	Topic string
	// Group is the assemblers' consumer group; "" means
	// "wiretrace-assemblers".
	Group string
	// Partitions is the number of partitions; 0 means
	// fleet.DefaultPartitions. The topic is created with it when missing.
	Partitions int
	// Replicas is the replication factor of a created topic; 0 means 1.
	Replicas int
	// Name names this instance (its client id).
	Name string
	// SASL is "", "plain", "scram-sha-256" or "scram-sha-512", with User
	// and Password.
	SASL, User, Password string
	// TLS turns TLS on; TLSCA, TLSCert and TLSKey are PEM files (system
	// CAs without TLSCA).
	TLS                    bool
	TLSCA, TLSCert, TLSKey string
	// Logger receives lifecycle events; nil discards.
	Logger *slog.Logger
}

// Bus is a Kafka connection: a fleet.Publisher for agents and, after
// Consume, a fleet.Consumer for assemblers.
type Bus struct {
	cfg     Config
	log     *slog.Logger
	opts    []kgo.Opt
	prod    *kgo.Client
	cons    *kgo.Client
	ensured bool

	mu    sync.Mutex
	owned map[int32]*partState
	out   chan fleet.Delivery
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

// partState tracks the offsets of an owned partition.
type partState struct {
	pend  []int64 // delivered offsets not yet committed, in order
	acked map[int64]bool
	epoch int32
}

// Open returns a Bus. It does not fail when the brokers cannot be reached:
// Publish fails meanwhile, so an agent's Spool keeps the records.
func Open(ctx context.Context, cfg *Config) (*Bus, error) {
	b := &Bus{owned: map[int32]*partState{}}
	if cfg != nil {
		b.cfg = *cfg
	}
	c := &b.cfg
	if c.Topic == "" {
		c.Topic = "wiretrace-spans"
	}
	if c.Group == "" {
		c.Group = "wiretrace-assemblers"
	}
	if c.Partitions == 0 {
		c.Partitions = fleet.DefaultPartitions
	}
	if c.Partitions < 1 || c.Partitions > fleet.MaxPartitions {
		return nil, fmt.Errorf("kafkabus: %d partitions: want 1..%d", c.Partitions, fleet.MaxPartitions)
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	b.log = c.Logger
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	var seeds []string
	for _, s := range strings.Split(c.URL, ",") {
		s = strings.TrimPrefix(strings.TrimSpace(s), "kafka://")
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return nil, errors.New("kafkabus: put SASL credentials in options, not in the URL")
		}
		if s != "" {
			seeds = append(seeds, strings.TrimSuffix(s, "/"))
		}
	}
	if len(seeds) == 0 {
		return nil, fmt.Errorf("kafkabus: no broker in %q", c.URL)
	}
	b.opts = []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ClientID("wiretrace-" + c.Name)}
	switch strings.ToLower(c.SASL) {
	case "":
	case "plain":
		b.opts = append(b.opts, kgo.SASL(plain.Auth{User: c.User, Pass: c.Password}.AsMechanism()))
	case "scram-sha-256":
		b.opts = append(b.opts, kgo.SASL(scram.Auth{User: c.User, Pass: c.Password}.AsSha256Mechanism()))
	case "scram-sha-512":
		b.opts = append(b.opts, kgo.SASL(scram.Auth{User: c.User, Pass: c.Password}.AsSha512Mechanism()))
	default:
		return nil, fmt.Errorf("kafkabus: SASL mechanism %q: want plain, scram-sha-256 or scram-sha-512", c.SASL)
	}
	if c.TLS || c.TLSCA != "" || c.TLSCert != "" {
		tc, err := tlsConfig(c)
		if err != nil {
			return nil, err
		}
		b.opts = append(b.opts, kgo.DialTLSConfig(tc))
	}
	var err error
	b.prod, err = kgo.NewClient(append(slices.Clone(b.opts),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
	)...)
	if err != nil {
		return nil, fmt.Errorf("kafkabus: %w", err)
	}
	return b, nil
}

func tlsConfig(c *Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLSCA != "" {
		pem, err := os.ReadFile(c.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("kafkabus: TLS CA: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafkabus: TLS CA %s: no PEM certificate", c.TLSCA)
		}
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("kafkabus: TLS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// ensureTopic creates the topic when it is missing.
func (b *Bus) ensureTopic(ctx context.Context) error {
	if b.ensured {
		return nil
	}
	c := &b.cfg
	adm := kadm.NewClient(b.prod)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, int32(c.Partitions), int16(c.Replicas), nil, c.Topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("kafkabus: topic %s: %w", c.Topic, err)
	}
	b.ensured = true
	return nil
}

// Publish implements fleet.Publisher.
func (b *Bus) Publish(ctx context.Context, msgs []fleet.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := b.ensureTopic(ctx); err != nil {
		return err
	}
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Topic: b.cfg.Topic, Partition: int32(m.Partition), Value: m.Data}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("kafkabus: produce: %w", err)
	}
	return nil
}

// Owns implements fleet.Transport.
func (b *Bus) Owns(p int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.owned[int32(p)]
	return ok
}

// Deliveries implements fleet.Consumer.
func (b *Bus) Deliveries() <-chan fleet.Delivery { return b.out }

// Consume joins the consumer group and delivers the records of the
// partitions Kafka assigns to this instance until Close.
func (b *Bus) Consume(ctx context.Context) error {
	c := &b.cfg
	if err := b.ensureTopic(ctx); err != nil {
		return err
	}
	b.out = make(chan fleet.Delivery, 1024)
	var err error
	b.cons, err = kgo.NewClient(append(slices.Clone(b.opts),
		kgo.ConsumerGroup(c.Group),
		kgo.ConsumeTopics(c.Topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			b.mu.Lock()
			defer b.mu.Unlock()
			for _, p := range m[c.Topic] {
				b.owned[p] = &partState{acked: map[int64]bool{}}
			}
			b.log.Info("kafka partitions assigned", "partitions", m[c.Topic])
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			b.commit(ctx, cl)
			b.drop(m[c.Topic])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			b.drop(m[c.Topic])
		}),
	)...)
	if err != nil {
		return fmt.Errorf("kafkabus: %w", err)
	}
	ctx, b.stop = context.WithCancel(ctx)
	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		b.poll(ctx)
	}()
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				b.commit(ctx, b.cons)
			}
		}
	}()
	return nil
}

func (b *Bus) drop(ps []int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range ps {
		delete(b.owned, p)
	}
	if len(ps) > 0 {
		b.log.Info("kafka partitions revoked", "partitions", ps)
	}
}

func (b *Bus) poll(ctx context.Context) {
	for ctx.Err() == nil {
		fs := b.cons.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if ctx.Err() == nil {
				b.log.Warn("kafka fetch", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			b.mu.Lock()
			st := b.owned[r.Partition]
			if st != nil {
				st.pend = append(st.pend, r.Offset)
				st.epoch = r.LeaderEpoch
			}
			b.mu.Unlock()
			p, off := r.Partition, r.Offset
			d := fleet.Delivery{
				Partition: int(p),
				Data:      r.Value,
				Ack:       func() { b.ack(p, off, st) },
			}
			select {
			case b.out <- d:
			case <-ctx.Done():
			}
		})
	}
}

func (b *Bus) ack(p int32, off int64, st *partState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st != nil && b.owned[p] == st {
		st.acked[off] = true
	}
}

// commit commits, per owned partition, up to the first record not acked.
func (b *Bus) commit(ctx context.Context, cl *kgo.Client) {
	offs := map[int32]kgo.EpochOffset{}
	b.mu.Lock()
	for p, st := range b.owned {
		n := 0
		for n < len(st.pend) && st.acked[st.pend[n]] {
			delete(st.acked, st.pend[n])
			n++
		}
		if n > 0 {
			offs[p] = kgo.EpochOffset{Epoch: st.epoch, Offset: st.pend[n-1] + 1}
			st.pend = st.pend[n:]
		}
	}
	b.mu.Unlock()
	if len(offs) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	cl.CommitOffsetsSync(cctx, map[string]map[int32]kgo.EpochOffset{b.cfg.Topic: offs}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			b.log.Warn("kafka commit", "err", err)
		}
	})
}

// Close commits what was acked, leaves the group and closes the clients.
func (b *Bus) Close() error {
	if b.cons != nil {
		b.stop()
		b.wg.Wait()
		b.commit(context.Background(), b.cons)
		b.cons.LeaveGroup()
		b.cons.Close()
	}
	if b.prod != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.prod.Flush(ctx)
		b.prod.Close()
	}
	return nil
}
