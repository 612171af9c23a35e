// Command shop is the toy service behind testdata/gen/scenario.sh, the script
// that records testdata/scenario.pcap: an HTTP service that, for every
// request, talks to MariaDB, PostgreSQL and Redis the way an instrumented
// application does.
//
// Each request (GET /api/orders/{id}, POST /api/checkout, GET /api/slow,
// GET /api/fail) runs, on one connection per database:
//
//   - MariaDB (github.com/go-sql-driver/mysql): a COM_QUERY with a
//     sqlcommenter comment (/*action='…',db_driver='…',route='…',
//     traceparent='00-…',x_request_id='…'*/, keys sorted, values
//     URL-encoded, as sqlcommenter writes them), a COM_QUERY with a
//     free-text comment (/* x-request-id: … */), and a query with an
//     argument, which the driver runs as a server-side prepared statement
//     (COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_CLOSE) whose text carries
//     the sqlcommenter comment.
//   - PostgreSQL (github.com/lib/pq): a query with a sqlcommenter comment and
//     no arguments (simple protocol: Query), and one with an argument
//     (extended protocol: Parse, Bind, Describe, Execute, Sync).
//   - Redis (a small RESP client below): GET, SET, then a pipeline of INCR
//     and EXPIRE written in one segment.
//
// POST /api/checkout also inserts a row through an explicitly prepared
// statement executed twice; GET /api/slow runs SELECT SLEEP(0.3) on MariaDB
// and pg_sleep(0.3) on PostgreSQL; GET /api/fail runs a MariaDB query on a
// missing table (error 1146) and a PostgreSQL division by zero (SQLSTATE
// 22012) and answers 500.
//
// The traceparent of a request is what an APM agent would make for a request
// that arrived without one: a new random trace id (not the X-Request-ID),
// and a new random span id per query. The X-Request-ID set by the gateway is
// copied into every comment and into the JSON answer.
//
// Connections are opened and authenticated at start-up (MariaDB with
// mysql_native_password, PostgreSQL with the cleartext "password" method,
// Redis with AUTH), so a capture started before the service holds the
// handshakes; "ready" is logged when the listener is open.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"
)

func main() {
	var (
		listen   = flag.String("listen", ":8080", "HTTP listen address")
		mariaDSN = flag.String("mariadb", "", "go-sql-driver/mysql DSN")
		pgDSN    = flag.String("postgres", "", "lib/pq connection string")
		redis    = flag.String("redis", "127.0.0.1:6379", "Redis address")
		redisPW  = flag.String("redis-password", "", "Redis AUTH password")
	)
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("shop: ")
	if err := run(*listen, *mariaDSN, *pgDSN, *redis, *redisPW); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run(listen, mariaDSN, pgDSN, redisAddr, redisPW string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	maria, err := openDB(ctx, "mysql", mariaDSN)
	if err != nil {
		return err
	}
	pg, err := openDB(ctx, "postgres", pgDSN)
	if err != nil {
		return err
	}
	rc, err := dialRedis(redisAddr, redisPW)
	if err != nil {
		return err
	}
	if _, err := rc.do("PING"); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	s := &shop{maria: maria, pg: pg, redis: rc}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	log.Printf("ready, listening on %s", listen)
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	return srv.Serve(ln)
}

// openDB opens a pool of exactly one connection, so every query of the
// capture runs on one TCP connection per database, and connects it.
func openDB(ctx context.Context, driver, dsn string) (*sql.DB, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", driver, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("%s: ping: %w", driver, err)
	}
	return db, nil
}

type shop struct {
	maria, pg *sql.DB
	redis     *redisConn
}

