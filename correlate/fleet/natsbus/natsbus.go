// Package natsbus carries fleet span records over NATS JetStream.
//
// Records go to one stream (Config.Stream, "WIRETRACE" by default) on the
// subjects <prefix>.<partition> (Config.Subject, "wiretrace.spans"), file
// storage, Config.Replicas copies (3 on a 3-node cluster). Each partition
// has a durable pull consumer "<stream>-p<partition>" with explicit acks,
// shared by every assembler: an assembler consumes only the partitions it
// owns. Ownership comes from a key-value bucket ("<stream>-assemblers")
// whose entries expire after MemberTTL: every assembler refreshes its own
// entry, and partition p belongs to the (p mod n)-th of the n live members
// in name order. When an assembler dies (kill -9) its entry expires, the
// others take its partitions, and the records it had not acked come back
// after AckWait; held records are kept from expiring by InProgress.
//
// Credentials (a .creds file, an nkey seed file, user and password in the
// URL) and TLS (CA, client certificate and key) are options of Config;
// they never appear in errors or logs (URLs are printed redacted).
package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/wiretrace/wiretrace/correlate/fleet"
)

// Config configures a Bus.
type Config struct {
	// URL is nats://[user:password@]host:port, several separated by
	// commas (tls:// for TLS).
	URL string
	// Stream is the JetStream stream name; "" means "WIRETRACE".
	Stream string
	// Subject is the subject prefix; "" means "wiretrace.spans" for the
	// default stream, else "wiretrace.<stream>.spans".
	Subject string
	// Partitions is the number of partitions; 0 means
	// fleet.DefaultPartitions.
	Partitions int
	// Replicas is the stream's replica count; 0 means 1.
	Replicas int
	// MaxAge bounds how long records stay in the stream; 0 means 24 h.
	MaxAge time.Duration
	// AckWait is how long a delivered record may stay unacked before it
	// is delivered again (held records are kept alive with InProgress);
	// 0 means 30 s.
	AckWait time.Duration
	// MemberTTL is how long an assembler that stopped refreshing its
	// membership keeps its partitions; 0 means 3 s.
	MemberTTL time.Duration
	// Name names this instance among the assemblers; "" means
	// host-pid.
	Name string
	// CredsFile is a NATS .creds file (JWT and nkey seed).
	CredsFile string
	// NKeyFile is a file holding an nkey seed.
	NKeyFile string
	// TLSCA, TLSCert and TLSKey are PEM files: the CA that signed the
	// server's certificate, and this client's certificate and key.
	TLSCA, TLSCert, TLSKey string
	// Logger receives lifecycle events; nil discards.
	Logger *slog.Logger
}

