package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// LockInbounds decides which of a batch's rows are ingest's to take: the new and the
// failed ones, not those done (another replica or an earlier run finished them), not
// one that does not exist, and on PostgreSQL not one another transaction holds.
func TestLockInboundsTakesOnlyRowsStillToIngest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		ids := make([]int64, 4)
		for i := range ids {
			in := &store.Inbound{MailFrom: "a@example.org", Rcpt: []string{"support@example.com"}, Raw: fmt.Appendf(nil, "Subject: %d\r\n\r\nx\r\n", i)}
			storetest.MustNotErr(t, "spool", st.Tx(ctx, func(tx *sqlx.Tx) error { return store.InsertInbound(ctx, tx, in) }))
			ids[i] = in.ID
		}
		newRow, failedRow, doneRow, heldRow := ids[0], ids[1], ids[2], ids[3]
		storetest.MustNotErr(t, "fail", st.FailInbound(ctx, failedRow, errors.New("injected")))
		storetest.MustNotErr(t, "finish", st.Tx(ctx, func(tx *sqlx.Tx) error {
			return store.FinishInbounds(ctx, tx, map[string][]int64{store.InboundDone: {doneRow}})
		}))
		want := []int64{newRow, failedRow, heldRow}

		if st.Dialect == store.Postgres {
			// Another ingest (a replica) holds one row for the length of this check.
			other, err := st.DB.BeginTxx(ctx, nil)
			storetest.MustNotErr(t, "begin", err)
			defer other.Rollback()
			got, err := store.LockInbounds(ctx, other, st.Dialect, []int64{heldRow})
			storetest.MustNotErr(t, "lock in the other transaction", err)
			if !got[heldRow] {
				t.Fatalf("the other transaction did not get row %d: %v", heldRow, got)
			}
			want = []int64{newRow, failedRow}
		}
		storetest.MustNotErr(t, "lock", st.Tx(ctx, func(tx *sqlx.Tx) error {
			got, err := store.LockInbounds(ctx, tx, st.Dialect, append(slices.Clone(ids), ids[3]+1000))
			if err != nil {
				return err
			}
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, want) {
				return fmt.Errorf("locked %v of rows new %d, failed %d, done %d, held %d and a missing one; want %v",
					keys, newRow, failedRow, doneRow, heldRow, want)
			}
			return nil
		}))
	})
}
