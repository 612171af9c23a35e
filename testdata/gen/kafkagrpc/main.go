// Command kafkagrpc makes the traffic of testdata/kafka_headers.pcap and
// testdata/grpc_traceparent.pcap; testdata/gen/kafkagrpc.sh runs it in two
// network namespaces and records with tcpdump.
//
//	kafkagrpc -mode servers -kafka ADDR -grpc ADDR
//	kafkagrpc -mode kafka -kafka ADDR
//	kafkagrpc -mode grpc -grpc ADDR
//
// Mode servers runs a one-broker Kafka cluster (franz-go's pure-Go kfake)
// with topic "orders" (one partition) and a gRPC server of the hand-written
// service wiretrace.demo.Orders, prints "ready" and serves until SIGTERM or
// SIGINT.
//
// Mode kafka starts a consumer of "orders" (no group, from the start, its
// own connection), then a producer that sends three records, one
// ProduceSync each and waits until the consumer has fetched it before the
// next, so each Produce request and each Fetch response carries one record.
// Record i (1..3) has key "order-<i>" and the headers
//
//	traceparent:  00-<KafkaTrace(i)>-<KafkaSpan(i)>-01
//	x-request-id: kafka-req-000<i>
//
// Both clients are capped at the Kafka 3.0 API versions (Produce v9, Fetch
// v12): flexible encodings, but topics named rather than given by topic id
// (Fetch v13+), so the spans carry the topic name.
//
// Mode grpc makes, on one HTTP/2 connection, five calls with metadata
// traceparent 00-<GRPCTrace(i)>-<GRPCSpan(i)>-01 and x-request-id
// grpc-req-000<i> (i = 1..5): GetOrder("42") → OK, GetOrder("404") →
// NotFound, GetOrder("503") → Unavailable, GetOrder("7") → OK, and the
// server-streaming WatchOrder("42"), which answers three messages then OK.
// The errors are trailers-only responses. Messages are wrapperspb.StringValue, so
// no protoc is needed.
//
// All ids are fixed (see the trace and span functions), so a regenerated
// capture differs only in timestamps, ports and TCP sequence numbers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const topic = "orders"

// KafkaTrace returns the trace id of record i's traceparent.
func KafkaTrace(i int) string { return fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e47%02x", i) }

// KafkaSpan returns the span id of record i's traceparent.
func KafkaSpan(i int) string { return fmt.Sprintf("00f067aa0ba902%02x", i) }

// GRPCTrace returns the trace id of gRPC call i's traceparent.
func GRPCTrace(i int) string { return fmt.Sprintf("0af7651916cd43dd8448eb211c8031%02x", i) }

// GRPCSpan returns the span id of gRPC call i's traceparent.
func GRPCSpan(i int) string { return fmt.Sprintf("b7ad6b71692033%02x", i) }

func main() {
	mode := flag.String("mode", "", "servers, kafka or grpc")
	kafkaAddr := flag.String("kafka", "10.231.31.2:9092", "Kafka broker address (host:port)")
	grpcAddr := flag.String("grpc", "10.231.31.2:50051", "gRPC server address (host:port)")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	var err error
	switch *mode {
	case "servers":
		err = servers(ctx, *kafkaAddr, *grpcAddr)
	case "kafka":
		err = kafkaClients(ctx, *kafkaAddr)
	case "grpc":
		err = grpcClient(ctx, *grpcAddr)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafkagrpc:", err)
		os.Exit(1)
	}
}

// servers runs the Kafka broker and the gRPC server until ctx is done.
func servers(ctx context.Context, kafkaAddr, grpcAddr string) error {
	host, port, err := net.SplitHostPort(kafkaAddr)
	if err != nil {
		return err
	}
	var p int
	if _, err := fmt.Sscan(port, &p); err != nil {
		return fmt.Errorf("kafka port %q: %w", port, err)
	}
	// kfake listens on 127.0.0.1; listen on the namespace's address
	// instead (it advertises the listener's address in Metadata).
	cluster, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(p),
		kfake.SeedTopics(1, topic),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, port, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return net.Listen(network, net.JoinHostPort(host, port))
		}),
	)
	if err != nil {
		return err
	}
	defer cluster.Close()

	ln, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	srv.RegisterService(&ordersDesc, ordersImpl{})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Println("ready", cluster.ListenAddrs(), ln.Addr())
	select {
	case <-ctx.Done():
		srv.Stop()
		return nil
	case err := <-errc:
		return err
	}
}

