package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
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

	"github.com/go-sql-driver/mysql"
)

// server is one backend: an HTTP server whose handlers hand each request
// to a fixed pool of worker goroutines; each worker owns one MariaDB and
// one Redis connection. A calls B over a shared keep-alive transport.
type server struct {
	role   string
	peer   string // B's base URL (role a)
	jobs   chan *job
	client *http.Client
	logMu  sync.Mutex
	logW   *bufio.Writer
	seq    atomic.Int64
	ffWG   sync.WaitGroup
	// httpIdx counts requests per outbound HTTP connection (key: local addr).
	httpIdx sync.Map
	workers []*worker
}

type job struct {
	in   *record
	r    *http.Request
	done chan int
}

// worker owns its database connections, so the order of the calls on each
// is known exactly.
type worker struct {
	s     *server
	db    *sql.DB
	dbc   connInfo // the MariaDB connection's ends
	dbIdx int
	rc    *redisConn
	mu    sync.Mutex // held around each call (fire-and-forget calls share the worker)
}

type connInfo struct{ local, remote string }

type connKey struct{}

type connCount struct{ n atomic.Int64 }

func serveMain(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	role := fs.String("role", "a", "a or b")
	listen := fs.String("listen", ":8080", "HTTP listen address")
	peer := fs.String("peer", "", "B's base URL (role a)")
	mariaAddr := fs.String("mariadb", "", "MariaDB addr:port")
	mariaUser := fs.String("mariadb-user", "acc:acc", "MariaDB user:password")
	redisAddr := fs.String("redis", "", "Redis addr:port")
	nworkers := fs.Int("workers", 4, "worker goroutines")
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
	s := &server{role: *role, peer: *peer, jobs: make(chan *job), logW: bufio.NewWriter(f)}
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
	for i := range *nworkers {
		w := &worker{s: s}
		netName := fmt.Sprintf("acc%s%d", *role, i)
		mysql.RegisterDialContext(netName, func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				w.dbc = connInfo{c.LocalAddr().String(), c.RemoteAddr().String()}
			}
			return c, err
		})
		db, err := sql.Open("mysql", fmt.Sprintf("%s@%s(%s)/acc?timeout=5s", *mariaUser, netName, *mariaAddr))
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("mariadb: %w", err)
		}
		w.db = db
		// The handshake and the ping are the connection's first two exchanges.
		s.log(&record{Dir: "out", Proto: "mysql", Client: w.dbc.local, Server: w.dbc.remote, Idx: 0, ID: s.id(), Setup: true, Name: "CONNECT"})
		s.log(&record{Dir: "out", Proto: "mysql", Client: w.dbc.local, Server: w.dbc.remote, Idx: 1, ID: s.id(), Setup: true, Name: "PING"})
		w.dbIdx = 2
		if w.rc, err = dialRedis(*redisAddr); err != nil {
			return err
		}
		s.workers = append(s.workers, w)
		go w.loop()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, &connCount{})
		},
	}
	log.Printf("ready, listening on %s", *listen)
	go func() {
		// On SIGTERM or SIGINT: wait for fire-and-forget calls, flush the
		// log, exit.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		s.ffWG.Wait()
		s.logMu.Lock()
		s.logW.Flush()
		f.Sync()
		os.Exit(0)
	}()
	return srv.Serve(ln)
}

func (s *server) id() string { return s.role + "-" + strconv.FormatInt(s.seq.Add(1), 10) }

func (s *server) log(r *record) {
	r.Svc = s.role
	b, _ := json.Marshal(r)
	s.logMu.Lock()
	s.logW.Write(append(b, '\n'))
	s.logMu.Unlock()
}

// ServeHTTP logs the inbound exchange and hands the request to a worker.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cc := r.Context().Value(connKey{}).(*connCount)
	local := r.Context().Value(http.LocalAddrContextKey).(net.Addr).String()
	in := &record{Dir: "in", Proto: "http", Client: r.RemoteAddr, Server: local,
		Idx: int(cc.n.Add(1) - 1), ID: s.id(), RID: r.Header.Get("X-Request-ID"), Name: r.Method + " " + r.URL.Path}
	s.log(in)
	j := &job{in: in, r: r, done: make(chan int, 1)}
	s.jobs <- j
	code := <-j.done
	body := []byte(`{"ok":true}` + "\n")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	w.Write(body)
	w.(http.Flusher).Flush()
	q := r.URL.Query()
	if s.role == "a" && q.Get("ff") == "1" {
		// Fire-and-forget: after the response is on the wire.
		s.ffWG.Add(1)
		go func() {
			defer s.ffWG.Done()
			time.Sleep(2 * time.Millisecond)
			wk := s.workers[int(s.seq.Load())%len(s.workers)]
			if q.Get("ffhttp") == "1" {
				s.callB(context.Background(), in, "/b/notify", q.Get("bkey") == "1", true, "0")
			} else {
				wk.redis(in, true, "INCR", "acc:ff")
			}
		}()
	}
}

