package http2

import (
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"golang.org/x/net/http2/hpack"

	"github.com/wiretrace/wiretrace/protocols"
)

// Name is the protocol name used in span output and ParseErrors.
const Name = "http2"

// GRPCName is the protocol name of the spans of gRPC calls
// (protocols.Message.Protocol).
const GRPCName = "grpc"

// Limits bounding a Parser's state and the input it waits for.
const (
	// MaxStreams bounds the open streams of a connection. Opening one more
	// ends the stream with the lowest id: its request, if not yet emitted,
	// is emitted Partial; a response still awaited is not.
	MaxStreams = 1024
	// MaxHeaderTableSize bounds each direction's HPACK dynamic table,
	// whatever SETTINGS_HEADER_TABLE_SIZE allows.
	MaxHeaderTableSize = 64 << 10
	// defaultTableSize is the initial SETTINGS_HEADER_TABLE_SIZE.
	defaultTableSize = 4096
	// defaultMaxFrame is the initial SETTINGS_MAX_FRAME_SIZE.
	defaultMaxFrame = 16384
	// maxFrameLen is the largest length a frame header can carry.
	maxFrameLen = 1<<24 - 1
)

// Attribute keys (OpenTelemetry semantic conventions v1.37.0).
var (
	attrMethod       = string(semconv.HTTPRequestMethodKey)
	attrPath         = string(semconv.URLPathKey)
	attrQuery        = string(semconv.URLQueryKey)
	attrScheme       = string(semconv.URLSchemeKey)
	attrServerAddr   = string(semconv.ServerAddressKey)
	attrServerPort   = string(semconv.ServerPortKey)
	attrUserAgent    = string(semconv.UserAgentOriginalKey)
	attrReqBodySize  = string(semconv.HTTPRequestBodySizeKey)
	attrRespBodySize = string(semconv.HTTPResponseBodySizeKey)
	attrStatusCode   = string(semconv.HTTPResponseStatusCodeKey)
	attrVersion      = string(semconv.NetworkProtocolVersionKey)
	attrRPCSystem    = string(semconv.RPCSystemKey)
	attrRPCService   = string(semconv.RPCServiceKey)
	attrRPCMethod    = string(semconv.RPCMethodKey)
	attrGRPCStatus   = string(semconv.RPCGRPCStatusCodeKey)
	attrErrorType    = string(semconv.ErrorTypeKey)
)

// unknownName names a stream whose request pseudo-headers are unknown.
const unknownName = "HTTP/2 stream"

// Protocol describes HTTP/2 for a protocols.Registry.
var Protocol = &protocols.Protocol{
	Name:    Name,
	Summary: "HTTP/2 (h2c) and gRPC: HPACK headers, streams, method/path/status, grpc-status, trace headers incl. grpc-trace-bin",
	Ports:   []uint16{50051, 9090, 8080, 80},
	Sniff:   sniff,
	New:     func(cfg *protocols.Config) protocols.Parser { return New(cfg) },
}

var _ protocols.Parser = (*Parser)(nil)

// Link slots, in the order they are emitted.
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

// linkHeaders are the header names of the fixed links.
var linkHeaders = [numLinks]string{
	"", "traceparent", "tracestate", "b3", "x-b3-traceid", "x-b3-spanid",
	"x-b3-parentspanid", "uber-trace-id", "sw8",
}

// headers holds the fields kept from the header blocks (and trailers) of
// one side of a stream.
type headers struct {
	method, path, scheme, authority string
	agent, contentType, traceBin    string
	status                          int // 0 when absent
	grpcStatus                      int // -1 when absent
	links                           [numLinks]string
	ridRank                         int  // 1 + index in the request-id header list; 0 when absent
	seen                            bool // a header block arrived
	partial                         bool // some fields could not be decoded
}

// side is one direction of a stream.
type side struct {
	h       headers
	size    int
	body    int64
	done    bool // END_STREAM seen
	emitted bool
	partial bool // bytes were lost
}

// stream is one HTTP/2 stream.
type stream struct {
	id        uint32
	req, resp side
	rst       bool
	rstCode   uint32
	pending   int // queued messages that refer to the stream
	closed    bool
}

// qitem is a message waiting to be returned.
type qitem struct {
	s    *stream
	kind protocols.Kind
}

