package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestRetryInboundMakesOnlyFailedRowsDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		in := &store.Inbound{MailFrom: "a@example.org", Rcpt: []string{"support@example.com"}, Raw: []byte("Subject: x\r\n\r\nx\r\n")}
		storetest.MustNotErr(t, "spool", st.Tx(ctx, func(tx *sqlx.Tx) error { return store.InsertInbound(ctx, tx, in) }))
		if ok, err := st.RetryInbound(ctx, in.ID); err != nil || ok {
			t.Errorf("retry of a new row = %v, %v; want false: only failed rows are retried", ok, err)
		}
		storetest.MustNotErr(t, "fail", st.FailInbound(ctx, in.ID, errors.New("injected failure")))
		due, err := st.DueInbound(ctx, 10)
		storetest.MustNotErr(t, "due", err)
		if len(due) != 0 {
			t.Fatalf("a row failed just now is due: %v (backoff)", due)
		}
		if ok, err := st.RetryInbound(ctx, in.ID); err != nil || !ok {
			t.Fatalf("retry = %v, %v", ok, err)
		}
		due, err = st.DueInbound(ctx, 10)
		storetest.MustNotErr(t, "due", err)
		if len(due) != 1 || due[0] != in.ID {
			t.Errorf("after retry, due = %v; want [%d]", due, in.ID)
		}
		back, err := store.GetInbound(ctx, st.DB, in.ID)
		storetest.MustNotErr(t, "get", err)
		if back.Error != "injected failure" || back.Attempts != 1 {
			t.Errorf("retry lost the error or the attempt count: %+v", back)
		}
	})
}
