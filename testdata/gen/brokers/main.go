// Command brokers drives real brokers with their usual Go clients, for the
// captures testdata/gen/brokers.sh records:
//
//	brokers mqtt -addr HOST:1883          paho.golang (MQTT 5) and paho.mqtt.golang (3.1.1)
//	brokers nats -addr HOST:4222          nats.go: publish, headers, queue group, request/reply
//	brokers memcached -addr HOST:11211    gomemcache (text over TCP), binary over TCP, text over UDP
//
// -pub and -sub give the local addresses of the publishing and the
// subscribing clients (two hosts in the capture).
//
// Every exchange is bounded in count and time; the payloads are fixed so
// that the captures (and their goldens) are the same from run to run, up to
// addresses, ports and times.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: brokers mqtt|nats|memcached -addr HOST:PORT")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "", "broker address")
	pubIP := fs.String("pub", "", "local address of the publishing clients (default: any)")
	subIP := fs.String("sub", "", "local address of the subscribing clients (default: any)")
	fs.Parse(os.Args[2:])
	pubDialer, subDialer = dialerFrom(*pubIP), dialerFrom(*subIP)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "mqtt":
		err = runMQTT(ctx, *addr)
	case "nats":
		err = runNATS(ctx, *addr)
	case "memcached":
		err = runMemcached(ctx, *addr)
	default:
		err = errors.New("unknown command " + os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "brokers:", os.Args[1]+":", err)
		os.Exit(1)
	}
}

// pubDialer and subDialer dial from the publishers' and the subscribers'
// addresses, so that each side is a host of its own in the capture.
var pubDialer, subDialer *net.Dialer

func dialerFrom(ip string) *net.Dialer {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if ip != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	return d
}

// traceparent is the W3C trace context the publishers attach.
const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
