package kafka

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name used in span output and ParseErrors.
const Name = "kafka"

// Limits bounding a Parser's state and the input it waits for.
const (
	// MaxMessageSize bounds a message's size field: the broker's default
	// socket.request.max.bytes (100 MiB). Larger sizes stop the flow.
	MaxMessageSize = 100 << 20
	// MaxPending bounds the requests awaiting a response per connection;
	// when it is full the oldest entry is dropped (its response is then
	// emitted without body details).
	MaxPending = 1024
	// MaxDecompressed bounds the bytes a compressed record batch is
	// decompressed to; records beyond it are not scanned for headers.
	MaxDecompressed = 256 << 10
	// MaxTopicNames bounds the topics listed in a Message name; beyond it
	// the name gives their count.
	MaxTopicNames = 3
	// MaxPartitionLinks bounds the kafka_topic_partition links of a message.
	MaxPartitionLinks = 16
	// maxClientID bounds the client_id length Sniff and resynchronisation
	// accept.
	maxClientID = 1024
	// maxCorrelationStep bounds how far past the last correlation id seen
	// a request found by resynchronisation may be.
	maxCorrelationStep = 1 << 16
)

// Correlation keys for message handoff, in Message.Links (see the package
// documentation).
const (
	LinkTopicPartition = protocols.LinkKafkaTopicPartition
	LinkOffset         = protocols.LinkKafkaOffset
)

// Attribute keys (OpenTelemetry semantic conventions v1.37.0, messaging).
const (
	attrSystem     = string(semconv.MessagingSystemKey)
	attrOpName     = string(semconv.MessagingOperationNameKey)
	attrOpType     = string(semconv.MessagingOperationTypeKey)
	attrDest       = string(semconv.MessagingDestinationNameKey)
	attrPartition  = string(semconv.MessagingDestinationPartitionIDKey)
	attrOffset     = string(semconv.MessagingKafkaOffsetKey)
	attrBatchCount = string(semconv.MessagingBatchMessageCountKey)
	attrClientID   = string(semconv.MessagingClientIDKey)
	attrGroup      = string(semconv.MessagingConsumerGroupNameKey)
	attrErrorType  = string(semconv.ErrorTypeKey)
	// Not semantic conventions: the request header's version and
	// correlation id, for matching wiretrace's output with other tools'.
	attrAPIVersion    = "kafka.api_version"
	attrCorrelationID = "kafka.correlation_id"
)

// Protocol describes Kafka for a protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "Kafka: every API named, Produce/Fetch topics, partitions, offsets, record counts and record headers (gzip, snappy, lz4, zstd), errors",
	IDLink:  "kafka_correlation_id",
	Ports:   []uint16{9092, 9093, 29092},
	Sniff:   Sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

var (
	_ protocols.Parser   = (*Parser)(nil)
	_ protocols.Salvager = (*Parser)(nil)
)

// Link slots for trace headers found in record headers, in emission order.
const (
	lnXRequestID = iota
	lnTraceparent
	lnTracestate
	lnB3
	lnB3TraceID
	lnB3SpanID
	lnB3ParentID
	lnUberTraceID
	lnSW8
	numLinks
)

var linkKeys = [numLinks]string{
	protocols.LinkXRequestID, protocols.LinkTraceparent, protocols.LinkTracestate,
	protocols.LinkB3, protocols.LinkB3TraceID, protocols.LinkB3SpanID,
	protocols.LinkB3ParentID, protocols.LinkUberTraceID, protocols.LinkSW8,
}

// linkHeaders are the record header names of the fixed links, matched
// case-insensitively.
var linkHeaders = [numLinks]string{
	"", "traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid",
	"x-b3-parentspanid", "uber-trace-id", "sw8",
}

// state is where a direction's stream is.
type state uint8

const (
	stHead   state = iota // at a message boundary
	stSkip                // inside a message, remain bytes left
	stResync              // lost the boundary: scanning for a header
)

