package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/store"
)

// Config configures the API. The zero value of each field is its default.
type Config struct {
	// Store holds the traces served. Required.
	Store *store.Store
	// APMQuery is the base URL of a Jaeger query API (an APM's) whose
	// spans are merged into GET /api/traces/{traceID}; "" disables it.
	APMQuery string
	// APMTimeout bounds each APM request; 0 means 5s.
	APMTimeout time.Duration
	// Client makes APM requests; nil means a client with no other
	// settings.
	Client *http.Client
	// Slack is how far an APM span may start after, or end before, a
	// network span it is matched to by address and time; 0 means 1ms.
	Slack time.Duration
	// MaxBody bounds a completion request's body; 0 means 16 MiB.
	MaxBody int64
	// Logger receives request errors; nil discards.
	Logger *slog.Logger
}

// API is the HTTP handler.
type API struct {
	cfg Config
	mux *http.ServeMux
}

// New returns the API handler.
func New(cfg *Config) *API {
	a := &API{cfg: *cfg, mux: http.NewServeMux()}
	if a.cfg.APMTimeout <= 0 {
		a.cfg.APMTimeout = 5 * time.Second
	}
	if a.cfg.Client == nil {
		a.cfg.Client = &http.Client{}
	}
	if a.cfg.Slack <= 0 {
		a.cfg.Slack = time.Millisecond
	}
	if a.cfg.MaxBody <= 0 {
		a.cfg.MaxBody = 16 << 20
	}
	if a.cfg.Logger == nil {
		a.cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a.cfg.APMQuery = strings.TrimRight(a.cfg.APMQuery, "/")
	a.mux.HandleFunc("GET /api/traces/{traceID}", a.getTrace)
	a.mux.HandleFunc("GET /api/traces", a.findTraces)
	a.mux.HandleFunc("GET /api/services", a.services)
	a.mux.HandleFunc("GET /api/services/{service}/operations", a.serviceOperations)
	a.mux.HandleFunc("GET /api/operations", a.operations)
	a.mux.HandleFunc("GET /api/dependencies", a.dependencies)
	a.mux.HandleFunc("POST /api/v1/traces/complete", a.complete)
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, Response{Errors: []Error{{Code: code, Msg: msg}}})
}

func (a *API) getTrace(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("traceID")
	id := store.NormalizeTraceID(raw)
	if !isHex(id) || len(id) != 32 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("malformed trace id %q", raw))
		return
	}
	ours, found := a.cfg.Store.Trace(id)
	var apm []Trace
	var warn string
	if a.cfg.APMQuery != "" {
		var err error
		if apm, err = a.fetchAPM(r.Context(), raw); err != nil {
			warn = err.Error()
			a.cfg.Logger.Warn("apm query failed", "trace_id", id, "err", err)
		}
	}
	if !found && len(apm) == 0 {
		writeJSON(w, http.StatusNotFound, Response{Errors: []Error{{Code: http.StatusNotFound, Msg: "trace not found", TraceID: raw}}})
		return
	}
	t := a.merge(id, ours, apm)
	if warn != "" {
		t.Warnings = append(t.Warnings, warn)
	}
	writeJSON(w, http.StatusOK, Response{Data: []Trace{t}, Total: 1})
}

// merge joins our trace and the APM's spans of the same id, parenting each
// network span under the APM span that made the call.
func (a *API) merge(id string, ours *correlate.Trace, apm []Trace) Trace {
	b := newBuilder(id)
	var sites []callSite
	seen := map[string]bool{}
	for _, at := range apm {
		for _, sp := range at.Spans {
			sp.TraceID = id
			for i := range sp.References {
				if store.NormalizeTraceID(sp.References[i].TraceID) == id {
					sp.References[i].TraceID = id
				}
			}
			seen[normSpanID(sp.SpanID)] = true
			b.addForeign(sp, at.Processes[sp.ProcessID])
			sites = append(sites, jaegerCallSite(&sp))
		}
	}
	if ours != nil {
		names := a.cfg.Store.Names()
		for _, sp := range ours.Spans {
			if seen[sp.SpanID] {
				continue
			}
			b.addNetwork(id, sp, names, parentOf(sp, sites, names, int64(a.cfg.Slack)))
		}
	}
	return b.done()
}

func jaegerCallSite(sp *Span) callSite {
	kind := ""
	get := func(k string) (string, bool) {
		for _, kv := range sp.Tags {
			if kv.Key == k {
				return fmt.Sprint(kv.Value), true
			}
		}
		return "", false
	}
	kind, _ = get("span.kind")
	return newCallSite(sp.SpanID, kind, sp.StartTime*1000, (sp.StartTime+sp.Duration)*1000, get)
}

