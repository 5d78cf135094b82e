package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestStatementCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		// One connection, so every call below meets the same cache.
		st.DB.SetMaxOpenConns(1)
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := st.DB.ExecContext(ctx, st.DB.Rebind(q), args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		// A script of several statements is not prepared, it is run as it is.
		exec("CREATE TABLE cache_t (a INTEGER); INSERT INTO cache_t (a) VALUES (1);")
		var a []int
		get := func() error { return st.DB.SelectContext(ctx, &a, "SELECT * FROM cache_t") }
		if err := get(); err != nil || len(a) != 1 || a[0] != 1 {
			t.Fatalf("select = %v, %v", a, err)
		}
		// More distinct statements than the cache keeps: each still answers right.
		for i := range 300 {
			var n int
			if err := st.DB.GetContext(ctx, &n, fmt.Sprintf("SELECT %d + a FROM cache_t", i)); err != nil || n != i+1 {
				t.Fatalf("statement %d = %d, %v", i, n, err)
			}
		}
		// The schema changes under a prepared SELECT *: at worst the first use fails
		// (PostgreSQL: "cached plan must not change result type"); the next one works.
		if err := get(); err != nil {
			t.Fatal(err)
		}
		exec("ALTER TABLE cache_t ADD COLUMN b INTEGER")
		type row struct {
			A int  `db:"a"`
			B *int `db:"b"`
		}
		var rows []row
		sel := func() error { return st.DB.SelectContext(ctx, &rows, "SELECT * FROM cache_t") }
		if err := sel(); err != nil {
			t.Logf("first use after the schema change: %v", err)
			if err := sel(); err != nil {
				t.Fatalf("second use after the schema change still fails: %v", err)
			}
		}
		if len(rows) != 1 || rows[0].A != 1 || rows[0].B != nil {
			t.Errorf("rows = %+v", rows)
		}
	})
}