// half is one direction's parsing state.
type half struct {
	dir      protocols.Direction
	started  bool
	strict   bool // frame boundaries known from the start: violations are errors
	hpackOK  bool // dec holds the peer encoder's state
	dec      *hpack.Decoder
	lenient  lenientDecoder
	maxFrame uint32 // SETTINGS_MAX_FRAME_SIZE of the receiver
	resync   bool   // looking for a frame boundary

	inFrame bool
	fh      frameHeader
	remain  uint32 // payload bytes of fh not yet consumed
	pad     uint32 // DATA: trailing padding bytes
	padRead bool   // DATA: the pad length byte was read
	damaged bool   // bytes of the frame were lost

	// The header block in progress.
	cont        uint32 // stream whose CONTINUATION is expected; 0 when none
	block       []byte
	blockBroken bool
	blockEnd    bool   // the HEADERS frame had END_STREAM
	blockIsPush bool   // the block is a PUSH_PROMISE's
	blockPush   uint32 // its promised stream; 0 when not valid
	blockStream uint32

	queue []qitem
	qhead int
	hold  int // bytes processed but reported unconsumed (see Parse)
	ended bool
}

// Parser is the HTTP/2 parser of one connection. Create it with New.
type Parser struct {
	ridHeaders []string
	limit      int
	halves     [2]half
	streams    map[uint32]*stream
	free       []*stream
	maxID      [2]uint32 // highest stream id opened: odd (client), even (push)
	cur        *headers  // where decoded fields go
	scratch    headers
	emit       func(name, value string)
}

// New returns a parser for one connection; a nil cfg means defaults.
// Authorization, Proxy-Authorization, Cookie and Set-Cookie are dropped from
// the request-id header list, so that configuration cannot copy credentials
// into a Message.
func New(cfg *protocols.Config) *Parser {
	rid := cfg.RequestIDHeaders()
	kept := rid[:0]
	for _, h := range rid {
		if !isSecret(h) {
			kept = append(kept, h)
		}
	}
	p := &Parser{ridHeaders: kept, limit: cfg.HeaderLimit(), streams: make(map[uint32]*stream)}
	p.emit = p.field
	emit := func(f hpack.HeaderField) { p.field(f.Name, f.Value) }
	for i, d := range [2]protocols.Direction{protocols.ToServer, protocols.ToClient} {
		h := &p.halves[i]
		h.dir, h.maxFrame = d, defaultMaxFrame
		h.dec = hpack.NewDecoder(defaultTableSize, emit)
		h.dec.SetMaxStringLength(p.limit)
		h.lenient.max = defaultTableSize
	}
	return p
}

