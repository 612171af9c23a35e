package html

import (
	"net/netip"
	"strconv"

	"github.com/wiretrace/wiretrace/correlate"
)

// Namer names the services at the two ends of a span. A service is a host
// (an IP address) unless Names says otherwise:
//
//   - the server end is Names["IP:PORT"], else Names["IP"], else the IP;
//   - the client end is Names["IP"], else the one name given to an
//     "IP:PORT" of that IP when there is exactly one, else the IP.
//
// So a host that serves on one port and calls others is one node, and
// "10.0.0.5:6379=redis" names a server without touching its clients. A
// Namer is read-only after NewNamer and safe for concurrent use.
type Namer struct {
	names  map[string]string
	byHost map[string]string // IP → the single name of its IP:PORT entries, "" if several
}

// NewNamer returns a Namer for an address → name map (keys "IP" or
// "IP:PORT"; a nil or empty map names every service by its address).
func NewNamer(names map[string]string) *Namer {
	n := &Namer{names: make(map[string]string, len(names)), byHost: map[string]string{}}
	for k, v := range names {
		if ap, err := netip.ParseAddrPort(k); err == nil {
			k = ap.String()
			host := ap.Addr().Unmap().String()
			if old, ok := n.byHost[host]; ok && old != v {
				n.byHost[host] = ""
			} else {
				n.byHost[host] = v
			}
		} else if a, err := netip.ParseAddr(k); err == nil {
			k = a.Unmap().String()
		}
		n.names[k] = v
	}
	return n
}

// Server returns the service name of the span's server end.
func (n *Namer) Server(s *correlate.Span) string {
	if len(n.names) > 0 {
		if v, ok := n.names[hostPort(s.Server)]; ok {
			return v
		}
		if v, ok := n.names[s.Server.IP]; ok {
			return v
		}
	}
	return s.Server.IP
}

// Client returns the service name of the span's client end.
func (n *Namer) Client(s *correlate.Span) string {
	if len(n.names) > 0 {
		if v, ok := n.names[s.Client.IP]; ok {
			return v
		}
		if v := n.byHost[s.Client.IP]; v != "" {
			return v
		}
	}
	return s.Client.IP
}

func hostPort(e correlate.Endpoint) string {
	if a, err := netip.ParseAddr(e.IP); err == nil && a.Is6() && !a.Is4In6() {
		return "[" + e.IP + "]:" + strconv.Itoa(e.Port)
	}
	return e.IP + ":" + strconv.Itoa(e.Port)
}
