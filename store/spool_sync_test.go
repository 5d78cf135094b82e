package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// On SQLite the spool commits without waiting for the disk and fsyncs the log apart, so
// the one connection is free during the fsync. A 250 must still wait for that fsync:
// a session is answered, and ingest handed its row, only once a sync that began after
// its commit has finished; rows committed during one sync share the next; a failed
// sync is the sessions' temporary failure, not a 250.
func TestSQLiteSpoolAnswersAfterTheLogIsSynced(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite:"+filepath.Join(t.TempDir(), "mxdesk.db"))
	handed := make(chan int64, 10)
	sp := st.NewSpool(func(ins []*store.Inbound) {
		for _, in := range ins {
			handed <- in.ID
		}
	})
	entered := make(chan struct{}, 10)
	release := make(chan error)
	syncs := 0
	sp.WrapSpoolSync(func(sync func() error) error {
		syncs++
		entered <- struct{}{}
		if err := <-release; err != nil {
			return err
		}
		return sync() // the real fsync
	})
	go sp.Run(ctx)
	defer sp.Stop()

	commit := func(name string) chan error {
		done := make(chan error, 1)
		go func() {
			done <- sp.Commit(ctx, &store.Inbound{MailFrom: name + "@example.org", Rcpt: []string{"support@example.com"},
				Raw: []byte("Subject: " + name + "\r\n\r\nbody\r\n")})
		}()
		return done
	}
	rows := func() int {
		t.Helper()
		var n int
		// The same one connection the spool writes on: it must not be held by the sync.
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		storetest.MustNotErr(t, "count spool rows", st.DB.GetContext(qctx, &n, "SELECT count(*) FROM inbound"))
		return n
	}
	notAnswered := func(what string, done chan error) {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("%s answered (%v) before its sync finished", what, err)
		default:
		}
		select {
		case id := <-handed:
			t.Fatalf("row %d handed to ingest before its sync finished", id)
		default:
		}
	}

	a := commit("a")
	<-entered // a's batch is committed and its sync has begun
	if n := rows(); n != 1 {
		t.Fatalf("during the sync the database has %d rows, want a's 1", n)
	}
	if w := sp.Waiting(); w != 0 {
		t.Errorf("Waiting() = %d during the sync, want 0: a's row is committed", w)
	}
	notAnswered("a", a)

	// b and c commit while a's sync runs, and wait for the next one.
	b, c := commit("b"), commit("c")
	// Waiting() counts a row until its batch is queued for the syncer.
	waitUntil(t, "b and c committed", func() bool { return sp.Waiting() == 0 && rows() == 3 })
	notAnswered("b", b)
	release <- nil
	if err := <-a; err != nil {
		t.Fatalf("a: %v", err)
	}
	<-handed
	<-entered // one sync for b and c
	notAnswered("b", b)
	notAnswered("c", c)
	release <- nil
	for name, done := range map[string]chan error{"b": b, "c": c} {
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	<-handed
	<-handed
	if syncs != 2 {
		t.Errorf("%d syncs for three commits, two of them during the first: want 2", syncs)
	}

	// A sync that fails answers a temporary failure, and hands nothing to ingest.
	d := commit("d")
	<-entered
	release <- fmt.Errorf("disk on fire")
	err := <-d
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("d after a failed sync: %v, want the sync's error", err)
	}
	if errors.Is(err, store.ErrSpoolClosed) {
		t.Fatalf("d: %v", err)
	}
	select {
	case id := <-handed:
		t.Fatalf("row %d handed to ingest after its sync failed", id)
	default:
	}
}
