package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt311 "github.com/eclipse/paho.mqtt.golang"
)

// runMQTT: with MQTT 5 (paho.golang), a subscriber on "orders/#" and a
// responder on "stock/check"; a publisher (user name and password)
// publishes at QoS 0, 1 and 2 with a traceparent user property, then makes
// a request with a response topic and correlation data. With MQTT 3.1.1
// (paho.mqtt.golang) a client publishes at QoS 1 to the same subscriber.
func runMQTT(ctx context.Context, addr string) error {
	got := make(chan string, 8)
	sub, err := connect5(ctx, subDialer, addr, "orders-worker", nil, func(p *paho.Publish) { got <- p.Topic })
	if err != nil {
		return err
	}
	defer sub.Disconnect(&paho.Disconnect{ReasonCode: 0})
	var responder *paho.Client
	responder, err = connect5(ctx, subDialer, addr, "stock-svc", nil, func(p *paho.Publish) {
		if p.Properties == nil || p.Properties.ResponseTopic == "" {
			return
		}
		props := &paho.PublishProperties{CorrelationData: p.Properties.CorrelationData}
		props.User.Add("traceparent", p.Properties.User.Get("traceparent"))
		go responder.Publish(ctx, &paho.Publish{Topic: p.Properties.ResponseTopic, QoS: 1, Properties: props, Payload: []byte(`{"in_stock":true}`)})
	})
	if err != nil {
		return err
	}
	defer responder.Disconnect(&paho.Disconnect{ReasonCode: 0})
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "orders/#", QoS: 2}}}); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if _, err := responder.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "stock/check", QoS: 1}}}); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}

	replies := make(chan *paho.Publish, 1)
	pub, err := connect5(ctx, pubDialer, addr, "orders-api", &paho.Connect{Username: "svc", UsernameFlag: true, Password: []byte("secret-pw"), PasswordFlag: true},
		func(p *paho.Publish) { replies <- p })
	if err != nil {
		return err
	}
	defer pub.Disconnect(&paho.Disconnect{ReasonCode: 0})
	for qos := byte(0); qos <= 2; qos++ {
		props := &paho.PublishProperties{}
		props.User.Add("traceparent", traceparent)
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: "orders/created", QoS: qos, Properties: props,
			Payload: []byte(fmt.Sprintf(`{"order":%d}`, qos+1))}); err != nil {
			return fmt.Errorf("publish qos %d: %w", qos, err)
		}
	}
	for i := 0; i < 3; i++ {
		select {
		case <-got:
		case <-ctx.Done():
			return fmt.Errorf("message %d not delivered: %w", i+1, ctx.Err())
		}
	}
	if _, err := pub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "reply/orders-api", QoS: 1}}}); err != nil {
		return err
	}
	props := &paho.PublishProperties{ResponseTopic: "reply/orders-api", CorrelationData: []byte("req-1")}
	props.User.Add("traceparent", traceparent)
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "stock/check", QoS: 1, Properties: props, Payload: []byte(`{"sku":"widget-7"}`)}); err != nil {
		return err
	}
	select {
	case <-replies:
	case <-ctx.Done():
		return fmt.Errorf("no reply: %w", ctx.Err())
	}

	// MQTT 3.1.1.
	opts := mqtt311.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("legacy-sensor").
		SetUsername("sensor").SetPassword("secret-pw").SetAutoReconnect(false).SetKeepAlive(30 * time.Second).
		SetDialer(pubDialer)
	c := mqtt311.NewClient(opts)
	if t := c.Connect(); !t.WaitTimeout(5*time.Second) || t.Error() != nil {
		return fmt.Errorf("3.1.1 connect: %v", t.Error())
	}
	if t := c.Publish("orders/legacy", 1, false, `{"order":9}`); !t.WaitTimeout(5*time.Second) || t.Error() != nil {
		return fmt.Errorf("3.1.1 publish: %v", t.Error())
	}
	select {
	case <-got:
	case <-ctx.Done():
		return fmt.Errorf("3.1.1 message not delivered: %w", ctx.Err())
	}
	c.Disconnect(100)
	return nil
}

// connect5 connects an MQTT 5 client; onMsg receives its messages.
func connect5(ctx context.Context, d *net.Dialer, addr, id string, cp *paho.Connect, onMsg func(*paho.Publish)) (*paho.Client, error) {
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(r paho.PublishReceived) (bool, error) { onMsg(r.Packet); return true, nil },
	}})
	if cp == nil {
		cp = &paho.Connect{}
	}
	cp.ClientID, cp.KeepAlive, cp.CleanStart = id, 30, true
	ca, err := c.Connect(ctx, cp)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", id, err)
	}
	if ca.ReasonCode != 0 {
		return nil, fmt.Errorf("connect %s: reason code %d", id, ca.ReasonCode)
	}
	return c, nil
}