// isSecret reports whether the lower-case header name carries credentials
// (RFC 9110 section 11.6, RFC 6265), whose values are never copied.
func isSecret(name string) bool {
	switch name {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	return false
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

func (p *Parser) other(h *half) *half {
	if h.dir == protocols.ToServer {
		return &p.halves[1]
	}
	return &p.halves[0]
}

// Idle implements protocols.Idler: dir is between messages when no frame
// or header block is being read and no stream has started, and not yet
// completed, a message in that direction.
func (p *Parser) Idle(dir protocols.Direction) bool {
	h := p.half(dir)
	if h == nil || h.inFrame || h.cont != 0 || h.qhead < len(h.queue) {
		return false
	}
	for _, st := range p.streams {
		sd := &st.req
		if dir == protocols.ToClient {
			sd = &st.resp
		}
		if sd.size > 0 && !sd.emitted {
			return false
		}
	}
	return true
}

// Parse implements protocols.Parser. One frame may complete two messages
// (a server's END_STREAM before the client's completes the request too);
// the second is returned by the next call, and so that there is one, the
// last byte of data is then reported unconsumed and skipped by that call.
func (p *Parser) Parse(dir protocols.Direction, data []byte, msg *protocols.Message) (int, bool, error) {
	h := p.half(dir)
	if h == nil {
		return 0, false, parseErr(0, ErrDirection)
	}
	if h.qhead < len(h.queue) {
		p.pop(h, msg)
		n := 0
		if h.qhead == len(h.queue) {
			n, h.hold = min(h.hold, len(data)), 0
		}
		return n, true, nil
	}
	n := min(h.hold, len(data))
	h.hold = 0
	for n < len(data) {
		k, err := p.step(h, data[n:])
		if err != nil {
			if pe, ok := err.(*protocols.ParseError); ok {
				pe.Offset += n
			}
			return n, false, err
		}
		n += k
		if k > 0 && h.qhead == len(h.queue) && p.Idle(dir) && n < len(data) {
			// A frame that belongs to no message (SETTINGS, PING,
			// WINDOW_UPDATE...): return, so the driver dates the next
			// message from its own first frame.
			return n, false, nil
		}
		if h.qhead < len(h.queue) {
			p.pop(h, msg)
			if h.qhead < len(h.queue) && n == len(data) && n > 0 {
				n--
				h.hold = 1
			}
			return n, true, nil
		}
		if k == 0 {
			break
		}
	}
	return n, false, nil
}

// step makes one move on b: the preface, a frame header, part of a
// payload or a resynchronisation scan. It returns the bytes consumed; 0
// means more are needed.
func (p *Parser) step(h *half, b []byte) (int, error) {
	if !h.started {
		k, ok := p.start(h, b)
		if !ok || k > 0 {
			return k, nil
		}
	}
	if h.resync {
		k := p.resyncScan(h, b)
		if h.resync || k > 0 {
			return k, nil
		}
	}
	if h.inFrame {
		return p.payload(h, b)
	}
	if len(b) < frameHeaderLen {
		return 0, nil
	}
	fh := readHeader(b)
	if !fh.check() || fh.length > p.frameLimit(h) {
		if h.strict {
			if fh.length > p.frameLimit(h) {
				return 0, parseErr(0, ErrFrameSize)
			}
			return 0, parseErr(0, ErrFrame)
		}
		p.lose(h)
		return 1, nil
	}
	h.inFrame, h.fh, h.remain = true, fh, fh.length
	h.pad, h.padRead, h.damaged = 0, false, false
	if err := p.frameStart(h); err != nil {
		return 0, err
	}
	if fh.length == 0 {
		h.inFrame = false
		if err := p.frameEnd(h, nil); err != nil {
			return 0, err
		}
	}
	return frameHeaderLen, nil
}

// frameLimit returns the longest frame h may carry: the receiver's
// SETTINGS_MAX_FRAME_SIZE when both directions were seen from their start,
// else any length.
func (p *Parser) frameLimit(h *half) uint32 {
	if h.strict && p.other(h).strict {
		return h.maxFrame
	}
	return maxFrameLen
}

// start looks at the first bytes of a direction: the client preface, or
// the server's SETTINGS, mean the direction is seen from its start; anything
// else is a join in mid-stream. ok is false when more bytes are needed.
func (p *Parser) start(h *half, b []byte) (n int, ok bool) {
	if h.dir == protocols.ToServer {
		k := min(len(b), len(preface))
		if string(b[:k]) == preface[:k] {
			if k < len(preface) {
				return 0, false
			}
			h.started, h.strict, h.hpackOK = true, true, true
			return len(preface), true
		}
	} else {
		if len(b) < frameHeaderLen {
			return 0, false
		}
		if fh := readHeader(b); fh.typ == frameSettings && fh.flags&flagAck == 0 && fh.check() {
			h.started, h.strict, h.hpackOK = true, true, true
			return 0, true
		}
	}
	h.started = true
	p.desync(h)
	if len(b) >= frameHeaderLen {
		if fh := readHeader(b); !fh.plausible(maxFrameLen) {
			h.resync = true
		}
	}
	return 0, true
}

// desync switches h to lenient HPACK decoding: the peer encoder's dynamic
// table is no longer known.
func (p *Parser) desync(h *half) {
	h.hpackOK = false
	h.lenient.reset()
}

// lose records that h lost its frame boundaries: every open stream is
// marked partial in that direction, and the parser looks for the next frame.
func (p *Parser) lose(h *half) {
	p.desync(h)
	h.strict, h.resync, h.inFrame = false, true, false
	if h.cont != 0 {
		h.blockBroken = true
		p.finishBlock(h)
	}
	for _, s := range p.streams {
		p.sideOf(h, s).partial = true
	}
}

// resyncScan looks in b for a plausible frame header followed by another
// (or by the end of b). It returns the bytes to skip; h.resync is cleared
// when a frame starts there. A candidate whose successor has not arrived
// yet is waited for, unless a later one is confirmed already.
func (p *Parser) resyncScan(h *half, b []byte) int {
	maxLen := uint32(defaultMaxFrame)
	if h.maxFrame > maxLen && p.other(h).strict {
		maxLen = h.maxFrame
	}
	wait := -1
	for i := 0; i+frameHeaderLen <= len(b); i++ {
		fh := readHeader(b[i:])
		if !fh.plausible(maxLen) {
			continue
		}
		end := i + frameHeaderLen + int(fh.length)
		switch {
		case end+frameHeaderLen <= len(b):
			next := readHeader(b[end:])
			if !next.plausible(maxLen) {
				continue
			}
		case end == len(b):
		default:
			if wait < 0 && end+frameHeaderLen-i <= p.limit {
				wait = i
			}
			continue
		}
		h.resync = false
		return i
	}
	if wait >= 0 {
		return wait
	}
	return max(0, len(b)-frameHeaderLen+1)
}

func (p *Parser) sideOf(h *half, s *stream) *side {
	if h.dir == protocols.ToServer {
		return &s.req
	}
	return &s.resp
}

// needWhole reports whether the current frame's payload is processed
// whole rather than consumed as it arrives.
func (p *Parser) needWhole(h *half) bool {
	switch h.fh.typ {
	case frameHeaders, frameContinuation, framePushPromise, frameSettings, frameRSTStream:
		return !h.damaged && int(h.fh.length) <= p.limit
	}
	return false
}

// payload consumes payload bytes of the current frame.
func (p *Parser) payload(h *half, b []byte) (int, error) {
	if h.fh.typ == frameData {
		return p.data(h, b)
	}
	if p.needWhole(h) {
		if uint32(len(b)) < h.remain {
			return 0, nil
		}
		k := h.remain
		h.inFrame, h.remain = false, 0
		return int(k), p.frameEnd(h, b[:k])
	}
	k := min(uint32(len(b)), h.remain)
	h.remain -= k
	if h.remain == 0 {
		h.inFrame = false
		h.damaged = h.damaged || p.needsPayload(h)
		if err := p.frameEnd(h, nil); err != nil {
			return int(k), err
		}
	}
	return int(k), nil
}

// needsPayload reports whether the current frame type has a payload the
// parser uses (so skipping it loses information).
func (p *Parser) needsPayload(h *half) bool {
	switch h.fh.typ {
	case frameHeaders, frameContinuation, framePushPromise, frameSettings, frameRSTStream:
		return true
	}
	return false
}

// data consumes DATA payload bytes as they arrive.
func (p *Parser) data(h *half, b []byte) (int, error) {
	k := 0
	if h.fh.flags&flagPadded != 0 && !h.padRead {
		if len(b) == 0 {
			return 0, nil
		}
		h.pad, h.padRead = uint32(b[0]), true
		h.remain--
		k = 1
		if h.pad > h.remain {
			if h.strict {
				return 0, parseErr(0, ErrFrame)
			}
			p.lose(h)
			return k, nil
		}
	}
	c := min(uint32(len(b)-k), h.remain)
	body := c
	if h.remain-c < h.pad {
		body = h.remain - min(h.remain, h.pad)
		if body > c {
			body = c
		}
	}
	h.remain -= c
	if s := p.streams[h.fh.stream]; s != nil {
		p.sideOf(h, s).body += int64(body)
	}
	if h.remain == 0 {
		h.inFrame = false
		if err := p.frameEnd(h, nil); err != nil {
			return k + int(c), err
		}
	}
	return k + int(c), nil
}

// frameStart checks a frame header's place in the connection and opens or
// finds its stream.
func (p *Parser) frameStart(h *half) error {
	fh := &h.fh
	if h.cont != 0 && (fh.typ != frameContinuation || fh.stream != h.cont) {
		if h.strict {
			return parseErr(0, ErrContinuation)
		}
		h.blockBroken = true
		p.finishBlock(h)
	}
	if fh.typ == frameContinuation && h.cont == 0 {
		if h.strict {
			return parseErr(0, ErrContinuation)
		}
		h.damaged = true // a block whose start was lost: skip it
	}
	if fh.stream == 0 {
		return nil
	}
	s := p.streams[fh.stream]
	if s == nil && (fh.typ == frameHeaders || fh.typ == frameData) && p.isNew(fh.stream) {
		s = p.open(h, fh.stream)
		if fh.typ == frameData || h.dir == protocols.ToClient {
			s.req.partial = true // the request's header block was not seen
		}
	}
	if s != nil {
		p.sideOf(h, s).size += frameHeaderLen + int(fh.length)
	}
	return nil
}

// isNew reports whether id is above every stream id of its parity opened
// so far (RFC 9113 section 5.1.1), recording it.
func (p *Parser) isNew(id uint32) bool {
	k := 1 - id%2
	if id <= p.maxID[k] {
		return false
	}
	p.maxID[k] = id
	return true
}

// open creates stream id, ending the one with the lowest id when
// MaxStreams are open.
func (p *Parser) open(h *half, id uint32) *stream {
	if len(p.streams) >= MaxStreams {
		var low *stream
		for _, s := range p.streams {
			if low == nil || s.id < low.id {
				low = s
			}
		}
		if !low.req.emitted {
			low.req.partial = true
			p.enqueue(h, low, protocols.Request)
		}
		p.close(low)
	}
	var s *stream
	if n := len(p.free); n > 0 {
		s = p.free[n-1]
		p.free = p.free[:n-1]
	} else {
		s = new(stream)
	}
	s.id = id
	s.req.h.grpcStatus, s.resp.h.grpcStatus = -1, -1
	p.streams[id] = s
	return s
}

func (p *Parser) close(s *stream) {
	delete(p.streams, s.id)
	s.closed = true
	if s.pending == 0 {
		p.release(s)
	}
}

func (p *Parser) release(s *stream) {
	*s = stream{}
	if len(p.free) < MaxStreams {
		p.free = append(p.free, s)
	}
}

func (p *Parser) enqueue(h *half, s *stream, kind protocols.Kind) {
	if h.qhead == len(h.queue) {
		h.queue, h.qhead = h.queue[:0], 0
	}
	if kind == protocols.Request {
		s.req.emitted = true
	} else {
		s.resp.emitted = true
	}
	s.pending++
	h.queue = append(h.queue, qitem{s, kind})
}

func (p *Parser) pop(h *half, msg *protocols.Message) {
	it := h.queue[h.qhead]
	h.queue[h.qhead] = qitem{}
	h.qhead++
	if it.kind == protocols.Request {
		p.fillRequest(it.s, msg)
	} else {
		p.fillResponse(it.s, msg)
	}
	it.s.pending--
	if it.s.closed && it.s.pending == 0 {
		p.release(it.s)
	}
}

// frameEnd acts on a frame whose payload was consumed: pl is the whole
// payload for frames that need it (nil for DATA and skipped frames).
func (p *Parser) frameEnd(h *half, pl []byte) error {
	fh := &h.fh
	switch fh.typ {
	case frameData:
		if fh.flags&flagEndStream != 0 {
			if s := p.streams[fh.stream]; s != nil {
				p.endStream(h, s)
			}
		}
	case frameHeaders, framePushPromise:
		h.blockStream, h.blockEnd, h.blockIsPush, h.blockPush = fh.stream, false, false, 0
		h.block, h.blockBroken = h.block[:0], false
		if fh.typ == frameHeaders {
			h.blockEnd = fh.flags&flagEndStream != 0
		}
		var frag []byte
		if h.damaged {
			h.blockBroken = true
		} else {
			var ok bool
			frag, ok = fragment(fh, pl)
			if !ok {
				if h.strict {
					return parseErr(0, ErrFrame)
				}
				h.blockBroken = true
			}
		}
		h.blockIsPush = fh.typ == framePushPromise
		if h.blockIsPush && !h.blockBroken {
			h.blockPush = p.promised(h, pl)
		}
		if fh.flags&flagEndHeaders == 0 {
			h.cont = fh.stream
			if !h.blockBroken {
				h.block = append(h.block, frag...)
			}
			return nil
		}
		p.decodeFinish(h, frag)
	case frameContinuation:
		if h.cont == 0 {
			return nil // stray: its block start was lost
		}
		if h.damaged {
			h.blockBroken = true
		}
		if !h.blockBroken {
			if len(h.block)+len(pl) > p.limit {
				h.blockBroken = true
			} else {
				h.block = append(h.block, pl...)
			}
		}
		if fh.flags&flagEndHeaders != 0 {
			p.decodeFinish(h, h.block)
		}
	case frameSettings:
		if !h.damaged && fh.flags&flagAck == 0 {
			p.settings(h, pl)
		}
	case frameRSTStream:
		if s := p.streams[fh.stream]; s != nil && !h.damaged {
			s.rst = true
			s.rstCode = uint32(pl[0])<<24 | uint32(pl[1])<<16 | uint32(pl[2])<<8 | uint32(pl[3])
			if !s.req.emitted {
				p.enqueue(h, s, protocols.Request)
			}
			if !s.resp.emitted {
				p.enqueue(h, s, protocols.Response)
			}
			p.close(s)
		}
	}
	return nil
}

// promised opens the stream a PUSH_PROMISE payload promises and returns its
// id, or 0 when the id is not a new server stream.
func (p *Parser) promised(h *half, pl []byte) uint32 {
	off := 0
	if h.fh.flags&flagPadded != 0 {
		off = 1
	}
	if len(pl) < off+4 {
		return 0
	}
	id := (uint32(pl[off])<<24 | uint32(pl[off+1])<<16 | uint32(pl[off+2])<<8 | uint32(pl[off+3])) & 0x7fffffff
	if id == 0 || id%2 == 1 || p.streams[id] != nil || !p.isNew(id) {
		return 0
	}
	p.open(h, id)
	return id
}

// finishBlock ends the header block in progress as it stands.
func (p *Parser) finishBlock(h *half) { p.decodeFinish(h, h.block) }

// decodeFinish decodes a complete header block (unless broken) into its
// stream and acts on it.
func (p *Parser) decodeFinish(h *half, block []byte) {
	h.cont = 0
	s, target := p.target(h)
	target.seen = true
	if h.blockBroken {
		target.partial = true
		p.desync(h)
	} else {
		p.decode(h, target, block)
	}
	h.block, h.blockBroken = h.block[:0], false
	if s == nil {
		return
	}
	switch {
	case h.blockIsPush:
		s.req.done = true
		p.enqueue(h, s, protocols.Request)
		return
	case h.dir == protocols.ToClient && s.resp.h.status >= 100 && s.resp.h.status < 200 && s.resp.h.status != 101:
		// An interim response (RFC 9110 section 15.2): the final one
		// follows.
		s.resp.h = headers{grpcStatus: -1}
	}
	if h.blockEnd {
		p.endStream(h, s)
	}
}

// target returns the stream and headers the block in progress fills; a
// block of a stream no longer open is decoded into scratch space, to keep
// the HPACK state.
func (p *Parser) target(h *half) (*stream, *headers) {
	id := h.blockStream
	if h.blockIsPush {
		id = h.blockPush
	}
	s := p.streams[id]
	switch {
	case s == nil:
		p.scratch = headers{grpcStatus: -1}
		return nil, &p.scratch
	case h.blockIsPush || h.dir == protocols.ToServer:
		return s, &s.req.h
	}
	return s, &s.resp.h
}

// decode decodes a header block into t: with the HPACK decoder while its
// state is known, else (or when it fails) leniently.
func (p *Parser) decode(h *half, t *headers, block []byte) {
	p.cur = t
	if h.hpackOK {
		_, err := h.dec.Write(block)
		if err == nil {
			err = h.dec.Close()
		}
		if err == nil {
			return
		}
		p.desync(h)
	}
	if !h.lenient.decode(block, p.emit) {
		t.partial = true
	}
}

// settings applies a SETTINGS payload sent in h's direction: it bounds what
// the other direction may send.
func (p *Parser) settings(h *half, pl []byte) {
	o := p.other(h)
	for ; len(pl) >= 6; pl = pl[6:] {
		id := uint16(pl[0])<<8 | uint16(pl[1])
		v := uint32(pl[2])<<24 | uint32(pl[3])<<16 | uint32(pl[4])<<8 | uint32(pl[5])
		switch id {
		case 0x1: // SETTINGS_HEADER_TABLE_SIZE
			o.dec.SetAllowedMaxDynamicTableSize(min(v, MaxHeaderTableSize))
		case 0x5: // SETTINGS_MAX_FRAME_SIZE
			if v >= defaultMaxFrame && v <= maxFrameLen {
				o.maxFrame = max(o.maxFrame, v)
			}
		}
	}
}

// endStream acts on END_STREAM in h's direction. The client's completes the
// request; the server's completes the response, and the request too when
// the client has not finished it (a server may answer before).
func (p *Parser) endStream(h *half, s *stream) {
	if h.dir == protocols.ToServer {
		s.req.done = true
		if !s.req.emitted {
			p.enqueue(h, s, protocols.Request)
		}
		return
	}
	s.resp.done = true
	if !s.req.emitted {
		p.enqueue(h, s, protocols.Request)
	}
	p.enqueue(h, s, protocols.Response)
	p.close(s)
}

// field records one decoded header field in p.cur.
func (p *Parser) field(name, value string) {
	t := p.cur
	switch name {
	case ":method":
		t.method = value
	case ":path":
		t.path = value
	case ":scheme":
		t.scheme = value
	case ":authority":
		t.authority = value
	case ":status":
		t.status = atoi(value, 3)
	case "host":
		if t.authority == "" {
			t.authority = value
		}
	case "user-agent":
		t.agent = value
	case "content-type":
		t.contentType = value
	case "grpc-status":
		t.grpcStatus = atoi(value, 2)
	case "grpc-trace-bin":
		t.traceBin = value
	}
	if len(name) == 0 || name[0] == ':' {
		return
	}
	for j := lnXRequestID + 1; j < numLinks; j++ {
		if name == linkHeaders[j] {
			if t.links[j] == "" {
				t.links[j] = value
			}
			break
		}
	}
	for j, r := range p.ridHeaders {
		if name == r {
			if t.ridRank == 0 || j+1 < t.ridRank {
				t.ridRank = j + 1
				t.links[lnXRequestID] = value
			}
			break
		}
	}
}

// atoi parses at most digits decimal digits; -1 when s is not a number.
func atoi(s string, digits int) int {
	if len(s) == 0 || len(s) > digits {
		return -1
	}
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		v = v*10 + int(s[i]-'0')
	}
	return v
}

// isGRPC reports whether a content type is gRPC's (application/grpc,
// application/grpc+proto, ...).
func isGRPC(ct string) bool {
	const g = "application/grpc"
	return len(ct) >= len(g) && strings.EqualFold(ct[:len(g)], g) &&
		(len(ct) == len(g) || ct[len(g)] == '+' || ct[len(g)] == ';')
}

func (p *Parser) fillRequest(s *stream, m *protocols.Message) {
	r := &s.req
	h := &r.h
	m.Kind, m.ID, m.HasID = protocols.Request, uint64(s.id), true
	m.Partial = r.partial || h.partial || !h.seen
	m.Size, m.BodySize = r.size, int(r.body)
	path, query := h.path, ""
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		if path[i] == '?' {
			query = path[i+1:]
			if j := strings.IndexByte(query, '#'); j >= 0 {
				query = query[:j]
			}
		}
		path = path[:i]
	}
	grpc := isGRPC(h.contentType) || isGRPC(s.resp.h.contentType)
	switch {
	case grpc && len(path) > 1 && path[0] == '/':
		m.Name = path[1:]
	case h.method != "" && path != "":
		m.Name = h.method + " " + path
	case h.method != "":
		m.Name = h.method
	default:
		m.Name = unknownName
	}
	if grpc {
		m.Protocol = GRPCName
		m.Attrs = append(m.Attrs, protocols.String(attrRPCSystem, "grpc"))
		if len(path) > 1 && path[0] == '/' {
			svc, meth, ok := strings.Cut(path[1:], "/")
			if svc != "" {
				m.Attrs = append(m.Attrs, protocols.String(attrRPCService, svc))
			}
			if ok && meth != "" {
				m.Attrs = append(m.Attrs, protocols.String(attrRPCMethod, meth))
			}
		}
	} else {
		if h.method != "" {
			m.Attrs = append(m.Attrs, protocols.String(attrMethod, h.method))
		}
		if path != "" {
			m.Attrs = append(m.Attrs, protocols.String(attrPath, path))
		}
		if query != "" {
			m.Attrs = append(m.Attrs, protocols.String(attrQuery, query))
		}
		if h.scheme != "" {
			m.Attrs = append(m.Attrs, protocols.String(attrScheme, h.scheme))
		}
	}
	if h.authority != "" {
		host, port := splitHostPort(h.authority)
		if host != "" {
			m.Attrs = append(m.Attrs, protocols.String(attrServerAddr, host))
		}
		if port >= 0 {
			m.Attrs = append(m.Attrs, protocols.Int(attrServerPort, port))
		}
	}
	if h.agent != "" {
		m.Attrs = append(m.Attrs, protocols.String(attrUserAgent, h.agent))
	}
	m.Attrs = append(m.Attrs, protocols.String(attrVersion, "2"), protocols.Int(attrReqBodySize, r.body))
	p.links(h, m)
}

