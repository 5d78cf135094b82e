package store_test

import (
	"context"
	"errors"
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
