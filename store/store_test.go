package store_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestMigrateTwiceAppliesNothingTheSecondTime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		applied, err := st.Migrate(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second migrate applied %v, want nothing", applied)
		}
	})
}

func TestSpoolGroupCommitStoresEveryMessageOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var mu sync.Mutex
		notified := map[int64]bool{}
		sp := st.NewSpool(func(ins []*store.Inbound) {
			mu.Lock()
			defer mu.Unlock()
			for _, in := range ins {
				notified[in.ID] = true
			}
		})
		go sp.Run(ctx)
		const n = 60
		var wg sync.WaitGroup
		ids := make([]int64, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in := &store.Inbound{MailFrom: "a@example.org", Rcpt: []string{"support@example.com"},
					Raw: fmt.Appendf(nil, "Subject: %d\r\n\r\nbody %d\r\n", i, i)}
				errs[i] = sp.Commit(ctx, in)
				ids[i] = in.ID
			}()
		}
		wg.Wait()
		sp.Stop()
		seen := map[int64]bool{}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("commit %d: %v", i, errs[i])
			}
			if ids[i] == 0 || seen[ids[i]] {
				t.Fatalf("commit %d got id %d (duplicate or zero)", i, ids[i])
			}
			seen[ids[i]] = true
			if !notified[ids[i]] {
				t.Errorf("id %d committed but ingest was not notified", ids[i])
			}
			in, err := store.GetInbound(ctx, st.DB, ids[i])
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("body %d", i); !bytes.Contains(in.Raw, []byte(want)) {
				t.Errorf("row %d raw = %q, want it to contain %q", ids[i], in.Raw, want)
			}
		}
		if err := sp.Commit(ctx, &store.Inbound{Raw: []byte("x")}); err != store.ErrSpoolClosed {
			t.Errorf("commit after stop: %v, want ErrSpoolClosed", err)
		}
	})
}

func TestInboundRowsAreDueUntilDoneAndRetriedAfterFailure(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		for i := range 5 {
			err := st.Tx(ctx, func(tx *sqlx.Tx) error {
				return store.InsertInbound(ctx, tx, &store.Inbound{Raw: fmt.Appendf(nil, "m%d", i)})
			})
			storetest.MustNotErr(t, "insert", err)
		}
		due, err := st.DueInbound(ctx, 3)
		storetest.MustNotErr(t, "due", err)
		if len(due) != 3 {
			t.Fatalf("due = %v, want 3 ids", due)
		}
		// A row locked and finished is no longer due; a second lock finds it done.
		storetest.MustNotErr(t, "finish", st.Tx(ctx, func(tx *sqlx.Tx) error {
			ok, err := store.LockInbound(ctx, tx, st.Dialect, due[0])
			if err != nil || !ok {
				return fmt.Errorf("lock: %v %v", ok, err)
			}
			return store.FinishInbound(ctx, tx, due[0], store.InboundDone)
		}))
		storetest.MustNotErr(t, "relock", st.Tx(ctx, func(tx *sqlx.Tx) error {
			if ok, err := store.LockInbound(ctx, tx, st.Dialect, due[0]); err != nil || ok {
				return fmt.Errorf("done row locked as due: %v %v", ok, err)
			}
			return nil
		}))
		// A rolled-back ingest (a crash) leaves the row due.
		err = st.Tx(ctx, func(tx *sqlx.Tx) error {
			if _, err := store.LockInbound(ctx, tx, st.Dialect, due[1]); err != nil {
				return err
			}
			return fmt.Errorf("boom")
		})
		if err == nil {
			t.Fatal("rollback expected")
		}
		storetest.MustNotErr(t, "fail", st.FailInbound(ctx, due[2], fmt.Errorf("parse exploded")))
		rows, err := st.ListInbound(ctx, store.InboundFailed, 10)
		storetest.MustNotErr(t, "list", err)
		if len(rows) != 1 || rows[0].Error != "parse exploded" || rows[0].NextAttemptAt == nil || !rows[0].NextAttemptAt.After(time.Now()) {
			t.Fatalf("failed rows = %+v", rows)
		}
		due, err = st.DueInbound(ctx, 10)
		storetest.MustNotErr(t, "due", err)
		if len(due) != 3 || due[0] != rows[0].ID-1 {
			t.Fatalf("due after one done, one rolled back, one failed = %v; want the rolled-back row and the two untouched", due)
		}
	})
}