// grpcServerError reports whether a gRPC status code makes a server span an
// error under the OpenTelemetry gRPC conventions: UNKNOWN, DEADLINE_EXCEEDED,
// UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS.
func grpcServerError(code int) bool {
	switch code {
	case 2, 4, 12, 13, 14, 15:
		return true
	}
	return false
}

func (p *Parser) fillResponse(s *stream, m *protocols.Message) {
	r := &s.resp
	h := &r.h
	m.Kind, m.ID, m.HasID = protocols.Response, uint64(s.id), true
	m.Partial = r.partial || h.partial || (!h.seen && !s.rst) || (!r.done && !(s.rst && s.rstCode != 0))
	m.Size, m.BodySize = r.size, int(r.body)
	grpc := isGRPC(h.contentType) || isGRPC(s.req.h.contentType)
	if grpc {
		m.Protocol = GRPCName
	}
	if h.status > 0 {
		m.Attrs = append(m.Attrs, protocols.Int(attrStatusCode, int64(h.status)))
	}
	if grpc && h.grpcStatus >= 0 {
		m.Attrs = append(m.Attrs, protocols.Int(attrGRPCStatus, int64(h.grpcStatus)))
	}
	switch {
	case s.rst && s.rstCode != 0 && !r.done:
		m.Status = protocols.StatusError
		m.Attrs = append(m.Attrs, protocols.String(attrErrorType, errorCodeName(s.rstCode)))
	case grpc && h.grpcStatus >= 0:
		m.Status = protocols.StatusOK
		if grpcServerError(h.grpcStatus) {
			m.Status = protocols.StatusError
		}
	case h.status >= 500:
		m.Status = protocols.StatusError
	case h.status > 0:
		m.Status = protocols.StatusOK
	}
	m.Attrs = append(m.Attrs, protocols.String(attrVersion, "2"), protocols.Int(attrRespBodySize, r.body))
	p.links(h, m)
}

