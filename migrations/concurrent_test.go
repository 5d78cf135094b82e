package migrations_test

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/mxdesk/mxdesk/migrations"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// Replicas may start at the same moment on an empty database: one applies the
// migrations, the others wait on the lock and find them applied.
func TestReplicasMigratingAtOnceApplyEachMigrationOnce(t *testing.T) {
	pg := os.Getenv("MXDESK_TEST_POSTGRES")
	if pg == "" {
		t.Skip("MXDESK_TEST_POSTGRES not set")
	}
	url := storetest.PostgresURL(t, pg)
	all, err := migrations.List(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	const replicas = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied = map[int]int{}
	)
	for range replicas {
		st, err := store.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			vs, err := st.Migrate(context.Background())
			if err != nil {
				t.Errorf("migrate: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, v := range vs {
				applied[v]++
			}
		}()
	}
	wg.Wait()
	for _, m := range all {
		if applied[m.Version] != 1 {
			t.Errorf("migration %s applied %d times, want once", m.Name, applied[m.Version])
		}
	}
}
