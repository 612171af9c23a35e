package kafka_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wiretrace/wiretrace/protocols"
	"github.com/wiretrace/wiretrace/protocols/kafka"
)

// sum is the part of a Message the tests compare.
type sum struct {
	Kind       protocols.Kind
	Name       string
	ID         uint64
	Status     protocols.Status
	Partial    bool
	NoResponse bool
	Size       int
	Attrs      map[string]string
	Links      []string
}

func summarise(m *protocols.Message) sum {
	s := sum{Kind: m.Kind, Name: m.Name, ID: m.ID, Status: m.Status, Partial: m.Partial,
		NoResponse: m.NoResponse, Size: m.Size, Attrs: map[string]string{}}
	if !m.HasID {
		s.ID = 1 << 40
	}
	for _, a := range m.Attrs {
		s.Attrs[a.Key] = a.Value()
	}
	for _, l := range m.Links {
		s.Links = append(s.Links, l.Key+"="+l.Str)
	}
	return s
}

// chunk is bytes flowing one way, or a gap of Gap bytes when Gap > 0.
type chunk struct {
	dir  protocols.Direction
	data []byte
	gap  int
}

func req(b []byte) chunk  { return chunk{dir: protocols.ToServer, data: b} }
func resp(b []byte) chunk { return chunk{dir: protocols.ToClient, data: b} }

// feeder drives a parser as the protocols driver does: it keeps the
// unconsumed tail per direction, offers it to Salvage before a gap, and
// calls End at the end.
type feeder struct {
	p    *kafka.Parser
	tail [3][]byte
	out  []sum
	err  error
}

func (f *feeder) feed(dir protocols.Direction, data []byte) {
	if f.err != nil {
		return
	}
	buf := append(f.tail[dir], data...)
	off := 0
	for off < len(buf) {
		var m protocols.Message
		n, done, err := f.p.Parse(dir, buf[off:], &m)
		if err != nil {
			f.err = err
			return
		}
		if n < 0 || n > len(buf)-off {
			f.err = errors.New("n out of range")
			return
		}
		off += n
		if done {
			f.out = append(f.out, summarise(&m))
			continue
		}
		if n == 0 {
			break
		}
	}
	f.tail[dir] = append([]byte(nil), buf[off:]...)
}

func (f *feeder) gap(dir protocols.Direction, size int) {
	lost := size
	var m protocols.Message
	if len(f.tail[dir]) > 0 && f.p.Salvage(dir, f.tail[dir], &m) {
		f.out = append(f.out, summarise(&m))
	} else {
		lost += len(f.tail[dir])
	}
	f.tail[dir] = nil
	f.p.Gap(dir, lost)
}

func (f *feeder) end() {
	for _, d := range []protocols.Direction{protocols.ToServer, protocols.ToClient} {
		var m protocols.Message
		for i := 0; i < 8 && f.p.End(d, &m); i++ {
			f.out = append(f.out, summarise(&m))
			m = protocols.Message{}
		}
	}
}

func run(cfg *protocols.Config, chunks []chunk) ([]sum, error) {
	f := &feeder{p: kafka.New(cfg)}
	for _, c := range chunks {
		if c.gap > 0 {
			f.gap(c.dir, c.gap)
			continue
		}
		f.feed(c.dir, c.data)
	}
	f.end()
	return f.out, f.err
}

const (
	produce = 0
	fetch   = 1
)

var tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

// produceReq encodes a Produce request of one partition of topic.
func produceReq(ver int16, corr int32, topic string, part int32, acks int16, batch []byte) []byte {
	flex := kafka.Flexible(produce, ver)
	e := &kafka.Enc{}
	if ver >= 3 {
		e.Str("", flex)
	}
	e.I16(acks).I32(30000).Arr(1, flex).Str(topic, flex).Arr(1, flex).I32(part).Bytes(batch, flex).Tags(flex).Tags(flex).Tags(flex)
	return kafka.Request(produce, ver, corr, "producer-1", e.B)
}