// Redact returns u with any password replaced by "xxxxx".
func Redact(u string) string {
	var out []string
	for _, p := range strings.Split(u, ",") {
		if pu, err := url.Parse(p); err == nil && pu.User != nil {
			out = append(out, pu.Redacted())
		} else if strings.Contains(p, "@") {
			out = append(out, "xxxxx@"+p[strings.LastIndex(p, "@")+1:])
		} else {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

// Bus is a connection to NATS JetStream: a fleet.Publisher for agents and,
// after Consume, a fleet.Consumer for assemblers.
type Bus struct {
	cfg  Config
	log  *slog.Logger
	nc   *nats.Conn
	js   jetstream.JetStream
	subs []string

	mu      sync.Mutex
	ensured bool // the stream exists
	owned   map[int]jetstream.ConsumeContext
	members []string
	out     chan fleet.Delivery
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// Open connects and makes sure the stream exists. When the broker cannot
// be reached, Open still returns a Bus that keeps trying (Publish fails
// meanwhile, so an agent's Spool keeps the records).
func Open(ctx context.Context, cfg *Config) (*Bus, error) {
	b := &Bus{owned: map[int]jetstream.ConsumeContext{}}
	if cfg != nil {
		b.cfg = *cfg
	}
	c := &b.cfg
	if c.Stream == "" {
		c.Stream = "WIRETRACE"
	}
	if c.Subject == "" {
		c.Subject = "wiretrace.spans"
		if c.Stream != "WIRETRACE" {
			c.Subject = "wiretrace." + strings.ToLower(key(c.Stream)) + ".spans"
		}
	}
	if c.Partitions == 0 {
		c.Partitions = fleet.DefaultPartitions
	}
	if c.Partitions < 1 || c.Partitions > fleet.MaxPartitions {
		return nil, fmt.Errorf("natsbus: %d partitions: want 1..%d", c.Partitions, fleet.MaxPartitions)
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MemberTTL <= 0 {
		c.MemberTTL = 3 * time.Second
	}
	if c.Name == "" {
		h, _ := os.Hostname()
		c.Name = h + "-" + strconv.Itoa(os.Getpid())
	}
	b.log = c.Logger
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	for p := 0; p < c.Partitions; p++ {
		b.subs = append(b.subs, c.Subject+"."+strconv.Itoa(p))
	}
	opts, err := b.options()
	if err != nil {
		return nil, err
	}
	server := strings.TrimPrefix(c.URL, "nats://")
	if strings.Contains(server, ",") {
		var us []string
		for _, s := range strings.Split(c.URL, ",") {
			if !strings.Contains(s, "://") {
				s = "nats://" + s
			}
			us = append(us, s)
		}
		server = strings.Join(us, ",")
	} else {
		server = c.URL
	}
	nc, err := nats.Connect(server, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsbus: connect %s: %w", Redact(c.URL), err)
	}
	b.nc = nc
	b.js, err = jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsbus: %s: %w", Redact(c.URL), err)
	}
	if nc.IsConnected() {
		if err := b.ensureStream(ctx); err != nil {
			// A cluster still electing its JetStream leader: Publish
			// and Consume try again.
			b.log.Warn("stream not ready yet", "err", err)
		}
	}
	return b, nil
}

func (b *Bus) options() ([]nats.Option, error) {
	c := &b.cfg
	opts := []nats.Option{
		nats.Name("wiretrace " + c.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { b.log.Info("nats reconnected", "server", Redact(nc.ConnectedUrlRedacted())) }),
	}
	if c.CredsFile != "" {
		if _, err := os.Stat(c.CredsFile); err != nil {
			return nil, fmt.Errorf("natsbus: creds file: %w", err)
		}
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("natsbus: nkey seed file %s: unreadable or not a seed", c.NKeyFile)
		}
		opts = append(opts, o)
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		if c.TLSCert == "" || c.TLSKey == "" {
			return nil, errors.New("natsbus: a TLS client certificate needs both its certificate and key files")
		}
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts, nil
}

func (b *Bus) ensureStream(ctx context.Context) error {
	b.mu.Lock()
	done := b.ensured
	b.mu.Unlock()
	if done {
		return nil
	}
	c := &b.cfg
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:      c.Stream,
		Subjects:  []string{c.Subject + ".*"},
		Storage:   jetstream.FileStorage,
		Replicas:  c.Replicas,
		MaxAge:    c.MaxAge,
		Retention: jetstream.LimitsPolicy,
	})
	if err != nil {
		return fmt.Errorf("natsbus: stream %s on %s: %w", c.Stream, Redact(c.URL), err)
	}
	b.mu.Lock()
	b.ensured = true
	b.mu.Unlock()
	return nil
}

// Publish implements fleet.Publisher: it returns once JetStream stored
// every message.
func (b *Bus) Publish(ctx context.Context, msgs []fleet.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if !b.nc.IsConnected() {
		return fmt.Errorf("natsbus: publish to %s: not connected", Redact(b.cfg.URL))
	}
	if err := b.ensureStream(ctx); err != nil {
		return err
	}
	futs := make([]jetstream.PubAckFuture, 0, len(msgs))
	for _, m := range msgs {
		f, err := b.js.PublishAsync(b.subs[m.Partition], m.Data)
		if err != nil {
			return fmt.Errorf("natsbus: publish: %w", err)
		}
		futs = append(futs, f)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for _, f := range futs {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("natsbus: publish: %w", err)
		case <-ctx.Done():
			return fmt.Errorf("natsbus: publish: %w", ctx.Err())
		}
	}
	return nil
}

// Owns implements fleet.Transport.
func (b *Bus) Owns(p int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.owned[p]
	return ok
}

// Deliveries implements fleet.Consumer.
func (b *Bus) Deliveries() <-chan fleet.Delivery { return b.out }

// Consume joins the assemblers: it refreshes this instance's membership
// and consumes the partitions it owns until Close.
func (b *Bus) Consume(ctx context.Context) error {
	c := &b.cfg
	for i := 0; ; i++ {
		err := b.ensureStream(ctx)
		if err == nil {
			break
		}
		if i == 5 || ctx.Err() != nil {
			return err
		}
		b.log.Warn("stream not ready yet", "err", err)
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   c.Stream + "-assemblers",
		TTL:      c.MemberTTL,
		Replicas: c.Replicas,
		Storage:  jetstream.MemoryStorage,
	})
	if err != nil {
		return fmt.Errorf("natsbus: membership bucket: %w", err)
	}
	b.out = make(chan fleet.Delivery, 1024)
	ctx, b.cancel = context.WithCancel(ctx)
	// Announce this instance and let the others see it before taking
	// partitions, so that assemblers started together do not first take
	// each other's partitions.
	if _, err := kv.Put(ctx, key(c.Name), []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return fmt.Errorf("natsbus: membership: %w", err)
	}
	select {
	case <-time.After(c.MemberTTL / 2):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := b.heartbeat(ctx, kv); err != nil {
		return err
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(c.MemberTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				dctx, cancel := context.WithTimeout(context.Background(), time.Second)
				kv.Delete(dctx, key(c.Name))
				cancel()
				return
			case <-t.C:
				if err := b.heartbeat(ctx, kv); err != nil && ctx.Err() == nil {
					b.log.Warn("membership", "err", err)
				}
			}
		}
	}()
	return nil
}

// key makes a member name a valid KV key.
func key(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, name)
}

