// Command backend is the toy service behind testdata/gen/demo.sh, the script
// that records wiretrace's bundled demo captures (testdata/demo.pcap and
// testdata/two_points_*.pcap).
//
// One binary plays three parts, chosen with -mode:
//
//   - backend (default): serves /api/... on -listen. For every request it
//     makes one outbound call to the inventory service at -inventory,
//     copying the incoming X-Request-ID header onto that call, and answers
//     with JSON. GET /api/orders/{id} calls GET /inventory/{id};
//     POST /api/checkout calls POST /inventory/{id}/reserve; GET /api/fail
//     calls GET /inventory/fail, which answers 503, and then answers 502.
//   - inventory: serves /inventory/... on -listen with small JSON bodies,
//     and 503 for /inventory/fail.
//   - client: sends one request (-method, -url, -data, repeated -header)
//     and prints the status line and body; demo.sh uses it only when curl
//     is not installed.
//
// The program uses the standard library only, keeps its outbound
// connections alive (so one backend→inventory TCP connection carries every
// call), and writes fixed JSON so captures differ between runs only in
// timestamps, ports, sequence numbers and nginx's random request IDs.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"
)

// headerList collects repeated -header "Name: value" flags.
type headerList []string

func (h *headerList) String() string { return strings.Join(*h, ", ") }

func (h *headerList) Set(v string) error {
	if !strings.Contains(v, ":") {
		return fmt.Errorf("header %q: want \"Name: value\"", v)
	}
	*h = append(*h, v)
	return nil
}

func main() {
	var (
		mode      = flag.String("mode", "backend", "backend, inventory or client")
		listen    = flag.String("listen", ":8080", "listen address (backend, inventory)")
		inventory = flag.String("inventory", "http://127.0.0.1:9090", "inventory base URL (backend)")
		method    = flag.String("method", http.MethodGet, "request method (client)")
		url       = flag.String("url", "", "request URL (client)")
		data      = flag.String("data", "", "request body (client)")
		headers   headerList
	)
	flag.Var(&headers, "header", "extra request header \"Name: value\", repeatable (client)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix(*mode + ": ")

	var err error
	switch *mode {
	case "backend":
		err = serve(*listen, backendHandler(strings.TrimSuffix(*inventory, "/")))
	case "inventory":
		err = serve(*listen, inventoryHandler())
	case "client":
		err = runClient(*method, *url, *data, headers)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func serve(addr string, h http.Handler) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	log.Printf("listening on %s", addr)
	return srv.ListenAndServe()
}

// writeJSON answers with a fixed-order JSON object (struct fields, not maps).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

type errorBody struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

type stockBody struct {
	Item      string `json:"item"`
	InStock   int    `json:"in_stock"`
	Warehouse string `json:"warehouse"`
}

type reserveRequest struct {
	Qty int `json:"qty"`
}

type reserveBody struct {
	Item     string `json:"item"`
	Reserved int    `json:"reserved"`
}

type orderBody struct {
	OrderID   string    `json:"order_id"`
	Status    string    `json:"status"`
	Stock     stockBody `json:"stock"`
	RequestID string    `json:"request_id"`
}

type checkoutRequest struct {
	OrderID int    `json:"order_id"`
	Item    string `json:"item"`
	Qty     int    `json:"qty"`
}

type checkoutBody struct {
	OrderID   int    `json:"order_id"`
	Status    string `json:"status"`
	Reserved  int    `json:"reserved"`
	RequestID string `json:"request_id"`
}

func inventoryHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /inventory/fail", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "inventory database unavailable", RequestID: r.Header.Get("X-Request-ID")})
	})
	mux.HandleFunc("GET /inventory/{item}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, stockBody{Item: r.PathValue("item"), InStock: 17, Warehouse: "ams-1"})
	})
	mux.HandleFunc("POST /inventory/{item}/reserve", func(w http.ResponseWriter, r *http.Request) {
		var req reserveRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.Qty <= 0 {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "bad reserve request"})
			return
		}
		writeJSON(w, http.StatusOK, reserveBody{Item: r.PathValue("item"), Reserved: req.Qty})
	})
	return logRequests(mux)
}

func backendHandler(inventory string) http.Handler {
	client := &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     60 * time.Second,
			DisableCompression:  true, // keep Accept-Encoding off the wire
		},
	}
	// call makes one inventory request carrying the caller's X-Request-ID
	// and decodes a 2xx JSON answer into out.
	call := func(r *http.Request, method, path string, body, out any) (int, error) {
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				return 0, err
			}
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(r.Context(), method, inventory+path, rd)
		if err != nil {
			return 0, err
		}
		req.Header.Set("User-Agent", "wtdemo-backend/1")
		req.Header.Set("Accept", "application/json")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if id := r.Header.Get("X-Request-ID"); id != "" {
			req.Header.Set("X-Request-ID", id)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if err != nil {
			return resp.StatusCode, err
		}
		if resp.StatusCode/100 != 2 {
			return resp.StatusCode, fmt.Errorf("inventory %s %s: %s", method, path, resp.Status)
		}
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	upstreamFailed := func(w http.ResponseWriter, r *http.Request, err error) {
		log.Print(err)
		writeJSON(w, http.StatusBadGateway, errorBody{Error: "inventory unavailable", RequestID: r.Header.Get("X-Request-ID")})
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		var stock stockBody
		if _, err := call(r, http.MethodGet, "/inventory/"+r.PathValue("id"), nil, &stock); err != nil {
			upstreamFailed(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, orderBody{OrderID: r.PathValue("id"), Status: "shipped", Stock: stock, RequestID: r.Header.Get("X-Request-ID")})
	})
	mux.HandleFunc("POST /api/checkout", func(w http.ResponseWriter, r *http.Request) {
		var req checkoutRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.Item == "" || req.Qty <= 0 {
			writeJSON(w, http.StatusBadRequest, errorBody{Error: "bad checkout request", RequestID: r.Header.Get("X-Request-ID")})
			return
		}
		var res reserveBody
		if _, err := call(r, http.MethodPost, "/inventory/"+req.Item+"/reserve", reserveRequest{Qty: req.Qty}, &res); err != nil {
			upstreamFailed(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, checkoutBody{OrderID: req.OrderID, Status: "confirmed", Reserved: res.Reserved, RequestID: r.Header.Get("X-Request-ID")})
	})
	mux.HandleFunc("GET /api/fail", func(w http.ResponseWriter, r *http.Request) {
		var stock stockBody
		_, err := call(r, http.MethodGet, "/inventory/fail", nil, &stock)
		if err == nil {
			err = errors.New("inventory /inventory/fail unexpectedly succeeded")
		}
		upstreamFailed(w, r, err)
	})
	return logRequests(mux)
}

// logRequests logs one line per request to stderr (the script keeps it in
// its temp dir and prints it when something fails).
func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s %s x-request-id=%q", r.RemoteAddr, r.Method, r.URL.Path, r.Header.Get("X-Request-ID"))
		h.ServeHTTP(w, r)
	})
}

func runClient(method, url, data string, headers headerList) error {
	if url == "" {
		return errors.New("client: -url is required")
	}
	var body io.Reader
	if data != "" {
		body = strings.NewReader(data)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "wtdemo-client/1")
	req.Header.Set("Accept", "*/*")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return err
	}
	fmt.Printf("%s %s -> %s x-request-id=%s %s", method, url, resp.Status, resp.Header.Get("X-Request-ID"), b)
	return nil
}