func (w *worker) loop() {
	for j := range w.s.jobs {
		j.done <- w.handle(j)
	}
}

// handle runs a request's calls; the query string chooses which and
// whether each carries the request id on the wire.
func (w *worker) handle(j *job) int {
	q := j.r.URL.Query()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	rid := j.in.RID
	code := http.StatusOK
	if _, err := w.redis(j.in, false, "GET", "acc:item"); err != nil {
		log.Print(err)
		code = 500
	}
	if err := w.query(ctx, j.in, q.Get("dbkey") == "1" && rid != "", "SELECT COUNT(*) FROM items"); err != nil {
		log.Print(err)
		code = 500
	}
	if w.s.role == "a" && q.Get("b") == "1" {
		if err := w.s.callB(ctx, j.in, "/b/work", q.Get("bkey") == "1", false, q.Get("dbkey")); err != nil {
			log.Print(err)
			code = 502
		}
	}
	if w.s.role == "b" {
		if _, err := w.redis(j.in, false, "SET", "acc:item", "x"); err != nil {
			log.Print(err)
			code = 500
		}
	}
	return code
}

// query runs a text query (no arguments: one COM_QUERY exchange), with a
// sqlcommenter comment carrying the request id when keyed.
func (w *worker) query(ctx context.Context, in *record, keyed bool, q string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	rec := &record{Dir: "out", Proto: "mysql", Client: w.dbc.local, Server: w.dbc.remote, Idx: w.dbIdx,
		ID: w.s.id(), Parent: in.ID, Keyed: keyed, Name: "SELECT"}
	if keyed {
		q += " /*action='count',x_request_id='" + in.RID + "'*/"
		rec.RID = in.RID
	}
	w.dbIdx++
	w.s.log(rec)
	var n int
	return w.db.QueryRowContext(ctx, q).Scan(&n)
}

func (w *worker) redis(in *record, ff bool, args ...string) (any, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rec := &record{Dir: "out", Proto: "redis", Client: w.rc.local, Server: w.rc.remote, Idx: w.rc.idx,
		ID: w.s.id(), Parent: in.ID, FF: ff, Name: args[0]}
	w.rc.idx++
	w.s.log(rec)
	return w.rc.do(args...)
}

// callB calls B, propagating X-Request-ID when keyed.
func (s *server) callB(ctx context.Context, in *record, path string, keyed, ff bool, dbkey string) error {
	rec := &record{Dir: "out", Proto: "http", ID: s.id(), Parent: in.ID, FF: ff, Name: "GET " + path}
	req, err := http.NewRequestWithContext(ctx, "GET", s.peer+path+"?dbkey="+dbkey, nil)
	if err != nil {
		return err
	}
	if keyed && in.RID != "" {
		req.Header.Set("X-Request-ID", in.RID)
		rec.Keyed, rec.RID = true, in.RID
	}
	trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		rec.Client, rec.Server = ci.Conn.LocalAddr().String(), ci.Conn.RemoteAddr().String()
		v, _ := s.httpIdx.LoadOrStore(rec.Client, &connCount{})
		rec.Idx = int(v.(*connCount).n.Add(1) - 1)
	}}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := s.client.Do(req)
	if rec.Client != "" {
		s.log(rec)
	}
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("B: %s", resp.Status)
	}
	return nil
}

// redisConn is a minimal RESP2 client on one connection.
type redisConn struct {
	c             net.Conn
	r             *bufio.Reader
	local, remote string
	idx           int
}

func dialRedis(addr string) (*redisConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	return &redisConn{c: c, r: bufio.NewReader(c), local: c.LocalAddr().String(), remote: c.RemoteAddr().String()}, nil
}

func (rc *redisConn) do(args ...string) (any, error) {
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	rc.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.c.Write(b); err != nil {
		return nil, err
	}
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redis: empty reply")
	}
	switch line[0] {
	case '-':
		return nil, errors.New("redis: " + line[1:])
	case '$':
		n, _ := strconv.Atoi(line[1:])
		if n >= 0 {
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(rc.r, buf); err != nil {
				return nil, err
			}
			return string(buf[:n]), nil
		}
	}
	return line, nil
}
