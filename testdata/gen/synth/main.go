// Command synth writes a large synthetic but protocol-valid capture for
// benchmarks, deterministically from a seed.
//
//	go run ./testdata/gen/synth -packets 2000000 -seed 1 -o /tmp/big.pcap
//
// The traffic is that of a small shop seen at one capture point (a SPAN
// port: every hop, each frame once), on the private 10.231.26.0/24:
//
//	clients 10.231.26.100-249   keep-alive HTTP/1.1 to the gateway
//	gateway 10.231.26.10:80     nginx-like: adds X-Request-ID, keep-alive upstreams
//	backend 10.231.26.21-28:8080  per request: Redis GET (and SET on a miss),
//	                            often a MySQL query (result set or OK), sometimes
//	                            an HTTP call to inventory
//	inventory 10.231.26.29:9090 HTTP/1.1
//	redis   10.231.26.31:6379   RESP2 commands
//	mysql   10.231.26.32:3306   4.1 handshake, COM_QUERY, result sets and OKs
//
// Every connection has a real three-way handshake, per-direction sequence and
// acknowledgement numbers, MSS-sized segments, delayed pure ACKs and a FIN
// exchange when it is retired (keep-alive connections live for a random
// number of requests). A small fraction of segments is missing from the
// capture (a gap), retransmitted, or captured out of order. Timestamps are
// microseconds and, across flows, not strictly ordered (a few µs of jitter, as
// a capture point with several queues records them); within one flow they
// follow the order the segments were sent.
//
// Frames are Ethernet/IPv4/TCP with valid IP and TCP checksums, written as a
// classic pcap file (LINKTYPE_ETHERNET, snaplen 65535).
package main

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
)

const (
	mss      = 1448
	usec     = int64(1000)
	msec     = 1000 * usec
	baseTime = int64(1_767_225_600) * 1_000_000_000 // 2026-01-01T00:00:00Z
)

// Loss model, per data segment.
const (
	pLoss    = 0.0003 // missing from the capture: a gap
	pRetrans = 0.001  // captured twice, the copy a few hundred µs later
	pReorder = 0.001  // captured before the segment sent just before it
)

func main() {
	var (
		out     = flag.String("o", "synth.pcap", "output `file`")
		packets = flag.Int("packets", 1_000_000, "stop starting requests once this many `packets` are written")
		seed    = flag.Uint64("seed", 1, "random `seed`; the same seed and size give the same bytes")
		rate    = flag.Float64("rate", 4000, "client requests per second of capture time")
		clients = flag.Int("clients", 3000, "client connection slots (keep-alive connections open at once)")
	)
	flag.Parse()
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
	g := newGen(f, *seed, *clients)
	g.run(*packets, *rate)
	if err := g.w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "synth: %s: %d packets, %d bytes, %d client requests, %d connections\n",
		*out, g.written, g.bytes, g.requests, g.conns)
}

// frame is a packet waiting in the time-ordered queue.
type frame struct {
	ts   int64
	n    uint64 // tie-break: order of creation
	data []byte
}

type frameHeap []*frame

