package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// syncSetting reads how commits wait for the disk: SQLite's synchronous (1 NORMAL, 2 FULL),
// PostgreSQL's synchronous_commit.
func syncSetting(ctx context.Context, t *testing.T, st *store.Store, q sqlx.QueryerContext) string {
	t.Helper()
	query := "PRAGMA synchronous"
	if st.Dialect == store.Postgres {
		query = "SHOW synchronous_commit"
	}
	var v string
	storetest.MustNotErr(t, "read the sync setting", sqlx.GetContext(ctx, q, &v, query))
	return v
}

func TestTxRedoableCommitsWithoutWaitingAndLeavesOthersDurable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		inside, durable := "1", "2"
		if st.Dialect == store.Postgres {
			inside, durable = "on", "on" // PostgreSQL's ingest commits wait (redoable.go says why)
		}
		tests := []struct {
			name    string
			fail    error
			wantRow bool
		}{
			{"committed", nil, true},
			{"rolled back", errors.New("boom"), false},
		}
		for _, tc := range tests {
			var sum string
			err := st.TxRedoable(ctx, func(tx *sqlx.Tx) error {
				if got := syncSetting(ctx, t, st, tx); got != inside {
					t.Errorf("%s: inside, commits wait as %q, want %q", tc.name, got, inside)
				}
				var err error
				if sum, err = store.PutBlob(ctx, tx, []byte("redoable "+tc.name)); err != nil {
					return err
				}
				return tc.fail
			})
			if !errors.Is(err, tc.fail) {
				t.Fatalf("%s: err %v, want %v", tc.name, err, tc.fail)
			}
			var n int
			storetest.MustNotErr(t, "count", st.DB.GetContext(ctx, &n, st.DB.Rebind("SELECT count(*) FROM blobs WHERE sha256 = ?"), sum))
			if (n == 1) != tc.wantRow {
				t.Errorf("%s: %d rows stored, want row: %v", tc.name, n, tc.wantRow)
			}
			// What runs next (the spool's commits) waits for the disk again.
			err = st.Tx(ctx, func(tx *sqlx.Tx) error {
				if got := syncSetting(ctx, t, st, tx); got != durable {
					t.Errorf("%s: afterwards, commits wait as %q, want %q", tc.name, got, durable)
				}
				return nil
			})
			storetest.MustNotErr(t, "tx after", err)
		}
	})
}

// On SQLite the setting belongs to the one connection the spool shares: nobody else may
// use it while a redoable transaction holds it.
func TestTxRedoableHoldsTheSQLiteConnection(t *testing.T) {
	st := storetest.Open(t, storetest.Dialects(t)[store.SQLite](t))
	ctx := context.Background()
	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- st.TxRedoable(ctx, func(tx *sqlx.Tx) error {
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered
	got := make(chan string, 1)
	go func() {
		var v string
		if err := st.DB.GetContext(ctx, &v, "PRAGMA synchronous"); err != nil {
			v = err.Error()
		}
		got <- v
	}()
	select {
	case v := <-got:
		t.Fatalf("another query ran (synchronous=%s) while the redoable transaction held the connection", v)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	storetest.MustNotErr(t, "redoable tx", <-done)
	if v := <-got; v != "2" {
		t.Errorf("the query after it saw synchronous=%s, want 2 (FULL)", v)
	}
}

// The spool commits one unsynced transaction after another on SQLite's one connection:
// the first sets NORMAL, the next find it so, and only another use of the connection
// sets FULL back, before it runs.
func TestUnsyncedTransactionsInARowSetTheSettingOnce(t *testing.T) {
	st := storetest.Open(t, storetest.Dialects(t)[store.SQLite](t))
	ctx := context.Background()
	runs := func(q string) int {
		t.Helper()
		n, err := st.StatementRuns(ctx, q)
		storetest.MustNotErr(t, "statement runs", err)
		return n
	}
	const normal, full = "PRAGMA synchronous = NORMAL", "PRAGMA synchronous = FULL"
	redoable := func(i int) {
		t.Helper()
		storetest.MustNotErr(t, "redoable tx", st.TxRedoable(ctx, func(tx *sqlx.Tx) error {
			if got := syncSetting(ctx, t, st, tx); got != "1" {
				t.Errorf("transaction %d: commits wait as %q, want 1 (NORMAL)", i, got)
			}
			_, err := store.PutBlob(ctx, tx, fmt.Appendf(nil, "redoable %d", i))
			return err
		}))
	}
	for i := range 3 {
		redoable(i)
	}
	if n, m := runs(normal), runs(full); n != 1 || m != 0 {
		t.Fatalf("three unsynced transactions in a row set NORMAL %d times and FULL %d, want 1 and 0", n, m)
	}
	// Any other use sets FULL first: a plain write, here.
	_, err := st.DB.ExecContext(ctx, "CREATE TABLE after_unsynced (a INTEGER)")
	storetest.MustNotErr(t, "exec", err)
	if m := runs(full); m != 1 {
		t.Fatalf("the write after them set FULL %d times first, want 1", m)
	}
	if got := syncSetting(ctx, t, st, st.DB); got != "2" {
		t.Errorf("after another use, commits wait as %q, want 2 (FULL)", got)
	}
	redoable(3)
	if n := runs(normal); n != 2 {
		t.Errorf("an unsynced transaction after FULL set NORMAL %d times in all, want 2", n)
	}
}
