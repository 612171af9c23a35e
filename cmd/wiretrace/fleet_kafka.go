package main

import (
	"context"
	"errors"
	"log/slog"
)

func (b *busFlags) openKafka(ctx context.Context, u, name string, log *slog.Logger) (bus, error) {
	return nil, errors.New("kafka:// is not supported yet")
}
