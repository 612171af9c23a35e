package sqlredact

import "testing"

func TestLiterals(t *testing.T) {
	for _, tc := range []struct {
		d       Dialect
		in, out string
	}{
		{MySQL, "SELECT 1", "SELECT ?"},
		{MySQL, "SELECT * FROM t1 WHERE id = 42 AND name = 'bob'", "SELECT * FROM t1 WHERE id = ? AND name = ?"},
		{MySQL, `INSERT INTO users (name, card) VALUES ("Ann", '4111-1111 \'x\'' ), ('it''s', -3.5e10)`, "INSERT INTO users (name, card) VALUES (?, ? ), (?, -?)"},
		{MySQL, "SELECT `order`, col_2 FROM db1.t WHERE x IN (1, 2, 0x1F) AND y = X'ABCD'", "SELECT `order`, col_2 FROM db1.t WHERE x IN (?, ?, ?) AND y = ?"},
		{MySQL, "/* traceparent='00-abc-01' */ SELECT 'a' # note 5\nFROM t", "/* traceparent='00-abc-01' */ SELECT ? # note 5\nFROM t"},
		{MySQL, "SELECT ? , ?", "SELECT ? , ?"},
		{MySQL, "SELECT 'unterminated", "SELECT ?"},
		{MySQL, "SELECT .5, 1., 3e, 2E-3", "SELECT ?, ?, ?e, ?"},
		{PostgreSQL, `SELECT "Name", "x1" FROM "T" WHERE a = 'it''s' AND b = $1 AND c = E'\'q\''`, `SELECT "Name", "x1" FROM "T" WHERE a = ? AND b = $1 AND c = ?`},
		{PostgreSQL, "SELECT $$a 'b' 1$$, $fn$x$fn$, $2::int, 7::text", "SELECT ?, ?, $2::int, ?::text"},
		{PostgreSQL, "UPDATE s SET n = n - 1 -- sku 'w-7'\nWHERE sku = 'w-7'", "UPDATE s SET n = n - ? -- sku 'w-7'\nWHERE sku = ?"},
		{PostgreSQL, "SELECT n'abc', b'101', word'x'", "SELECT ?, ?, word?"},
		{PostgreSQL, "SELECT '\\' AS x, 'y'", "SELECT ? AS x, ?"},
		{PostgreSQL, "SELECT $1", "SELECT $1"},
		{PostgreSQL, "", ""},
	} {
		if got := Literals(tc.in, tc.d); got != tc.out {
			t.Errorf("Literals(%q, %d)\n got %q\nwant %q", tc.in, tc.d, got, tc.out)
		}
	}
}

func TestLiteralsNoAllocWithoutLiterals(t *testing.T) {
	q := "SELECT name FROM users WHERE id = ?"
	if n := testing.AllocsPerRun(100, func() { Literals(q, MySQL) }); n != 0 {
		t.Errorf("%v allocs for a query without literals, want 0", n)
	}
}

func FuzzLiterals(f *testing.F) {
	for _, s := range []string{"SELECT 1", "SELECT 'a''b'", `SELECT "x\"y"`, "$a$ $b$ $a$", "/* 'x' */ 1", "-- 1\n2", "E'\\''", "0x", "1e+"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, q string, pg bool) {
		d := MySQL
		if pg {
			d = PostgreSQL
		}
		out := Literals(q, d)
		if len(out) > len(q) {
			t.Fatalf("output %q longer than input %q", out, q)
		}
		if again := Literals(out, d); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", q, out, again)
		}
	})
}

func BenchmarkLiterals(b *testing.B) {
	q := "SELECT o.id, o.total FROM orders o WHERE o.customer = 'c-1042' AND o.total > 100.50 AND o.state IN ('paid', 'sent') /* traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' */"
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		Literals(q, MySQL)
	}
}
