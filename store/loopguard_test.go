package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// The loop guard counts a batch's recipients at once. On PostgreSQL a recipient under
// the limit is counted under its lock, so a second transaction waits for the first and
// counts what it queued; one at the limit already needs no lock, so a flood from one
// address does not queue every transaction behind it.
func TestLoopGuardLocksOnlyRecipientsUnderTheLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		const limit = 3
		n := 0
		queue := func(tx *sqlx.Tx, to string) error {
			n++
			return st.InsertOutbox(ctx, tx, &store.Outbox{Kind: "acknowledgement", Automatic: true,
				MailFrom: "support@example.com", RcptTo: to, MessageID: fmt.Sprintf("m%d@example.com", n), Raw: []byte("x")})
		}
		storetest.MustNotErr(t, "seed", st.Tx(ctx, func(tx *sqlx.Tx) error {
			for range limit {
				if err := queue(tx, "loop@example.org"); err != nil {
					return err
				}
			}
			return queue(tx, "alice@example.org")
		}))
		since := time.Now().Add(-time.Hour)
		count := func(tx *sqlx.Tx, rcpts ...string) map[string]int {
			t.Helper()
			n, err := store.CountAutomaticSinceMany(ctx, tx, rcpts, since, limit)
			storetest.MustNotErr(t, "count", err)
			return n
		}
		storetest.MustNotErr(t, "count", st.Tx(ctx, func(tx *sqlx.Tx) error {
			got := count(tx, "alice@example.org", "loop@example.org", "alice@example.org", "new@example.org")
			if got["alice@example.org"] != 1 || got["loop@example.org"] != limit || got["new@example.org"] != 0 || len(got) != 3 {
				t.Errorf("counts %v, want alice 1, loop %d, new 0", got, limit)
			}
			return nil
		}))
		if st.Dialect != store.Postgres {
			return // one writer: nothing to lock
		}

		// A holds alice's lock (she is under the limit) and queues her a mail; it holds
		// the looping address's lock too (CountAutomaticSince, one recipient, always
		// locks: the portal's way).
		a, err := st.DB.BeginTxx(ctx, nil)
		storetest.MustNotErr(t, "begin", err)
		defer a.Rollback()
		count(a, "alice@example.org")
		storetest.MustNotErr(t, "queue", queue(a, "alice@example.org"))
		_, err = store.CountAutomaticSince(ctx, a, "loop@example.org", since)
		storetest.MustNotErr(t, "lock loop", err)

		// The looping address is counted at once, although A holds its lock.
		b, err := st.DB.BeginTxx(ctx, nil)
		storetest.MustNotErr(t, "begin", err)
		defer b.Rollback()
		done := make(chan map[string]int, 1)
		go func() {
			n, _ := store.CountAutomaticSinceMany(ctx, b, []string{"loop@example.org"}, since, limit)
			done <- n
		}()
		select {
		case n := <-done:
			if n["loop@example.org"] != limit {
				t.Errorf("loop counted %v", n)
			}
		case <-time.After(30 * time.Second):
			a.Rollback() // so the count waiting for it ends, and the deferred rollbacks with it
			t.Fatal("counting an address at the limit waited for another transaction's lock")
		}
		storetest.MustNotErr(t, "rollback", b.Rollback())

		// Alice's count waits for A, and then counts what A queued.
		c, err := st.DB.BeginTxx(ctx, nil)
		storetest.MustNotErr(t, "begin", err)
		defer c.Rollback()
		var pid int
		storetest.MustNotErr(t, "pid", c.GetContext(ctx, &pid, "SELECT pg_backend_pid()"))
		go func() {
			n, _ := store.CountAutomaticSinceMany(ctx, c, []string{"alice@example.org"}, since, limit)
			done <- n
		}()
		for waiting := false; !waiting; {
			storetest.MustNotErr(t, "pg_locks", st.DB.GetContext(ctx, &waiting,
				"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND NOT granted)", pid))
			select {
			case n := <-done:
				t.Fatalf("alice counted %v while A held her lock", n)
			default:
			}
		}
		storetest.MustNotErr(t, "commit", a.Commit())
		if n := <-done; n["alice@example.org"] != 2 {
			t.Errorf("alice counted %v after A committed, want 2", n)
		}
	})
}
