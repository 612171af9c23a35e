package mysql

import (
	"bytes"
	"strings"
)

// keywords are the statement keywords whose upper-case spelling is returned
// without allocating; others are upper-cased on the fly.
var keywords = [...]string{
	"SELECT", "INSERT", "UPDATE", "DELETE", "REPLACE", "SET", "SHOW", "USE",
	"BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "CREATE",
	"DROP", "ALTER", "TRUNCATE", "RENAME", "CALL", "WITH", "EXPLAIN",
	"DESCRIBE", "DESC", "LOCK", "UNLOCK", "GRANT", "REVOKE", "LOAD", "ANALYZE",
	"OPTIMIZE", "CHECK", "REPAIR", "KILL", "FLUSH", "RESET", "PREPARE",
	"EXECUTE", "DEALLOCATE", "XA", "HANDLER", "DO", "VALUES", "TABLE", "HELP",
	"PURGE", "INSTALL", "UNINSTALL", "BINLOG", "CACHE", "SIGNAL", "RESIGNAL",
	"GET", "IMPORT", "CLONE", "SHUTDOWN", "RESTART", "CHECKSUM", "CHANGE",
}

// maxKeyword bounds the length of a statement keyword; longer words are not
// taken for one.
const maxKeyword = 24

// firstKeyword returns the upper-cased first word of a statement, skipping
// white space, comments and opening parentheses, or "" when there is none.
// The body of a MySQL executable comment (/*!50001 ... */) counts as SQL.
func firstKeyword(q []byte) string {
	i := 0
	for i < len(q) {
		switch c := q[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(' || c == ';':
			i++
		case c == '/' && i+2 < len(q) && q[i+1] == '*' && q[i+2] == '!':
			i += 3
			for i < len(q) && q[i] >= '0' && q[i] <= '9' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := bytes.Index(q[i+2:], []byte("*/"))
			if end < 0 {
				return ""
			}
			i += 4 + end
		case c == '#' || c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		default:
			j := i
			for j < len(q) && j-i <= maxKeyword && isWordChar(q[j]) {
				j++
			}
			if j == i || j-i > maxKeyword {
				return ""
			}
			return upper(q[i:j])
		}
	}
	return ""
}

func isWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// upper returns the upper-case spelling of an ASCII word, interned when it
// is a known keyword.
func upper(w []byte) string {
	for _, k := range keywords {
		if len(k) == len(w) && eqFold(w, k) {
			return k
		}
	}
	return strings.ToUpper(string(w))
}

func eqFold(w []byte, k string) bool {
	for i := range w {
		c := w[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != k[i] {
			return false
		}
	}
	return true
}

// useTarget returns the schema of a "USE name" statement, or "".
func useTarget(q []byte) string {
	s := strings.TrimSpace(string(q))
	if len(s) < 5 || !strings.EqualFold(s[:3], "use") || (s[3] != ' ' && s[3] != '\t') {
		return ""
	}
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s[4:]), ";"))
	s = strings.Trim(s, "`")
	if s == "" || len(s) > 64 || strings.ContainsAny(s, " \t\r\n`;") {
		return ""
	}
	return s
}

// printable reports whether b looks like SQL text: no control bytes but
// white space.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
			return false
		}
	}
	return true
}

// looksLikeSQL reports whether b starts like a statement: a known keyword,
// a comment or a parenthesis, and holds no control bytes.
func looksLikeSQL(b []byte) bool {
	if len(b) == 0 || !printable(b) {
		return false
	}
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	if i < len(b) && (b[i] == '(' || b[i] == '/' || b[i] == '-' || b[i] == '#') {
		return true
	}
	j := i
	for j < len(b) && isWordChar(b[j]) {
		j++
	}
	if j == i || j-i > maxKeyword || j == len(b) && len(b) < 4 {
		return false
	}
	w := b[i:j]
	for _, k := range keywords {
		if len(k) == len(w) && eqFold(w, k) {
			return true
		}
	}
	return false
}