func (h frameHeap) Len() int { return len(h) }
func (h frameHeap) Less(i, j int) bool {
	if h[i].ts != h[j].ts {
		return h[i].ts < h[j].ts
	}
	return h[i].n < h[j].n
}
func (h frameHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *frameHeap) Push(x any)   { *h = append(*h, x.(*frame)) }
func (h *frameHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// tconn is one TCP connection; "c" is the client (connecting) side.
type tconn struct {
	cip, sip     [4]byte
	cport, sport uint16
	cseq, sseq   uint32 // next sequence number each side sends
	busy         int64  // time until which the connection is in use
	uses, max    int
	open         bool
	kind         int // pool kind, for the MySQL handshake
}

type gen struct {
	w        *bufio.Writer
	r        *rand.Rand
	q        frameHeap
	free     [][]byte
	nframe   uint64
	ipid     uint16
	written  int
	bytes    int64
	requests int
	conns    int
	pkt      []byte
	hdr      [16]byte
	ports    map[[4]byte]uint16

	client  []*tconn
	gwPool  [][]*tconn // per backend
	invPool [][]*tconn // per backend, to inventory
	redis   [][]*tconn // per backend
	mysql   [][]*tconn // per backend
}

const (
	kindHTTP = iota
	kindRedis
	kindMySQL
)

var (
	gatewayIP   = [4]byte{10, 231, 26, 10}
	inventoryIP = [4]byte{10, 231, 26, 29}
	redisIP     = [4]byte{10, 231, 26, 31}
	mysqlIP     = [4]byte{10, 231, 26, 32}
)

const numBackends = 8

func backendIP(i int) [4]byte { return [4]byte{10, 231, 26, byte(21 + i)} }

func newGen(f *os.File, seed uint64, clients int) *gen {
	g := &gen{
		w:     bufio.NewWriterSize(f, 1<<20),
		r:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		ports: map[[4]byte]uint16{},
	}
	g.client = make([]*tconn, clients)
	g.gwPool = make([][]*tconn, numBackends)
	g.invPool = make([][]*tconn, numBackends)
	g.redis = make([][]*tconn, numBackends)
	g.mysql = make([][]*tconn, numBackends)
	for i := range numBackends {
		g.gwPool[i] = make([]*tconn, 48)
		g.invPool[i] = make([]*tconn, 16)
		g.redis[i] = make([]*tconn, 16)
		g.mysql[i] = make([]*tconn, 16)
	}
	// pcap global header: microseconds, v2.4, snaplen 65535, Ethernet.
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], 1)
	g.w.Write(h[:])
	return g
}

// run starts client requests at random (Poisson) times until the packet
// budget is spent, then retires every connection and drains the queue.
func (g *gen) run(packets int, rate float64) {
	t := baseTime
	for g.written+len(g.q) < packets {
		t += int64(g.r.ExpFloat64() / rate * 1e9)
		g.writeBefore(t)
		g.request(t)
	}
	end := t + 10*msec
	for _, c := range g.client {
		g.retire(c, end)
	}
	for i := range numBackends {
		for _, pool := range [][]*tconn{g.gwPool[i], g.invPool[i], g.redis[i], g.mysql[i]} {
			for _, c := range pool {
				g.retire(c, end)
			}
		}
	}
	g.writeBefore(1 << 62)
}

// writeBefore writes every queued frame sent before t: no request started at
// t or later can produce an earlier one.
func (g *gen) writeBefore(t int64) {
	for len(g.q) > 0 && g.q[0].ts < t {
		f := heap.Pop(&g.q).(*frame)
		// A few µs of jitter across queues of the capture point.
		ts := f.ts + int64(g.r.IntN(7)-3)*usec
		sec, us := ts/1_000_000_000, (ts%1_000_000_000)/1000
		binary.LittleEndian.PutUint32(g.hdr[0:], uint32(sec))
		binary.LittleEndian.PutUint32(g.hdr[4:], uint32(us))
		binary.LittleEndian.PutUint32(g.hdr[8:], uint32(len(f.data)))
		binary.LittleEndian.PutUint32(g.hdr[12:], uint32(len(f.data)))
		g.w.Write(g.hdr[:])
		g.w.Write(f.data)
		g.written++
		g.bytes += int64(16 + len(f.data))
		g.free = append(g.free, f.data[:0])
	}
}

