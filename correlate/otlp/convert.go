package otlp

import (
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"

	"github.com/wiretrace/wiretrace/correlate"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// ScopeName is the instrumentation scope of every exported span.
const ScopeName = "github.com/wiretrace/wiretrace"

// Attribute keys the exporter adds to every span.
const (
	AttrStatus     = "wiretrace.status"
	AttrCapture    = "wiretrace.capture"
	AttrLinkReason = "wiretrace.link_reason"
	AttrProtocol   = "wiretrace.protocol"
	AttrSide       = "wiretrace.side"
	AttrLinkPrefix = "wiretrace.link."
)

// item is one converted span and the service it belongs to.
type item struct {
	service string
	span    *tracepb.Span
}

// names resolves service names.
type names struct {
	byAddrPort map[netip.AddrPort]string
	byAddr     map[netip.Addr]string
}

// parseNames validates Config.ServiceNames keys ("ip" or "ip:port").
func parseNames(m map[string]string) (names, error) {
	n := names{byAddrPort: map[netip.AddrPort]string{}, byAddr: map[netip.Addr]string{}}
	for k, v := range m {
		if ap, err := netip.ParseAddrPort(k); err == nil {
			n.byAddrPort[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] = v
			continue
		}
		a, err := netip.ParseAddr(k)
		if err != nil {
			return names{}, fmt.Errorf("otlp: service name %q=%q: key is not ip or ip:port", k, v)
		}
		n.byAddr[a.Unmap()] = v
	}
	return n, nil
}

// lookup returns the service name of ap; withPort chooses the fallback
// "ip:port" (servers) or "ip" (clients).
func (n names) lookup(ap netip.AddrPort, withPort bool) string {
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if s, ok := n.byAddrPort[ap]; ok {
		return s
	}
	if s, ok := n.byAddr[ap.Addr()]; ok {
		return s
	}
	if !ap.Addr().IsValid() {
		return "unknown"
	}
	if withPort {
		return ap.String()
	}
	return ap.Addr().String()
}

// endpoint returns the span's end as an address, from the typed field or
// else from the span-format endpoint.
func endpoint(ap netip.AddrPort, e correlate.Endpoint) netip.AddrPort {
	if ap.IsValid() {
		return ap
	}
	a, err := netip.ParseAddr(e.IP)
	if err != nil || e.Port < 0 || e.Port > math.MaxUint16 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(a, uint16(e.Port))
}

// Kind returns the OTLP span kind of a wiretrace side.
func Kind(side string) tracepb.Span_SpanKind {
	switch side {
	case correlate.SideClient:
		return tracepb.Span_SPAN_KIND_CLIENT
	case correlate.SideServer, correlate.SideNetwork:
		return tracepb.Span_SPAN_KIND_SERVER
	}
	return tracepb.Span_SPAN_KIND_UNSPECIFIED
}

// Span converts one span to its OTLP form, exactly as the Exporter sends
// it (ids, times, kind, status, attributes), with no service names
// configured. It is for embedders that build OTLP payloads of their own.
func Span(s *correlate.Span) (*tracepb.Span, error) {
	it, err := names{}.convertSpan(s)
	return it.span, err
}

// convertSpan turns one span into its OTLP form and service name.
func (n names) convertSpan(s *correlate.Span) (item, error) {
	tid, err := decodeID(s.TraceID, 16)
	if err != nil {
		return item{}, fmt.Errorf("otlp: span %s: trace id: %w", s.SpanID, err)
	}
	sid, err := decodeID(s.SpanID, 8)
	if err != nil {
		return item{}, fmt.Errorf("otlp: span %s: span id: %w", s.SpanID, err)
	}
	var pid []byte
	if s.ParentSpanID != "" {
		if pid, err = decodeID(s.ParentSpanID, 8); err != nil {
			return item{}, fmt.Errorf("otlp: span %s: parent span id: %w", s.SpanID, err)
		}
	}
	client := endpoint(s.ClientAddr, s.Client)
	server := endpoint(s.ServerAddr, s.Server)
	kind := Kind(s.Side)
	var service string
	peer := client
	if kind == tracepb.Span_SPAN_KIND_CLIENT {
		service = n.lookup(client, false)
		peer = server
	} else {
		service = n.lookup(server, true)
	}

	attrs := make([]*commonpb.KeyValue, 0, len(s.Attributes)+len(s.Links)+12)
	keys := make([]string, 0, len(s.Attributes))
	for k := range s.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		attrs = append(attrs, kv(k, anyValue(s.Attributes[k])))
	}
	addStr := func(k, v string) { attrs = append(attrs, kv(k, strValue(v))) }
	addInt := func(k string, v int64) { attrs = append(attrs, kv(k, intValue(v))) }
	addStr(AttrProtocol, s.Protocol)
	addStr(AttrSide, s.Side)
	addStr(AttrStatus, s.Status)
	addStr(AttrCapture, s.Capture)
	if s.LinkReason != "" {
		addStr(AttrLinkReason, s.LinkReason)
	}
	lk := make([]string, 0, len(s.Links))
	for k := range s.Links {
		lk = append(lk, k)
	}
	sort.Strings(lk)
	for _, k := range lk {
		addStr(AttrLinkPrefix+k, s.Links[k])
	}
	if peer.IsValid() {
		addStr("network.peer.address", peer.Addr().String())
		addInt("network.peer.port", int64(peer.Port()))
	}
	if client.IsValid() {
		addStr("client.address", client.Addr().String())
		addInt("client.port", int64(client.Port()))
	}
	if server.IsValid() {
		if _, ok := s.Attributes["server.address"]; !ok {
			addStr("server.address", server.Addr().String())
		}
		if _, ok := s.Attributes["server.port"]; !ok {
			addInt("server.port", int64(server.Port()))
		}
	}
	if kind == tracepb.Span_SPAN_KIND_CLIENT && server.IsValid() {
		addStr("peer.service", n.lookup(server, true))
	}

	sp := &tracepb.Span{
		TraceId:           tid,
		SpanId:            sid,
		ParentSpanId:      pid,
		Name:              s.Name,
		Kind:              kind,
		StartTimeUnixNano: uint64(max(s.StartNS, 0)),
		EndTimeUnixNano:   uint64(max(s.EndNS, s.StartNS, 0)),
		Attributes:        attrs,
		Status:            spanStatus(s),
	}
	if sp.Name == "" {
		sp.Name = s.Protocol
	}
	return item{service: service, span: sp}, nil
}

