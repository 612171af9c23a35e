package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/fleet"
	"github.com/wiretrace/wiretrace/correlate/fleet/natsbus"
)

// busFlags are the broker flags shared by agents (--publish) and
// assemblers (--from).
type busFlags struct {
	partitions int
	stream     string
	replicas   int
	ackWait    time.Duration
	memberTTL  time.Duration
	natsCreds  string
	natsNKey   string
	tlsCA      string
	tlsCert    string
	tlsKey     string
	saslMech   string
	saslUser   string
	saslPass   string // file
	kafkaTLS   bool
}

func (b *busFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.IntVar(&b.partitions, "partitions", fleet.DefaultPartitions, "fleet: number of partitions (agents and assemblers must agree; NATS subjects or Kafka topic partitions)")
	f.StringVar(&b.stream, "stream", "", "fleet: JetStream stream (default WIRETRACE) or Kafka topic (default wiretrace-spans)")
	f.IntVar(&b.replicas, "replicas", 1, "fleet: replicas of the stream or topic created when missing (3 on a 3-node cluster)")
	f.DurationVar(&b.ackWait, "ack-wait", 30*time.Second, "fleet: NATS: redeliver a record not acked (nor reported in progress) for this long")
	f.DurationVar(&b.memberTTL, "member-ttl", 3*time.Second, "fleet: NATS: an assembler that stopped heartbeating loses its partitions after this long")
	f.StringVar(&b.natsCreds, "nats-creds", "", "fleet: NATS credentials `FILE` (.creds: JWT and nkey seed)")
	f.StringVar(&b.natsNKey, "nats-nkey", "", "fleet: NATS nkey seed `FILE`")
	f.StringVar(&b.tlsCA, "broker-tls-ca", "", "fleet: verify the broker's certificate with the CA in `FILE` (PEM)")
	f.StringVar(&b.tlsCert, "broker-tls-cert", "", "fleet: client certificate `FILE` (PEM) for the broker")
	f.StringVar(&b.tlsKey, "broker-tls-key", "", "fleet: client key `FILE` (PEM) for the broker")
	f.StringVar(&b.saslMech, "kafka-sasl", "", "fleet: Kafka SASL mechanism: plain, scram-sha-256 or scram-sha-512")
	f.StringVar(&b.saslUser, "kafka-user", "", "fleet: Kafka SASL user")
	f.StringVar(&b.saslPass, "kafka-password-file", "", "fleet: read the Kafka SASL password from `FILE`")
	f.BoolVar(&b.kafkaTLS, "kafka-tls", false, "fleet: connect to Kafka over TLS (system CAs unless --broker-tls-ca)")
}

// bus is a broker connection: a publisher for agents, a consumer for
// assemblers.
type bus interface {
	fleet.Consumer
	Consume(ctx context.Context) error
	Close() error
}

// openBus connects to the broker at u (nats:// or kafka://) as name.
func (b *busFlags) openBus(ctx context.Context, u, name string, log *slog.Logger) (bus, error) {
	switch {
	case strings.HasPrefix(u, "nats://") || strings.HasPrefix(u, "tls://"):
		return natsbus.Open(ctx, &natsbus.Config{
			URL: u, Stream: b.stream, Partitions: b.partitions, Replicas: b.replicas,
			AckWait: b.ackWait, MemberTTL: b.memberTTL, Name: name,
			CredsFile: b.natsCreds, NKeyFile: b.natsNKey,
			TLSCA: b.tlsCA, TLSCert: b.tlsCert, TLSKey: b.tlsKey, Logger: log,
		})
	case strings.HasPrefix(u, "kafka://"):
		return b.openKafka(ctx, u, name, log)
	}
	return nil, fmt.Errorf("broker %q: want nats://HOST:PORT or kafka://HOST:PORT", redactURL(u))
}

// redactURL hides a password in a broker URL.
func redactURL(u string) string { return natsbus.Redact(u) }

// publishFlags are the agent flags of replay and capture.
type publishFlags struct {
	busFlags
	publish     string
	agent       string
	spoolDir    string
	spoolMemMiB int
	drain       time.Duration
}

func (p *publishFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.publish, "publish", "", "fleet agent: publish span records to the broker at `URL` (nats://HOST:4222 or kafka://HOST:9092) instead of writing traces")
	f.StringVar(&p.agent, "agent", "", "fleet agent: this agent's `NAME` in its records (default: the host name)")
	f.StringVar(&p.spoolDir, "spool-dir", "", "fleet agent: spool records to `DIR` while the broker is unreachable and memory is full (kept across restarts)")
	f.IntVar(&p.spoolMemMiB, "spool-memory", 64, "fleet agent: `MiB` of records held in memory while the broker is unreachable")
	f.DurationVar(&p.drain, "spool-drain-timeout", 30*time.Second, "fleet agent: at exit, wait this long for the spool to reach the broker")
	p.busFlags.register(cmd)
}

// agentSink is an Agent with its spool and bus: closing it drains the
// spool and closes the connection.
type agentSink struct {
	*fleet.Agent
	spool *fleet.Spool
	bus   bus
	drain time.Duration
}