// links appends the correlation keys of h; a grpc-trace-bin context stands
// for a traceparent when there is none.
func (p *Parser) links(h *headers, m *protocols.Message) {
	for j, v := range h.links {
		if j == lnTraceparent && v == "" && h.traceBin != "" {
			v = traceBin(h.traceBin)
		}
		if v != "" {
			m.Links = append(m.Links, protocols.String(linkKeys[j], v))
		}
	}
}

// traceBin converts a grpc-trace-bin value (base64 of the OpenCensus binary
// trace context: version 0, then field 0 the 16-byte trace id, field 1 the
// 8-byte span id, field 2 the 1-byte trace options) to a W3C traceparent
// value, or "" when it is not one.
func traceBin(v string) string {
	var buf [64]byte
	v = strings.TrimRight(v, "=")
	if base64.RawStdEncoding.DecodedLen(len(v)) > len(buf) {
		return ""
	}
	n, err := base64.RawStdEncoding.Decode(buf[:], []byte(v))
	if err != nil || n < 1 || buf[0] != 0 {
		return ""
	}
	b := buf[1:n]
	var trace, span []byte
	flags := byte(0)
	for len(b) > 0 {
		switch {
		case b[0] == 0 && len(b) >= 17:
			trace, b = b[1:17], b[17:]
		case b[0] == 1 && len(b) >= 9:
			span, b = b[1:9], b[9:]
		case b[0] == 2 && len(b) >= 2:
			flags, b = b[1]&1, b[2:]
		default:
			b = nil // unknown field: the rest cannot be parsed
		}
	}
	if trace == nil || span == nil || allZero(trace) || allZero(span) {
		return ""
	}
	out := make([]byte, 0, 55)
	out = append(out, "00-"...)
	out = hex.AppendEncode(out, trace)
	out = append(out, '-')
	out = hex.AppendEncode(out, span)
	out = append(out, '-', '0', '0'+flags)
	return string(out)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// errorCodeNames are the RFC 9113 section 7 error code names.
var errorCodeNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
	"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM",
	"CANCEL", "COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM",
	"INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

func errorCodeName(c uint32) string {
	if int(c) < len(errorCodeNames) {
		return errorCodeNames[c]
	}
	return "0x" + strconv.FormatUint(uint64(c), 16)
}

// splitHostPort splits an authority; port is -1 when absent or invalid.
func splitHostPort(s string) (string, int64) {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:] // userinfo is deprecated and never copied
	}
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i >= 0 {
			host = s[1:i]
			if rest := s[i+1:]; strings.HasPrefix(rest, ":") {
				port = rest[1:]
			}
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
	}
	v := atoi(port, 5)
	if v < 0 || v > 65535 {
		return host, -1
	}
	return host, int64(v)
}

