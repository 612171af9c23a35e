package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/wiretrace/wiretrace/correlate/fleet/kafkabus"
)

// openKafka connects to Kafka; the SASL password comes from
// --kafka-password-file, never from a flag value.
func (b *busFlags) openKafka(ctx context.Context, u, name string, log *slog.Logger) (bus, error) {
	pass := ""
	if b.saslPass != "" {
		p, err := os.ReadFile(b.saslPass)
		if err != nil {
			return nil, fmt.Errorf("--kafka-password-file: %w", err)
		}
		pass = strings.TrimRight(string(p), "\r\n")
	}
	return kafkabus.Open(ctx, &kafkabus.Config{
		URL: u, Topic: b.stream, Partitions: b.partitions, Replicas: b.replicas, Name: name,
		SASL: b.saslMech, User: b.saslUser, Password: pass,
		TLS: b.kafkaTLS, TLSCA: b.tlsCA, TLSCert: b.tlsCert, TLSKey: b.tlsKey, Logger: log,
	})
}
