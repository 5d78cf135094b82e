package store_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// RunCheckpoints copies SQLite's log into the database file from a connection of its
// own, long before the writer's own checkpoint (raised to 10,000 pages) would; on
// PostgreSQL there is nothing to do and it returns at once.
func TestRunCheckpointsCopiesTheLogBesideTheWriter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		log := slog.New(slog.DiscardHandler)
		if st.Dialect == store.Postgres {
			st.RunCheckpoints(context.Background(), log) // returns, or the test times out
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			st.RunCheckpoints(ctx, log)
		}()
		defer func() { cancel(); <-stopped }()

		var path string
		storetest.MustNotErr(t, "database file", st.DB.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path))
		before := fileSize(t, path)
		waitUntil(t, "the writer's checkpoint raised", func() bool {
			var pages int
			storetest.MustNotErr(t, "wal_autocheckpoint", st.DB.GetContext(ctx, &pages, "PRAGMA wal_autocheckpoint"))
			return pages == 10000
		})
		// About 1,000 pages: more than the default checkpoint, far fewer than the writer's.
		storetest.MustNotErr(t, "write", st.Tx(ctx, func(tx *sqlx.Tx) error {
			for range 250 {
				b := make([]byte, 16<<10) // random: nothing to compress
				rand.Read(b)
				if _, err := store.PutBlob(ctx, tx, b); err != nil {
					return err
				}
			}
			return nil
		}))
		waitUntil(t, "the database file to hold the new pages", func() bool { return fileSize(t, path) >= before+(3<<20) })
	})
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	storetest.MustNotErr(t, "stat", err)
	return fi.Size()
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
	}
}
