package api

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/wiretrace/wiretrace/correlate/otlp"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// ScopeName is the instrumentation scope of the spans wiretrace adds.
const ScopeName = "wiretrace"

// complete handles POST /api/v1/traces/complete: the body is an OTLP/JSON
// trace (an ExportTraceServiceRequest or TracesData: {"resourceSpans":
// [...]}, ids in hex as the OTLP/JSON encoding says); the answer is the
// same trace with wiretrace's spans of each of its trace ids appended, one
// ResourceSpans per service (resource attribute service.name), scope
// "wiretrace", each parented under the APM span that made the call.
// Spans whose id is already in the request are not added again.
func (a *API) complete(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("reading body: %v", err))
		return
	}
	td, err := unmarshalOTLP(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	a.completeTraces(td)
	out, err := marshalOTLP(td)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
}

// completeTraces appends wiretrace's spans to td.
func (a *API) completeTraces(td *tracepb.TracesData) {
	var ids [][]byte
	have := map[string]bool{}
	var sites []callSite
	for _, rs := range td.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				if !slices.ContainsFunc(ids, func(id []byte) bool { return bytes.Equal(id, sp.TraceId) }) {
					ids = append(ids, sp.TraceId)
				}
				have[hex.EncodeToString(sp.SpanId)] = true
				sites = append(sites, otlpCallSite(sp))
			}
		}
	}
	names := a.cfg.Store.Names()
	bySvc := map[string]*tracepb.ScopeSpans{}
	var order []string
	for _, id := range ids {
		t, ok := a.cfg.Store.Trace(hex.EncodeToString(id))
		if !ok {
			continue
		}
		for _, sp := range t.Spans {
			if have[sp.SpanID] {
				continue
			}
			svc := names.Service(sp)
			ss := bySvc[svc]
			if ss == nil {
				ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: ScopeName}}
				bySvc[svc] = ss
				order = append(order, svc)
			}
			parent := parentOf(sp, sites, names, int64(a.cfg.Slack))
			if parent == "" {
				parent = sp.ParentSpanID
			}
			o, err := otlp.Span(sp)
			if err != nil {
				continue // not an id wiretrace made; cannot happen for stored spans
			}
			// The span joins the APM's trace under the parent found above.
			o.TraceId, o.ParentSpanId = id, nil
			if parent != "" {
				o.ParentSpanId, _ = hex.DecodeString(parent)
			}
			ss.Spans = append(ss.Spans, o)
		}
	}
	for _, svc := range order {
		td.ResourceSpans = append(td.ResourceSpans, &tracepb.ResourceSpans{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
				strAttr("service.name", svc), strAttr("wiretrace.source", "network"),
			}},
			ScopeSpans: []*tracepb.ScopeSpans{bySvc[svc]},
		})
	}
}

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func intAttr(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

func otlpCallSite(sp *tracepb.Span) callSite {
	get := func(k string) (string, bool) {
		for _, kv := range sp.Attributes {
			if kv.Key != k || kv.Value == nil {
				continue
			}
			switch v := kv.Value.Value.(type) {
			case *commonpb.AnyValue_StringValue:
				return v.StringValue, true
			case *commonpb.AnyValue_IntValue:
				return strconv.FormatInt(v.IntValue, 10), true
			}
		}
		return "", false
	}
	return newCallSite(hex.EncodeToString(sp.SpanId), sp.Kind.String(), int64(sp.StartTimeUnixNano), int64(sp.EndTimeUnixNano), get)
}

// idKeys are the OTLP/JSON fields holding ids in hex (protojson wants
// base64).
var idKeys = map[string]bool{"traceId": true, "spanId": true, "parentSpanId": true, "trace_id": true, "span_id": true, "parent_span_id": true}

// unmarshalOTLP parses OTLP/JSON, whose ids are hex.
func unmarshalOTLP(b []byte) (*tracepb.TracesData, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("api: otlp json: %w", err)
	}
	if err := convertIDs(v, func(s string) (string, error) {
		raw, err := hex.DecodeString(s)
		if err != nil {
			return "", fmt.Errorf("id %q is not hex", s)
		}
		return base64.StdEncoding.EncodeToString(raw), nil
	}); err != nil {
		return nil, fmt.Errorf("api: otlp json: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("api: otlp json: %w", err)
	}
	td := &tracepb.TracesData{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, td); err != nil {
		return nil, fmt.Errorf("api: otlp json: %w", err)
	}
	return td, nil
}

// marshalOTLP writes OTLP/JSON: hex ids, enums as numbers.
func marshalOTLP(td *tracepb.TracesData) ([]byte, error) {
	b, err := (protojson.MarshalOptions{UseEnumNumbers: true}).Marshal(td)
	if err != nil {
		return nil, fmt.Errorf("api: otlp json: %w", err)
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("api: otlp json: %w", err)
	}
	if err := convertIDs(v, func(s string) (string, error) {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return "", err
		}
		return hex.EncodeToString(raw), nil
	}); err != nil {
		return nil, fmt.Errorf("api: otlp json: %w", err)
	}
	return json.Marshal(v)
}

// convertIDs rewrites the id fields of a decoded JSON document in place.
func convertIDs(v any, conv func(string) (string, error)) error {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && idKeys[k] {
				if s == "" {
					continue
				}
				c, err := conv(s)
				if err != nil {
					return fmt.Errorf("%s: %w", k, err)
				}
				v[k] = c
				continue
			}
			if err := convertIDs(x, conv); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range v {
			if err := convertIDs(x, conv); err != nil {
				return err
			}
		}
	}
	return nil
}
