package store_test

import (
	"bytes"
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

// GetInboundRows reads a batch's rows in two statements; what it cannot hand over whole
// (a message above the limit, one stored in chunks, a row no longer due) has no Raw, and
// an id that does not exist is simply absent.
func TestGetInboundRowsReadsWhatIngestNeeds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		spool := func(raw []byte) int64 {
			in := &store.Inbound{MailFrom: "a@example.org", Rcpt: []string{"support@example.com"}, Raw: raw}
			storetest.MustNotErr(t, "spool", st.Tx(ctx, func(tx *sqlx.Tx) error { return store.InsertInbound(ctx, tx, in) }))
			return in.ID
		}
		small := []byte("Subject: small\r\n\r\nhello\r\n")
		chunked := append([]byte("Subject: big\r\n\r\n"), bytes.Repeat([]byte("x"), 2<<20)...)
		mid := append([]byte("Subject: mid\r\n\r\n"), bytes.Repeat([]byte("y"), 5000)...)
		a, twin, big, over, done := spool(small), spool(small), spool(chunked), spool(mid), spool([]byte("Subject: done\r\n\r\n"))
		storetest.MustNotErr(t, "finish", st.Tx(ctx, func(tx *sqlx.Tx) error {
			return store.FinishInbounds(ctx, tx, map[string][]int64{store.InboundDone: {done}})
		}))
		missing := done + 1000
		got, err := store.GetInboundRows(ctx, st.DB, []int64{a, twin, big, over, done, missing}, 4<<20)
		storetest.MustNotErr(t, "read", err)
		// over is under the limit only with a bigger one: read it again with a smaller limit.
		small2, err := store.GetInboundRows(ctx, st.DB, []int64{over}, 1000)
		storetest.MustNotErr(t, "read with a small limit", err)
		tests := []struct {
			name string
			in   *store.Inbound
			raw  []byte // nil: not handed over whole
		}{
			{"small", got[a], small},
			{"the same bytes in a second row", got[twin], small},
			{"chunked", got[big], nil},
			{"under the limit", got[over], mid},
			{"over the limit", small2[over], nil},
			{"no longer due", got[done], nil},
		}
		for _, tc := range tests {
			if tc.in == nil {
				t.Errorf("%s: row not read", tc.name)
				continue
			}
			if !bytes.Equal(tc.in.Raw, tc.raw) || (tc.raw == nil) != (tc.in.Raw == nil) {
				t.Errorf("%s: Raw is %d bytes, want %d", tc.name, len(tc.in.Raw), len(tc.raw))
			}
			if len(tc.in.Rcpt) != 1 || tc.in.Rcpt[0] != "support@example.com" || tc.in.Size == 0 {
				t.Errorf("%s: row read as %+v", tc.name, tc.in)
			}
		}
		if _, ok := got[missing]; ok || len(got) != 5 {
			t.Errorf("read %d rows, want the 5 that exist", len(got))
		}
		if got[done].Status != store.InboundDone {
			t.Errorf("done row's status = %q", got[done].Status)
		}
	})
}
