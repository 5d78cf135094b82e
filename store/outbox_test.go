package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// A claim takes the due rows in id order, leaves the rest, and counts an attempt on each;
// the outcomes recorded for a batch each land on their own row.
func TestClaimAndRecordOutbox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		ids := insertAcks(ctx, t, st, 5)
		claimed, err := st.ClaimOutbox(ctx, 4)
		storetest.MustNotErr(t, "claim", err)
		if len(claimed) != 4 || claimed[0].ID != ids[0] || claimed[3].ID != ids[3] {
			t.Fatalf("claimed %d rows (%v), want the first 4 of %v", len(claimed), claimed, ids)
		}
		for _, o := range claimed {
			if o.Attempts != 1 {
				t.Errorf("row %d: attempts %d returned, want 1", o.ID, o.Attempts)
			}
		}
		if again, err := st.ClaimOutbox(ctx, 10); err != nil || len(again) != 1 || again[0].ID != ids[4] {
			t.Fatalf("second claim = %v, %v; want only the unclaimed row %d", again, err, ids[4])
		}
		retry := time.Now().Add(time.Hour).UTC()
		storetest.MustNotErr(t, "record", st.RecordDeliveries(ctx, []store.Delivery{
			{ID: ids[0], Status: store.OutboxSent},
			{ID: ids[1], Status: store.OutboxPending, Error: "451 try later", Next: retry},
			{ID: ids[2], Status: store.OutboxFailed, Error: "550 no such user"},
			{ID: ids[3], Status: store.OutboxSent},
		}))
		rows, err := st.ListOutbox(ctx, "", 0, 10)
		storetest.MustNotErr(t, "list", err)
		got := map[int64]store.Outbox{}
		for _, o := range rows {
			got[o.ID] = o
		}
		tests := []struct {
			id       int64
			status   string
			err      string
			sent     bool
			attempts int
		}{
			{ids[0], store.OutboxSent, "", true, 1},
			{ids[1], store.OutboxPending, "451 try later", false, 1},
			{ids[2], store.OutboxFailed, "550 no such user", false, 1},
			{ids[3], store.OutboxSent, "", true, 1},
			{ids[4], store.OutboxSending, "", false, 1},
		}
		for _, tc := range tests {
			o := got[tc.id]
			if o.Status != tc.status || o.LastError != tc.err || (o.SentAt != nil) != tc.sent || o.Attempts != tc.attempts {
				t.Errorf("row %d: status %q, error %q, sent_at %v, attempts %d; want %q, %q, sent %v, %d",
					tc.id, o.Status, o.LastError, o.SentAt, o.Attempts, tc.status, tc.err, tc.sent, tc.attempts)
			}
		}
		if o := got[ids[1]]; !o.NextAttemptAt.Round(time.Second).Equal(retry.Round(time.Second)) {
			t.Errorf("deferred row due at %v, want %v", o.NextAttemptAt, retry)
		}
	})
}

// OldestUnsent is the creation time of the first row (by id) still pending or being
// sent, whatever was sent, failed or held back before and after it; nil when none is.
func TestOldestUnsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		oldest := func() *time.Time {
			t.Helper()
			o, err := st.OldestUnsent(ctx)
			storetest.MustNotErr(t, "oldest unsent", err)
			return o
		}
		if o := oldest(); o != nil {
			t.Fatalf("empty outbox: %v, want nil", o)
		}
		ids := insertAcks(ctx, t, st, 6)
		for i, id := range ids {
			// Distinct, increasing creation times, one second apart.
			_, err := st.DB.ExecContext(ctx, st.DB.Rebind("UPDATE outbox SET created_at = ? WHERE id = ?"),
				time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), id)
			storetest.MustNotErr(t, "date", err)
		}
		set := func(id int64, status string) {
			t.Helper()
			_, err := st.DB.ExecContext(ctx, st.DB.Rebind("UPDATE outbox SET status = ? WHERE id = ?"), status, id)
			storetest.MustNotErr(t, "status", err)
		}
		// Before and after the first unsent row: sent, held back, failed; the last row
		// stays pending.
		for i, status := range []string{store.OutboxSent, store.OutboxSuppressed, store.OutboxSending, store.OutboxFailed, store.OutboxSent} {
			set(ids[i], status)
		}
		o := oldest()
		if want := time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC); o == nil || !o.Equal(want) {
			t.Fatalf("oldest unsent = %v, want %v (row 2, sending)", o, want)
		}
		set(ids[2], store.OutboxSent)
		if o, want := oldest(), time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC); o == nil || !o.Equal(want) {
			t.Fatalf("oldest unsent = %v, want %v (row 5, the only pending one)", o, want)
		}
		set(ids[5], store.OutboxDropped)
		if o := oldest(); o != nil {
			t.Fatalf("nothing unsent: %v, want nil", o)
		}
	})
}

// insertAcks queues n acknowledgements, to c0@example.org and on, and returns their ids.
func insertAcks(ctx context.Context, t *testing.T, st *store.Store, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		o := &store.Outbox{Kind: "acknowledgement", MailFrom: "support@example.com", RcptTo: fmt.Sprintf("c%d@example.org", i),
			MessageID: fmt.Sprintf("<c%d@example.com>", i), Raw: []byte("x")}
		storetest.MustNotErr(t, "insert", st.InsertOutbox(ctx, st.DB, o))
		ids = append(ids, o.ID)
	}
	return ids
}
