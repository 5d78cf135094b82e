package store

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// openSQLite opens and migrates a fresh SQLite store in a test's directory.
func openSQLite(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mxdesk.db")
	st, err := Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st, path
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// putBlobs commits n transactions of one incompressible blob of size bytes each.
func putBlobs(t *testing.T, st *Store, n, size int) {
	t.Helper()
	for range n {
		b := make([]byte, size)
		rand.Read(b)
		if err := st.Tx(context.Background(), func(tx *sqlx.Tx) error {
			_, err := PutBlob(context.Background(), tx, b)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSQLiteCheckpointsBesideTheWriter(t *testing.T) {
	st, path := openSQLite(t)
	var auto int
	if err := st.DB.Get(&auto, "PRAGMA wal_autocheckpoint"); err != nil {
		t.Fatal(err)
	}
	if auto != 0 {
		t.Fatalf("the store's connection checkpoints every %d pages in its commits; want 0 (the checkpointer does)", auto)
	}
	before := fileSize(t, path)
	putBlobs(t, st, 40, 50<<10)
	// Nothing of ours checkpoints, so the database file grows only by the checkpointer.
	deadline := time.Now().Add(20 * time.Second)
	for fileSize(t, path) < before+(1<<20) {
		if time.Now().After(deadline) {
			t.Fatalf("database file %d -> %d bytes after 2 MB committed: not checkpointed", before, fileSize(t, path))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSQLiteCheckpointerEmptiesALogThatKeepsGrowing(t *testing.T) {
	st, path := openSQLite(t)
	st.ckpt.restartPages = 256
	// Commits one after another: a PASSIVE checkpoint alone never lets the log start
	// over, and the file only grows. The checkpointer must empty it.
	var last int64
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		putBlobs(t, st, 20, 8<<10)
		size := fileSize(t, path+"-wal")
		if size < last {
			return
		}
		last = size
	}
	t.Fatalf("the write-ahead log grew to %d bytes under steady commits and was never emptied", last)
}