// half is one direction's parsing state.
type half struct {
	st      state
	remain  int  // stSkip: bytes left in the message
	pending bool // stSkip: m is emitted when remain reaches 0
	resync  bool // stSkip: resynchronise after the message (a gap overran it)
	m       protocols.Message
}

// inflight is a request awaiting its response.
type inflight struct {
	id      int32
	key, ve int16
}

// Parser is the Kafka parser of one connection. Create it with New.
type Parser struct {
	ridHeaders []string
	limit      int
	halves     [2]half
	pend       []inflight // oldest first, at most MaxPending
	acc        acc
	dec        decompressor
	// Interned strings: a connection repeats its client id, topics and
	// names, which are then not allocated per message.
	clientID, topic, name string
	nameKey               int16
	nameTopic             string
	// lastReq is the correlation id of the last request (seenReq: one was
	// seen), for resynchronisation.
	lastReq int32
	seenReq bool
	// tp is the last kafka_topic_partition value.
	tp struct {
		topic string
		part  int32
		s     string
	}
}

// New returns a parser for one connection; a nil cfg means defaults.
// Messages up to cfg.HeaderLimit() bytes are decoded whole; larger ones
// from their first HeaderLimit bytes.
func New(cfg *protocols.Config) *Parser {
	return &Parser{ridHeaders: cfg.RequestIDHeaders(), limit: cfg.HeaderLimit()}
}

func (p *Parser) half(dir protocols.Direction) *half {
	switch dir {
	case protocols.ToServer:
		return &p.halves[0]
	case protocols.ToClient:
		return &p.halves[1]
	}
	return nil
}

// Sniff reports ToServer when data starts with a plausible request header:
// a sane size, a known API key and version, a non-negative correlation id
// and a printable client_id. Responses carry no recognisable header, so
// Sniff never reports ToClient.
func Sniff(data []byte) protocols.Direction {
	if ok, _ := plausibleRequest(data); ok {
		return protocols.ToServer
	}
	return protocols.DirUnknown
}

// plausibleRequest reports whether data starts with a request header that
// looks real; more is set when data is too short to tell.
func plausibleRequest(data []byte) (ok, more bool) {
	if len(data) < 14 {
		return false, true
	}
	size := int32(binary.BigEndian.Uint32(data))
	key := int16(binary.BigEndian.Uint16(data[4:]))
	ver := int16(binary.BigEndian.Uint16(data[6:]))
	corr := int32(binary.BigEndian.Uint32(data[8:]))
	a, known := lookupAPI(key)
	if size < 10 || size > MaxMessageSize || !known || ver < 0 || ver > a.max || corr < 0 {
		return false, false
	}
	if requestHeaderVersion(key, ver) == 0 {
		return true, false
	}
	n := int(int16(binary.BigEndian.Uint16(data[12:])))
	if n < -1 || n > maxClientID || 10+n > int(size) {
		return false, false
	}
	if n <= 0 {
		return true, false
	}
	for _, c := range data[14:min(len(data), 14+n)] {
		if c < 0x20 || c > 0x7e {
			return false, false
		}
	}
	return len(data) >= 14+n, len(data) < 14+n
}

// plausibleResponse reports whether data starts with a response to a
// pending request: a sane size and a pending correlation id.
func (p *Parser) plausibleResponse(data []byte) (ok, more bool) {
	if len(data) < 8 {
		return false, true
	}
	size := int32(binary.BigEndian.Uint32(data))
	if size < 4 || size > MaxMessageSize {
		return false, false
	}
	return p.findPending(int32(binary.BigEndian.Uint32(data[4:]))) >= 0, false
}