// request plays one client request through every hop, starting at t.
func (g *gen) request(t int64) {
	g.requests++
	b := g.r.IntN(numBackends)
	cc, t := g.pick(g.client, g.r.IntN(len(g.client)), t, func() *tconn {
		ip := [4]byte{10, 231, 26, byte(100 + g.r.IntN(150))}
		return g.newConn(ip, gatewayIP, 80, kindHTTP, 1+g.r.IntN(40))
	})
	rtt := int64(200+g.r.IntN(1800)) * usec // client RTT
	rid := fmt.Sprintf("%016x%016x", g.r.Uint64(), g.r.Uint64())
	path, method, body := g.route()

	t = g.send(cc, true, t, httpRequest(method, path, "shop.example", "", body), rtt)
	t += 40 * usec
	// Gateway to backend.
	bc, t := g.pick(g.gwPool[b], g.r.IntN(len(g.gwPool[b])), t, func() *tconn {
		return g.newConn(gatewayIP, backendIP(b), 8080, kindHTTP, 200+g.r.IntN(800))
	})
	lan := int64(60+g.r.IntN(80)) * usec
	t = g.send(bc, true, t, httpRequest(method, path, "backend", rid, body), lan)
	t += 30 * usec

	// Backend: cache lookup.
	rc, t := g.pick(g.redis[b], g.r.IntN(len(g.redis[b])), t, func() *tconn {
		return g.newConn(backendIP(b), redisIP, 6379, kindRedis, 1000+g.r.IntN(4000))
	})
	key := "cache:" + path
	t = g.send(rc, true, t, resp("GET", key), lan)
	hit := g.r.IntN(100) < 70
	t += 20 * usec
	if hit {
		t = g.send(rc, false, t, bulk(g.r.IntN(600)+20), lan)
	} else {
		t = g.send(rc, false, t, []byte("$-1\r\n"), lan)
	}
	rc.busy = t
	status := 200
	if g.r.IntN(1000) < 8 {
		status = 500
	} else if g.r.IntN(1000) < 15 {
		status = 404
	}
	if !hit || method != "GET" {
		// Database.
		mc, t2 := g.pick(g.mysql[b], g.r.IntN(len(g.mysql[b])), t+15*usec, func() *tconn {
			return g.newConn(backendIP(b), mysqlIP, 3306, kindMySQL, 2000+g.r.IntN(8000))
		})
		t = t2
		var sql string
		rows := 0
		if method == "GET" {
			rows = 1 + g.r.IntN(20)
			sql = "SELECT id, name, price FROM products WHERE category_id = " + strconv.Itoa(g.r.IntN(500)) + " LIMIT " + strconv.Itoa(rows)
		} else {
			sql = "INSERT INTO orders (customer_id, total) VALUES (" + strconv.Itoa(g.r.IntN(100000)) + ", " + strconv.Itoa(g.r.IntN(10000)) + ")"
		}
		t = g.send(mc, true, t, mysqlPacket(0, append([]byte{3}, sql...)), lan)
		t += int64(100+g.r.IntN(900)) * usec
		if rows > 0 {
			t = g.send(mc, false, t, resultSet(rows), lan)
		} else if status == 500 {
			t = g.send(mc, false, t, mysqlErr(), lan)
		} else {
			t = g.send(mc, false, t, mysqlOK(1), lan)
		}
		mc.busy = t
		if !hit {
			t = g.send(rc, true, t+10*usec, resp("SET", key, string(make([]byte, 0)), "EX", "60"), lan)
			t = g.send(rc, false, t+20*usec, []byte("+OK\r\n"), lan)
			rc.busy = t
		}
	}
	if g.r.IntN(100) < 25 {
		ic, t2 := g.pick(g.invPool[b], g.r.IntN(len(g.invPool[b])), t+10*usec, func() *tconn {
			return g.newConn(backendIP(b), inventoryIP, 9090, kindHTTP, 100+g.r.IntN(400))
		})
		t = g.send(ic, true, t2, httpRequest("GET", "/stock/"+strconv.Itoa(g.r.IntN(9999)), "inventory", rid, nil), lan)
		t = g.send(ic, false, t+int64(200+g.r.IntN(500))*usec, httpResponse(200, "", g.r.IntN(300)+30), lan)
		ic.busy = t
	}
	size := g.bodySize()
	t = g.send(bc, false, t+40*usec, httpResponse(status, rid, size), lan)
	bc.busy = t
	t = g.send(cc, false, t+20*usec, httpResponse(status, rid, size), rtt)
	cc.busy = t + rtt
}

// route picks a request.
func (g *gen) route() (path, method string, body []byte) {
	switch n := g.r.IntN(100); {
	case n < 55:
		return "/api/products/" + strconv.Itoa(g.r.IntN(50000)), "GET", nil
	case n < 80:
		return "/api/categories/" + strconv.Itoa(g.r.IntN(500)) + "/products?page=" + strconv.Itoa(1+g.r.IntN(9)), "GET", nil
	case n < 92:
		return "/api/cart", "POST", []byte(`{"product_id":` + strconv.Itoa(g.r.IntN(50000)) + `,"quantity":` + strconv.Itoa(1+g.r.IntN(5)) + `}`)
	}
	return "/api/orders", "POST", []byte(`{"cart_id":"` + strconv.FormatUint(g.r.Uint64(), 16) + `","payment":"card","address":{"street":"1 Main St","city":"Springfield","zip":"12345"}}`)
}

