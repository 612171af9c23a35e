// Command plugincap runs the traffic of the plugin captures
// (testdata/gen/plugins.sh records it): real Go servers and clients talking
// over TCP between the addresses given, so that a capture of them shows
// what the example plugins (testdata/plugins) must make spans of.
//
//	plugincap -scenario txn     -client IP -a IP -b IP
//	plugincap -scenario privrpc -client IP -b IP
//	plugincap -scenario hostile -client IP -b IP
//
// txn: a payments service (a:8081) accepts POST /payments with a JSON body
// {"txn_serial": ..., "amount": ...}, answers 202 and afterwards posts the
// entry to a ledger service (b:8082, POST /ledger/entries) with the same
// serial in its JSON body; nothing else (no header) ties the two. Five
// payments, 150 ms apart.
//
// privrpc: a server (b:7070) of the length-prefixed protocol that
// testdata/plugins/privrpc parses; one connection makes three sequential
// calls (the second answered with error status 3), a second connection
// sends two calls at once and gets the answers in reverse order.
//
// hostile: an HTTP echo server (b:8083); six requests, each on its own
// connection, whose bodies are "hello 1", "HOSTILE-LOOP", "hello 2",
// "HOSTILE-TRAP", "HOSTILE-ALLOC", "hello 3" (what
// testdata/plugins/hostile reacts to).
//
// Everything is bounded in count and time; the servers stop when the
// clients are done.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

func main() {
	scenario := flag.String("scenario", "txn", "txn, privrpc or hostile")
	client := flag.String("client", "127.0.0.1", "client address")
	a := flag.String("a", "127.0.0.1", "payments service address (txn)")
	b := flag.String("b", "127.0.0.1", "ledger, privrpc or echo server address")
	flag.Parse()
	var err error
	switch *scenario {
	case "txn":
		err = txn(*client, *a, *b)
	case "privrpc":
		err = privrpc(*client, *b)
	case "hostile":
		err = hostile(*client, *b)
	default:
		err = fmt.Errorf("unknown scenario %q", *scenario)
	}
	if err != nil {
		log.Fatalf("plugincap: %v", err)
	}
}

// httpClient returns a client whose connections leave from addr.
func httpClient(addr string, keepAlive bool) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: !keepAlive}}
}

// serve runs h on addr until the returned stop is called.
func serve(addr string, h http.Handler) (stop func(), err error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

type payment struct {
	TxnSerial string `json:"txn_serial"`
	Amount    string `json:"amount"`
}

func txn(client, a, b string) error {
	stopB, err := serve(net.JoinHostPort(b, "8082"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"posted":true}`)
	}))
	if err != nil {
		return err
	}
	defer stopB()
	toLedger := httpClient(a, true)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	stopA, err := serve(net.JoinHostPort(a, "8081"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p payment
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&p); err != nil {
			http.Error(w, "bad payment", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"accepted"}`)
		// Post to the ledger after answering: only the serial ties the
		// two calls (no timing, no header).
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(30 * time.Millisecond)
			body, _ := json.Marshal(map[string]any{"entry": map[string]string{"txn_serial": p.TxnSerial, "amount": p.Amount, "side": "debit"}})
			resp, err := toLedger.Post("http://"+net.JoinHostPort(b, "8082")+"/ledger/entries", "application/json", bytes.NewReader(body))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}))
	if err != nil {
		return err
	}
	defer stopA()
	c := httpClient(client, true)
	for i := 1; i <= 5; i++ {
		body, _ := json.Marshal(payment{TxnSerial: fmt.Sprintf("TXN-2026-%06d", 1000+i), Amount: fmt.Sprintf("%d.00", 10*i)})
		resp, err := c.Post("http://"+net.JoinHostPort(a, "8081")+"/payments", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(150 * time.Millisecond)
	}
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	return errors.Join(errs...)
}

