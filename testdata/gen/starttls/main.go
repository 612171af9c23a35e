// Command starttls is the client of testdata/gen/starttls.sh: it runs the
// same few queries over one MariaDB connection (go-sql-driver/mysql) and
// one PostgreSQL connection (lib/pq), in plaintext or upgraded to TLS by
// the drivers' SSLRequest, writing the TLS session secrets to an NSS key
// log (tls.Config.KeyLogWriter). Test-only: it trusts any server
// certificate.
package main

import (
	"context"
	"crypto/tls"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/lib/pq"
)

// traceparent is the sqlcommenter comment of one query in each database.
const traceparent = "/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/"

func main() {
	mysqlAddr := flag.String("mysql", "", "MariaDB address host:port")
	pgAddr := flag.String("postgres", "", "PostgreSQL address host:port")
	version := flag.String("tls", "off", "off, 1.2 or 1.3")
	keylog := flag.String("keylog", "", "NSS key log file to append to")
	password := flag.String("password", "", "password of user shop")
	flag.Parse()
	log.SetFlags(0)

	var tc *tls.Config
	if *version != "off" {
		tc = &tls.Config{InsecureSkipVerify: true, ServerName: "db.test"} // test-only self-signed certificate
		switch *version {
		case "1.2":
			tc.MinVersion, tc.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		case "1.3":
			tc.MinVersion = tls.VersionTLS13
		default:
			log.Fatalf("starttls: -tls %q: want off, 1.2 or 1.3", *version)
		}
		if *keylog != "" {
			f, err := os.OpenFile(*keylog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
			if err != nil {
				log.Fatal(err)
			}
			defer f.Close()
			tc.KeyLogWriter = f
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if *mysqlAddr != "" {
		cfg := mysql.NewConfig()
		cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "shop", *password, "tcp", *mysqlAddr, "shop"
		if tc != nil {
			if err := mysql.RegisterTLSConfig("wt", tc); err != nil {
				log.Fatal(err)
			}
			cfg.TLSConfig = "wt"
		}
		run(ctx, "mysql", "mysql", cfg.FormatDSN(), []string{
			"SELECT status FROM orders WHERE id = 42",
			"UPDATE orders SET seen = seen + 1 WHERE id = 1 " + traceparent,
			"SELECT id, status FROM orders ORDER BY id",
			"SELECT * FROM missing_table",
		})
	}
	if *pgAddr != "" {
		mode := "disable"
		if tc != nil {
			if err := pq.RegisterTLSConfig("wt", tc); err != nil {
				log.Fatal(err)
			}
			// lib/pq sets the versions from these parameters, not from tc.
			mode = "pqgo-wt ssl_min_protocol_version=TLSv" + *version + " ssl_max_protocol_version=TLSv" + *version
		}
		host, port := *pgAddr, "5432"
		for i := len(host) - 1; i >= 0; i-- {
			if host[i] == ':' {
				host, port = host[:i], host[i+1:]
				break
			}
		}
		dsn := fmt.Sprintf("host=%s port=%s user=shop password=%s dbname=shop sslmode=%s connect_timeout=5", host, port, *password, mode)
		run(ctx, "postgres", "postgres", dsn, []string{
			"SELECT qty FROM stock WHERE item = 'widget-7'",
			"UPDATE stock SET qty = qty - 1 WHERE item = 'gadget-3' " + traceparent,
			"SELECT item, qty, warehouse FROM stock ORDER BY item",
			"SELECT * FROM missing_table",
		})
	}
}

// run sends each query on one connection, in turn; the last is expected to
// fail.
func run(ctx context.Context, what, driver, dsn string, queries []string) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		log.Fatalf("starttls: %s: %v", what, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		log.Fatalf("starttls: %s: connect: %v", what, err)
	}
	defer conn.Close()
	for i, q := range queries {
		rows, err := conn.QueryContext(ctx, q)
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		switch {
		case err != nil && i < len(queries)-1:
			log.Fatalf("starttls: %s: %q: %v", what, q, err)
		case err == nil && i == len(queries)-1:
			log.Fatalf("starttls: %s: %q: succeeded, want an error", what, q)
		}
	}
}
