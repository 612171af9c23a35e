package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/spf13/cobra"
	"github.com/wiretrace/wiretrace/cmd/wiretrace/internal/api"
	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/store"
)

// startAgentsServer runs the embedded single-node NATS JetStream server of
// --agents-listen; it returns its client URL and a stop function.
func startAgentsServer(addr, dir string) (string, func(), error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("--agents-listen %q: want HOST:PORT", addr)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", nil, fmt.Errorf("--agents-listen %q: bad port", addr)
	}
	if p == 0 {
		p = -1 // a free port
	}
	cleanup := func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "wiretrace-jetstream-"); err != nil {
			return "", nil, fmt.Errorf("--agents-listen: %w", err)
		}
		tmp := dir
		cleanup = func() { os.RemoveAll(tmp) }
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "wiretrace",
		Host:       host,
		Port:       p,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("--agents-listen: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		cleanup()
		return "", nil, fmt.Errorf("--agents-listen %s: NATS server did not start", addr)
	}
	return srv.ClientURL(), func() { srv.Shutdown(); srv.WaitForShutdown(); cleanup() }, nil
}

// runServeFleet is serve with --from or --agents-listen: an assembler
// feeds the store that the query API and trace completion read.
func runServeFleet(cmd *cobra.Command, s *serveFlags, o *outputFlags) error {
	stderr := cmd.ErrOrStderr()
	if s.agentsListen != "" {
		if s.fleet.from != "" {
			return errors.New("serve: --agents-listen runs its own broker; drop --from")
		}
		u, stop, err := startAgentsServer(s.agentsListen, s.agentsStore)
		if err != nil {
			return err
		}
		defer stop()
		s.fleet.from = u
		fmt.Fprintf(stderr, "wiretrace: agents can publish to %s\n", u)
	}
	names, err := parseServiceNames(o.serviceNames)
	if err != nil {
		return err
	}
	st := store.New(&store.Config{Retention: s.retention, MaxSpans: s.maxSpans, Names: names})
	sinks := []correlate.Sink{st}
	if cmd.Flags().Changed("output") || cmd.Flags().Changed("format") {
		out, err := o.openSink(cmd.OutOrStdout())
		if err != nil {
			return err
		}
		sinks = append(sinks, out)
	}
	sink := correlate.Tee(sinks...)
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mux := http.NewServeMux()
	mux.Handle("/api/", api.New(&api.Config{Store: st, APMQuery: s.apmQuery, APMTimeout: s.apmTimeout}))
	addr, wait, err := startHTTP(ctx, s.listen, mux)
	if err != nil {
		sink.Close()
		return err
	}
	fmt.Fprintf(stderr, "wiretrace: serving the query API on http://%s\n", addr)
	line, rerr := runAssemble(ctx, cmd, o, &s.fleet, sink)
	if !o.quiet && line != "" {
		fmt.Fprintln(stderr, "wiretrace:", line)
	}
	if rerr == nil && ctx.Err() == nil {
		// --exit-when-idle: the traces are in; keep serving until told
		// to stop.
		<-ctx.Done()
	}
	stop()
	return errors.Join(rerr, wait(), sink.Close())
}
