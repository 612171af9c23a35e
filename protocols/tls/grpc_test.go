package tls_test

import (
	"bytes"
	"context"
	ctls "crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/wiretrace/wiretrace/protocols"
	phttp "github.com/wiretrace/wiretrace/protocols/http"
	"github.com/wiretrace/wiretrace/protocols/http2"
	"github.com/wiretrace/wiretrace/protocols/tls"
)

// pipeListener hands out one end of an in-memory connection.
type pipeListener struct {
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443} }

// TestGRPC decrypts gRPC over TLS 1.3 (grpc-go on both ends, ALPN h2): the
// calls are gRPC spans with their method and status.
func TestGRPC(t *testing.T) {
	lis := &pipeListener{ch: make(chan net.Conn, 1), done: make(chan struct{})}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&ctls.Config{Certificates: []ctls.Certificate{testCert(t)}})))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()

	var mu sync.Mutex
	var chunks []chunk
	var keys bytes.Buffer
	dial := func(ctx context.Context, _ string) (net.Conn, error) {
		c, s := net.Pipe()
		lis.ch <- s
		return recConn{c, &mu, &chunks}, nil
	}
	creds := credentials.NewTLS(&ctls.Config{InsecureSkipVerify: true, ServerName: "shop.test", KeyLogWriter: &keys})
	conn, err := grpc.NewClient("passthrough:///shop.test", grpc.WithContextDialer(dial), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hc := healthpb.NewHealthClient(conn)
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "missing"}); err == nil {
		t.Fatal("Check(missing): no error")
	}
	conn.Close()
	srv.Stop()

	mu.Lock()
	recorded := append([]chunk(nil), chunks...)
	mu.Unlock()
	kl := &tls.KeyLog{}
	kl.Write(keys.Bytes())
	cfg := &tls.Config{Keys: kl, Inner: protocols.NewRegistry(phttp.Protocol, http2.Protocol), Counters: &tls.Counters{}}
	msgs, err := drive(tls.NewParser(nil, cfg), recorded)
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	for _, m := range msgs {
		if m.Protocol != "grpc" {
			continue
		}
		s := m.Name
		if m.Kind == protocols.Response {
			s = "response " + attr(&m, "rpc.grpc.status_code")
		}
		calls = append(calls, s)
	}
	want := []string{"grpc.health.v1.Health/Check", "response 0", "grpc.health.v1.Health/Check", "response 5"}
	if len(calls) != len(want) {
		t.Fatalf("gRPC messages %q, want %q (stats %+v)", calls, want, cfg.Counters.Stats())
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("gRPC messages %q, want %q", calls, want)
			break
		}
	}
}
