package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestReadyFailsOnPendingMigrationsAndLongFailingSpoolRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		storetest.MustNotErr(t, "ready", st.Ready(ctx))

		in := &store.Inbound{ReceivedAt: time.Now().Add(-time.Minute), MailFrom: "a@example.org", Rcpt: []string{"support@example.com"}, Raw: []byte("Subject: x\r\n\r\nx\r\n")}
		storetest.MustNotErr(t, "spool", st.Tx(ctx, func(tx *sqlx.Tx) error { return store.InsertInbound(ctx, tx, in) }))
		storetest.MustNotErr(t, "fail", st.FailInbound(ctx, in.ID, errors.New("parse failed")))
		if err := st.Ready(ctx); err != nil {
			t.Errorf("a row failing for a minute made it unready: %v", err)
		}
		_, err := st.DB.Exec(st.DB.Rebind("UPDATE inbound SET received_at = ? WHERE id = ?"), time.Now().Add(-11*time.Minute).UTC(), in.ID)
		storetest.MustNotErr(t, "age", err)
		if err := st.Ready(ctx); err == nil || !strings.Contains(err.Error(), "failing for more than 10m0s") {
			t.Errorf("Ready = %v, want the failing spool row named", err)
		}
		storetest.MustNotErr(t, "retry", st.Tx(ctx, func(tx *sqlx.Tx) error { return store.FinishInbound(ctx, tx, in.ID, store.InboundDone) }))
		storetest.MustNotErr(t, "ready again", st.Ready(ctx))

		_, err = st.DB.Exec("DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)")
		storetest.MustNotErr(t, "forget a migration", err)
		if err := st.Ready(ctx); err == nil || !strings.Contains(err.Error(), "pending") {
			t.Errorf("Ready = %v, want a pending migration named", err)
		}
	})
}