// kafkaClients runs the consumer and the producer.
func kafkaClients(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	consumer, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ClientID("wiretrace-consumer"),
		kgo.MaxVersions(kversion.V3_0_0()),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(3*time.Second),
	)
	if err != nil {
		return err
	}
	defer consumer.Close()
	producer, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ClientID("wiretrace-producer"),
		kgo.MaxVersions(kversion.V3_0_0()),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(0),
	)
	if err != nil {
		return err
	}
	defer producer.Close()

	got := make(chan *kgo.Record, 8)
	cerr := make(chan error, 1)
	go func() {
		for n := 0; n < 3; {
			fs := consumer.PollFetches(ctx)
			if ctx.Err() != nil {
				cerr <- ctx.Err()
				return
			}
			for _, e := range fs.Errors() {
				fmt.Fprintln(os.Stderr, "fetch error:", e.Topic, e.Partition, e.Err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				n++
				got <- r
			})
		}
	}()
	// Let the consumer find the partition and start its first long poll.
	time.Sleep(500 * time.Millisecond)

	for i := 1; i <= 3; i++ {
		r := &kgo.Record{
			Key:   fmt.Appendf(nil, "order-%d", i),
			Value: fmt.Appendf(nil, `{"order_id":%d,"item":"widget-%d","qty":%d}`, 40+i, i, i),
			Headers: []kgo.RecordHeader{
				{Key: "traceparent", Value: fmt.Appendf(nil, "00-%s-%s-01", KafkaTrace(i), KafkaSpan(i))},
				{Key: "x-request-id", Value: fmt.Appendf(nil, "kafka-req-%04d", i)},
			},
		}
		if err := producer.ProduceSync(ctx, r).FirstErr(); err != nil {
			return fmt.Errorf("produce %d: %w", i, err)
		}
		fmt.Printf("produced %s at offset %d\n", r.Key, r.Offset)
		select {
		case c := <-got:
			fmt.Printf("consumed %s at offset %d, headers %d\n", c.Key, c.Offset, len(c.Headers))
		case err := <-cerr:
			return fmt.Errorf("consumer: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// ordersService is the server side of wiretrace.demo.Orders.
type ordersService interface {
	GetOrder(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	WatchOrder(*wrapperspb.StringValue, grpc.ServerStream) error
}

// ordersDesc is what protoc-gen-go-grpc would generate for
//
//	service Orders {
//	  rpc GetOrder(google.protobuf.StringValue) returns (google.protobuf.StringValue);
//	  rpc WatchOrder(google.protobuf.StringValue) returns (stream google.protobuf.StringValue);
//	}
var ordersDesc = grpc.ServiceDesc{
	ServiceName: "wiretrace.demo.Orders",
	HandlerType: (*ordersService)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "GetOrder",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			return srv.(ordersService).GetOrder(ctx, in)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "WatchOrder",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(ordersService).WatchOrder(in, stream)
		},
	}},
}

type ordersImpl struct{}

func (ordersImpl) GetOrder(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	switch in.GetValue() {
	case "404":
		return nil, status.Errorf(codes.NotFound, "order %s not found", in.GetValue())
	case "503":
		return nil, status.Error(codes.Unavailable, "order store unavailable")
	}
	return wrapperspb.String(fmt.Sprintf(`{"order_id":%s,"status":"shipped"}`, in.GetValue())), nil
}

func (ordersImpl) WatchOrder(in *wrapperspb.StringValue, stream grpc.ServerStream) error {
	for _, st := range []string{"packed", "shipped", "delivered"} {
		if err := stream.SendMsg(wrapperspb.String(fmt.Sprintf(`{"order_id":%s,"status":%q}`, in.GetValue(), st))); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// grpcClient makes the five calls.
func grpcClient(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	md := func(i int) context.Context {
		return metadata.AppendToOutgoingContext(ctx,
			"traceparent", fmt.Sprintf("00-%s-%s-01", GRPCTrace(i), GRPCSpan(i)),
			"x-request-id", fmt.Sprintf("grpc-req-%04d", i))
	}
	for i, c := range []struct {
		id   string
		code codes.Code
	}{{"42", codes.OK}, {"404", codes.NotFound}, {"503", codes.Unavailable}, {"7", codes.OK}} {
		id := c.id
		out := new(wrapperspb.StringValue)
		err := conn.Invoke(md(i+1), "/wiretrace.demo.Orders/GetOrder", wrapperspb.String(id), out)
		if c.code != codes.OK {
			if status.Code(err) != c.code {
				return fmt.Errorf("GetOrder(%s): %v, want %v", id, err, c.code)
			}
			fmt.Printf("GetOrder(%s): %v\n", id, err)
		} else if err != nil {
			return fmt.Errorf("GetOrder(%s): %w", id, err)
		} else {
			fmt.Printf("GetOrder(%s): %s\n", id, out.GetValue())
		}
		time.Sleep(200 * time.Millisecond)
	}
	stream, err := conn.NewStream(md(5), &ordersDesc.Streams[0], "/wiretrace.demo.Orders/WatchOrder")
	if err != nil {
		return err
	}
	if err := stream.SendMsg(wrapperspb.String("42")); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	for {
		out := new(wrapperspb.StringValue)
		err := stream.RecvMsg(out)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("WatchOrder: %w", err)
		}
		fmt.Printf("WatchOrder(42): %s\n", out.GetValue())
	}
	time.Sleep(200 * time.Millisecond)
	return nil
}