func (g *gen) bodySize() int {
	switch n := g.r.IntN(100); {
	case n < 70:
		return 200 + g.r.IntN(1800)
	case n < 95:
		return 2000 + g.r.IntN(14000)
	}
	return 16000 + g.r.IntN(48000)
}

// pick returns a connection of pool starting at slot i: the first free one,
// else the one free soonest (and the time it is free). A connection that has
// served its requests is retired and replaced.
func (g *gen) pick(pool []*tconn, i int, t int64, mk func() *tconn) (*tconn, int64) {
	best := -1
	for k := 0; k < 4; k++ {
		j := (i + k) % len(pool)
		c := pool[j]
		if c == nil || c.busy <= t {
			best = j
			break
		}
		if best < 0 || c.busy < pool[best].busy {
			best = j
		}
	}
	c := pool[best]
	if c != nil && c.busy > t {
		t = c.busy + 5*usec
	}
	if c != nil && c.uses >= c.max {
		g.retire(c, t)
		t += 50 * usec
		c = nil
	}
	if c == nil {
		c = mk()
		pool[best] = c
		t = g.handshake(c, t)
	}
	c.uses++
	c.busy = t + 1<<40 // held until the caller sets busy
	return c, t
}

func (g *gen) newConn(cip, sip [4]byte, sport uint16, kind, max int) *tconn {
	p := g.ports[cip]
	if p < 32768 {
		p = 32768 + uint16(g.r.IntN(1000))
	}
	p++
	g.ports[cip] = p
	g.conns++
	return &tconn{cip: cip, sip: sip, cport: p, sport: sport, cseq: g.r.Uint32(), sseq: g.r.Uint32(), kind: kind, max: max}
}

const (
	fFIN = 0x01
	fSYN = 0x02
	fPSH = 0x08
	fACK = 0x10
)

// handshake opens c at t (and logs in, for MySQL); it returns when the
// client may send.
func (g *gen) handshake(c *tconn, t int64) int64 {
	rtt := int64(100+g.r.IntN(300)) * usec
	g.emit(c, true, t, fSYN, c.cseq, 0, nil)
	c.cseq++
	g.emit(c, false, t+rtt/2, fSYN|fACK, c.sseq, c.cseq, nil)
	c.sseq++
	t += rtt
	g.emit(c, true, t, fACK, c.cseq, c.sseq, nil)
	c.open = true
	if c.kind == kindMySQL {
		t = g.send(c, false, t+50*usec, mysqlGreeting(), rtt)
		t = g.send(c, true, t+20*usec, mysqlLogin(), rtt)
		t = g.send(c, false, t+200*usec, mysqlPacket(2, []byte{0, 0, 0, 2, 0, 0, 0}), rtt)
	}
	return t + 10*usec
}

// retire closes c with a FIN exchange, the client first.
func (g *gen) retire(c *tconn, t int64) {
	if c == nil || !c.open {
		return
	}
	if c.busy > t && c.busy < t+1<<39 {
		t = c.busy
	}
	c.open = false
	rtt := int64(100+g.r.IntN(300)) * usec
	g.emit(c, true, t, fFIN|fACK, c.cseq, c.sseq, nil)
	c.cseq++
	g.emit(c, false, t+rtt/2, fFIN|fACK, c.sseq, c.cseq, nil)
	c.sseq++
	g.emit(c, true, t+rtt, fACK, c.cseq, c.sseq, nil)
}