// Parse implements protocols.Parser.
func (p *Parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	h := p.half(dir)
	if h == nil {
		return 0, false, parseErr(0, ErrDirection)
	}
	if h.st == stSkip {
		k := min(len(data), h.remain)
		h.remain -= k
		if h.remain > 0 {
			return k, false, nil
		}
		done := h.pending
		if done {
			copyMessage(msg, &h.m)
			h.pending = false
		}
		h.st = stHead
		if h.resync {
			h.st, h.resync = stResync, false
		}
		if done || k > 0 {
			return k, done, nil
		}
	}
	switch h.st {
	case stResync:
		i, found := p.scan(dir, data)
		if !found || i > 0 {
			return i, false, nil
		}
		h.st = stHead
	}
	if len(data) < 4 {
		return 0, false, nil
	}
	size := int32(binary.BigEndian.Uint32(data))
	minSize := int32(4)
	if dir == protocols.ToServer {
		minSize = 8
	}
	switch {
	case size < minSize:
		return 0, false, parseErr(0, ErrSize)
	case size > MaxMessageSize:
		return 0, false, parseErr(0, ErrTooLarge)
	}
	total := 4 + int(size)
	if total <= len(data) {
		p.decode(dir, data[:total], total, msg)
		return total, true, nil
	}
	if total <= p.limit || len(data) < p.limit {
		return 0, false, nil
	}
	// A large message: decode its prefix now, skip the rest as it comes.
	h.m.Reset()
	p.decode(dir, data, total, &h.m)
	h.st, h.remain, h.pending = stSkip, total-len(data), true
	return len(data), false, nil
}

// scan looks for a plausible message start in data after a lost boundary.
// It returns the offset of the start, or how many bytes may be dropped.
func (p *Parser) scan(dir protocols.Direction, data []byte) (int, bool) {
	for i := 0; i < len(data); i++ {
		var ok, more bool
		if dir == protocols.ToServer {
			ok, more = plausibleRequest(data[i:])
			ok = ok && p.plausibleNext(data[i:])
		} else {
			ok, more = p.plausibleResponse(data[i:])
		}
		if ok {
			return i, true
		}
		if more {
			return i, false
		}
	}
	return len(data), false
}

// plausibleNext tightens plausibleRequest for resynchronisation, where a
// false match inside a record batch would misframe the stream: the
// client_id is not empty, and the correlation id follows the last one seen
// (clients number their requests in sequence), within maxCorrelationStep.
func (p *Parser) plausibleNext(data []byte) bool {
	if requestHeaderVersion(int16(binary.BigEndian.Uint16(data[4:])), int16(binary.BigEndian.Uint16(data[6:]))) == 0 {
		return false
	}
	if int16(binary.BigEndian.Uint16(data[12:])) <= 0 {
		return false
	}
	corr := int64(int32(binary.BigEndian.Uint32(data[8:])))
	return !p.seenReq || (corr > int64(p.lastReq) && corr-int64(p.lastReq) <= maxCorrelationStep)
}

// Gap implements protocols.Parser: a gap inside a message whose size is
// known is skipped exactly and the message marked Partial; a gap that
// reaches past the message end loses the boundary, and the parser scans
// for the next plausible header.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	h := p.half(dir)
	if h == nil || size <= 0 {
		return
	}
	switch h.st {
	case stSkip:
		h.m.Partial = true
		if size <= h.remain {
			h.remain -= size
			return
		}
		h.remain = 0
		h.resync = true
	case stHead:
		h.st = stResync
	}
}

// Salvage implements protocols.Salvager: the unconsumed start of a message
// cut by a gap still gives its header (correlation id, API) and what of the
// body is there. The message is emitted Partial, and the parser skips what
// is left of it.
func (p *Parser) Salvage(dir protocols.Direction, tail []byte, msg *protocols.Message) bool {
	h := p.half(dir)
	if h == nil || h.st != stHead || len(tail) < 4 {
		return false
	}
	size := int32(binary.BigEndian.Uint32(tail))
	total := 4 + int(size)
	if size > MaxMessageSize || total <= len(tail) {
		return false
	}
	if dir == protocols.ToServer {
		if len(tail) < 12 || size < 8 {
			return false
		}
	} else if len(tail) < 8 || size < 4 {
		return false
	}
	p.decode(dir, tail, total, msg)
	msg.Partial = true
	h.st, h.remain, h.pending = stSkip, total-len(tail), false
	return true
}