func TestBlobsAreContentAddressedAndByteExact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		data := make([]byte, 70000)
		for i := range data {
			data[i] = byte(i * 7)
		}
		s1, err := store.PutBlob(ctx, st.DB, data)
		storetest.MustNotErr(t, "put", err)
		s2, err := store.PutBlob(ctx, st.DB, data)
		storetest.MustNotErr(t, "put again", err)
		if s1 != s2 {
			t.Fatalf("same bytes, two hashes %s %s", s1, s2)
		}
		got, err := store.GetBlob(ctx, st.DB, s1)
		storetest.MustNotErr(t, "get", err)
		if !bytes.Equal(got, data) {
			t.Fatal("blob came back changed")
		}
		var n int
		storetest.MustNotErr(t, "count", st.DB.Get(&n, "SELECT COUNT(*) FROM blobs"))
		if n != 1 {
			t.Fatalf("%d blob rows, want 1", n)
		}
	})
}

// TestDueInboundMergesNewAndRetriesOldestFirst: new rows and failed rows whose retry time
// has come are one queue in arrival order; done rows and retries not yet due are not in it.
func TestDueInboundMergesNewAndRetriesOldestFirst(t *testing.T) {
	// Row states in id order: n new, f failed and due, w failed and waiting, d done.
	const states = "nfdwnnfwdn"
	tests := []struct {
		limit int
		want  string // the states of the ids returned, in order
	}{
		{1, "n"},
		{2, "nf"},
		{3, "nfn"},
		{5, "nfnnf"},
		{10, "nfnnfn"},
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		ids := make([]int64, len(states))
		for i := range states {
			storetest.MustNotErr(t, "insert", st.Tx(ctx, func(tx *sqlx.Tx) error {
				return store.InsertInbound(ctx, tx, &store.Inbound{Raw: fmt.Appendf(nil, "m%d", i)})
			}))
		}
		all, err := st.ListInbound(ctx, store.InboundNew, 100)
		storetest.MustNotErr(t, "list", err)
		if len(all) != len(ids) {
			t.Fatalf("%d rows listed, want %d", len(all), len(ids))
		}
		for i, r := range all { // newest first
			ids[len(all)-1-i] = r.ID
		}
		state := map[int64]byte{}
		for i, id := range ids {
			state[id] = states[i]
			var err error
			switch states[i] {
			case 'f', 'w':
				err = st.FailInbound(ctx, id, fmt.Errorf("parse exploded"))
				if err == nil && states[i] == 'f' {
					_, err = st.DB.ExecContext(ctx, st.DB.Rebind("UPDATE inbound SET next_attempt_at = ? WHERE id = ?"),
						time.Now().Add(-time.Minute).UTC(), id)
				}
			case 'd':
				err = st.Tx(ctx, func(tx *sqlx.Tx) error { return store.FinishInbound(ctx, tx, id, store.InboundDone) })
			}
			storetest.MustNotErr(t, "set state", err)
		}
		for _, tt := range tests {
			due, err := st.DueInbound(ctx, tt.limit)
			storetest.MustNotErr(t, "due", err)
			got := ""
			for i, id := range due {
				got += string(state[id])
				if i > 0 && id <= due[i-1] {
					t.Errorf("limit %d: ids %v not in arrival order", tt.limit, due)
				}
			}
			if got != tt.want {
				t.Errorf("limit %d: due rows are %q (%v), want %q", tt.limit, got, due, tt.want)
			}
		}
		// Lanes split the same queue by id, each in arrival order.
		due, err := st.DueInbound(ctx, 10)
		storetest.MustNotErr(t, "due", err)
		for _, lanes := range []int{2, 3} {
			for lane := range lanes {
				var want []int64
				for _, id := range due {
					if int(id%int64(lanes)) == lane {
						want = append(want, id)
					}
				}
				got, err := st.DueInboundLane(ctx, 10, lane, lanes, 0)
				storetest.MustNotErr(t, "due in lane", err)
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("lane %d of %d: due %v, want %v", lane, lanes, got, want)
				}
			}
		}
		// From an id on, new rows before it are passed over; failed rows due again are not.
		from := due[len(due)/2]
		var want []int64
		for _, id := range due {
			if id >= from || state[id] == 'f' {
				want = append(want, id)
			}
		}
		got, err := st.DueInboundLane(ctx, 10, 0, 1, from)
		storetest.MustNotErr(t, "due from", err)
		if fmt.Sprint(got) != fmt.Sprint(want) || len(want) == len(due) {
			t.Errorf("due from %d: %v, want %v (of %v)", from, got, want, due)
		}
	})
}

func TestASQLitePathWithURISyntaxOpensExactlyThatFile(t *testing.T) {
	for _, name := range []string{"support#2", "what?", "100%", "plain"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			st, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "mxdesk.db"))
			storetest.MustNotErr(t, "open", err)
			defer st.Close()
			_, err = st.Migrate(context.Background())
			storetest.MustNotErr(t, "migrate", err)
			if _, err := os.Stat(filepath.Join(dir, "mxdesk.db")); err != nil {
				t.Errorf("the database is not where it was asked for: %v", err)
			}
		})
	}
}
