package filter

import "strings"

// tokKind classifies tokens.
type tokKind uint8

const (
	tokEOF  tokKind = iota
	tokWord         // keyword, name, number or address
	tokOp           // punctuation: ( ) [ ] : + - * / % & | ^ << >> = == != < <= > >= ! && ||
)

type token struct {
	kind tokKind
	text string
	pos  int
	esc  bool // written with a leading backslash (\ip), never a keyword
}

// lex splits expr into tokens. Words are runs of letters, digits and "_.:"
// plus "-" when the word starts with a letter (tcp-syn, icmp-echo), so
// "80-90" lexes as 80, -, 90 while "fe80::1" and "00:11:22:33:44:55" stay
// whole. Inside brackets ':' is punctuation (tcp[12:2]).
func lex(expr string) ([]token, error) {
	var toks []token
	i, depth := 0, 0 // depth counts open brackets: inside, ':' separates
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case isWordByte(c) && (c != ':' || depth == 0) || c == '\\':
			start := i
			esc := c == '\\'
			if esc {
				i++
			}
			letter := i < len(expr) && isLetter(expr[i])
			for i < len(expr) && (isWordByte(expr[i]) && (expr[i] != ':' || depth == 0) || (letter && expr[i] == '-')) {
				i++
			}
			text := expr[start:i]
			if esc {
				text, start = text[1:], start+1
				if text == "" {
					return nil, &Error{Expr: expr, Pos: start - 1, Token: `\`, Msg: `unexpected "\\"`, Err: ErrSyntax}
				}
			}
			toks = append(toks, token{kind: tokWord, text: text, pos: start, esc: esc})
		default:
			op := ""
			for _, o := range []string{"==", "!=", "<=", ">=", "<<", ">>", "&&", "||"} {
				if strings.HasPrefix(expr[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				if !strings.ContainsRune("()[]:+-*/%&|^=<>!", rune(c)) {
					return nil, &Error{Expr: expr, Pos: i, Token: expr[i : i+1], Msg: `unexpected "` + expr[i:i+1] + `"`, Err: ErrSyntax}
				}
				op = expr[i : i+1]
			}
			switch op {
			case "[":
				depth++
			case "]":
				depth--
			}
			toks = append(toks, token{kind: tokOp, text: op, pos: i})
			i += len(op)
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(expr)}), nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isWordByte(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':'
}
