// Package sqlredact replaces the literals of SQL text with "?", so that
// statements can be shown without the values they carry (names, card
// numbers, tokens) while keeping their shape for grouping and reading.
//
// String literals ('...', with ” and backslash escapes, and their
// prefixed forms E'...', N'...', X'...', B'...'), numbers (integers,
// decimals, exponents, 0x hex), MySQL's double-quoted strings and
// PostgreSQL's dollar-quoted strings ($$...$$, $tag$...$tag$) each become
// one "?". Identifiers (including quoted ones: `name` in MySQL, "name"
// in PostgreSQL), keywords, placeholders (?, $1, :name) and comments are
// kept, so that trace context in SQL comments (see package sqlcomment)
// still reads. The scanner works on bytes, never fails, and returns the
// input unchanged when it holds no literal.
package sqlredact

import "strings"

// Dialect selects the quoting rules of a database.
type Dialect uint8

// Dialects.
const (
	// MySQL: "..." is a string (unless ANSI_QUOTES), `...` an identifier,
	// backslash escapes in strings, # starts a line comment.
	MySQL Dialect = iota
	// PostgreSQL: "..." is an identifier, $tag$...$tag$ a string,
	// backslash escapes only in E'...'.
	PostgreSQL
)

// Literals returns q with every literal replaced by "?".
func Literals(q string, d Dialect) string {
	var b strings.Builder
	last := 0 // q[last:i] is still to be copied
	replace := func(from, to int) {
		if b.Cap() == 0 {
			b.Grow(len(q))
		}
		b.WriteString(q[last:from])
		b.WriteByte('?')
		last = to
	}
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == '\'':
			start := i
			// A one-letter prefix (E'', N'', X'', B'') goes with the
			// literal when it is not the end of a longer word.
			backslash := d == MySQL
			if start > 0 && strings.IndexByte("eEnNxXbB", q[start-1]) >= 0 && (start < 2 || !wordByte(q[start-2])) {
				if q[start-1] == 'e' || q[start-1] == 'E' {
					backslash = true
				}
				start--
			}
			end := skipQuoted(q, i, '\'', backslash)
			replace(start, end)
			i = end
		case c == '"':
			end := skipQuoted(q, i, '"', d == MySQL)
			if d == MySQL {
				replace(i, end)
			}
			i = end
		case c == '`' && d == MySQL:
			i = skipQuoted(q, i, '`', false)
		case c == '$' && d == PostgreSQL:
			if tag, ok := dollarTag(q[i:]); ok {
				end := strings.Index(q[i+len(tag):], tag)
				if end < 0 {
					end = len(q)
				} else {
					end += i + 2*len(tag)
				}
				replace(i, end)
				i = end
				continue
			}
			// $1: a placeholder; skip it whole so its digits stay.
			i++
			for i < len(q) && wordByte(q[i]) {
				i++
			}
		case c == '-' && i+1 < len(q) && q[i+1] == '-', c == '#' && d == MySQL:
			if nl := strings.IndexByte(q[i:], '\n'); nl >= 0 {
				i += nl + 1
			} else {
				i = len(q)
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			if end := strings.Index(q[i+2:], "*/"); end >= 0 {
				i += end + 4
			} else {
				i = len(q)
			}
		case isDigit(c) || c == '.' && i+1 < len(q) && isDigit(q[i+1]):
			if i > 0 && (wordByte(q[i-1]) || q[i-1] == '$' || q[i-1] == '?' || q[i-1] == '.' && c != '.') {
				// Part of a name or a placeholder: t1, col_2, $1, schema.t,
				// or what follows a literal already replaced (1.2.3).
				i++
				continue
			}
			end := number(q, i)
			replace(i, end)
			i = end
		case wordByte(c):
			for i < len(q) && wordByte(q[i]) {
				i++
			}
		default:
			i++
		}
	}
	if last == 0 {
		return q
	}
	b.WriteString(q[last:])
	return b.String()
}

// skipQuoted returns the index after the quoted run starting at q[i] ==
// quote: a doubled quote is an escaped one, and so is a backslashed one
// when backslash is set. An unterminated run ends at the end of q.
func skipQuoted(q string, i int, quote byte, backslash bool) int {
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			if backslash {
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

// dollarTag returns the opening tag of a dollar-quoted string at the
// start of s ("$$" or "$name$").
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		c := s[j]
		switch {
		case c == '$':
			return s[:j+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
		case isDigit(c) && j > 1:
		default:
			return "", false
		}
	}
	return "", false
}

// number returns the index after the numeric literal starting at q[i].
func number(q string, i int) int {
	if q[i] == '0' && i+1 < len(q) && (q[i+1] == 'x' || q[i+1] == 'X') {
		j := i + 2
		for j < len(q) && isHex(q[j]) {
			j++
		}
		return j
	}
	j := i
	for j < len(q) && isDigit(q[j]) {
		j++
	}
	if j < len(q) && q[j] == '.' {
		j++
		for j < len(q) && isDigit(q[j]) {
			j++
		}
	}
	if j < len(q) && (q[j] == 'e' || q[j] == 'E') {
		k := j + 1
		if k < len(q) && (q[k] == '+' || q[k] == '-') {
			k++
		}
		if k < len(q) && isDigit(q[k]) {
			for k < len(q) && isDigit(q[k]) {
				k++
			}
			j = k
		}
	}
	return j
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// wordByte reports whether c can be part of an identifier or keyword.
func wordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c >= 0x80
}