// End implements protocols.Parser: a large message cut by the end of the
// stream is emitted Partial.
func (p *Parser) End(dir protocols.Direction, msg *protocols.Message) bool {
	h := p.half(dir)
	if h == nil || h.st != stSkip || !h.pending {
		return false
	}
	copyMessage(msg, &h.m)
	msg.Partial = true
	h.pending = false
	h.st = stHead
	return true
}

// copyMessage copies the parser-owned message src into the caller's dst,
// keeping dst's slices.
func copyMessage(dst, src *protocols.Message) {
	attrs := append(dst.Attrs[:0], src.Attrs...)
	links := append(dst.Links[:0], src.Links...)
	*dst = *src
	dst.Attrs, dst.Links = attrs, links
}

// decode fills m from b, the start of a message of total bytes (b may hold
// fewer).
func (p *Parser) decode(dir protocols.Direction, b []byte, total int, m *protocols.Message) {
	if dir == protocols.ToServer {
		p.decodeRequest(b, total, m)
	} else {
		p.decodeResponse(b, total, m)
	}
}

// acc gathers what a message body tells.
type acc struct {
	topics           int
	topicNames       [MaxTopicNames]string
	partitions       int
	partition        int32
	records          int64
	counted          bool // records holds a count
	first            int64
	last             int64
	hasRange         bool // first..last hold record offsets
	offset           int64
	hasOffset        bool // offset holds the single partition's offset
	errCode          int16
	group            string
	acks             int16
	tps              int // partition links so far
	links            [numLinks]string
	ridRank          int
	decompressErrors int
	m                *protocols.Message
	p                *Parser
}

func (a *acc) reset(p *Parser, m *protocols.Message) {
	*a = acc{p: p, m: m, acks: -1}
}

// addTopic records a topic of the message.
func (a *acc) addTopic(name string) {
	for i := 0; i < min(a.topics, MaxTopicNames); i++ {
		if a.topicNames[i] == name {
			return
		}
	}
	if a.topics < MaxTopicNames {
		a.topicNames[a.topics] = name
	}
	a.topics++
}

// addPartition records a partition of topic; offset is the string form of
// its kafka_offset link, or "".
func (a *acc) addPartition(topic string, part int32, offset string) {
	if a.partitions == 0 {
		a.partition = part
	}
	a.partitions++
	if a.tps >= MaxPartitionLinks || topic == "" {
		return
	}
	a.tps++
	c := &a.p.tp
	if topic != c.topic || part != c.part || c.s == "" {
		c.topic, c.part, c.s = topic, part, topic+"/"+strconv.Itoa(int(part))
	}
	a.m.Links = append(a.m.Links, protocols.String(LinkTopicPartition, c.s))
	if offset != "" {
		a.m.Links = append(a.m.Links, protocols.String(LinkOffset, offset))
	}
}

func (a *acc) setError(code int16) {
	if code != 0 && a.errCode == 0 {
		a.errCode = code
	}
}

// intern returns b as a string, reusing the previous one when equal.
func intern(cache *string, b []byte) string {
	if string(b) != *cache {
		*cache = string(b)
	}
	return *cache
}

