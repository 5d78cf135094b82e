package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestBackupCopiesTheDatabaseAndNeverOverwrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		out := filepath.Join(t.TempDir(), "copy.db")
		if st.Dialect == store.Postgres {
			if _, err := st.Backup(ctx, out); !errors.Is(err, store.ErrBackupPostgres) || !strings.Contains(err.Error(), "pg_dump") {
				t.Fatalf("Backup on PostgreSQL = %v, want the pg_dump advice", err)
			}
			return
		}
		_, err := store.EnsureTeam(ctx, st.DB, "Backed Up")
		storetest.MustNotErr(t, "team", err)
		n, err := st.Backup(ctx, out)
		storetest.MustNotErr(t, "backup", err)
		if fi, err := os.Stat(out); err != nil || fi.Size() != n || n == 0 {
			t.Fatalf("backup file: %v, size %d, reported %d", err, fi.Size(), n)
		}
		cp, err := store.Open(ctx, "sqlite:"+out)
		storetest.MustNotErr(t, "open copy", err)
		defer cp.Close()
		var name string
		storetest.MustNotErr(t, "read copy", cp.DB.Get(&name, "SELECT name FROM teams WHERE name = 'Backed Up'"))

		if _, err := st.Backup(ctx, out); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Errorf("second backup to the same file = %v, want a refusal naming it", err)
		}
		// A directory nobody may write to (root may write anywhere but /proc).
		ro := filepath.Join(t.TempDir(), "ro")
		storetest.MustNotErr(t, "mkdir", os.Mkdir(ro, 0o500))
		if os.Geteuid() == 0 {
			ro = "/proc"
		}
		if _, err := st.Backup(ctx, filepath.Join(ro, "x.db")); err == nil || !strings.Contains(err.Error(), "x.db") {
			t.Errorf("backup into a read-only directory = %v, want an error naming the file", err)
		}
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*tmp*"))
		if len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
}
