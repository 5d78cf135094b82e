package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestReleaseDeadResendsOnlyWhatAStoppedReplicaClaimed(t *testing.T) {
	mk, ok := storetest.Dialects(t)[store.Postgres]
	if !ok {
		t.Skip("PostgreSQL only (replicas); set MXDESK_TEST_POSTGRES (.ci/run does)")
	}
	ctx := context.Background()
	url := mk(t)
	a := storetest.Open(t, url)
	b := storetest.Open(t, url)
	storetest.MustNotErr(t, "register a", a.Register(ctx))
	storetest.MustNotErr(t, "register b", b.Register(ctx))
	for i := range 5 {
		o := &store.Outbox{Kind: "acknowledgement", MailFrom: "support@example.com", RcptTo: "c@example.org",
			MessageID: fmt.Sprintf("<r%d@example.com>", i), Raw: []byte("x")}
		storetest.MustNotErr(t, "insert", a.InsertOutbox(ctx, a.DB, o))
	}
	claimed, err := a.ClaimOutbox(ctx, 3)
	storetest.MustNotErr(t, "claim", err)
	if len(claimed) != 3 {
		t.Fatalf("a claimed %d rows, want 3", len(claimed))
	}
	// A is alive: B leaves its rows alone.
	n, err := b.ReleaseDead(ctx)
	storetest.MustNotErr(t, "release while a lives", err)
	if n != 0 {
		t.Fatalf("released %d rows of a live replica", n)
	}
	if rows, _ := b.ClaimOutbox(ctx, 10); len(rows) != 2 {
		t.Fatalf("b claimed %d rows beside a's, want the 2 unclaimed", len(rows))
	}
	// A stops (its lock goes with its connection, as with kill -9): its 3 rows are due
	// again at once; B's own in-flight rows stay B's.
	// PostgreSQL drops the lock when a's backend has gone, a moment after the close.
	a.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, err = b.ReleaseDead(ctx)
		storetest.MustNotErr(t, "release after a stopped", err)
		if n != 0 || time.Now().After(deadline) {
			break
		}
	}
	if n != 3 {
		t.Fatalf("released %d rows, want a's 3", n)
	}
	rows, err := b.ClaimOutbox(ctx, 10)
	storetest.MustNotErr(t, "claim again", err)
	if len(rows) != 3 {
		t.Fatalf("b claimed %d rows after a stopped, want 3", len(rows))
	}
	for _, r := range rows {
		if r.Attempts != 2 {
			t.Errorf("row %d: attempts %d, want 2 (claimed by a, then b)", r.ID, r.Attempts)
		}
	}
}