// spanStatus maps the wiretrace status; see the package doc.
func spanStatus(s *correlate.Span) *tracepb.Status {
	switch s.Status {
	case correlate.StatusError:
		msg := "error"
		for _, k := range []string{"error.type", "http.response.status_code", "rpc.grpc.status_code", "db.response.status_code"} {
			if v, ok := s.Attributes[k]; ok {
				msg = fmt.Sprintf("%s %s=%v", msg, k, v)
				break
			}
		}
		return &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: msg}
	case correlate.StatusTimeout:
		return &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "timeout: no response seen"}
	}
	return &tracepb.Status{}
}

func decodeID(s string, n int) ([]byte, error) {
	if len(s) != 2*n {
		return nil, fmt.Errorf("%q: want %d hex digits", s, 2*n)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	return b, nil
}

func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

func strValue(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

func intValue(i int64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
}

// anyValue keeps the attribute's type: integers, floats, booleans, strings
// and slices of them; anything else becomes its fmt form.
func anyValue(v any) *commonpb.AnyValue {
	switch x := v.(type) {
	case string:
		return strValue(x)
	case bool:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: x}}
	case int:
		return intValue(int64(x))
	case int8:
		return intValue(int64(x))
	case int16:
		return intValue(int64(x))
	case int32:
		return intValue(int64(x))
	case int64:
		return intValue(x)
	case uint:
		return uintValue(uint64(x))
	case uint8:
		return intValue(int64(x))
	case uint16:
		return intValue(int64(x))
	case uint32:
		return intValue(int64(x))
	case uint64:
		return uintValue(x)
	case float32:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: float64(x)}}
	case float64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: x}}
	case []string:
		vs := make([]*commonpb.AnyValue, len(x))
		for i, s := range x {
			vs[i] = strValue(s)
		}
		return arrayValue(vs)
	case []any:
		vs := make([]*commonpb.AnyValue, len(x))
		for i, e := range x {
			vs[i] = anyValue(e)
		}
		return arrayValue(vs)
	case nil:
		return strValue("")
	}
	return strValue(fmt.Sprint(v))
}

func uintValue(u uint64) *commonpb.AnyValue {
	if u > math.MaxInt64 {
		return strValue(strconv.FormatUint(u, 10))
	}
	return intValue(int64(u))
}

func arrayValue(vs []*commonpb.AnyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
}

// request groups items by service, in first-seen order, into one export
// request's resource spans.
func resourceSpans(items []item) []*tracepb.ResourceSpans {
	var out []*tracepb.ResourceSpans
	idx := map[string]*tracepb.ScopeSpans{}
	for _, it := range items {
		ss, ok := idx[it.service]
		if !ok {
			ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: ScopeName}}
			out = append(out, &tracepb.ResourceSpans{
				Resource:   &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", strValue(it.service))}},
				ScopeSpans: []*tracepb.ScopeSpans{ss},
			})
			idx[it.service] = ss
		}
		ss.Spans = append(ss.Spans, it.span)
	}
	return out
}