func produceResp(ver int16, corr int32, topic string, part int32, code int16, base int64) []byte {
	flex := kafka.Flexible(produce, ver)
	e := &kafka.Enc{}
	e.Arr(1, flex).Str(topic, flex).Arr(1, flex).I32(part).I16(code).I64(base)
	if ver >= 2 {
		e.I64(-1)
	}
	if ver >= 5 {
		e.I64(0)
	}
	if ver >= 8 {
		e.Arr(0, flex).Str("", flex)
	}
	e.Tags(flex).Tags(flex).I32(0).Tags(flex)
	return kafka.Response(produce, ver, corr, e.B)
}

func fetchReq(ver int16, corr int32, topic string, part int32, offset int64) []byte {
	flex := kafka.Flexible(fetch, ver)
	e := &kafka.Enc{}
	e.I32(-1).I32(500).I32(1).I32(50 << 20).I8(0).I32(0).I32(-1)
	e.Arr(1, flex).Str(topic, flex).Arr(1, flex).I32(part).I32(0).I64(offset).I32(-1).I64(0).I32(1 << 20).Tags(flex).Tags(flex)
	e.Arr(0, flex).Str("", flex).Tags(flex)
	return kafka.Request(fetch, ver, corr, "consumer-1", e.B)
}

func fetchResp(ver int16, corr int32, topic string, part int32, code int16, records []byte) []byte {
	flex := kafka.Flexible(fetch, ver)
	e := &kafka.Enc{}
	e.I32(0).I16(0).I32(7)
	e.Arr(1, flex).Str(topic, flex).Arr(1, flex).I32(part).I16(code).I64(100).I64(100).I64(0).Arr(0, flex).I32(-1).Bytes(records, flex).Tags(flex).Tags(flex).Tags(flex)
	return kafka.Response(fetch, ver, corr, e.B)
}

func recs(n int, headers ...[2]string) []kafka.Rec {
	out := make([]kafka.Rec, n)
	for i := range out {
		out[i] = kafka.Rec{Key: "k", Value: strings.Repeat("v", 10)}
	}
	if n > 0 {
		out[0].Headers = headers
	}
	return out
}

