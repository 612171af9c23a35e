package sqlredact_test

import (
	"fmt"

	"github.com/wiretrace/wiretrace/protocols/sqlredact"
)

// ExampleLiterals redacts the values of a statement and keeps the comment
// that carries its trace context.
func ExampleLiterals() {
	q := "SELECT * FROM cards WHERE owner = 'Ann Lee' AND pan = '4111111111111111' AND limit_eur > 2500.00 /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/"
	fmt.Println(sqlredact.Literals(q, sqlredact.MySQL))
	fmt.Println(sqlredact.Literals(`SELECT "Owner" FROM t WHERE id = $1 AND note = $$it's 5$$`, sqlredact.PostgreSQL))
	// Output:
	// SELECT * FROM cards WHERE owner = ? AND pan = ? AND limit_eur > ? /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/
	// SELECT "Owner" FROM t WHERE id = $1 AND note = ?
}
