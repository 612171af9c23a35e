package filter

import (
	"errors"
	"fmt"
)

// Sentinel errors that [*Error] unwraps to.
var (
	// ErrSyntax means the expression does not parse.
	ErrSyntax = errors.New("syntax error")
	// ErrUnsupported means the expression parses but uses something this
	// package does not compile, or that the link type cannot express (vlan
	// on Linux cooked capture, ether host on raw IP).
	ErrUnsupported = errors.New("unsupported")
	// ErrTooLong means the compiled program exceeds the kernel's 4096
	// instruction limit (BPF_MAXINSNS).
	ErrTooLong = errors.New("program too long")
)

// Error is a compile error: the expression, the byte offset of the token at
// fault and what is wrong with it.
type Error struct {
	Expr string // the whole expression
	Pos  int    // byte offset of Token in Expr
	// Token is the offending token; empty at the end of the expression.
	Token string
	Msg   string // what is wrong, e.g. `unexpected "prot"`
	Err   error  // ErrSyntax, ErrUnsupported or ErrTooLong
}

func (e *Error) Error() string {
	return fmt.Sprintf("filter: %q: %s at %d", e.Expr, e.Msg, e.Pos)
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }
