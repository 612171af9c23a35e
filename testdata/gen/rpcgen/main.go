// Command rpcgen makes the traffic of testdata/mongodb_ops.pcap and
// testdata/dubbo_http.pcap (see testdata/gen/rpc.sh, which runs it in a
// network namespace under tcpdump).
//
//	rpcgen -mode mongo -client 10.241.4.1 -server 10.241.4.3:27017
//	rpcgen -mode dubbo -client 10.241.4.1 -front 10.241.4.2:8080 -provider 10.241.4.3:20880 -backend 10.241.4.4:9090
//
// Mode mongo runs a small MongoDB server of its own (it answers the
// commands below with canned replies shaped as mongod 8.0's) and a client
// that sends, over one TCP connection: a legacy OP_QUERY isMaster, OP_MSG
// hello, saslStart and saslContinue (SCRAM-SHA-256, made-up credentials), a
// find whose comment carries a traceparent, an insert with a kind-1
// document sequence and a CRC-32C checksum, a duplicate insert (write
// error 11000), an unacknowledged insert (moreToCome), a failing aggregate
// (ok: 0), a zlib OP_COMPRESSED find whose comment carries
// x-request-id=mongo-req-1, and an unknown command.
//
// Mode dubbo runs three servers and a client: the client sends three HTTP
// requests to the front (an HTTP server), which calls the provider (a
// Dubbo 2 server speaking Hessian 2) once per request, passing the trace
// context as attachments; the provider calls the backend (an HTTP server)
// with the same trace context before it answers. Request 1 carries a W3C
// traceparent, request 2 a SkyWalking sw8, request 3 a traceparent and a
// call that ends in a Java exception (the front answers 502). A Dubbo
// heartbeat precedes the calls. Every id is fixed (see the constants), so
// every run gives the same spans and traces.
//
// Every connection is made from the address given to the side that opens
// it, so each hop has its own client and server address. It stops by
// itself: each request is made once, every read and write has a deadline.
package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// Fixed trace contexts of the Dubbo scenario.
const (
	Trace1 = "4bf92f3577b34da6a3ce929d0e0e4701"
	Trace2 = "dubbo-sw8-trace.2026.1"
	Trace3 = "4bf92f3577b34da6a3ce929d0e0e4703"
	// MongoTrace is the traceparent in the find's comment.
	MongoTrace = "00-4bf92f3577b34da6a3ce929d0e0e4710-00f067aa0ba902b7-01"
)

const timeout = 5 * time.Second

func main() {
	mode := flag.String("mode", "", "mongo or dubbo")
	client := flag.String("client", "127.0.0.1", "address clients connect from")
	server := flag.String("server", "127.0.0.1:27017", "mongo: server address")
	front := flag.String("front", "127.0.0.2:8080", "dubbo: front HTTP server")
	provider := flag.String("provider", "127.0.0.3:20880", "dubbo: Dubbo provider")
	backend := flag.String("backend", "127.0.0.4:9090", "dubbo: backend HTTP server")
	flag.Parse()
	log.SetFlags(0)
	var err error
	switch *mode {
	case "mongo":
		err = runMongo(*client, *server)
	case "dubbo":
		err = runDubbo(*client, *front, *provider, *backend)
	default:
		err = errors.New("-mode must be mongo or dubbo")
	}
	if err != nil {
		log.Fatalf("rpcgen: %v", err)
	}
}

// dialFrom connects to addr from the local IP from.
func dialFrom(from, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return d.Dial("tcp", addr)
}

// --- MongoDB -----------------------------------------------------------------

func doc() *bsoncore.DocumentBuilder { return bsoncore.NewDocumentBuilder() }

