package main

// The NATS scenario (testdata/gen/accuracy_nats.sh): one hop through a
// broker. The load generator calls the publisher P over HTTP; P publishes
// each order to NATS (subject orders.created), or makes a request
// (subject stock.check) and waits for the reply, with a traceparent header
// that continues the inbound request's trace when it had one, else starts
// one. The consumer C handles each message: it calls the downstream
// service D over HTTP with the message's trace id and, for a request,
// replies. Every service logs its exchanges (natsRecord); the payload of
// each message is unique, so the message is known on the wire by its
// subject and payload digest.

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// natsRecord is one line of a NATS scenario service's log.
type natsRecord struct {
	Svc    string `json:"svc"`
	Kind   string `json:"kind"`             // http-in, http-out, pub, deliver, reply, reply-deliver
	ID     string `json:"id"`               // unique in the run
	Parent string `json:"parent,omitempty"` // the exchange it was made for
	Client string `json:"client,omitempty"` // HTTP: the connection's ends
	Server string `json:"server,omitempty"`
	Idx    int    `json:"idx"`             // HTTP: the request's index on the connection
	Link   string `json:"link,omitempty"`  // NATS: "nats:<subject>:<payload digest>"
	Keyed  bool   `json:"keyed,omitempty"` // the parent's trace id is on the wire with it
	Host   string `json:"host,omitempty"`  // NATS: the client's address
}

// fnvHex is FNV-1a 64 in 16 hex digits, as protocols/nats digests payloads.
func fnvHex(b []byte) string {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return fmt.Sprintf("%016x", h)
}

type natsService struct {
	role  string
	seq   atomic.Int64
	logMu sync.Mutex
	logW  *bufio.Writer
	nc    *nats.Conn
	host  string // the NATS connection's local address
	down  string
	hc    *http.Client
	idx   sync.Map // outbound HTTP requests per local address
	wg    sync.WaitGroup
}

func (s *natsService) id() string { return s.role + "-" + strconv.FormatInt(s.seq.Add(1), 10) }

func (s *natsService) log(r *natsRecord) {
	r.Svc = s.role
	b, _ := json.Marshal(r)
	s.logMu.Lock()
	s.logW.Write(append(b, '\n'))
	s.logMu.Unlock()
}

func newSpanID() string {
	var b [8]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newTraceID() string {
	var b [16]byte
	crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// traceIDOf returns the trace id of a traceparent value, or "".
func traceIDOf(tp string) string {
	p := strings.Split(tp, "-")
	if len(p) != 4 || len(p[1]) != 32 {
		return ""
	}
	return p[1]
}

func natsServeMain(args []string) error {
	fs := flag.NewFlagSet("natsserve", flag.ContinueOnError)
	role := fs.String("role", "pub", "pub, consumer or down")
	listen := fs.String("listen", "", "HTTP listen address (pub, down)")
	natsURL := fs.String("nats", "", "NATS URL (pub, consumer)")
	down := fs.String("down", "", "D's base URL (consumer)")
	logPath := fs.String("log", "", "ground-truth log file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Create(*logPath)
	if err != nil {
		return err
	}
	defer f.Close()
	log.SetFlags(0)
	log.SetPrefix("accuracy " + *role + ": ")
	s := &natsService{role: *role, logW: bufio.NewWriter(f), down: *down}
	s.hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}}
	if *natsURL != "" {
		var local string
		dialer := &net.Dialer{Timeout: 5 * time.Second}
		s.nc, err = nats.Connect(*natsURL, nats.Name("acc-"+*role), nats.NoReconnect(),
			nats.SetCustomDialer(dialerFunc(func(network, addr string) (net.Conn, error) {
				c, err := dialer.Dial(network, addr)
				if err == nil {
					local = c.LocalAddr().(*net.TCPAddr).IP.String()
				}
				return c, err
			})))
		if err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		s.host = local
	}
	if *role == "consumer" {
		for _, subj := range []string{"orders.created", "stock.check"} {
			if _, err := s.nc.QueueSubscribe(subj, "workers", s.consume); err != nil {
				return err
			}
		}
		if err := s.nc.Flush(); err != nil {
			return err
		}
	}
	stop := func() {
		s.wg.Wait()
		if s.nc != nil {
			s.nc.Drain()
			time.Sleep(200 * time.Millisecond)
		}
		s.logMu.Lock()
		s.logW.Flush()
		f.Sync()
		os.Exit(0)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		stop()
	}()
	log.Printf("ready")
	if *listen == "" {
		select {}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, &connCount{})
		}}
	return srv.Serve(ln)
}

type dialerFunc func(network, addr string) (net.Conn, error)

func (d dialerFunc) Dial(network, addr string) (net.Conn, error) { return d(network, addr) }

