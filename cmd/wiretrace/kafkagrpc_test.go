package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The captures of testdata/gen/kafkagrpc.sh; their ids are fixed by
// testdata/gen/kafkagrpc (KafkaTrace, GRPCTrace, ...).

func TestGoldenKafkaGRPC(t *testing.T) {
	for _, name := range []string{"kafka_headers", "grpc_traceparent"} {
		t.Run(name, func(t *testing.T) {
			out, _, err := run(t, "replay", "-q", "--format", "tree", testdata(name+".pcap"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, name+".golden.tree", out)
		})
	}
}

// TestKafkaHeaders checks that each record's headers link its Produce and
// Fetch spans, and that the consumer's Fetch hangs below the producer's
// Produce in the trace the traceparent names.
func TestKafkaHeaders(t *testing.T) {
	out, stderr, err := run(t, "replay", "--format", "jsonl", testdata("kafka_headers.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"parse_errors=0 ", "tcp_gap_bytes=0 ", "unmatched_responses=0 "} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stats line lacks %q: %s", s, stderr)
		}
	}
	spans := parseJSONL(t, out)
	produce := map[string]span{} // by x_request_id
	fetch := map[string]span{}
	for _, s := range spans {
		if s.Protocol != "kafka" {
			t.Errorf("span %q has protocol %q", s.Name, s.Protocol)
		}
		if s.Links["kafka_correlation_id"] == "" {
			t.Errorf("%s: no kafka_correlation_id link", s.Name)
		}
		rid := s.Links["x_request_id"]
		switch {
		case rid == "":
		case s.Name == "Produce orders":
			produce[rid] = s
		case s.Name == "Fetch orders":
			fetch[rid] = s
		default:
			t.Errorf("%s carries x_request_id %q", s.Name, rid)
		}
	}
	for i := 1; i <= 3; i++ {
		rid := fmt.Sprintf("kafka-req-%04d", i)
		trace := fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e47%02x", i)
		p, okp := produce[rid]
		f, okf := fetch[rid]
		if !okp || !okf {
			t.Errorf("record %d: Produce found %v, Fetch found %v; want both with x_request_id %s", i, okp, okf, rid)
			continue
		}
		for _, s := range []span{p, f} {
			if s.Links["traceparent_trace_id"] != trace || s.TraceID != trace {
				t.Errorf("record %d: %s trace id %s, traceparent_trace_id %q; want %s",
					i, s.Name, s.TraceID, s.Links["traceparent_trace_id"], trace)
			}
			if got := s.Links["kafka_topic_partition"]; got != "orders/0" {
				t.Errorf("record %d: %s kafka_topic_partition %q, want orders/0", i, s.Name, got)
			}
			if s.Attributes["messaging.batch.message_count"] != 1.0 || s.Status != "ok" {
				t.Errorf("record %d: %s message count %v, status %s; want 1, ok",
					i, s.Name, s.Attributes["messaging.batch.message_count"], s.Status)
			}
		}
		off := fmt.Sprint(i - 1)
		if p.Links["kafka_offset"] != off || f.Links["kafka_offset"] != off+".."+off {
			t.Errorf("record %d: offsets Produce %q Fetch %q, want %s and %s..%s",
				i, p.Links["kafka_offset"], f.Links["kafka_offset"], off, off, off)
		}
		if p.ParentSpanID != "" {
			t.Errorf("record %d: Produce has parent %s, want a root", i, p.ParentSpanID)
		}
		if f.ParentSpanID != p.SpanID || (f.LinkReason != "kafka_correlation" && f.LinkReason != "trace_header") {
			t.Errorf("record %d: Fetch parent %q reason %q; want Produce %s by kafka_correlation or trace_header",
				i, f.ParentSpanID, f.LinkReason, p.SpanID)
		}
		if p.Attributes["messaging.client.id"] != "wiretrace-producer" || f.Attributes["messaging.client.id"] != "wiretrace-consumer" {
			t.Errorf("record %d: client ids %v, %v", i, p.Attributes["messaging.client.id"], f.Attributes["messaging.client.id"])
		}
	}
}

// TestGRPCTraceparent checks the gRPC calls: names, status codes, the
// NotFound call and the traceparent trace ids.
func TestGRPCTraceparent(t *testing.T) {
	out, stderr, err := run(t, "replay", "--format", "jsonl", testdata("grpc_traceparent.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"parse_errors=0 ", "tcp_gap_bytes=0 ", "unmatched_responses=0 "} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stats line lacks %q: %s", s, stderr)
		}
	}
	type call struct {
		Name, TraceID, Parent, RequestID, Status string
		Code                                     float64
	}
	var got []call
	for _, s := range parseJSONL(t, out) {
		if s.Protocol != "grpc" || s.Attributes["rpc.system"] != "grpc" {
			t.Errorf("span %q: protocol %q, rpc.system %v; want grpc", s.Name, s.Protocol, s.Attributes["rpc.system"])
		}
		if s.Links["traceparent_trace_id"] != s.TraceID {
			t.Errorf("%s: trace id %s, traceparent_trace_id %q", s.Name, s.TraceID, s.Links["traceparent_trace_id"])
		}
		code, _ := s.Attributes["rpc.grpc.status_code"].(float64)
		got = append(got, call{s.Name, s.TraceID, s.ParentSpanID, s.Links["x_request_id"], s.Status, code})
	}
	// NOT_FOUND (5) is StatusOK under the OpenTelemetry server-span rule
	// that package http2 follows (see its doc), UNAVAILABLE (14) an error;
	// both codes are in rpc.grpc.status_code.
	want := []call{
		{"wiretrace.demo.Orders/GetOrder", "0af7651916cd43dd8448eb211c803101", "", "grpc-req-0001", "ok", 0},
		{"wiretrace.demo.Orders/GetOrder", "0af7651916cd43dd8448eb211c803102", "", "grpc-req-0002", "ok", 5},
		{"wiretrace.demo.Orders/GetOrder", "0af7651916cd43dd8448eb211c803103", "", "grpc-req-0003", "error", 14},
		{"wiretrace.demo.Orders/GetOrder", "0af7651916cd43dd8448eb211c803104", "", "grpc-req-0004", "ok", 0},
		{"wiretrace.demo.Orders/WatchOrder", "0af7651916cd43dd8448eb211c803105", "", "grpc-req-0005", "ok", 0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gRPC calls (-want +got):\n%s", diff)
	}
}