func (a *agentSink) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.drain)
	defer cancel()
	serr := a.spool.Close(ctx)
	return errors.Join(serr, a.bus.Close())
}

// each adds the agent's and spool's counters.
func (a *agentSink) each(f func(string, uint64)) {
	st := a.Agent.Stats()
	f("records", st.Records)
	ss := a.spool.Stats()
	ss.Each(f)
}

// openAgent opens the agent sink for --publish.
func (p *publishFlags) openAgent(cmd *cobra.Command, ccfg *correlate.Config) (*agentSink, error) {
	name := p.agent
	if name == "" {
		name, _ = os.Hostname()
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Second)
	defer cancel()
	b, err := p.openBus(ctx, p.publish, name+"-agent", log)
	if err != nil {
		return nil, err
	}
	mem := p.spoolMemMiB << 20
	if mem <= 0 {
		mem = 1 // everything beyond the batch being sent goes to --spool-dir
	}
	sp, err := fleet.OpenSpool(&fleet.SpoolConfig{MaxMemory: mem, Dir: p.spoolDir, Logger: log}, b)
	if err != nil {
		b.Close()
		return nil, err
	}
	ag, err := fleet.NewAgent(&fleet.AgentConfig{Name: name, Partitions: p.partitions, Correlate: ccfg, Logger: log}, sp)
	if err != nil {
		sp.Close(ctx)
		b.Close()
		return nil, err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wiretrace: agent %s publishing to %s\n", name, redactURL(p.publish))
	return &agentSink{Agent: ag, spool: sp, bus: b, drain: p.drain}, nil
}

// assembleFlags are the flags of assemble (and serve --from).
type assembleFlags struct {
	busFlags
	from         string
	name         string
	lateness     time.Duration
	exitWhenIdle time.Duration
}

func (a *assembleFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&a.from, "from", "", "fleet: read span records from the broker at `URL` (nats://HOST:4222 or kafka://HOST:9092)")
	f.StringVar(&a.name, "name", "", "fleet: this assembler's name among the assemblers (default host-pid)")
	f.DurationVar(&a.lateness, "lateness", 2*time.Second, "fleet: how far behind the newest span the assembler stays, so that late records still join their traces")
	f.DurationVar(&a.exitWhenIdle, "exit-when-idle", 0, "fleet: flush every trace and exit once no record has arrived for this long")
	a.busFlags.register(cmd)
}

func newAssembleCmd() *cobra.Command {
	var o outputFlags
	var a assembleFlags
	cmd := &cobra.Command{
		Use:   "assemble --from URL [flags]",
		Short: "Link the span records of fleet agents into traces",
		Long: `Assemble reads the span records that agents ('replay' or 'capture' with
--publish) publish to NATS JetStream or Kafka, links them into traces and
writes them as replay does (--format, -o, --otlp-endpoint). Several
assemblers on one broker share the partitions; each trace is written by
one of them (the owner of its lowest partition). Records are acked once
their trace is written, so a killed assembler's work goes to the others.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.from == "" {
				return errors.New("assemble: --from URL is required")
			}
			if o.watch || o.metricsAddr != "" {
				return errors.New("assemble: --watch and --metrics-addr are not supported yet")
			}
			sink, err := o.openSink(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, rerr := runAssemble(ctx, cmd, &o, &a, sink)
			cerr := sink.Close()
			if !o.quiet && st != "" {
				line := st
				o.sinkStats(func(name string, v uint64) { line += fmt.Sprintf(" %s=%d", name, v) })
				fmt.Fprintln(cmd.ErrOrStderr(), "wiretrace:", line)
			}
			return errors.Join(rerr, cerr)
		},
	}
	o.register(cmd)
	a.register(cmd)
	return cmd
}

// runAssemble runs an assembler into sink until ctx ends or it is idle;
// it returns its stats line.
func runAssemble(ctx context.Context, cmd *cobra.Command, o *outputFlags, a *assembleFlags, sink correlate.Sink) (string, error) {
	cfg, err := o.engineConfig(cmd)
	if err != nil {
		return "", err
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	name := a.name
	if name == "" {
		h, _ := os.Hostname()
		name = h + "-" + strconv.Itoa(os.Getpid())
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	b, err := a.openBus(octx, a.from, name, log)
	cancel()
	if err != nil {
		return "", err
	}
	defer b.Close()
	asm, err := fleet.New(&fleet.Config{Correlate: cfg.Correlate, Partitions: a.partitions, Lateness: a.lateness, Logger: log}, b, sink)
	if err != nil {
		return "", err
	}
	if err := b.Consume(ctx); err != nil {
		return "", err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wiretrace: assembler %s reading %s\n", name, redactURL(a.from))
	rerr := fleet.Run(ctx, asm, b, &fleet.RunConfig{ExitWhenIdle: a.exitWhenIdle, TouchEvery: a.ackWait / 3})
	var sb strings.Builder
	st := asm.Stats()
	st.Each(func(n string, v uint64) { fmt.Fprintf(&sb, "%s=%d ", n, v) })
	rs := asm.RelinkerStats()
	rs.Each(func(n string, v uint64) { fmt.Fprintf(&sb, "%s=%d ", n, v) })
	return strings.TrimSpace(sb.String()), rerr
}
