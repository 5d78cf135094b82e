package store

import (
	"context"
	"database/sql/driver"
	"path/filepath"
	"testing"
	"time"

	"modernc.org/sqlite"
)

// A cached statement is prepared afresh once it is stmtMaxAge old, however few times it
// ran: its plan was chosen against the tables as they were then.
func TestCachedStatementIsPreparedAgainWhenOld(t *testing.T) {
	raw, err := (&sqlite.Driver{}).Open(filepath.Join(t.TempDir(), "age.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cachingConn{Conn: raw, stmts: map[string]*cachedStmt{}}
	defer c.Close()
	ctx := context.Background()
	const q = "SELECT 1"
	first, err := c.stmt(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		age   time.Duration // how long ago the cached statement was prepared
		again bool
	}{
		{"young: the same statement", 0, false},
		{"old: prepared afresh", stmtMaxAge, true},
	}
	for _, tc := range tests {
		c.stmts[q].prepared = time.Now().Add(-tc.age)
		got, err := c.stmt(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if again := got != first; again != tc.again {
			t.Errorf("%s: prepared again = %v", tc.name, again)
		}
		rows, err := got.(driver.StmtQueryContext).QueryContext(ctx, nil)
		if err != nil {
			t.Fatalf("%s: the statement handed out does not run: %v", tc.name, err)
		}
		rows.Close()
	}
}