// frame encodes a privrpc frame.
func frame(typ, status byte, id uint32, method string, headers [][2]string, body string) []byte {
	var f []byte
	f = append(f, 'P', 'R', typ, status)
	f = binary.BigEndian.AppendUint32(f, id)
	f = append(f, byte(len(method)))
	f = append(f, method...)
	f = append(f, byte(len(headers)))
	for _, h := range headers {
		f = append(f, byte(len(h[0])))
		f = append(f, h[0]...)
		f = binary.BigEndian.AppendUint16(f, uint16(len(h[1])))
		f = append(f, h[1]...)
	}
	f = append(f, body...)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(f))), f...)
}

// readFrame reads one frame and returns its type, id, method and body.
func readFrame(r io.Reader) (typ byte, id uint32, method string, err error) {
	var h [4]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	n := binary.BigEndian.Uint32(h[:])
	if n < 9 || n > 1<<20 {
		return 0, 0, "", fmt.Errorf("frame of %d bytes", n)
	}
	f := make([]byte, n)
	if _, err = io.ReadFull(r, f); err != nil {
		return
	}
	typ, id = f[2], binary.BigEndian.Uint32(f[4:])
	ml := int(f[8])
	if 9+ml > len(f) {
		return 0, 0, "", errors.New("bad method length")
	}
	return typ, id, string(f[9 : 9+ml]), nil
}

func privrpc(client, b string) error {
	l, err := net.Listen("tcp", net.JoinHostPort(b, "7070"))
	if err != nil {
		return err
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				var pending []uint32
				var methods []string
				for {
					typ, id, method, err := readFrame(c)
					if err != nil || typ != 1 {
						return
					}
					pending, methods = append(pending, id), append(methods, method)
					if method == "Batch.Hold" {
						continue // answered with the next call, in reverse order
					}
					for i := len(pending) - 1; i >= 0; i-- {
						status := byte(0)
						if methods[i] == "Accounts.Debit" {
							status = 3 // insufficient funds
						}
						c.Write(frame(2, status, pending[i], "", nil, `{"done":true}`))
					}
					pending, methods = pending[:0], methods[:0]
				}
			}(c)
		}
	}()
	dial := func() (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", net.JoinHostPort(b, "7070"))
		if err == nil {
			c.SetDeadline(time.Now().Add(10 * time.Second))
		}
		return c, err
	}
	c1, err := dial()
	if err != nil {
		return err
	}
	calls := []struct {
		method string
		serial string
	}{{"Accounts.Get", "TXN-2026-009001"}, {"Accounts.Debit", "TXN-2026-009002"}, {"Accounts.Credit", ""}}
	for i, call := range calls {
		var hs [][2]string
		if call.serial != "" {
			hs = append(hs, [2]string{"txn_serial", call.serial})
		}
		if _, err := c1.Write(frame(1, 0, uint32(100+i), call.method, hs, `{"account":"ACC-1"}`)); err != nil {
			return err
		}
		if _, _, _, err := readFrame(c1); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	c1.Close()
	c2, err := dial()
	if err != nil {
		return err
	}
	// Two calls in one write; the answers come in reverse order.
	both := append(frame(1, 0, 7, "Batch.Hold", nil, "a"), frame(1, 0, 8, "Batch.Commit", [][2]string{{"txn_serial", "TXN-2026-009003"}}, "b")...)
	if _, err := c2.Write(both); err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		if _, _, _, err := readFrame(c2); err != nil {
			return err
		}
	}
	c2.Close()
	time.Sleep(50 * time.Millisecond)
	return nil
}

func hostile(client, b string) error {
	stop, err := serve(net.JoinHostPort(b, "8083"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "echo %d bytes", len(body))
	}))
	if err != nil {
		return err
	}
	defer stop()
	c := httpClient(client, false)
	for _, body := range []string{"hello 1", "HOSTILE-LOOP", "hello 2", "HOSTILE-TRAP", "HOSTILE-ALLOC", "hello 3"} {
		resp, err := c.Post("http://"+net.JoinHostPort(b, "8083")+"/echo", "text/plain", bytes.NewReader([]byte(body)))
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintln(os.Stderr, "plugincap: hostile done")
	return nil
}