// Gap implements protocols.Parser. A gap inside a frame whose header was
// seen is skipped exactly: a DATA frame's stream is marked Partial, any other
// frame is skipped, and a lost header block makes the direction's HPACK
// state unknown. A gap anywhere else loses the frame boundaries: every open
// stream is marked Partial in that direction and the parser looks for the
// next plausible frame header, decoding header blocks leniently from then
// on.
func (p *Parser) Gap(dir protocols.Direction, size int) {
	h := p.half(dir)
	if h == nil || size <= 0 {
		return
	}
	if h.hold > 0 {
		// The held byte was parsed; the driver counts it as lost.
		size -= h.hold
		h.hold = 0
		if size <= 0 {
			return
		}
	}
	switch {
	case !h.started:
		h.started = true
		p.lose(h)
	case h.resync:
	case h.inFrame && uint64(size) <= uint64(h.remain):
		lost := uint32(size)
		if h.fh.typ == frameData {
			if s := p.streams[h.fh.stream]; s != nil {
				sd := p.sideOf(h, s)
				sd.partial = true
				sd.body += int64(lost)
			}
			h.padRead = true // a lost pad length counts as no padding
		} else {
			h.damaged = true
		}
		h.remain -= lost
		if h.remain == 0 {
			h.inFrame = false
			h.damaged = h.damaged || p.needsPayload(h)
			_ = p.frameEnd(h, nil) // damaged frames return no error
		}
	default:
		p.lose(h)
	}
}