// heartbeat refreshes membership and rebalances partitions.
func (b *Bus) heartbeat(ctx context.Context, kv jetstream.KeyValue) error {
	c := &b.cfg
	me := key(c.Name)
	if _, err := kv.Put(ctx, me, []byte(time.Now().UTC().Format(time.RFC3339))); err != nil {
		return fmt.Errorf("natsbus: membership: %w", err)
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("natsbus: membership: %w", err)
	}
	var members []string
	for k := range lister.Keys() {
		members = append(members, k)
	}
	if !slices.Contains(members, me) {
		members = append(members, me)
	}
	slices.Sort(members)
	i := slices.Index(members, me)
	want := map[int]bool{}
	for p := 0; p < c.Partitions; p++ {
		if p%len(members) == i {
			want[p] = true
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !slices.Equal(members, b.members) {
		b.log.Info("assemblers", "members", members, "me", me)
		b.members = members
	}
	for p, cc := range b.owned {
		if !want[p] {
			cc.Stop()
			delete(b.owned, p)
		}
	}
	for p := range want {
		if _, ok := b.owned[p]; ok {
			continue
		}
		cc, err := b.consume(ctx, p)
		if err != nil {
			b.log.Warn("consume", "partition", p, "err", err)
			continue
		}
		b.owned[p] = cc
	}
	return nil
}

func (b *Bus) consume(ctx context.Context, p int) (jetstream.ConsumeContext, error) {
	c := &b.cfg
	cons, err := b.js.CreateOrUpdateConsumer(ctx, c.Stream, jetstream.ConsumerConfig{
		Durable:       fmt.Sprintf("%s-p%d", c.Stream, p),
		FilterSubject: b.subs[p],
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxAckPending: 1 << 20,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		Replicas:      c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbus: consumer for partition %d: %w", p, err)
	}
	return cons.Consume(func(m jetstream.Msg) {
		d := fleet.Delivery{
			Partition: p,
			Data:      m.Data(),
			Ack:       func() { m.Ack() },
			Nak:       func() { m.Nak() },
			Touch:     func() { m.InProgress() },
		}
		select {
		case b.out <- d:
		case <-ctx.Done():
		}
	}, jetstream.PullExpiry(max(time.Second, c.MemberTTL)), jetstream.PullHeartbeat(max(time.Second, c.MemberTTL)/2))
}

// Close stops consuming, leaves the assemblers and closes the connection
// after flushing acks.
func (b *Bus) Close() error {
	if b.cancel != nil {
		b.cancel()
		b.wg.Wait()
		b.mu.Lock()
		for p, cc := range b.owned {
			cc.Stop()
			delete(b.owned, p)
		}
		b.mu.Unlock()
	}
	if b.nc == nil {
		return nil
	}
	err := b.nc.Drain()
	for i := 0; i < 50 && !b.nc.IsClosed(); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	b.nc.Close()
	return err
}
