// Command mq is the producer and consumer behind testdata/gen/mq.sh: it
// talks AMQP 0-9-1 (github.com/rabbitmq/amqp091-go) and STOMP 1.2 (a few
// lines of its own over TCP) to a real broker, so that the captures hold
// what real clients send. Every step is bounded by -timeout.
//
//	mq -mode amqp  -addr 10.241.2.1:5672
//	mq -mode stomp -addr 10.241.2.1:61613
//	mq -mode stomp-activemq -addr 10.241.2.5:61613
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Fixed ids, so the goldens are stable.
const (
	Traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	RequestID   = "mq-req-0002"
	RPCCorr     = "rpc-corr-0001"
)

func main() {
	mode := flag.String("mode", "amqp", "amqp, stomp or stomp-activemq")
	addr := flag.String("addr", "", "broker host:port")
	timeout := flag.Duration("timeout", 20*time.Second, "bound on the whole run")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var err error
	switch *mode {
	case "amqp":
		err = runAMQP(ctx, *addr)
	case "stomp":
		err = runSTOMP(ctx, *addr)
	case "stomp-activemq":
		err = runSTOMPActiveMQ(ctx, *addr)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		log.Fatalf("mq %s: %v", *mode, err)
	}
}

func dial(addr string) (*amqp.Connection, *amqp.Channel, error) {
	conn, err := amqp.DialConfig("amqp://guest:guest@"+addr+"/", amqp.Config{Heartbeat: 0, Locale: "en_US"})
	if err != nil {
		return nil, nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, ch, nil
}

// runAMQP: a consumer and a producer of queue "orders" (three messages
// with message ids: one with a traceparent header, one with x-request-id,
// one with neither), a request-reply over queue "rpc" with a reply-to
// queue and a correlation id (no message ids), a basic.get of queue
// "jobs", and a passive declare of a missing queue (404).
func runAMQP(ctx context.Context, addr string) error {
	// Consumer connection.
	cconn, cch, err := dial(addr)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	defer cconn.Close()
	if _, err := cch.QueueDeclare("orders", false, true, false, false, nil); err != nil {
		return err
	}
	deliveries, err := cch.Consume("orders", "orders-consumer", false, false, false, false, nil)
	if err != nil {
		return err
	}
	// RPC server connection.
	sconn, sch, err := dial(addr)
	if err != nil {
		return fmt.Errorf("rpc server: %w", err)
	}
	defer sconn.Close()
	if _, err := sch.QueueDeclare("rpc", false, true, false, false, nil); err != nil {
		return err
	}
	requests, err := sch.Consume("rpc", "rpc-server", true, false, false, false, nil)
	if err != nil {
		return err
	}
	// Producer connection.
	pconn, pch, err := dial(addr)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	defer pconn.Close()

	headers := []amqp.Table{
		{"traceparent": Traceparent, "attempt": int32(1), "tags": []any{"a", int64(2)}},
		{"x-request-id": RequestID, "nested": amqp.Table{"k": "v"}},
		nil,
	}
	for i, h := range headers {
		err := pch.PublishWithContext(ctx, "", "orders", false, false, amqp.Publishing{
			MessageId:   fmt.Sprintf("order-%04d", i+1),
			ContentType: "text/plain",
			Headers:     h,
			Body:        []byte(fmt.Sprintf("order %d", i+1)),
		})
		if err != nil {
			return err
		}
		select {
		case d := <-deliveries:
			if err := d.Ack(false); err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for order %d: %w", i+1, ctx.Err())
		}
	}

	// Request-reply: the client's reply queue is server-named.
	reply, err := pch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		return err
	}
	replies, err := pch.Consume(reply.Name, "rpc-client", true, true, false, false, nil)
	if err != nil {
		return err
	}
	err = pch.PublishWithContext(ctx, "", "rpc", false, false, amqp.Publishing{
		CorrelationId: RPCCorr, ReplyTo: reply.Name, Body: []byte("ping"),
	})
	if err != nil {
		return err
	}
	select {
	case d := <-requests:
		err = sch.PublishWithContext(ctx, "", d.ReplyTo, false, false, amqp.Publishing{
			CorrelationId: d.CorrelationId, Body: []byte("pong"),
		})
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return fmt.Errorf("waiting for the rpc request: %w", ctx.Err())
	}
	select {
	case d := <-replies:
		if d.CorrelationId != RPCCorr {
			return fmt.Errorf("reply correlation id %q", d.CorrelationId)
		}
	case <-ctx.Done():
		return fmt.Errorf("waiting for the rpc reply: %w", ctx.Err())
	}

	// basic.get.
	if _, err := pch.QueueDeclare("jobs", false, true, false, false, nil); err != nil {
		return err
	}
	err = pch.PublishWithContext(ctx, "", "jobs", false, false, amqp.Publishing{MessageId: "job-0001", Body: []byte("job")})
	if err != nil {
		return err
	}
	for {
		_, ok, err := pch.Get("jobs", true)
		if err != nil {
			return err
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("basic.get: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}

	// A passive declare of a missing queue: the server closes the channel
	// with 404 NOT_FOUND.
	_, err = pch.QueueDeclarePassive("missing", false, false, false, false, nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Code != amqp.NotFound {
		return fmt.Errorf("passive declare of a missing queue: %v, want 404", err)
	}
	for _, c := range []*amqp.Connection{pconn, sconn, cconn} {
		if err := c.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			return err
		}
	}
	return nil
}

// stompConn is a minimal STOMP 1.2 client.
type stompConn struct {
	c net.Conn
	r *bufio.Reader
}

func (s *stompConn) send(cmd string, headers []string, body string) error {
	var b strings.Builder
	b.WriteString(cmd + "\n")
	for _, h := range headers {
		b.WriteString(h + "\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "content-length:%d\n", len(body))
	}
	b.WriteString("\n" + body + "\x00")
	_, err := io.WriteString(s.c, b.String())
	return err
}

// read returns the next frame's command and headers (heart-beat EOLs
// skipped); the body is read by content-length or to the NUL.
func (s *stompConn) read() (string, map[string]string, error) {
	var cmd string
	for cmd == "" {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		cmd = strings.TrimRight(line, "\r\n")
	}
	h := map[string]string{}
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		if _, dup := h[k]; !dup {
			h[k] = v
		}
	}
	if _, err := s.r.ReadString(0); err != nil {
		return "", nil, err
	}
	return cmd, h, nil
}

func (s *stompConn) expect(cmd string) (map[string]string, error) {
	got, h, err := s.read()
	if err != nil {
		return nil, err
	}
	if got != cmd {
		return nil, fmt.Errorf("got %s %v, want %s", got, h, cmd)
	}
	return h, nil
}

func stompDial(ctx context.Context, addr, login string) (*stompConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	s := &stompConn{c: c, r: bufio.NewReader(c)}
	host, _, _ := net.SplitHostPort(addr)
	if err := s.send("CONNECT", []string{"accept-version:1.0,1.1,1.2", "host:/", "login:" + login, "passcode:" + login, "heart-beat:0,0"}, ""); err != nil {
		return nil, err
	}
	if _, err := s.expect("CONNECTED"); err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to %s: %w", host, err)
	}
	return s, nil
}

func (s *stompConn) close() error {
	if err := s.send("DISCONNECT", []string{"receipt:bye"}, ""); err != nil {
		return err
	}
	_, err := s.expect("RECEIPT")
	s.c.Close()
	return err
}

// runSTOMP: a consumer subscribed to /queue/orders with client acks, a
// producer sending three messages with receipts (correlation-id,
// traceparent, x-request-id and a custom header), and a SEND to a
// destination the broker refuses (an ERROR frame).
func runSTOMP(ctx context.Context, addr string) error {
	cons, err := stompDial(ctx, addr, "guest")
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	if err := cons.send("SUBSCRIBE", []string{"id:sub-0", "destination:/queue/orders", "ack:client-individual", "receipt:sub"}, ""); err != nil {
		return err
	}
	if _, err := cons.expect("RECEIPT"); err != nil {
		return err
	}
	prod, err := stompDial(ctx, addr, "guest")
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	sends := [][]string{
		{"correlation-id:stomp-corr-0001", "traceparent:" + Traceparent, "app:shop"},
		{"x-request-id:" + RequestID, "app:shop"},
		{"app:shop"},
	}
	for i, extra := range sends {
		h := append([]string{"destination:/queue/orders", "content-type:text/plain", fmt.Sprintf("receipt:send-%d", i+1)}, extra...)
		if err := prod.send("SEND", h, fmt.Sprintf("order %d", i+1)); err != nil {
			return err
		}
		if _, err := prod.expect("RECEIPT"); err != nil {
			return err
		}
		m, err := cons.expect("MESSAGE")
		if err != nil {
			return err
		}
		if err := cons.send("ACK", []string{"id:" + m["ack"]}, ""); err != nil {
			return err
		}
	}
	if err := cons.close(); err != nil {
		return err
	}
	if err := prod.close(); err != nil {
		return err
	}
	// A destination the broker refuses: an ERROR frame, then the broker
	// closes the connection.
	bad, err := stompDial(ctx, addr, "guest")
	if err != nil {
		return err
	}
	defer bad.c.Close()
	if err := bad.send("SEND", []string{"destination:/nowhere/x", "receipt:bad"}, "x"); err != nil {
		return err
	}
	if _, err := bad.expect("ERROR"); err != nil {
		return err
	}
	return nil
}

// runSTOMPActiveMQ talks STOMP to ActiveMQ, whose other clients speak
// OpenWire: a SEND to /queue/stomp-in (correlation-id, traceparent and
// x-request-id headers; no content-length, so the broker makes it a
// TextMessage) that an OpenWire consumer takes, then a subscriber of
// /queue/ow-out that takes the two messages an OpenWire producer sent.
func runSTOMPActiveMQ(ctx context.Context, addr string) error {
	s, err := stompDial(ctx, addr, "guest")
	if err != nil {
		return err
	}
	h := []string{"destination:/queue/stomp-in", "receipt:in-1", "correlation-id:amq-corr-0001",
		"traceparent:" + Traceparent, "x-request-id:" + RequestID}
	var b strings.Builder
	b.WriteString("SEND\n")
	for _, x := range h {
		b.WriteString(x + "\n")
	}
	b.WriteString("\nfrom stomp\x00")
	if _, err := io.WriteString(s.c, b.String()); err != nil {
		return err
	}
	if _, err := s.expect("RECEIPT"); err != nil {
		return err
	}
	if err := s.send("SUBSCRIBE", []string{"id:sub-1", "destination:/queue/ow-out", "ack:auto"}, ""); err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if _, err := s.expect("MESSAGE"); err != nil {
			return fmt.Errorf("message %d of /queue/ow-out: %w", i+1, err)
		}
	}
	return s.close()
}