func attrs(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func produceAttrs(ver, corr, count string, extra ...string) map[string]string {
	return attrs(append([]string{
		"messaging.system", "kafka", "messaging.operation.name", "Produce", "messaging.operation.type", "send",
		"messaging.destination.name", "orders", "messaging.destination.partition.id", "3",
		"messaging.batch.message_count", count, "messaging.client.id", "producer-1",
		"kafka.api_version", ver, "kafka.correlation_id", corr}, extra...)...)
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		codec int
		name  string
	}{{kafka.CodecNone, "none"}, {kafka.CodecGzip, "gzip"}, {kafka.CodecSnappy, "snappy"}, {kafka.CodecXerial, "xerial"}, {kafka.CodecLZ4, "lz4"}, {kafka.CodecZstd, "zstd"}} {
		t.Run("produce_v9_"+c.name, func(t *testing.T) {
			batch := kafka.Batch(0, c.codec, recs(3, [2]string{"traceparent", tp}, [2]string{"X-Request-ID", "rid-1"}))
			got, err := run(nil, []chunk{req(produceReq(9, 7, "orders", 3, -1, batch)), resp(produceResp(9, 7, "orders", 3, 0, 42))})
			if err != nil {
				t.Fatal(err)
			}
			want := []sum{
				{Kind: protocols.Request, Name: "Produce orders", ID: 7, Size: len(produceReq(9, 7, "orders", 3, -1, batch)),
					Attrs: produceAttrs("9", "7", "3"),
					Links: []string{"kafka_topic_partition=orders/3", "x_request_id=rid-1", "traceparent=" + tp}},
				{Kind: protocols.Response, Name: "Produce", ID: 7, Status: protocols.StatusOK, Size: len(produceResp(9, 7, "orders", 3, 0, 42)),
					Attrs: attrs("messaging.kafka.offset", "42"),
					Links: []string{"kafka_topic_partition=orders/3", "kafka_offset=42"}},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	batch := kafka.Batch(0, kafka.CodecNone, recs(2, [2]string{"sw8", "1-abc"}))
	fbatches := append(kafka.Batch(36, kafka.CodecNone, recs(2, [2]string{"b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"})),
		kafka.Batch(38, kafka.CodecGzip, recs(4))...)
	apiReq := kafka.Request(18, 3, 2, "adminclient-1", (&kafka.Enc{}).Str("apache-kafka-java", true).Str("3.5.1", true).Tags(true).B)
	apiResp := kafka.Response(18, 3, 2, (&kafka.Enc{}).I16(35).Arr(0, true).I32(0).Tags(true).B)
	tests := []struct {
		name   string
		cfg    *protocols.Config
		chunks []chunk
		want   []sum
	}{
		{
			name:   "produce_v3_acks0",
			chunks: []chunk{req(produceReq(3, 5, "orders", 3, 0, batch))},
			want: []sum{{Kind: protocols.Request, Name: "Produce orders", ID: 5, NoResponse: true, Size: len(produceReq(3, 5, "orders", 3, 0, batch)),
				Attrs: produceAttrs("3", "5", "2"), Links: []string{"kafka_topic_partition=orders/3", "sw8=1-abc"}}},
		},
		{
			name:   "produce_error",
			chunks: []chunk{req(produceReq(7, 8, "orders", 3, 1, batch)), resp(produceResp(7, 8, "orders", 3, 6, -1))},
			want: []sum{
				{Kind: protocols.Request, Name: "Produce orders", ID: 8, Size: len(produceReq(7, 8, "orders", 3, 1, batch)),
					Attrs: produceAttrs("7", "8", "2"), Links: []string{"kafka_topic_partition=orders/3", "sw8=1-abc"}},
				{Kind: protocols.Response, Name: "Produce", ID: 8, Status: protocols.StatusError, Size: len(produceResp(7, 8, "orders", 3, 6, -1)),
					Attrs: attrs("error.type", "NOT_LEADER_OR_FOLLOWER"), Links: []string{"kafka_topic_partition=orders/3"}},
			},
		},
		{
			name:   "fetch_v12",
			chunks: []chunk{req(fetchReq(12, 9, "orders", 3, 36)), resp(fetchResp(12, 9, "orders", 3, 0, fbatches))},
			want: []sum{
				{Kind: protocols.Request, Name: "Fetch orders", ID: 9, Size: len(fetchReq(12, 9, "orders", 3, 36)),
					Attrs: attrs("messaging.system", "kafka", "messaging.operation.name", "Fetch", "messaging.operation.type", "receive",
						"messaging.destination.name", "orders", "messaging.destination.partition.id", "3", "messaging.kafka.offset", "36",
						"messaging.client.id", "consumer-1", "kafka.api_version", "12", "kafka.correlation_id", "9"),
					Links: []string{"kafka_topic_partition=orders/3"}},
				{Kind: protocols.Response, Name: "Fetch", ID: 9, Status: protocols.StatusOK, Size: len(fetchResp(12, 9, "orders", 3, 0, fbatches)),
					Attrs: attrs("messaging.batch.message_count", "6"),
					Links: []string{"kafka_topic_partition=orders/3", "kafka_offset=36..41", "b3=80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"}},
			},
		},
		{
			name: "fetch_partial_batch_not_counted",
			chunks: []chunk{req(fetchReq(11, 9, "orders", 3, 36)),
				resp(fetchResp(11, 9, "orders", 3, 0, append(kafka.Batch(36, kafka.CodecNone, recs(2)), kafka.Batch(38, kafka.CodecNone, recs(5))[:70]...)))},
			want: []sum{
				{Kind: protocols.Request, Name: "Fetch orders", ID: 9, Size: len(fetchReq(11, 9, "orders", 3, 36)),
					Attrs: attrs("messaging.system", "kafka", "messaging.operation.name", "Fetch", "messaging.operation.type", "receive",
						"messaging.destination.name", "orders", "messaging.destination.partition.id", "3", "messaging.kafka.offset", "36",
						"messaging.client.id", "consumer-1", "kafka.api_version", "11", "kafka.correlation_id", "9"),
					Links: []string{"kafka_topic_partition=orders/3"}},
				{Kind: protocols.Response, Name: "Fetch", ID: 9, Status: protocols.StatusOK, Size: 243,
					Attrs: attrs("messaging.batch.message_count", "2"),
					Links: []string{"kafka_topic_partition=orders/3", "kafka_offset=36..37"}},
			},
		},
		{
			name:   "api_versions_v3_error",
			chunks: []chunk{req(apiReq), resp(apiResp)},
			want: []sum{
				{Kind: protocols.Request, Name: "ApiVersions", ID: 2, Size: len(apiReq),
					Attrs: attrs("messaging.system", "kafka", "messaging.operation.name", "ApiVersions", "messaging.client.id", "adminclient-1",
						"kafka.api_version", "3", "kafka.correlation_id", "2")},
				{Kind: protocols.Response, Name: "ApiVersions", ID: 2, Status: protocols.StatusError, Size: len(apiResp),
					Attrs: attrs("error.type", "UNSUPPORTED_VERSION")},
			},
		},
		{
			name:   "response_without_request",
			chunks: []chunk{resp(apiResp)},
			want:   []sum{{Kind: protocols.Response, ID: 2, Size: len(apiResp), Attrs: map[string]string{}}},
		},
		{
			name: "large_produce_prefix",
			cfg:  &protocols.Config{MaxHeaderBytes: 200},
			chunks: func() []chunk {
				b := produceReq(9, 1, "orders", 3, -1, kafka.Batch(0, kafka.CodecNone, recs(50, [2]string{"traceparent", tp})))
				return []chunk{req(b[:150]), req(b[150:300]), req(b[300:])}
			}(),
			want: []sum{{Kind: protocols.Request, Name: "Produce orders", ID: 1, Size: 1080,
				Attrs: produceAttrs("9", "1", "50"), Links: []string{"kafka_topic_partition=orders/3", "traceparent=" + tp}}},
		},
		{
			name: "gap_inside_large_message",
			cfg:  &protocols.Config{MaxHeaderBytes: 200},
			chunks: func() []chunk {
				b := produceReq(9, 1, "orders", 3, -1, kafka.Batch(0, kafka.CodecNone, recs(50)))
				b2 := produceReq(9, 2, "orders", 3, 1, batch)
				return []chunk{req(b[:300]), {dir: protocols.ToServer, gap: 100}, req(b[400:]), req(b2)}
			}(),
			want: []sum{
				{Kind: protocols.Request, Name: "Produce orders", ID: 1, Partial: true, Size: 1011, Attrs: produceAttrs("9", "1", "50"),
					Links: []string{"kafka_topic_partition=orders/3"}},
				{Kind: protocols.Request, Name: "Produce orders", ID: 2, Size: len(produceReq(9, 2, "orders", 3, 1, batch)),
					Attrs: produceAttrs("9", "2", "2"), Links: []string{"kafka_topic_partition=orders/3", "sw8=1-abc"}},
			},
		},
		{
			name: "salvage_then_resync",
			chunks: func() []chunk {
				b := produceReq(9, 1, "orders", 3, 1, batch)
				b2 := produceReq(9, 2, "orders", 3, 1, batch)
				// The first message is cut after 40 bytes; the gap runs 10
				// bytes into the next one, whose rest is skipped; the third
				// is found by scanning.
				return []chunk{req(b[:40]), {dir: protocols.ToServer, gap: len(b) - 40 + 10}, req(b2[10:]), req(b2)}
			}(),
			want: []sum{
				{Kind: protocols.Request, Name: "Produce orders", ID: 1, Partial: true, Size: len(produceReq(9, 1, "orders", 3, 1, batch)),
					Attrs: attrs("messaging.system", "kafka", "messaging.operation.name", "Produce", "messaging.operation.type", "send",
						"messaging.destination.name", "orders", "messaging.client.id", "producer-1", "kafka.api_version", "9", "kafka.correlation_id", "1")},
				{Kind: protocols.Request, Name: "Produce orders", ID: 2, Size: len(produceReq(9, 2, "orders", 3, 1, batch)),
					Attrs: produceAttrs("9", "2", "2"), Links: []string{"kafka_topic_partition=orders/3", "sw8=1-abc"}},
			},
		},
		{
			name: "response_resync_on_pending_id",
			chunks: func() []chunk {
				return []chunk{req(produceReq(9, 1, "orders", 3, 1, batch)), req(produceReq(9, 2, "orders", 3, 1, batch)),
					{dir: protocols.ToClient, gap: 30}, resp(produceResp(9, 2, "orders", 3, 0, 10))}
			}(),
			want: []sum{
				{Kind: protocols.Request, Name: "Produce orders", ID: 1, Size: len(produceReq(9, 1, "orders", 3, 1, batch)),
					Attrs: produceAttrs("9", "1", "2"), Links: []string{"kafka_topic_partition=orders/3", "sw8=1-abc"}},
				{Kind: protocols.Request, Name: "Produce orders", ID: 2, Size: len(produceReq(9, 2, "orders", 3, 1, batch)),
					Attrs: produceAttrs("9", "2", "2"), Links: []string{"kafka_topic_partition=orders/3", "sw8=1-abc"}},
				{Kind: protocols.Response, Name: "Produce", ID: 2, Status: protocols.StatusOK, Size: len(produceResp(9, 2, "orders", 3, 0, 10)),
					Attrs: attrs("messaging.kafka.offset", "10"), Links: []string{"kafka_topic_partition=orders/3", "kafka_offset=10"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := run(tt.cfg, tt.chunks)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestSplit feeds whole conversations split at every position and expects
// the messages of the unsplit feed.
func TestSplit(t *testing.T) {
	batch := kafka.Batch(0, kafka.CodecGzip, recs(3, [2]string{"traceparent", tp}))
	cases := map[string][2][]byte{
		"produce": {append(produceReq(9, 1, "orders", 3, -1, batch), produceReq(3, 2, "orders", 3, 1, batch)...),
			append(produceResp(9, 1, "orders", 3, 0, 1), produceResp(3, 2, "orders", 3, 0, 4)...)},
		"fetch": {fetchReq(12, 5, "orders", 0, 1), fetchResp(12, 5, "orders", 0, 0, batch)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			want, err := run(nil, []chunk{req(c[0]), resp(c[1])})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i <= len(c[0])+len(c[1]); i++ {
				j := max(i-len(c[0]), 0)
				i := min(i, len(c[0]))
				got, err := run(nil, []chunk{req(c[0][:i]), req(c[0][i:]), resp(c[1][:j]), resp(c[1][j:])})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("split %d/%d (-want +got):\n%s", i, j, diff)
				}
			}
		})
	}
}

func TestErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		dir  protocols.Direction
		in   []byte
		want error
	}{
		{"negative_size", protocols.ToServer, []byte{0xff, 0xff, 0xff, 0xff, 0, 0}, kafka.ErrSize},
		{"short_request", protocols.ToServer, []byte{0, 0, 0, 4, 0, 0, 0, 0}, kafka.ErrSize},
		{"too_large", protocols.ToClient, []byte{0x7f, 0, 0, 0, 0, 0, 0, 0}, kafka.ErrTooLarge},
		{"direction", protocols.DirUnknown, []byte{0, 0, 0, 8}, kafka.ErrDirection},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var m protocols.Message
			n, done, err := kafka.New(nil).Parse(tt.dir, tt.in, &m)
			if !errors.Is(err, tt.want) || n != 0 || done {
				t.Errorf("Parse = %d, %v, %v; want error %v", n, done, err, tt.want)
			}
			var pe *protocols.ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *protocols.ParseError", err)
			}
		})
	}
}

func TestSniff(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
		want protocols.Direction
	}{
		{"produce", produceReq(9, 1, "orders", 0, 1, nil), protocols.ToServer},
		{"api_versions_v0", kafka.Request(18, 0, 1, "rdkafka", nil), protocols.ToServer},
		{"null_client_id", append([]byte{0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff}, make([]byte, 0)...), protocols.ToServer},
		{"short", []byte{0, 0, 0, 20, 0, 3}, protocols.DirUnknown},
		{"client_id_cut", kafka.Request(18, 0, 1, "rdkafka", nil)[:16], protocols.DirUnknown},
		{"unknown_key", kafka.Request(200, 0, 1, "x", nil), protocols.DirUnknown},
		{"version_too_high", kafka.Request(18, 9, 1, "x", nil), protocols.DirUnknown},
		{"binary_client_id", kafka.Request(18, 0, 1, "a\x00b", nil), protocols.DirUnknown},
		{"response", produceResp(9, 1, "orders", 0, 0, 1), protocols.DirUnknown},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), protocols.DirUnknown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := kafka.Sniff(tt.in); got != tt.want {
				t.Errorf("Sniff = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPendingBound checks that unanswered requests do not grow the parser.
func TestPendingBound(t *testing.T) {
	p := kafka.New(nil)
	var m protocols.Message
	for i := 0; i < 3*kafka.MaxPending; i++ {
		b := kafka.Request(3, 1, int32(i), "c", (&kafka.Enc{}).Arr(0, false).B)
		if _, _, err := p.Parse(protocols.ToServer, b, &m); err != nil {
			t.Fatal(err)
		}
		m.Reset()
	}
	// The newest is still pending; the oldest was dropped.
	for _, c := range []struct {
		id   int32
		name string
	}{{int32(3*kafka.MaxPending - 1), "Metadata"}, {0, ""}} {
		b := kafka.Response(3, 1, c.id, (&kafka.Enc{}).Arr(0, false).Str("", false).I32(0).Arr(0, false).B)
		m.Reset()
		if _, done, err := p.Parse(protocols.ToClient, b, &m); err != nil || !done {
			t.Fatal(done, err)
		}
		if m.Name != c.name {
			t.Errorf("response %d: name %q, want %q", c.id, m.Name, c.name)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	batch := kafka.Batch(0, kafka.CodecNone, recs(10, [2]string{"traceparent", tp}))
	for _, c := range []struct {
		name string
		req  []byte
		resp []byte
	}{
		{"produce_v9", produceReq(9, 1, "orders", 3, -1, batch), produceResp(9, 1, "orders", 3, 0, 42)},
		{"fetch_v12", fetchReq(12, 1, "orders", 3, 36), fetchResp(12, 1, "orders", 3, 0, batch)},
		{"metadata_v1", kafka.Request(3, 1, 1, "c", (&kafka.Enc{}).Arr(0, false).B),
			kafka.Response(3, 1, 1, (&kafka.Enc{}).Arr(0, false).Str("", false).I32(0).Arr(0, false).B)},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := kafka.New(nil)
			var m protocols.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(c.req) + len(c.resp)))
			for b.Loop() {
				m.Reset()
				if _, done, err := p.Parse(protocols.ToServer, c.req, &m); !done || err != nil {
					b.Fatal(done, err)
				}
				m.Reset()
				if _, done, err := p.Parse(protocols.ToClient, c.resp, &m); !done || err != nil {
					b.Fatal(done, err)
				}
			}
		})
	}
}