// ServeHTTP: P publishes or requests; D answers.
func (s *natsService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cc := r.Context().Value(connKey{}).(*connCount)
	local := r.Context().Value(http.LocalAddrContextKey).(net.Addr).String()
	in := &natsRecord{Kind: "http-in", ID: s.id(), Client: r.RemoteAddr, Server: local, Idx: int(cc.n.Add(1) - 1)}
	s.log(in)
	code := http.StatusOK
	if s.role == "pub" {
		s.wg.Add(1)
		if err := s.publish(r, in); err != nil {
			log.Printf("publish: %v", err)
			code = http.StatusBadGateway
		}
		s.wg.Done()
	}
	w.Header().Set("Content-Length", "12")
	w.WriteHeader(code)
	io.WriteString(w, `{"ok":true}`+"\n")
}

// publish sends the order to NATS, continuing the inbound trace.
func (s *natsService) publish(r *http.Request, in *natsRecord) error {
	tid := traceIDOf(r.Header.Get("traceparent"))
	keyed := tid != ""
	if !keyed {
		tid = newTraceID()
	}
	subj := "orders.created"
	if r.URL.Query().Get("mode") == "req" {
		subj = "stock.check"
	}
	m := nats.NewMsg(subj)
	m.Header.Set("traceparent", "00-"+tid+"-"+newSpanID()+"-01")
	m.Data = []byte(fmt.Sprintf(`{"order":%q}`, in.ID))
	pub := &natsRecord{Kind: "pub", ID: s.id(), Parent: in.ID, Link: "nats:" + subj + ":" + fnvHex(m.Data), Keyed: keyed, Host: s.host}
	if subj == "orders.created" {
		s.log(pub)
		return s.nc.PublishMsg(m)
	}
	s.log(pub)
	reply, err := s.nc.RequestMsg(m, 5*time.Second)
	if err != nil {
		return err
	}
	s.log(&natsRecord{Kind: "reply-deliver", ID: s.id(), Link: "nats:" + reply.Subject + ":" + fnvHex(reply.Data), Host: s.host, Keyed: true})
	return nil
}

// consume handles a delivered message: it calls D and, for a request,
// replies.
func (s *natsService) consume(m *nats.Msg) {
	s.wg.Add(1)
	defer s.wg.Done()
	del := &natsRecord{Kind: "deliver", ID: s.id(), Link: "nats:" + m.Subject + ":" + fnvHex(m.Data), Host: s.host, Keyed: true}
	s.log(del)
	tid := traceIDOf(m.Header.Get("traceparent"))
	req, _ := http.NewRequest("GET", s.down+"/stock", nil)
	req.Header.Set("traceparent", "00-"+tid+"-"+newSpanID()+"-01")
	out := &natsRecord{Kind: "http-out", ID: s.id(), Parent: del.ID, Keyed: tid != ""}
	req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		out.Client, out.Server = ci.Conn.LocalAddr().String(), ci.Conn.RemoteAddr().String()
		v, _ := s.idx.LoadOrStore(out.Client, &connCount{})
		out.Idx = int(v.(*connCount).n.Add(1) - 1)
	}}))
	resp, err := s.hc.Do(req)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if out.Client != "" {
		s.log(out)
	}
	if m.Reply != "" {
		r := nats.NewMsg(m.Reply)
		r.Header.Set("traceparent", "00-"+tid+"-"+newSpanID()+"-01")
		r.Data = []byte(fmt.Sprintf(`{"reply_to":%q}`, string(m.Data)))
		s.log(&natsRecord{Kind: "reply", ID: s.id(), Parent: del.ID, Link: "nats:" + m.Reply + ":" + fnvHex(r.Data), Host: s.host, Keyed: true})
		m.RespondMsg(r)
	}
}

// natsLoadMain sends requests to P: each picks publish or request, and
// whether it carries a traceparent.
func natsLoadMain(args []string) error {
	fs := flag.NewFlagSet("natsload", flag.ContinueOnError)
	target := fs.String("target", "", "P's base URL")
	conc := fs.Int("c", 1, "concurrent clients")
	total := fs.Int("n", 100, "requests in all")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for i := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(*seed, uint64(i)))
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for next.Add(1) <= int64(*total) {
				mode := "pub"
				if rng.IntN(2) == 0 {
					mode = "req"
				}
				req, _ := http.NewRequest("GET", *target+"/order?mode="+mode, nil)
				if rng.IntN(2) == 0 {
					req.Header.Set("traceparent", fmt.Sprintf("00-%016x%016x-%016x-01", rng.Uint64()|1, rng.Uint64(), rng.Uint64()|1))
				}
				resp, err := c.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("natsload: %d requests, %d clients, %d failed\n", *total, *conc, failed.Load())
	if failed.Load() > 0 {
		return fmt.Errorf("%d requests failed", failed.Load())
	}
	return nil
}
