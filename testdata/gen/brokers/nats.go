package main

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// runNATS: a subscriber in a queue group and a responder on one
// connection; a publisher (user and password) on another publishes a plain
// message and one with a traceparent header, then makes a request.
func runNATS(ctx context.Context, addr string) error {
	url := "nats://" + addr
	sub, err := nats.Connect(url, nats.Name("orders-worker"), nats.UserInfo("svc", "secret-pw"), nats.SetCustomDialer(subDialer))
	if err != nil {
		return err
	}
	defer sub.Close()
	got := make(chan *nats.Msg, 4)
	if _, err := sub.QueueSubscribe("orders.created", "workers", func(m *nats.Msg) { got <- m }); err != nil {
		return err
	}
	if _, err := sub.Subscribe("stock.check", func(m *nats.Msg) {
		reply := nats.NewMsg(m.Reply)
		reply.Header.Set("traceparent", m.Header.Get("traceparent"))
		reply.Data = []byte(`{"in_stock":true}`)
		m.RespondMsg(reply)
	}); err != nil {
		return err
	}
	if err := sub.Flush(); err != nil {
		return err
	}

	pub, err := nats.Connect(url, nats.Name("orders-api"), nats.UserInfo("svc", "secret-pw"), nats.SetCustomDialer(pubDialer))
	if err != nil {
		return err
	}
	defer pub.Close()
	if err := pub.Publish("orders.created", []byte(`{"order":1}`)); err != nil {
		return err
	}
	m := nats.NewMsg("orders.created")
	m.Header.Set("traceparent", traceparent)
	m.Data = []byte(`{"order":2}`)
	if err := pub.PublishMsg(m); err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		select {
		case <-got:
		case <-ctx.Done():
			return fmt.Errorf("message %d not delivered: %w", i+1, ctx.Err())
		}
	}
	req := nats.NewMsg("stock.check")
	req.Header.Set("traceparent", traceparent)
	req.Data = []byte(`{"sku":"widget-7"}`)
	if _, err := pub.RequestMsg(req, 5*time.Second); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	return pub.Flush()
}
