package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// Twenty sessions committing at once land in multi-row batches; each must get its own
// spool row holding its own bytes, also when several carry identical bytes (one blob).
func TestSpoolBatchGivesEverySessionItsOwnRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		sp := st.NewSpool(nil)
		go sp.Run(ctx) // Stop waits for it
		const n = 60
		ins := make([]*store.Inbound, n)
		var wg sync.WaitGroup
		for i := range ins {
			raw := fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)
			if i%3 == 0 {
				raw = "Subject: same\r\n\r\nidentical bytes\r\n"
			}
			ins[i] = &store.Inbound{MailFrom: fmt.Sprintf("s%d@example.org", i), Rcpt: []string{"support@example.com"}, Raw: []byte(raw)}
			wg.Add(1)
			go func(in *store.Inbound) {
				defer wg.Done()
				if err := sp.Commit(ctx, in); err != nil {
					t.Error(err)
				}
			}(ins[i])
		}
		wg.Wait()
		sp.Stop()
		seen := map[int64]bool{}
		for _, in := range ins {
			if in.ID == 0 || seen[in.ID] {
				t.Fatalf("%s: id %d (zero or given twice)", in.MailFrom, in.ID)
			}
			seen[in.ID] = true
			got, err := store.GetInbound(ctx, st.DB, in.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.MailFrom != in.MailFrom || string(got.Raw) != string(in.Raw) || got.Status != store.InboundNew {
				t.Errorf("row %d = from %s, %q, %s; want from %s, %q, new", in.ID, got.MailFrom, got.Raw, got.Status, in.MailFrom, in.Raw)
			}
		}
	})
}

// PostgreSQL's writers commit side by side. Batches that insert the same new blobs in
// different orders would deadlock; none may fail and be redone, and every session still
// gets its own row.
func TestSpoolWritersShareNewBlobs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		sp := st.NewSpool(nil)
		go sp.Run(ctx) // Stop waits for it
		const rounds, sessions = 40, 40
		var wg sync.WaitGroup
		ids := make(chan int64, rounds*sessions)
		for r := range rounds {
			for i := range sessions {
				// Eight bodies new to this round, arriving in every order.
				raw := fmt.Sprintf("Subject: round %d\r\n\r\nbody %d\r\n", r, (i*7+r)%8)
				wg.Add(1)
				go func() {
					defer wg.Done()
					in := &store.Inbound{MailFrom: "s@example.org", Rcpt: []string{"support@example.com"}, Raw: []byte(raw)}
					if err := sp.Commit(ctx, in); err != nil {
						t.Error(err)
					}
					ids <- in.ID
				}()
			}
			if r%4 == 3 {
				wg.Wait()
			}
		}
		wg.Wait()
		sp.Stop()
		close(ids)
		seen := map[int64]bool{}
		for id := range ids {
			if id == 0 || seen[id] {
				t.Fatalf("id %d: zero or given twice", id)
			}
			seen[id] = true
		}
		var blobs int
		storetest.MustNotErr(t, "count blobs", st.DB.GetContext(ctx, &blobs, "SELECT count(*) FROM blobs"))
		if len(seen) != rounds*sessions || blobs != rounds*8 {
			t.Errorf("%d rows, %d blobs; want %d rows, %d blobs", len(seen), blobs, rounds*sessions, rounds*8)
		}
		if n := sp.Redone(); n != 0 {
			t.Errorf("%d batches failed and were redone row by row (deadlocked writers?)", n)
		}
	})
}