// mongoMsg frames an OP_MSG (or, with compressor 2, an OP_COMPRESSED zlib
// one wrapping it).
func mongoMsg(reqID, respTo int32, flags uint32, body []byte, seq [][]byte, zlibbed bool) []byte {
	b := binary.LittleEndian.AppendUint32(nil, flags)
	b = append(b, 0)
	b = append(b, body...)
	if seq != nil {
		s := []byte("documents\x00")
		for _, d := range seq {
			s = append(s, d...)
		}
		b = append(b, 1)
		b = binary.LittleEndian.AppendUint32(b, uint32(4+len(s)))
		b = append(b, s...)
	}
	if flags&1 != 0 {
		b = append(b, 0, 0, 0, 0)
	}
	m := mongoHeader(reqID, respTo, 2013, b)
	if flags&1 != 0 {
		sum := crc32.Checksum(m[:len(m)-4], crc32.MakeTable(crc32.Castagnoli))
		binary.LittleEndian.PutUint32(m[len(m)-4:], sum)
	}
	if !zlibbed {
		return m
	}
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	w.Write(m[16:])
	w.Close()
	c := binary.LittleEndian.AppendUint32(nil, 2013)
	c = binary.LittleEndian.AppendUint32(c, uint32(len(m)-16))
	c = append(c, 2)
	return mongoHeader(reqID, respTo, 2012, append(c, z.Bytes()...))
}

func mongoHeader(reqID, respTo, op int32, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(16+len(body)))
	b = binary.LittleEndian.AppendUint32(b, uint32(reqID))
	b = binary.LittleEndian.AppendUint32(b, uint32(respTo))
	b = binary.LittleEndian.AppendUint32(b, uint32(op))
	return append(b, body...)
}

// readMongo reads one message: its header fields and body.
func readMongo(c net.Conn) (reqID, op int32, flags uint32, body []byte, err error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	var h [16]byte
	if _, err = io.ReadFull(c, h[:]); err != nil {
		return
	}
	n := int(binary.LittleEndian.Uint32(h[:]))
	if n < 16 || n > 1<<20 {
		return 0, 0, 0, nil, fmt.Errorf("message length %d", n)
	}
	body = make([]byte, n-16)
	if _, err = io.ReadFull(c, body); err != nil {
		return
	}
	reqID, op = int32(binary.LittleEndian.Uint32(h[4:])), int32(binary.LittleEndian.Uint32(h[12:]))
	if op == 2012 { // OP_COMPRESSED, zlib only here
		z, err := zlib.NewReader(bytes.NewReader(body[9:]))
		if err != nil {
			return 0, 0, 0, nil, err
		}
		inner, err := io.ReadAll(io.LimitReader(z, 1<<20))
		if err != nil {
			return 0, 0, 0, nil, err
		}
		op, body = int32(binary.LittleEndian.Uint32(body)), inner
	}
	if op == 2013 && len(body) >= 4 {
		flags = binary.LittleEndian.Uint32(body)
	}
	return reqID, op, flags, body, nil
}

