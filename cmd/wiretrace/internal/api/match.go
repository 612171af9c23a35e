package api

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/wiretrace/wiretrace/correlate"
	"github.com/wiretrace/wiretrace/correlate/store"
)

// callSite is an APM span that may have made a call wiretrace saw.
type callSite struct {
	id         string // 16 hex, for matching
	ref        string // the id as the APM wrote it, for references
	client     bool   // span kind client or producer
	start, end int64  // Unix ns
	hosts      []string
	port       int
}

// headerSpanLinks are the links holding the caller's span id, as sent in
// the trace header of the request.
var headerSpanLinks = []string{"traceparent_span_id", "b3_span_id", "uber_span_id"}

// parentOf returns the APM span that made the call sp records: the one
// whose id the request's trace header carried; else the innermost client
// span whose peer tags name sp's server (address, port or service name)
// and whose time encloses sp's, give or take slack ns (clocks of the APM's
// host and the capture point differ). "" when none matches.
func parentOf(sp *correlate.Span, sites []callSite, names store.Names, slack int64) string {
	for _, k := range headerSpanLinks {
		id := normSpanID(sp.Links[k])
		if id == "" {
			continue
		}
		for _, c := range sites {
			if c.id == id {
				return c.ref
			}
		}
	}
	best := -1
	for i, c := range sites {
		if !c.client || c.start > sp.StartNS+slack || c.end < sp.EndNS-slack || !peerMatches(&c, sp, names) {
			continue
		}
		if best < 0 || c.end-c.start < sites[best].end-sites[best].start {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return sites[best].ref
}

func peerMatches(c *callSite, sp *correlate.Span, names store.Names) bool {
	if c.port != 0 && c.port != sp.Server.Port {
		return false
	}
	svc := names.Server(sp)
	for _, h := range c.hosts {
		if h == sp.Server.IP || h == svc || net.JoinHostPort(h, strconv.Itoa(sp.Server.Port)) == svc {
			return true
		}
	}
	return false
}

// peer tag keys: OpenTelemetry (current and older) and OpenTracing.
var (
	hostKeys = []string{"server.address", "network.peer.address", "net.peer.name", "net.peer.ip", "peer.hostname", "peer.ipv4", "peer.ipv6", "peer.service", "net.sock.peer.addr"}
	portKeys = []string{"server.port", "network.peer.port", "net.peer.port", "peer.port", "net.sock.peer.port"}
	urlKeys  = []string{"url.full", "http.url"}
)

// newCallSite builds a callSite from a span's kind and tags (get returns a
// tag's value as text).
func newCallSite(id, kind string, start, end int64, get func(string) (string, bool)) callSite {
	k := strings.ToLower(kind)
	c := callSite{id: normSpanID(id), ref: id, start: start, end: end,
		client: strings.Contains(k, "client") || strings.Contains(k, "producer")}
	for _, key := range hostKeys {
		if v, ok := get(key); ok && v != "" {
			c.hosts = append(c.hosts, v)
		}
	}
	for _, key := range portKeys {
		if v, ok := get(key); ok {
			if p, err := strconv.Atoi(v); err == nil && c.port == 0 {
				c.port = p
			}
		}
	}
	for _, key := range urlKeys {
		if v, ok := get(key); ok {
			if u, err := url.Parse(v); err == nil && u.Host != "" {
				c.hosts = append(c.hosts, u.Hostname())
				if p, err := strconv.Atoi(u.Port()); err == nil && c.port == 0 {
					c.port = p
				} else if c.port == 0 {
					switch u.Scheme {
					case "http":
						c.port = 80
					case "https":
						c.port = 443
					}
				}
			}
		}
	}
	return c
}

// normSpanID lower-cases a hex span id and left-pads it to 16 digits; ""
// when it is not hex or too long.
func normSpanID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	if id == "" || len(id) > 16 {
		return ""
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return ""
		}
	}
	return strings.Repeat("0", 16-len(id)) + id
}
