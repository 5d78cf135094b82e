package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestEnsureAccountMakesOneAccountUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		ids := make([]int64, 8)
		for i := range ids {
			wg.Go(func() {
				a, err := store.EnsureAccount(ctx, st.DB, "Same@Example.org", store.Now())
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = a.ID
			})
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] {
				t.Fatalf("accounts %v", ids)
			}
		}
		a, err := store.AccountByEmail(ctx, st.DB, "same@example.org")
		if err != nil || a.ID != ids[0] || a.VerifiedAt != nil {
			t.Errorf("account %+v %v", a, err)
		}
	})
}

func TestPurgeAccountsDeletesOnlyExpiredRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		now := store.Now()
		a, err := store.EnsureAccount(ctx, st.DB, "a@example.org", now)
		storetest.MustNotErr(t, "account", err)
		for i, exp := range []time.Time{now.Add(-time.Minute), now.Add(time.Hour)} {
			storetest.MustNotErr(t, "session", store.InsertSession(ctx, st.DB, &store.Session{IDHash: string(rune('a' + i)), AccountID: a.ID,
				Stage: store.SessionFull, CreatedAt: now, LastSeenAt: now, ExpiresAt: exp}))
			storetest.MustNotErr(t, "token", store.InsertAccountToken(ctx, st.DB, &store.AccountToken{TokenHash: string(rune('a' + i)),
				AccountID: a.ID, Purpose: store.TokenSignIn, CreatedAt: now, ExpiresAt: exp}))
		}
		n, err := store.PurgeAccounts(ctx, st.DB, now)
		if err != nil || n != 2 {
			t.Fatalf("purged %d: %v", n, err)
		}
		if _, err := store.GetSession(ctx, st.DB, "b"); err != nil {
			t.Errorf("the live session went: %v", err)
		}
		if _, err := store.GetAccountToken(ctx, st.DB, "a"); err == nil {
			t.Error("the expired token stayed")
		}
	})
}