// mongoServe answers one connection.
func mongoServe(c net.Conn) {
	defer c.Close()
	seen := map[int32]bool{}
	for id := int32(500); ; id++ {
		reqID, op, flags, body, err := readMongo(c)
		if err != nil {
			return
		}
		var reply []byte
		switch op {
		case 2004: // OP_QUERY isMaster: OP_REPLY
			d := doc().AppendBoolean("ismaster", true).AppendInt32("maxWireVersion", 25).
				AppendArray("compression", bsoncore.NewArrayBuilder().AppendString("zlib").Build()).AppendDouble("ok", 1).Build()
			r := binary.LittleEndian.AppendUint32(nil, 8) // AwaitCapable
			r = binary.LittleEndian.AppendUint64(r, 0)
			r = binary.LittleEndian.AppendUint32(r, 0)
			r = binary.LittleEndian.AppendUint32(r, 1)
			reply = mongoHeader(id, reqID, 1, append(r, d...))
		case 2013:
			if flags&2 != 0 {
				continue // moreToCome: no reply
			}
			cmd := bsoncore.Document(body[5:])
			elems, err := cmd.Elements()
			if err != nil || len(elems) == 0 {
				return
			}
			var d []byte
			switch name := elems[0].Key(); name {
			case "hello":
				d = doc().AppendBoolean("isWritablePrimary", true).AppendInt32("maxWireVersion", 25).AppendDouble("ok", 1).Build()
			case "saslStart":
				d = doc().AppendInt32("conversationId", 1).AppendBoolean("done", false).
					AppendBinary("payload", 0, []byte("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")).AppendDouble("ok", 1).Build()
			case "saslContinue":
				d = doc().AppendInt32("conversationId", 1).AppendBoolean("done", true).
					AppendBinary("payload", 0, []byte("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")).AppendDouble("ok", 1).Build()
			case "find":
				d = doc().AppendDocument("cursor", doc().AppendArray("firstBatch", bsoncore.NewArrayBuilder().
					AppendDocument(doc().AppendInt32("_id", 1).AppendString("item", "widget-7").Build()).Build()).
					AppendInt64("id", 0).AppendString("ns", "shop.orders").Build()).AppendDouble("ok", 1).Build()
			case "insert":
				n, dup := 0, -1
				for i, s := range sequence(body) {
					v, err := bsoncore.Document(s).LookupErr("_id")
					if err == nil && seen[v.Int32()] {
						dup = i
						break
					}
					if err == nil {
						seen[v.Int32()] = true
					}
					n++
				}
				b := doc().AppendInt32("n", int32(n))
				if dup >= 0 {
					b.AppendArray("writeErrors", bsoncore.NewArrayBuilder().AppendDocument(doc().AppendInt32("index", int32(dup)).
						AppendInt32("code", 11000).AppendString("errmsg", "E11000 duplicate key error collection: shop.orders index: _id_").Build()).Build())
				}
				d = b.AppendDouble("ok", 1).Build()
			case "aggregate":
				d = doc().AppendDouble("ok", 0).AppendString("errmsg", "Unrecognized pipeline stage name: '$bogus'").
					AppendInt32("code", 40324).AppendString("codeName", "UnrecognizedPipelineStage").Build()
			default:
				d = doc().AppendDouble("ok", 0).AppendString("errmsg", "no such command: '"+name+"'").
					AppendInt32("code", 59).AppendString("codeName", "CommandNotFound").Build()
			}
			reply = mongoMsg(id, reqID, flags&1, d, nil, false)
		default:
			return
		}
		c.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

// sequence returns the documents of an OP_MSG's kind-1 section.
func sequence(body []byte) [][]byte {
	b := body[4:]
	var out [][]byte
	for len(b) > 5 {
		kind := b[0]
		b = b[1:]
		n := int(binary.LittleEndian.Uint32(b))
		if n > len(b) || n < 4 {
			return out
		}
		if kind == 1 {
			s := b[4:n]
			if i := bytes.IndexByte(s, 0); i >= 0 {
				s = s[i+1:]
			}
			for len(s) >= 5 {
				l := int(binary.LittleEndian.Uint32(s))
				if l < 5 || l > len(s) {
					break
				}
				out = append(out, s[:l])
				s = s[l:]
			}
		}
		b = b[n:]
	}
	return out
}

func runMongo(client, server string) error {
	ln, err := net.Listen("tcp", server)
	if err != nil {
		return err
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err == nil {
			mongoServe(c)
		}
	}()
	c, err := dialFrom(client, server)
	if err != nil {
		return err
	}
	id := int32(1)
	send := func(m []byte, reply bool) error {
		c.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := c.Write(m); err != nil {
			return err
		}
		id++
		if !reply {
			return nil
		}
		_, _, _, _, err := readMongo(c)
		return err
	}
	// The legacy handshake, as drivers still send it first.
	q := binary.LittleEndian.AppendUint32(nil, 0)
	q = append(q, "admin.$cmd\x00"...)
	q = binary.LittleEndian.AppendUint32(q, 0)
	q = binary.LittleEndian.AppendUint32(q, uint32(0xffffffff))
	q = append(q, doc().AppendInt32("isMaster", 1).AppendDocument("client", doc().
		AppendDocument("driver", doc().AppendString("name", "rpcgen").AppendString("version", "1.0").Build()).Build()).
		AppendArray("compression", bsoncore.NewArrayBuilder().AppendString("zlib").Build()).Build()...)
	insert := func(ordered bool, wc int32) []byte {
		b := doc().AppendString("insert", "orders").AppendBoolean("ordered", ordered)
		if wc >= 0 {
			b.AppendDocument("writeConcern", doc().AppendInt32("w", wc).Build())
		}
		return b.AppendString("$db", "shop").Build()
	}
	docs := func(ids ...int32) [][]byte {
		var seq [][]byte
		for _, i := range ids {
			seq = append(seq, doc().AppendInt32("_id", i).AppendString("item", fmt.Sprintf("widget-%d", i)).AppendInt32("qty", 2).Build())
		}
		return seq
	}
	steps := []struct {
		m     []byte
		reply bool
	}{
		{mongoHeader(id, 0, 2004, q), true},
		{mongoMsg(id+1, 0, 0, doc().AppendInt32("hello", 1).AppendString("$db", "admin").Build(), nil, false), true},
		{mongoMsg(id+2, 0, 0, doc().AppendInt32("saslStart", 1).AppendString("mechanism", "SCRAM-SHA-256").
			AppendBinary("payload", 0, []byte("n,,n=app,r=fyko+d2lbbFgONRv9qkxdawL")).AppendString("$db", "admin").Build(), nil, false), true},
		{mongoMsg(id+3, 0, 0, doc().AppendInt32("saslContinue", 1).AppendInt32("conversationId", 1).
			AppendBinary("payload", 0, []byte("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")).AppendString("$db", "admin").Build(), nil, false), true},
		{mongoMsg(id+4, 0, 0, doc().AppendString("find", "orders").AppendDocument("filter", doc().AppendString("item", "widget-7").Build()).
			AppendString("comment", "traceparent='"+MongoTrace+"'").AppendString("$db", "shop").Build(), nil, false), true},
		{mongoMsg(id+5, 0, 1, insert(true, -1), docs(1, 2), false), true},
		{mongoMsg(id+6, 0, 0, insert(true, -1), docs(2), false), true},
		{mongoMsg(id+7, 0, 2, insert(false, 0), docs(3), false), false},
		{mongoMsg(id+8, 0, 0, doc().AppendString("aggregate", "orders").AppendArray("pipeline", bsoncore.NewArrayBuilder().
			AppendDocument(doc().AppendDocument("$bogus", doc().Build()).Build()).Build()).
			AppendDocument("cursor", doc().Build()).AppendString("$db", "shop").Build(), nil, false), true},
		{mongoMsg(id+9, 0, 0, doc().AppendString("find", "orders").AppendDocument("filter", doc().Build()).
			AppendString("comment", "x-request-id=mongo-req-1").AppendString("$db", "shop").Build(), nil, true), true},
		{mongoMsg(id+10, 0, 0, doc().AppendInt32("frobnicate", 1).AppendString("$db", "shop").Build(), nil, false), true},
	}
	for i, s := range steps {
		if err := send(s.m, s.reply); err != nil {
			return fmt.Errorf("mongo step %d: %w", i+1, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	<-done
	fmt.Printf("mongo: %d messages sent\n", len(steps))
	return nil
}

// --- Dubbo -----------------------------------------------------------------

// hstr appends a Hessian 2 string.
func hstr(b []byte, s string) []byte {
	n := len([]rune(s))
	switch {
	case n <= 31:
		b = append(b, byte(n))
	case n <= 1023:
		b = append(b, 0x30+byte(n>>8), byte(n))
	default:
		b = append(b, 'S', byte(n>>8), byte(n))
	}
	return append(b, s...)
}

// dubboFrame frames a Dubbo message.
func dubboFrame(flag, status byte, id uint64, body []byte) []byte {
	b := []byte{0xda, 0xbb, flag, status}
	b = binary.BigEndian.AppendUint64(b, id)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	return append(b, body...)
}

func readDubbo(r *bufio.Reader, c net.Conn) (flag, status byte, id uint64, body []byte, err error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	var h [16]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	if h[0] != 0xda || h[1] != 0xbb {
		return 0, 0, 0, nil, errors.New("bad magic")
	}
	n := binary.BigEndian.Uint32(h[12:])
	if n > 1<<20 {
		return 0, 0, 0, nil, fmt.Errorf("body length %d", n)
	}
	body = make([]byte, n)
	_, err = io.ReadFull(r, body)
	return h[2], h[3], binary.BigEndian.Uint64(h[4:]), body, err
}

// hreader reads the short strings and string maps this program writes.
type hreader struct {
	b   []byte
	err error
}

func (r *hreader) str() string {
	if r.err != nil || len(r.b) == 0 {
		r.err = errors.New("short body")
		return ""
	}
	c := r.b[0]
	n, off := 0, 0
	switch {
	case c <= 0x1f:
		n, off = int(c), 1
	case c >= 0x30 && c <= 0x33 && len(r.b) >= 2:
		n, off = int(c-0x30)<<8|int(r.b[1]), 2
	case c == 'S' && len(r.b) >= 3:
		n, off = int(binary.BigEndian.Uint16(r.b[1:])), 3
	default:
		r.err = fmt.Errorf("not a string: %#x", c)
		return ""
	}
	s := []rune(string(r.b[off:min(len(r.b), off+4*n)]))
	if len(s) < n {
		r.err = errors.New("short string")
		return ""
	}
	v := string(s[:n])
	r.b = r.b[off+len(v):]
	return v
}

// call is one Dubbo invocation as the provider reads it.
type call struct {
	service, method string
	args            []string
	att             map[string]string
}

func parseCall(body []byte) (call, error) {
	r := &hreader{b: body}
	r.str() // dubbo version
	c := call{service: r.str()}
	r.str() // service version
	c.method = r.str()
	desc := r.str()
	for range strings.Count(desc, ";") {
		c.args = append(c.args, r.str())
	}
	if r.err != nil || len(r.b) == 0 || r.b[0] != 'H' {
		return c, fmt.Errorf("request body: %v", r.err)
	}
	r.b = r.b[1:]
	c.att = map[string]string{}
	for r.err == nil && len(r.b) > 0 && r.b[0] != 'Z' {
		k := r.str()
		c.att[k] = r.str()
	}
	return c, r.err
}

// traceHeaders are the trace context names passed along, as HTTP headers
// and as Dubbo attachments.
var traceHeaders = []string{"traceparent", "sw8"}

// nextHop returns the context a service sends downstream: the same trace
// with its own span id (hop names the span).
func nextHop(name, v, hop string) string {
	switch name {
	case "traceparent":
		p := strings.Split(v, "-")
		if len(p) == 4 {
			return p[0] + "-" + p[1] + "-" + hop + "-" + p[3]
		}
	case "sw8":
		p := strings.Split(v, "-")
		if len(p) == 8 {
			p[2] = base64.StdEncoding.EncodeToString([]byte("segment-" + hop))
			p[3] = "1"
			return strings.Join(p, "-")
		}
	}
	return v
}

func sw8(trace, segment, service, endpoint, peer string) string {
	e := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return strings.Join([]string{"1", e(trace), e(segment), "0", e(service), e(service + "@10.241.4.1"), e(endpoint), e(peer)}, "-")
}

func runDubbo(client, front, provider, backend string) error {
	httpClient := func(from string) *http.Client {
		return &http.Client{Timeout: timeout, Transport: &http.Transport{
			DialContext:       (&net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext,
			DisableKeepAlives: false, MaxIdleConnsPerHost: 1,
		}}
	}
	frontIP, _, _ := net.SplitHostPort(front)
	provIP, _, _ := net.SplitHostPort(provider)

	// Backend: an HTTP server.
	bln, err := net.Listen("tcp", backend)
	if err != nil {
		return err
	}
	bsrv := &http.Server{ReadTimeout: timeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"sku\":%q,\"stock\":7}\n", strings.TrimPrefix(r.URL.Path, "/stock/"))
	})}
	go bsrv.Serve(bln)
	defer bsrv.Close()

	// Provider: a Dubbo server.
	pln, err := net.Listen("tcp", provider)
	if err != nil {
		return err
	}
	defer pln.Close()
	toBackend := httpClient(provIP)
	go func() {
		for {
			c, err := pln.Accept()
			if err != nil {
				return
			}
			go dubboServe(c, toBackend, backend)
		}
	}()

	// Front: an HTTP server calling the provider over one Dubbo connection.
	fln, err := net.Listen("tcp", front)
	if err != nil {
		return err
	}
	dc, err := dialFrom(frontIP, provider)
	if err != nil {
		return err
	}
	defer dc.Close()
	dr := bufio.NewReader(dc)
	reqID := uint64(1000)
	invoke := func(method, arg string, att map[string]string) (status byte, result byte, err error) {
		reqID++
		b := hstr(nil, "2.0.2")
		b = hstr(b, "shop.api.OrderService")
		b = hstr(b, "1.0.0")
		b = hstr(b, method)
		b = hstr(b, "Ljava/lang/String;")
		b = hstr(b, arg)
		b = append(b, 'H')
		for _, k := range []string{"path", "interface", "version", "traceparent", "sw8", "group"} {
			if v := att[k]; v != "" {
				b = hstr(hstr(b, k), v)
			}
		}
		b = append(b, 'Z')
		dc.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := dc.Write(dubboFrame(0xc2, 0, reqID, b)); err != nil {
			return 0, 0, err
		}
		_, st, id, body, err := readDubbo(dr, dc)
		if err != nil || id != reqID || len(body) == 0 {
			return 0, 0, fmt.Errorf("dubbo reply %d: %v", id, err)
		}
		return st, body[0], nil
	}
	fsrv := &http.Server{ReadTimeout: timeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		att := map[string]string{"path": "shop.api.OrderService", "interface": "shop.api.OrderService", "version": "1.0.0", "group": "blue"}
		for _, h := range traceHeaders {
			if v := r.Header.Get(h); v != "" {
				att[h] = nextHop(h, v, "00f067aa0ba90201")
			}
		}
		method := "getOrder"
		if r.URL.Path == "/api/fail" {
			method = "failOrder"
		}
		st, res, err := invoke(method, strings.TrimPrefix(r.URL.Path, "/api/orders/"), att)
		if err != nil || st != 20 || res == 0x93 { // 3: exception with attachments
			http.Error(w, "upstream failed", http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, `{"ok":true}`)
	})}
	go fsrv.Serve(fln)
	defer fsrv.Close()

	// A heartbeat first, as Dubbo consumers send on idle connections.
	dc.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := dc.Write(dubboFrame(0xe2, 0, 999, []byte{'N'})); err != nil {
		return err
	}
	if _, _, _, _, err := readDubbo(dr, dc); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}

	cl := httpClient(client)
	for i, r := range []struct {
		path, header, value string
		want                int
	}{
		{"/api/orders/42", "traceparent", "00-" + Trace1 + "-00f067aa0ba90101-01", 200},
		{"/api/orders/43", "sw8", sw8(Trace2, "segment-client", "web", "/api/orders/43", front), 200},
		{"/api/fail", "traceparent", "00-" + Trace3 + "-00f067aa0ba90103-01", 502},
	} {
		req, _ := http.NewRequest("GET", "http://"+front+r.path, nil)
		req.Header.Set(r.header, r.value)
		resp, err := cl.Do(req)
		if err != nil {
			return fmt.Errorf("request %d: %w", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != r.want {
			return fmt.Errorf("request %d: status %d, want %d", i+1, resp.StatusCode, r.want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cl.CloseIdleConnections()
	toBackend.CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	fmt.Println("dubbo: 3 requests made")
	return nil
}

// dubboServe is the provider's side of one connection.
func dubboServe(c net.Conn, hc *http.Client, backend string) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		flag, _, id, body, err := readDubbo(r, c)
		if err != nil {
			return
		}
		var reply []byte
		switch {
		case flag&0x20 != 0: // heartbeat
			reply = dubboFrame(0x22, 20, id, []byte{'N'})
		default:
			call, err := parseCall(body)
			if err != nil {
				reply = dubboFrame(0x02, 40, id, hstr(nil, err.Error()))
				break
			}
			if call.method == "failOrder" {
				b := []byte{0x93, 'C'} // exception with attachments, class definition
				b = hstr(b, "java.lang.IllegalStateException")
				b = append(b, 0x92)
				b = hstr(hstr(b, "detailMessage"), "cause")
				b = append(b, 0x60)
				b = hstr(b, "order service unavailable")
				b = append(b, 'N', 'H')
				b = hstr(hstr(b, "dubbo"), "2.0.2")
				reply = dubboFrame(0x02, 20, id, append(b, 'Z'))
				break
			}
			req, _ := http.NewRequest("GET", "http://"+backend+"/stock/"+call.args[0], nil)
			for _, h := range traceHeaders {
				if v := call.att[h]; v != "" {
					req.Header.Set(h, nextHop(h, v, "00f067aa0ba90301"))
				}
			}
			resp, err := hc.Do(req)
			if err != nil {
				reply = dubboFrame(0x02, 70, id, hstr(nil, err.Error()))
				break
			}
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			b := append([]byte{0x94}, hstr(nil, strings.TrimSpace(string(data)))...) // value with attachments
			b = append(b, 'H')
			b = hstr(hstr(b, "dubbo"), "2.0.2")
			reply = dubboFrame(0x02, 20, id, append(b, 'Z'))
		}
		c.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}
