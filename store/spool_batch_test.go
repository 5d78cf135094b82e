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
		done := make(chan struct{})
		go func() { sp.Run(ctx); close(done) }()
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
		<-done
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