// reqInfo is what one HTTP request's queries are tagged with.
type reqInfo struct {
	requestID string // X-Request-ID from the gateway
	traceID   string // the APM's trace id: 32 random hex digits
	route     string // the route pattern, e.g. /api/orders/{id}
	action    string
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sqlcommenter returns the comment sqlcommenter appends to a query for db
// driver drv: keys sorted, each value URL-encoded then single-quoted.
func (ri *reqInfo) sqlcommenter(drv string) string {
	kv := map[string]string{
		"action":      ri.action,
		"db_driver":   drv,
		"route":       ri.route,
		"traceparent": "00-" + ri.traceID + "-" + randHex(8) + "-01",
	}
	if ri.requestID != "" {
		kv["x_request_id"] = ri.requestID
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := strings.ReplaceAll(url.QueryEscape(kv[k]), "+", "%20")
		parts[i] = url.QueryEscape(k) + "='" + strings.ReplaceAll(v, "'", `\'`) + "'"
	}
	return "/*" + strings.Join(parts, ",") + "*/"
}

const (
	mysqlDriver = "go-sql-driver/mysql"
	pqDriver    = "lib/pq"
)

func (s *shop) routes() http.Handler {
	mux := http.NewServeMux()
	handle := func(pattern, action string, f func(context.Context, *reqInfo, *http.Request) (int, any, error)) {
		route := pattern[strings.IndexByte(pattern, ' ')+1:]
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			ri := &reqInfo{requestID: r.Header.Get("X-Request-ID"), traceID: randHex(16), route: route, action: action}
			log.Printf("%s %s x-request-id=%q trace=%s", r.Method, r.URL.Path, ri.requestID, ri.traceID)
			ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
			defer cancel()
			code, body, err := s.common(ctx, ri, r)
			if err == nil {
				code, body, err = f(ctx, ri, r)
			}
			if err != nil {
				log.Printf("  %s: %v", r.URL.Path, err)
				if code == 0 {
					code = http.StatusInternalServerError
				}
				body = map[string]string{"error": "database error", "request_id": ri.requestID}
			}
			writeJSON(w, code, body)
		})
	}
	handle("GET /api/orders/{id}", "get_order", func(ctx context.Context, ri *reqInfo, r *http.Request) (int, any, error) {
		return http.StatusOK, map[string]string{"order_id": r.PathValue("id"), "status": "shipped", "request_id": ri.requestID}, nil
	})
	handle("POST /api/checkout", "checkout", s.checkout)
	handle("GET /api/slow", "slow_report", s.slow)
	handle("GET /api/fail", "broken_report", s.fail)
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _ := json.Marshal(v)
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

// common runs the queries every request makes.
func (s *shop) common(ctx context.Context, ri *reqInfo, r *http.Request) (int, any, error) {
	id := 42
	if v, err := strconv.Atoi(r.PathValue("id")); err == nil {
		id = v
	}
	// MariaDB: sqlcommenter comment, simple query.
	var n int
	if err := s.maria.QueryRowContext(ctx, "SELECT COUNT(*) FROM orders WHERE status = 'shipped' "+ri.sqlcommenter(mysqlDriver)).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("mariadb count: %w", err)
	}
	// MariaDB: free-text comment.
	if _, err := s.maria.ExecContext(ctx, "/* x-request-id: "+ri.requestID+" */ UPDATE orders SET seen = seen + 1 WHERE id = 1"); err != nil {
		return 0, nil, fmt.Errorf("mariadb update: %w", err)
	}
	// MariaDB: an argument makes the driver prepare the statement.
	var status string
	if err := s.maria.QueryRowContext(ctx, "SELECT status FROM orders WHERE id = ? "+ri.sqlcommenter(mysqlDriver), id).Scan(&status); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fmt.Errorf("mariadb order: %w", err)
	}
	// PostgreSQL: simple protocol (no arguments).
	var qty int
	if err := s.pg.QueryRowContext(ctx, "SELECT COALESCE(SUM(qty), 0) FROM stock "+ri.sqlcommenter(pqDriver)).Scan(&qty); err != nil {
		return 0, nil, fmt.Errorf("postgres sum: %w", err)
	}
	// PostgreSQL: extended protocol (one argument).
	var warehouse string
	if err := s.pg.QueryRowContext(ctx, "SELECT warehouse FROM stock WHERE item = $1 "+ri.sqlcommenter(pqDriver), "widget-7").Scan(&warehouse); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, nil, fmt.Errorf("postgres stock: %w", err)
	}
	// Redis: GET, SET, then INCR and EXPIRE pipelined.
	key := "shop:order:" + strconv.Itoa(id)
	if _, err := s.redis.do("GET", key); err != nil {
		return 0, nil, fmt.Errorf("redis get: %w", err)
	}
	if _, err := s.redis.do("SET", key, status); err != nil {
		return 0, nil, fmt.Errorf("redis set: %w", err)
	}
	if _, err := s.redis.pipeline([][]string{{"INCR", "shop:hits"}, {"EXPIRE", "shop:hits", "3600"}}); err != nil {
		return 0, nil, fmt.Errorf("redis pipeline: %w", err)
	}
	return 0, nil, nil
}

