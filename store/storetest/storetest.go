// Package storetest opens fresh, migrated databases for tests: always SQLite in a temp
// dir, and PostgreSQL too when MXDESK_TEST_POSTGRES holds a URL. Each PostgreSQL test gets
// its own schema, dropped at the end, so tests run in parallel against one cluster.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/store"
)

// Dialects returns the database URLs a test should run against, by dialect name.
// PostgreSQL joins when MXDESK_TEST_POSTGRES is set; .ci/run sets it for its second pass
// and fails if no PostgreSQL subtest ran.
func Dialects(t testing.TB) map[string]func(t testing.TB) string {
	out := map[string]func(t testing.TB) string{
		store.SQLite: func(t testing.TB) string {
			return "sqlite:" + filepath.Join(t.TempDir(), "mxdesk.db")
		},
	}
	if pg := os.Getenv("MXDESK_TEST_POSTGRES"); pg != "" {
		out[store.Postgres] = func(t testing.TB) string { return PostgresURL(t, pg) }
	}
	return out
}

// PostgresURL creates a fresh schema in the cluster at base and returns a URL whose
// connections use it; the schema is dropped when the test ends.
func PostgresURL(t testing.TB, base string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	st, err := store.Open(context.Background(), base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if _, err := st.DB.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("postgres: create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := st.DB.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Logf("postgres: drop schema %s: %v", schema, err)
		}
		st.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	// lib/pq passes unknown URL parameters on as run-time settings.
	return base + sep + "search_path=" + schema
}

// Open returns a migrated store for url, closed when the test ends.
func Open(t testing.TB, url string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return st
}

// Each runs fn as a subtest once per available dialect with a fresh migrated store.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	for name, mk := range Dialects(t) {
		t.Run(name, func(t *testing.T) {
			fn(t, Open(t, mk(t)))
		})
	}
}

// MustNotErr fails the test on err, naming what was being done.
func MustNotErr(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(fmt.Errorf("%s: %w", what, err))
	}
}