// send writes payload from one side in MSS segments starting at t; the
// peer acknowledges the last one (a delayed pure ACK) about half an RTT
// later, unless its answer will carry the ACK. It returns the time the last
// byte left.
func (g *gen) send(c *tconn, fromClient bool, t int64, payload []byte, rtt int64) int64 {
	seq, ack := &c.cseq, c.sseq
	if !fromClient {
		seq, ack = &c.sseq, c.cseq
	}
	prev := t
	for off := 0; off < len(payload); off += mss {
		end := min(off+mss, len(payload))
		flags := uint8(fACK)
		if end == len(payload) {
			flags |= fPSH
		}
		seg := payload[off:end]
		ts := t
		switch x := g.r.Float64(); {
		case x < pLoss:
			*seq += uint32(len(seg))
			t += 2 * usec
			continue
		case x < pLoss+pRetrans:
			g.emit(c, fromClient, ts+rtt+200*usec, flags, *seq, ack, seg)
		case x < pLoss+pRetrans+pReorder && off > 0:
			ts = prev - usec
		}
		g.emit(c, fromClient, ts, flags, *seq, ack, seg)
		*seq += uint32(len(seg))
		prev = t
		t += 2 * usec // ~6 Gbit/s on the wire
		if off/mss%2 == 1 && end < len(payload) {
			// The receiver acknowledges every second segment.
			g.emitAck(c, !fromClient, t+rtt/2)
		}
	}
	if g.r.IntN(2) == 0 {
		g.emitAck(c, !fromClient, t+rtt/2)
	}
	return t
}

func (g *gen) emitAck(c *tconn, fromClient bool, t int64) {
	if fromClient {
		g.emit(c, true, t, fACK, c.cseq, c.sseq, nil)
	} else {
		g.emit(c, false, t, fACK, c.sseq, c.cseq, nil)
	}
}

// emit queues an Ethernet/IPv4/TCP frame.
func (g *gen) emit(c *tconn, fromClient bool, ts int64, flags uint8, seq, ack uint32, payload []byte) {
	src, dst, sp, dp := c.cip, c.sip, c.cport, c.sport
	if !fromClient {
		src, dst, sp, dp = c.sip, c.cip, c.sport, c.cport
	}
	n := 14 + 20 + 20 + len(payload)
	var b []byte
	if k := len(g.free); k > 0 && cap(g.free[k-1]) >= n {
		b = g.free[k-1][:n]
		g.free = g.free[:k-1]
	} else {
		b = make([]byte, n, max(n, 256))
	}
	// Ethernet: locally administered MACs derived from the IPs.
	copy(b[0:], []byte{0x02, 0, dst[0], dst[1], dst[2], dst[3]})
	copy(b[6:], []byte{0x02, 0, src[0], src[1], src[2], src[3]})
	b[12], b[13] = 0x08, 0x00
	ip := b[14:34]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+len(payload)))
	g.ipid++
	binary.BigEndian.PutUint16(ip[4:], g.ipid)
	ip[6], ip[7] = 0x40, 0 // DF
	ip[8], ip[9] = 64, 6
	ip[10], ip[11] = 0, 0
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip, 0)))
	tcp := b[34:]
	binary.BigEndian.PutUint16(tcp[0:], sp)
	binary.BigEndian.PutUint16(tcp[2:], dp)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	if flags&fACK == 0 {
		ack = 0
	}
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12], tcp[13] = 5<<4, flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	tcp[16], tcp[17], tcp[18], tcp[19] = 0, 0, 0, 0
	copy(tcp[20:], payload)
	// Pseudo-header: addresses, protocol, TCP length.
	s := sum(ip[12:20], 0) + 6 + uint32(len(tcp))
	binary.BigEndian.PutUint16(tcp[16:], ^fold(sum(tcp, s)))
	g.nframe++
	heap.Push(&g.q, &frame{ts: ts, n: g.nframe, data: b})
}

func sum(b []byte, s uint32) uint32 {
	n := len(b) &^ 1
	for i := 0; i < n; i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)&1 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// HTTP/1.1.