// topicID formats a topic id as Kafka tools print it (URL-safe base64).
func topicID(b []byte) string {
	if len(b) != 16 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (p *Parser) topicName(r *reader, ver int16, flex bool, idFrom int16) string {
	if idFrom >= 0 && ver >= idFrom {
		return topicID(r.uuid())
	}
	return intern(&p.topic, r.str(flex))
}

// decodeRequest fills m from a request.
func (p *Parser) decodeRequest(b []byte, total int, m *protocols.Message) {
	r := reader{b: b[:min(len(b), total)], off: 4}
	key, ver, corr := r.i16(), r.i16(), r.i32()
	p.lastReq, p.seenReq = corr, true
	m.Kind = protocols.Request
	m.ID, m.HasID = uint64(uint32(corr)), true
	m.Size = total
	hv := requestHeaderVersion(key, ver)
	var clientID []byte
	if hv >= 1 {
		clientID = r.str(false)
	}
	r.tags(hv == 2)
	if !r.failed() {
		m.BodySize = total - r.off
	}
	flex := flexible(key, ver)
	a := &p.acc
	a.reset(p, m)
	opType := ""
	switch key {
	case keyProduce:
		opType = "send"
		p.produceRequest(&r, ver, flex, a)
	case keyFetch:
		opType = "receive"
		p.fetchRequest(&r, ver, flex, a)
	case keyOffsetCommit, keyJoinGroup, keyHeartbeat, keyLeaveGroup, keySyncGroup:
		a.group = string(r.str(flex))
	case keyOffsetFetch:
		if ver < 8 {
			a.group = string(r.str(flex))
		}
	}
	m.Name = p.requestName(key, a)
	m.Attrs = append(m.Attrs,
		protocols.String(attrSystem, "kafka"),
		protocols.String(attrOpName, apiName(key)))
	if opType != "" {
		m.Attrs = append(m.Attrs, protocols.String(attrOpType, opType))
	}
	if a.topics == 1 {
		m.Attrs = append(m.Attrs, protocols.String(attrDest, a.topicNames[0]))
	}
	if a.partitions == 1 {
		m.Attrs = append(m.Attrs, protocols.String(attrPartition, strconv.Itoa(int(a.partition))))
	}
	if a.hasOffset && a.partitions == 1 {
		m.Attrs = append(m.Attrs, protocols.Int(attrOffset, a.offset))
	}
	if a.counted {
		m.Attrs = append(m.Attrs, protocols.Int(attrBatchCount, a.records))
	}
	if a.group != "" {
		m.Attrs = append(m.Attrs, protocols.String(attrGroup, a.group))
	}
	if len(clientID) > 0 {
		m.Attrs = append(m.Attrs, protocols.String(attrClientID, intern(&p.clientID, clientID)))
	}
	m.Attrs = append(m.Attrs,
		protocols.Int(attrAPIVersion, int64(ver)),
		protocols.Int(attrCorrelationID, int64(corr)))
	p.appendLinks(m, a)
	if key == keyProduce && a.acks == 0 {
		m.NoResponse = true
		return
	}
	p.addPending(inflight{id: corr, key: key, ve: ver})
}

// requestName returns the span name: the API name, with the topics of
// Produce and Fetch requests.
func (p *Parser) requestName(key int16, a *acc) string {
	name := apiName(key)
	if (key != keyProduce && key != keyFetch) || a.topics == 0 {
		return name
	}
	if a.topics == 1 {
		if key != p.nameKey || a.topicNames[0] != p.nameTopic || p.name == "" {
			p.nameKey, p.nameTopic = key, a.topicNames[0]
			p.name = name + " " + a.topicNames[0]
		}
		return p.name
	}
	if a.topics > MaxTopicNames {
		return name + " " + strconv.Itoa(a.topics) + " topics"
	}
	return name + " " + strings.Join(a.topicNames[:a.topics], ",")
}

func (p *Parser) appendLinks(m *protocols.Message, a *acc) {
	for i, v := range a.links {
		if v != "" {
			m.Links = append(m.Links, protocols.String(linkKeys[i], v))
		}
	}
}

func (p *Parser) produceRequest(r *reader, ver int16, flex bool, a *acc) {
	if ver >= 3 {
		r.str(flex) // transactional_id
	}
	a.acks = r.i16()
	r.i32() // timeout_ms
	nt := r.array(flex)
	for t := 0; t < nt && !r.failed(); t++ {
		topic := p.topicName(r, ver, flex, 13)
		if r.failed() {
			break
		}
		a.addTopic(topic)
		np := r.array(flex)
		for i := 0; i < np && !r.failed(); i++ {
			part := r.i32()
			recs := r.bytes(flex)
			if r.bad || (r.short && len(recs) == 0) {
				break
			}
			a.addPartition(topic, part, "")
			p.records(recs, r.short, a)
			r.tags(flex)
		}
		r.tags(flex)
	}
}

func (p *Parser) fetchRequest(r *reader, ver int16, flex bool, a *acc) {
	if ver <= 14 {
		r.i32() // replica_id
	}
	r.i32() // max_wait_ms
	r.i32() // min_bytes
	if ver >= 3 {
		r.i32() // max_bytes
	}
	if ver >= 4 {
		r.i8() // isolation_level
	}
	if ver >= 7 {
		r.i32() // session_id
		r.i32() // session_epoch
	}
	nt := r.array(flex)
	for t := 0; t < nt && !r.failed(); t++ {
		topic := p.topicName(r, ver, flex, 13)
		if r.failed() {
			break
		}
		a.addTopic(topic)
		np := r.array(flex)
		for i := 0; i < np && !r.failed(); i++ {
			part := r.i32()
			if ver >= 9 {
				r.i32() // current_leader_epoch
			}
			off := r.i64()
			if ver >= 12 {
				r.i32() // last_fetched_epoch
			}
			if ver >= 5 {
				r.i64() // log_start_offset
			}
			r.i32() // partition_max_bytes
			r.tags(flex)
			if r.failed() {
				break
			}
			a.addPartition(topic, part, "")
			a.offset, a.hasOffset = off, true
		}
		r.tags(flex)
	}
}

// decodeResponse fills m from a response, decoding its body with the API
// and version of the pending request it answers.
func (p *Parser) decodeResponse(b []byte, total int, m *protocols.Message) {
	r := reader{b: b[:min(len(b), total)], off: 4}
	corr := r.i32()
	m.Kind = protocols.Response
	m.ID, m.HasID = uint64(uint32(corr)), true
	m.Size = total
	i := p.findPending(corr)
	if i < 0 {
		return
	}
	req := p.pend[i]
	p.pend = append(p.pend[:i], p.pend[i+1:]...)
	key, ver := req.key, req.ve
	m.Name = apiName(key)
	r.tags(responseHeaderVersion(key, ver) == 1)
	if !r.failed() {
		m.BodySize = total - r.off
	}
	flex := flexible(key, ver)
	a := &p.acc
	a.reset(p, m)
	switch key {
	case keyProduce:
		p.produceResponse(&r, ver, flex, a)
	case keyFetch:
		p.fetchResponse(&r, ver, flex, a)
	case keyOffsetCommit:
		if ver >= 3 {
			r.i32() // throttle_time_ms
		}
		nt := r.array(flex)
		for t := 0; t < nt && !r.failed() && a.errCode == 0; t++ {
			r.str(flex)
			np := r.array(flex)
			for i := 0; i < np && !r.failed(); i++ {
				r.i32()
				a.setError(r.i16())
				r.tags(flex)
			}
			r.tags(flex)
		}
	default:
		if throttleFirst(key, ver) {
			r.i32()
		}
		if errorFirst(key, ver) {
			a.setError(r.i16())
		}
	}
	m.Status = protocols.StatusOK
	if a.errCode != 0 {
		m.Status = protocols.StatusError
		m.Attrs = append(m.Attrs, protocols.String(attrErrorType, errorName(a.errCode)))
	}
	if a.counted {
		m.Attrs = append(m.Attrs, protocols.Int(attrBatchCount, a.records))
	}
	if key == keyProduce && a.hasOffset && a.partitions == 1 {
		m.Attrs = append(m.Attrs, protocols.Int(attrOffset, a.offset))
	}
	p.appendLinks(m, a)
}

// throttleFirst reports whether the response body of version v of key
// starts with throttle_time_ms followed by the top-level error_code.
func throttleFirst(key, v int16) bool {
	switch key {
	case keyJoinGroup:
		return v >= 2
	case keyHeartbeat, keyLeaveGroup, keySyncGroup, keyListGroups:
		return v >= 1
	case keyFindCoordinator:
		return v >= 1 && v <= 3
	case keyInitProducerID, keyAddOffsetsToTxn, keyEndTxn:
		return true
	}
	return false
}

// errorFirst reports whether the response body of version v of key has its
// top-level error_code first (after throttle_time_ms when throttleFirst).
func errorFirst(key, v int16) bool {
	switch key {
	case keyApiVersions, keySaslHandshake, keySaslAuthenticate, keyJoinGroup,
		keyHeartbeat, keyLeaveGroup, keySyncGroup, keyListGroups,
		keyInitProducerID, keyAddOffsetsToTxn, keyEndTxn:
		return true
	case keyFindCoordinator:
		return v <= 3
	}
	return false
}

func (p *Parser) produceResponse(r *reader, ver int16, flex bool, a *acc) {
	nt := r.array(flex)
	for t := 0; t < nt && !r.failed(); t++ {
		topic := p.topicName(r, ver, flex, 13)
		np := r.array(flex)
		for i := 0; i < np && !r.failed(); i++ {
			part := r.i32()
			code := r.i16()
			base := r.i64()
			if ver >= 2 {
				r.i64() // log_append_time_ms
			}
			if ver >= 5 {
				r.i64() // log_start_offset
			}
			if ver >= 8 {
				ne := r.array(flex)
				for e := 0; e < ne && !r.failed(); e++ {
					r.i32()     // batch_index
					r.str(flex) // batch_index_error_message
					r.tags(flex)
				}
				r.str(flex) // error_message
			}
			r.tags(flex)
			if r.failed() {
				break
			}
			a.setError(code)
			off := ""
			if code == 0 && base >= 0 {
				off = strconv.FormatInt(base, 10)
				a.offset, a.hasOffset = base, true
			}
			a.addPartition(topic, part, off)
		}
		r.tags(flex)
	}
}

func (p *Parser) fetchResponse(r *reader, ver int16, flex bool, a *acc) {
	if ver >= 1 {
		r.i32() // throttle_time_ms
	}
	if ver >= 7 {
		a.setError(r.i16())
		r.i32() // session_id
	}
	nt := r.array(flex)
	for t := 0; t < nt && !r.failed(); t++ {
		topic := p.topicName(r, ver, flex, 13)
		np := r.array(flex)
		for i := 0; i < np && !r.failed(); i++ {
			part := r.i32()
			a.setError(r.i16())
			r.i64() // high_watermark
			if ver >= 4 {
				r.i64() // last_stable_offset
			}
			if ver >= 5 {
				r.i64() // log_start_offset
			}
			if ver >= 4 {
				na := r.array(flex)
				for j := 0; j < na && !r.failed(); j++ {
					r.i64() // producer_id
					r.i64() // first_offset
					r.tags(flex)
				}
			}
			if ver >= 11 {
				r.i32() // preferred_read_replica
			}
			recs := r.bytes(flex)
			if r.bad || (r.short && len(recs) == 0) {
				break
			}
			a.hasRange = false
			p.records(recs, r.short, a)
			off := ""
			if a.hasRange {
				off = strconv.FormatInt(a.first, 10) + ".." + strconv.FormatInt(a.last, 10)
			}
			a.addPartition(topic, part, off)
			r.tags(flex)
		}
		r.tags(flex)
	}
}

// findPending returns the index of the pending request with id, or -1.
func (p *Parser) findPending(id int32) int {
	for i := range p.pend {
		if p.pend[i].id == id {
			return i
		}
	}
	return -1
}

func (p *Parser) addPending(e inflight) {
	if i := p.findPending(e.id); i >= 0 {
		p.pend = append(p.pend[:i], p.pend[i+1:]...)
	}
	if len(p.pend) >= MaxPending {
		p.pend = append(p.pend[:0], p.pend[1:]...)
	}
	p.pend = append(p.pend, e)
}