// End implements protocols.Parser. When the client's side ends, requests
// not yet complete are emitted Partial; when the server's side ends,
// responses whose header block was seen but not their END_STREAM are
// emitted Partial (after their request). Streams are taken in id order. At
// most 64 messages are returned, as the driver stops asking after that.
func (p *Parser) End(dir protocols.Direction, msg *protocols.Message) bool {
	h := p.half(dir)
	if h == nil {
		return false
	}
	if !h.ended {
		h.ended = true
		if h.cont != 0 {
			h.blockBroken = true
			p.finishBlock(h)
		}
		ids := make([]uint32, 0, len(p.streams))
		for id := range p.streams {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			s := p.streams[id]
			if s == nil {
				continue
			}
			if dir == protocols.ToServer && !s.req.emitted && (s.req.h.seen || s.req.size > 0) {
				s.req.partial = true
				p.enqueue(h, s, protocols.Request)
			}
			if dir == protocols.ToClient && !s.resp.emitted && (s.resp.h.seen || s.resp.size > 0) {
				if !s.req.emitted {
					p.enqueue(h, s, protocols.Request)
				}
				s.resp.partial = true
				p.enqueue(h, s, protocols.Response)
				p.close(s)
			}
		}
	}
	if h.qhead < len(h.queue) {
		p.pop(h, msg)
		return true
	}
	return false
}