func httpRequest(method, path, host, rid string, body []byte) []byte {
	b := make([]byte, 0, 256+len(body))
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: shop-client/2.1\r\nAccept: application/json\r\n"...)
	if rid != "" {
		b = append(b, "X-Request-ID: "...)
		b = append(b, rid...)
		b = append(b, "\r\nX-Forwarded-For: 203.0.113.7\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

var statusText = map[int]string{200: "OK", 404: "Not Found", 500: "Internal Server Error"}

func httpResponse(status int, rid string, size int) []byte {
	b := make([]byte, 0, 256+size)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, statusText[status]...)
	b = append(b, "\r\nServer: nginx\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(size), 10)
	b = append(b, "\r\nConnection: keep-alive\r\n"...)
	if rid != "" {
		b = append(b, "X-Request-ID: "...)
		b = append(b, rid...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return appendJSON(b, size)
}

// appendJSON appends a JSON-looking body of exactly size bytes.
func appendJSON(b []byte, size int) []byte {
	const filler = `{"id":12345,"name":"Widget","price":19.99,"tags":["blue","small"]},`
	if size < 2 {
		for range size {
			b = append(b, ' ')
		}
		return b
	}
	b = append(b, '[')
	for n := size - 2; n > 0; {
		k := min(n, len(filler))
		b = append(b, filler[:k]...)
		n -= k
	}
	return append(b, ']')
}

// Redis (RESP2).

func resp(args ...string) []byte {
	b := []byte{'*'}
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

func bulk(n int) []byte {
	b := []byte{'$'}
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "\r\n"...)
	b = appendJSON(b, n)
	return append(b, "\r\n"...)
}

// MySQL (4.1 protocol, with EOF packets).

func mysqlPacket(seq byte, payload []byte) []byte {
	b := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
	return append(b, payload...)
}

const mysqlCaps = 0x00000200 | 0x00008000 | 0x00080000 | 0x00000008 | 0x00000001 | 0x00000004 // PROTOCOL_41, SECURE_CONNECTION, PLUGIN_AUTH, CONNECT_WITH_DB, LONG_PASSWORD, LONG_FLAG

func mysqlGreeting() []byte {
	p := []byte{10}
	p = append(p, "8.4.3\x00"...)
	p = binary.LittleEndian.AppendUint32(p, 42)
	p = append(p, "abcdefgh\x00"...)
	p = binary.LittleEndian.AppendUint16(p, mysqlCaps&0xffff)
	p = append(p, 0xff)
	p = binary.LittleEndian.AppendUint16(p, 2)
	p = binary.LittleEndian.AppendUint16(p, mysqlCaps>>16)
	p = append(p, 21)
	p = append(p, make([]byte, 10)...)
	p = append(p, "ijklmnopqrst\x00"...)
	p = append(p, "mysql_native_password\x00"...)
	return mysqlPacket(0, p)
}

func mysqlLogin() []byte {
	p := binary.LittleEndian.AppendUint32(nil, mysqlCaps)
	p = binary.LittleEndian.AppendUint32(p, 1<<24)
	p = append(p, 0xff)
	p = append(p, make([]byte, 23)...)
	p = append(p, "shop\x00"...)
	p = append(p, 20)
	p = append(p, "0123456789abcdefghij"...)
	p = append(p, "shop\x00"...)
	p = append(p, "mysql_native_password\x00"...)
	return mysqlPacket(1, p)
}

func mysqlOK(affected int) []byte {
	return mysqlPacket(1, []byte{0, byte(affected), 0, 2, 0, 0, 0})
}

func mysqlErr() []byte {
	return mysqlPacket(1, append([]byte{0xff, 0x26, 0x04, '#', '2', '3', '0', '0', '0'}, "Duplicate entry"...))
}

func lstr(b []byte, s string) []byte { return append(append(b, byte(len(s))), s...) }

func colDef(seq byte, name string) []byte {
	p := lstr(nil, "def")
	p = lstr(p, "shop")
	p = lstr(p, "products")
	p = lstr(p, "products")
	p = lstr(p, name)
	p = lstr(p, name)
	p = append(p, 0x0c, 33, 0, 255, 0, 0, 0, 253, 0, 0, 0, 0, 0)
	return mysqlPacket(seq, p)
}

func resultSet(rows int) []byte {
	b := mysqlPacket(1, []byte{3})
	b = append(b, colDef(2, "id")...)
	b = append(b, colDef(3, "name")...)
	b = append(b, colDef(4, "price")...)
	seq := byte(5)
	eof := []byte{0xfe, 0, 0, 2, 0}
	b = append(b, mysqlPacket(seq, eof)...)
	seq++
	for i := range rows {
		r := lstr(nil, strconv.Itoa(1000+i))
		r = lstr(r, "Widget model "+strconv.Itoa(i))
		r = lstr(r, "19.99")
		b = append(b, mysqlPacket(seq, r)...)
		seq++
	}
	return append(b, mysqlPacket(seq, eof)...)
}
