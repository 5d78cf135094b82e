package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// The loop guard's count must read the partial index outbox_loop_guard, which holds only
// the rows it counts. A database uses a partial index only when it can prove the query
// implies the index's predicate; if the query's condition and the migration's predicate
// drift apart (a status added to one, the list reordered), each count falls back to
// reading every row of the recipient, suppressed ones included, and a mail loop slows
// ingest with every message. On PostgreSQL the plan checked is the generic one, the plan
// a statement prepared once per connection runs.
func TestLoopGuardCountUsesItsIndex(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		storetest.MustNotErr(t, "seed", st.Tx(ctx, func(tx *sqlx.Tx) error {
			for i := range 300 {
				status := store.OutboxSuppressed
				if i%100 == 0 {
					status = store.OutboxSent
				}
				if err := st.InsertOutbox(ctx, tx, &store.Outbox{Kind: "acknowledgement", Automatic: true, Status: status,
					MailFrom: "support@example.com", RcptTo: "loop@example.org", MessageID: fmt.Sprintf("m%d@example.com", i), Raw: []byte("x")}); err != nil {
					return err
				}
			}
			return nil
		}))
		since := time.Now().Add(-time.Hour)
		n, err := store.CountAutomaticSince(ctx, st.DB, "loop@example.org", since)
		storetest.MustNotErr(t, "count", err)
		if n != 3 {
			t.Errorf("counted %d, want the 3 sent (suppressed rows do not count)", n)
		}

		count := "SELECT COUNT(*) FROM outbox WHERE rcpt_to = ? AND " + store.LoopGuardCounted() + " AND created_at >= ?"
		var plan []string
		storetest.MustNotErr(t, "explain", st.Tx(ctx, func(tx *sqlx.Tx) error {
			if st.Dialect == store.SQLite {
				rows, err := tx.QueryxContext(ctx, "EXPLAIN QUERY PLAN "+count, "loop@example.org", since)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					var id, parent, unused int
					var detail string
					if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
						return err
					}
					plan = append(plan, detail)
				}
				return rows.Err()
			}
			for _, stmt := range []string{
				"ANALYZE outbox",
				"SET LOCAL plan_cache_mode = force_generic_plan",
				// Usable is the question, not cheapest on a table this small.
				"SET LOCAL enable_seqscan = off",
				"PREPARE loop_guard_count(text, timestamptz) AS " + tx.Rebind(count),
			} {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", stmt, err)
				}
			}
			defer tx.ExecContext(ctx, "DEALLOCATE loop_guard_count")
			return tx.SelectContext(ctx, &plan, "EXPLAIN EXECUTE loop_guard_count('loop@example.org', now() - interval '1 hour')")
		}))
		if !strings.Contains(strings.Join(plan, "\n"), "outbox_loop_guard") {
			t.Errorf("the loop guard's count does not read outbox_loop_guard; plan:\n%s", strings.Join(plan, "\n"))
		}
	})
}