// fetchAPM asks the APM's Jaeger query API for a trace; a 404 is no trace.
func (a *API) fetchAPM(ctx context.Context, id string) ([]Trace, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.APMTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.APMQuery+"/api/traces/"+id, nil)
	if err != nil {
		return nil, fmt.Errorf("api: apm query: %w", err)
	}
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("api: apm query: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("api: apm query %s: status %s", req.URL, resp.Status)
	}
	var out struct {
		Data []Trace `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, a.cfg.MaxBody)).Decode(&out); err != nil {
		return nil, fmt.Errorf("api: apm query %s: %w", req.URL, err)
	}
	return out.Data, nil
}

func (a *API) findTraces(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	if ids := v["traceID"]; len(ids) > 0 {
		var data []Trace
		for _, raw := range ids {
			if t, ok := a.cfg.Store.Trace(raw); ok {
				data = append(data, toJaeger(t, a.cfg.Store.Names()))
			}
		}
		if data == nil {
			data = []Trace{}
		}
		writeJSON(w, http.StatusOK, Response{Data: data, Total: len(data)})
		return
	}
	q, err := a.parseQuery(v)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	data := []Trace{}
	for _, t := range a.cfg.Store.Find(q) {
		data = append(data, toJaeger(t, a.cfg.Store.Names()))
	}
	writeJSON(w, http.StatusOK, Response{Data: data, Total: len(data)})
}

// parseQuery reads a Jaeger search.
func (a *API) parseQuery(v map[string][]string) (*store.Query, error) {
	get := func(k string) string {
		if s := v[k]; len(s) > 0 {
			return strings.TrimSpace(s[0])
		}
		return ""
	}
	q := &store.Query{Service: get("service"), Operation: get("operation")}
	var err error
	if q.Start, err = micros(get("start"), "start"); err != nil {
		return nil, err
	}
	if q.End, err = micros(get("end"), "end"); err != nil {
		return nil, err
	}
	if q.Start == 0 && q.End == 0 {
		lb := time.Hour
		if s := get("lookback"); s != "" && s != "custom" {
			if lb, err = lookback(s); err != nil {
				return nil, err
			}
		}
		if q.End = a.cfg.Store.Newest(); q.End != 0 {
			q.Start = q.End - int64(lb)
		}
	}
	if s := get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 0 {
			return nil, fmt.Errorf("parameter 'limit': %q is not a count", s)
		}
	}
	for _, k := range []string{"minDuration", "maxDuration"} {
		s := get(k)
		if s == "" {
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("parameter '%s': %q is not a duration", k, s)
		}
		if k == "minDuration" {
			q.MinDuration = d
		} else {
			q.MaxDuration = d
		}
	}
	if s := get("tags"); s != "" {
		m := map[string]string{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return nil, fmt.Errorf("parameter 'tags': want a JSON object of strings: %v", err)
		}
		q.Tags = m
	}
	for _, t := range v["tag"] {
		k, val, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("parameter 'tag': %q is not key:value", t)
		}
		if q.Tags == nil {
			q.Tags = map[string]string{}
		}
		q.Tags[k] = val
	}
	return q, nil
}

// micros parses Unix microseconds into ns; "" is 0.
func micros(s, name string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("parameter '%s': %q is not Unix microseconds", name, s)
	}
	return n * 1000, nil
}

// lookback parses a Go duration or a number of days ("2d").
func lookback(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("parameter 'lookback': %q is not a duration", s)
	}
	return d, nil
}

func (a *API) services(w http.ResponseWriter, r *http.Request) {
	s := a.cfg.Store.Services()
	writeJSON(w, http.StatusOK, Response{Data: s, Total: len(s)})
}

func (a *API) serviceOperations(w http.ResponseWriter, r *http.Request) {
	ops := a.cfg.Store.Operations(r.PathValue("service"))
	writeJSON(w, http.StatusOK, Response{Data: ops, Total: len(ops)})
}

func (a *API) operations(w http.ResponseWriter, r *http.Request) {
	svc := r.URL.Query().Get("service")
	if svc == "" {
		writeError(w, http.StatusBadRequest, "parameter 'service' is required")
		return
	}
	kind := r.URL.Query().Get("spanKind")
	out := []Operation{}
	for _, op := range a.cfg.Store.OperationKinds(svc) {
		if kind != "" && kind != op.Kind {
			continue
		}
		out = append(out, Operation{Name: op.Name, SpanKind: op.Kind})
	}
	writeJSON(w, http.StatusOK, Response{Data: out, Total: len(out)})
}

func (a *API) dependencies(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	var start, end int64
	if s := v.Get("endTs"); s != "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("parameter 'endTs': %q is not Unix milliseconds", s))
			return
		}
		end = ms * 1e6
	}
	if s := v.Get("lookback"); s != "" && end != 0 {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("parameter 'lookback': %q is not milliseconds", s))
			return
		}
		start = end - ms*1e6
	}
	out := []Dependency{}
	for _, d := range a.cfg.Store.Dependencies(start, end) {
		out = append(out, Dependency{Parent: d.Parent, Child: d.Child, CallCount: d.CallCount})
	}
	writeJSON(w, http.StatusOK, Response{Data: out, Total: len(out)})
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return s != ""
}
