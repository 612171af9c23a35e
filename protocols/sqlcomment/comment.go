package sqlcomment

import (
	"net/url"
	"strings"

	"github.com/wiretrace/wiretrace/protocols"
)

// MaxValueLen bounds a value kept from a comment; longer values are skipped
// (a traceparent is 55 characters, a tracestate at most 512).
const MaxValueLen = 1024

// Extract appends to links the correlation keys found in the comments of
// query, and returns the extended slice. cfg may be nil.
func Extract(query string, cfg *protocols.Config, links []protocols.Attr) []protocols.Attr {
	if !hasComment(query) {
		return links
	}
	var rid []string
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(query, i)
		case c == '/' && i+1 < len(query) && query[i+1] == '*':
			end := strings.Index(query[i+2:], "*/")
			body := ""
			if end < 0 {
				body, i = query[i+2:], len(query)
			} else {
				body, i = query[i+2:i+2+end], i+4+end
			}
			if body != "" && (body[0] == '!' || body[0] == '+') {
				continue // executable comment or optimizer hint
			}
			if rid == nil {
				rid = cfg.RequestIDHeaders()
			}
			links = pairs(body, rid, links)
		case c == '#' || c == '-' && i+1 < len(query) && query[i+1] == '-':
			start := i + 1
			if c == '-' {
				start++
			}
			end := strings.IndexAny(query[start:], "\r\n")
			body := ""
			if end < 0 {
				body, i = query[start:], len(query)
			} else {
				body, i = query[start:start+end], start+end+1
			}
			if rid == nil {
				rid = cfg.RequestIDHeaders()
			}
			links = pairs(body, rid, links)
		default:
			i++
		}
	}
	return links
}

// Pairs appends to links the correlation keys found in body, the text of
// one comment read as Extract reads a comment's (key='value', key=value or
// key: value pairs), and returns the extended slice. It serves comments
// carried outside SQL text, such as a MongoDB command's comment field.
// cfg may be nil.
func Pairs(body string, cfg *protocols.Config, links []protocols.Attr) []protocols.Attr {
	if body == "" {
		return links
	}
	return pairs(body, cfg.RequestIDHeaders(), links)
}

// hasComment reports cheaply whether query may hold a comment.
func hasComment(q string) bool {
	return strings.Contains(q, "/*") || strings.Contains(q, "--") || strings.IndexByte(q, '#') >= 0
}

// skipQuoted returns the index after the literal or quoted identifier that
// starts at q[i]. Backslash escapes and doubled quotes are honoured.
func skipQuoted(q string, i int) int {
	quote := q[i]
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			if quote != '`' {
				j++
			}
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(q)
}

// pairs reads the key-value pairs of one comment body.
func pairs(body string, rid []string, links []protocols.Attr) []protocols.Attr {
	i := 0
	for i < len(body) {
		// Key.
		for i < len(body) && isSep(body[i]) {
			i++
		}
		ks := i
		for i < len(body) && isKeyChar(body[i]) {
			i++
		}
		key := body[ks:i]
		for i < len(body) && (body[i] == ' ' || body[i] == '\t') {
			i++
		}
		if key == "" || i >= len(body) || (body[i] != '=' && body[i] != ':') {
			if i < len(body) && !isKeyChar(body[i]) {
				i++
			}
			continue
		}
		i++
		for i < len(body) && (body[i] == ' ' || body[i] == '\t') {
			i++
		}
		// Value.
		var val string
		if i < len(body) && (body[i] == '\'' || body[i] == '"') {
			q := body[i]
			vs := i + 1
			j := vs
			for j < len(body) && body[j] != q {
				if body[j] == '\\' {
					j++
				}
				j++
			}
			val = body[vs:min(j, len(body))]
			i = j + 1
		} else {
			vs := i
			for i < len(body) && !isSep(body[i]) {
				i++
			}
			val = body[vs:i]
		}
		link := linkKey(key, rid)
		if link == "" || val == "" || len(val) > MaxValueLen || has(links, link) {
			continue
		}
		if strings.IndexByte(val, '%') >= 0 {
			if v, err := url.QueryUnescape(val); err == nil {
				val = v
			}
		}
		links = append(links, protocols.String(link, val))
	}
	return links
}

func isSep(c byte) bool {
	return c == ',' || c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '%'
}

func has(links []protocols.Attr, key string) bool {
	for _, a := range links {
		if a.Key == key {
			return true
		}
	}
	return false
}

// requestIDKeys are the request-id key spellings always recognised.
var requestIDKeys = [...]string{"x-request-id", "request-id", "requestid"}

// linkKey maps a comment key to a correlation key, or "".
func linkKey(key string, rid []string) string {
	if strings.IndexByte(key, '%') >= 0 {
		if k, err := url.QueryUnescape(key); err == nil {
			key = k
		}
	}
	switch {
	case sameKey(key, "traceparent"):
		return protocols.LinkTraceparent
	case sameKey(key, "tracestate"):
		return protocols.LinkTracestate
	}
	for _, k := range requestIDKeys {
		if sameKey(key, k) {
			return protocols.LinkXRequestID
		}
	}
	for _, k := range rid {
		if sameKey(key, k) {
			return protocols.LinkXRequestID
		}
	}
	return ""
}

// sameKey compares ASCII keys case-insensitively with '-' and '_' equal.
func sameKey(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := fold(a[i]), fold(b[i])
		if x != y {
			return false
		}
	}
	return true
}

func fold(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c + 'a' - 'A'
	case c == '_':
		return '-'
	}
	return c
}