func (s *shop) checkout(ctx context.Context, ri *reqInfo, r *http.Request) (int, any, error) {
	var req struct {
		OrderID int    `json:"order_id"`
		Item    string `json:"item"`
		Qty     int    `json:"qty"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.Item == "" || req.Qty <= 0 {
		return http.StatusBadRequest, map[string]string{"error": "bad checkout request", "request_id": ri.requestID}, nil
	}
	// An explicitly prepared statement executed twice: PREPARE, EXECUTE
	// INSERT, EXECUTE INSERT, then COM_STMT_CLOSE.
	stmt, err := s.maria.PrepareContext(ctx, "INSERT INTO order_lines (order_id, item, qty) VALUES (?, ?, ?) "+ri.sqlcommenter(mysqlDriver))
	if err != nil {
		return 0, nil, err
	}
	defer stmt.Close()
	for i := range 2 {
		if _, err := stmt.ExecContext(ctx, req.OrderID, req.Item, req.Qty+i); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, map[string]any{"order_id": req.OrderID, "status": "confirmed", "request_id": ri.requestID}, nil
}

func (s *shop) slow(ctx context.Context, ri *reqInfo, r *http.Request) (int, any, error) {
	if _, err := s.maria.ExecContext(ctx, "SELECT SLEEP(0.3) "+ri.sqlcommenter(mysqlDriver)); err != nil {
		return 0, nil, err
	}
	if _, err := s.pg.ExecContext(ctx, "SELECT pg_sleep(0.3) "+ri.sqlcommenter(pqDriver)); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"report": "done", "request_id": ri.requestID}, nil
}

func (s *shop) fail(ctx context.Context, ri *reqInfo, r *http.Request) (int, any, error) {
	_, err1 := s.maria.ExecContext(ctx, "SELECT * FROM missing_table "+ri.sqlcommenter(mysqlDriver))
	_, err2 := s.pg.ExecContext(ctx, "SELECT 1/0 "+ri.sqlcommenter(pqDriver))
	if err1 == nil || err2 == nil {
		return 0, nil, fmt.Errorf("fail: the failing queries succeeded (%v, %v)", err1, err2)
	}
	return http.StatusInternalServerError, nil, fmt.Errorf("%v; %v", err1, err2)
}

// redisConn is a minimal RESP2 client on one connection: commands are
// arrays of bulk strings, replies are read whole.
type redisConn struct {
	mu sync.Mutex
	c  net.Conn
	r  *bufio.Reader
}

func dialRedis(addr, password string) (*redisConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	rc := &redisConn{c: c, r: bufio.NewReader(c)}
	if password != "" {
		if _, err := rc.do("AUTH", password); err != nil {
			c.Close()
			return nil, fmt.Errorf("redis: AUTH: %w", err)
		}
	}
	return rc, nil
}

func (rc *redisConn) do(args ...string) (any, error) {
	replies, err := rc.pipeline([][]string{args})
	if err != nil {
		return nil, err
	}
	return replies[0], nil
}

// pipeline writes every command in one write, then reads one reply each.
// A Redis error reply is returned as an error.
func (rc *redisConn) pipeline(cmds [][]string) ([]any, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var b []byte
	for _, args := range cmds {
		b = fmt.Appendf(b, "*%d\r\n", len(args))
		for _, a := range args {
			b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	rc.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.c.Write(b); err != nil {
		return nil, err
	}
	out := make([]any, len(cmds))
	var firstErr error
	for i := range cmds {
		v, err := rc.read()
		if err != nil {
			return nil, err
		}
		if e, ok := v.(redisError); ok && firstErr == nil {
			firstErr = e
		}
		out[i] = v
	}
	return out, firstErr
}

type redisError string

func (e redisError) Error() string { return string(e) }

func (rc *redisConn) read() (any, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redis: empty reply line")
	}
	switch line[0] {
	case '+':
		return line[1:], nil
	case '-':
		return redisError(line[1:]), nil
	case ':':
		return strconv.ParseInt(line[1:], 10, 64)
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err // $-1: nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(rc.r, b); err != nil {
			return nil, err
		}
		return string(b[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, err
		}
		arr := make([]any, n)
		for i := range arr {
			if arr[i], err = rc.read(); err != nil {
				return nil, err
			}
		}
		return arr, nil
	}
	return nil, fmt.Errorf("redis: unexpected reply %q", line)
}
