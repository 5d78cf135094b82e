package scheduler

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// fixture is a database with one team, one agent and the ticket service; tickets are
// made directly in the store, as ingest would.
type fixture struct {
	t       *testing.T
	st      *store.Store
	tickets *ticket.Service
	deps    Deps
}

func newFixture(t *testing.T, st *store.Store) *fixture {
	composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Example Support <support@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	secret := make([]byte, 32)
	sla := ticket.SLA{Calendar: &ticket.Calendar{Loc: time.UTC}, Targets: ticket.DefaultTargets()} // the clock always runs
	tickets := ticket.New(st, ticket.Config{Composer: composer, Signer: threading.NewSigner(secret), SLA: &sla}, log)
	ctx := context.Background()
	if _, err := store.EnsureTeam(ctx, st.DB, "Support"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpsertAgent(ctx, st.DB, "ana@example.com", "Ana", "Support"); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, st: st, tickets: tickets, deps: Deps{Store: st, Tickets: tickets,
		FeedbackDelay: time.Hour, AutoCloseAfter: 168 * time.Hour, SentRetention: 90 * 24 * time.Hour}}
}

// newTicket creates an open ticket created at created, with its SLA started.
func (f *fixture) newTicket(created time.Time, priority string) int64 {
	ctx := context.Background()
	var id int64
	storetest.MustNotErr(f.t, "new ticket", f.st.Tx(ctx, func(tx *sqlx.Tx) error {
		team, err := store.EnsureTeam(ctx, tx, "Support")
		if err != nil {
			return err
		}
		c, err := store.UpsertContact(ctx, tx, "alice@example.org", "Alice")
		if err != nil {
			return err
		}
		tk := &store.Ticket{Subject: "Printer on fire", Status: "open", Priority: priority, TeamID: team, ContactID: c,
			Mailbox: "support@example.com", CreatedAt: created, UpdatedAt: created}
		f.tickets.StartSLA(tk)
		if err := store.InsertTicket(ctx, tx, tk); err != nil {
			return err
		}
		id = tk.ID
		return store.AddParticipant(ctx, tx, id, c, "contact")
	}))
	return id
}

func (f *fixture) mails(kind string) int {
	rows, err := f.st.ListOutbox(context.Background(), "", 0, 1000)
	storetest.MustNotErr(f.t, "list outbox", err)
	n := 0
	for _, r := range rows {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

func (f *fixture) scheduler(now func() time.Time) *Scheduler {
	s, err := New(f.st, Standard(f.deps, map[string]string{FeedbackRequests: "@every 10m", AutoClose: "@hourly",
		SLAWarnings: "@every 5m", Cleanup: "@daily"}), Config{Now: now}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) run(s *Scheduler, name string) {
	f.t.Helper()
	out, err := s.RunNow(context.Background(), name)
	if err != nil || out.Err != nil || !out.Ran {
		f.t.Fatalf("run %s: %v %+v", name, err, out)
	}
}

func TestFeedbackIsRequestedOnceAfterTheDelay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		id := f.newTicket(store.Now(), "medium")
		storetest.MustNotErr(t, "resolve", f.tickets.ChangeStatus(ctx, id, ticket.StatusResolved, "ana@example.com"))
		now := store.Now()
		s := f.scheduler(func() time.Time { return now })

		f.run(s, FeedbackRequests)
		if n := f.mails(outbound.KindFeedbackRequest); n != 0 {
			t.Fatalf("asked for feedback %d times before the delay", n)
		}
		now = now.Add(61 * time.Minute)
		f.run(s, FeedbackRequests)
		f.run(s, FeedbackRequests)
		if n := f.mails(outbound.KindFeedbackRequest); n != 1 {
			t.Fatalf("asked for feedback %d times, want once", n)
		}
	})
}

func TestAutoCloseClosesResolvedTicketsAndTellsTheCustomer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		resolved := f.newTicket(store.Now(), "medium")
		open := f.newTicket(store.Now(), "medium")
		storetest.MustNotErr(t, "resolve", f.tickets.ChangeStatus(ctx, resolved, ticket.StatusResolved, "ana@example.com"))
		now := store.Now().Add(167 * time.Hour)
		s := f.scheduler(func() time.Time { return now })
		f.run(s, AutoClose)
		if tk, _ := store.GetTicket(ctx, st.DB, resolved); tk.Status != ticket.StatusResolved {
			t.Fatalf("closed after 167h: %s", tk.Status)
		}
		now = now.Add(2 * time.Hour)
		f.run(s, AutoClose)
		if tk, _ := store.GetTicket(ctx, st.DB, resolved); tk.Status != ticket.StatusClosed || tk.ClosedAt == nil {
			t.Fatalf("status %s after 169h, want closed", tk.Status)
		}
		if tk, _ := store.GetTicket(ctx, st.DB, open); tk.Status != ticket.StatusOpen {
			t.Fatalf("an open ticket was touched: %s", tk.Status)
		}
		if n := f.mails(outbound.KindClosed); n != 1 {
			t.Fatalf("%d closed notifications, want 1", n)
		}
	})
}

func TestSLAWarningsGoOutOnceAtEightyPercentAndOnceAtBreach(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		created := store.Now()
		f.newTicket(created, "urgent") // 1 h to answer, 4 h to resolve, clock always running
		now := created
		s := f.scheduler(func() time.Time { return now })
		steps := []struct {
			name  string
			at    time.Duration
			mails int
		}{
			{"nothing at half time", 30 * time.Minute, 0},
			{"the response warning at 48 minutes", 48 * time.Minute, 1},
			{"no second response warning", 50 * time.Minute, 1},
			{"the response breach at the hour", time.Hour, 2},
			{"the resolution warning at 80 % of 4 h", 3*time.Hour + 12*time.Minute, 3},
			{"the resolution breach at 4 h", 4 * time.Hour, 4},
			{"nothing more after", 9 * time.Hour, 4},
		}
		for _, step := range steps {
			now = created.Add(step.at)
			f.run(s, SLAWarnings)
			if n := f.mails(outbound.KindSLAWarning); n != step.mails {
				t.Fatalf("%s: %d warnings, want %d", step.name, n, step.mails)
			}
		}
	})
}

func TestAPriorityChangeAndAReopenMoveTheDeadlines(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		created := store.Now().Add(-2 * time.Hour)
		id := f.newTicket(created, "medium")
		tk, _ := store.GetTicket(ctx, st.DB, id)
		if want := created.Add(8 * time.Hour); !tk.ResponseBy.Equal(want) {
			t.Fatalf("response_by %s, want %s", tk.ResponseBy, want)
		}
		storetest.MustNotErr(t, "priority", st.Tx(ctx, func(tx *sqlx.Tx) error {
			if err := store.SetTicketPriority(ctx, tx, id, "urgent"); err != nil {
				return err
			}
			return f.tickets.PriorityChanged(ctx, tx, id)
		}))
		tk, _ = store.GetTicket(ctx, st.DB, id)
		if want := created.Add(4 * time.Hour); !tk.ResolutionBy.Equal(want) {
			t.Fatalf("resolution_by after #priority urgent %s, want %s", tk.ResolutionBy, want)
		}
		storetest.MustNotErr(t, "resolve", f.tickets.ChangeStatus(ctx, id, ticket.StatusResolved, "ana"))
		storetest.MustNotErr(t, "reopen", st.Tx(ctx, func(tx *sqlx.Tx) error {
			return f.tickets.Reopen(ctx, tx, id, "customer")
		}))
		tk, _ = store.GetTicket(ctx, st.DB, id)
		if tk.ResolutionBy.Before(created.Add(4 * time.Hour)) {
			t.Fatalf("a reopen moved resolution_by earlier: %s", tk.ResolutionBy)
		}
	})
}

func TestAJobNeverRunsTwiceAtOnceOrTwicePerTick(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var running, ran atomic.Int32
		release := make(chan struct{})
		slow := Job{Name: "slow", Spec: "@every 1m", Run: func(ctx context.Context, now time.Time) error {
			if running.Add(1) > 1 {
				t.Error("two runs at once")
			}
			ran.Add(1)
			<-release
			running.Add(-1)
			return nil
		}}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		// Two schedulers on one database stand for two replicas.
		a, err := New(st, []Job{slow}, Config{}, log)
		storetest.MustNotErr(t, "new", err)
		b, err := New(st, []Job{slow}, Config{}, log)
		storetest.MustNotErr(t, "new", err)
		tick := time.Date(2026, 5, 4, 10, 1, 0, 0, time.UTC)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := a.RunTick(context.Background(), "slow", tick); err != nil || !out.Ran {
				t.Errorf("first run: %v %+v", err, out)
			}
		}()
		for ran.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		out, err := a.RunTick(context.Background(), "slow", tick)
		if err != nil || out.Ran {
			t.Errorf("a second run in the same process ran: %v %+v", err, out)
		}
		if st.Dialect == store.Postgres {
			// SQLite has one process per file; the other replica exists only on PostgreSQL.
			out, err = b.RunTick(context.Background(), "slow", tick.Add(time.Minute))
			if err != nil || out.Ran {
				t.Errorf("another replica ran while the first was busy: %v %+v", err, out)
			}
		}
		close(release)
		wg.Wait()
		other := b
		if st.Dialect != store.Postgres {
			other = a
		}
		out, err = other.RunTick(context.Background(), "slow", tick)
		if err != nil || out.Ran {
			t.Errorf("the same tick ran again: %v %+v", err, out)
		}
		out, err = other.RunTick(context.Background(), "slow", tick.Add(time.Minute))
		if err != nil || !out.Ran {
			t.Errorf("the next tick did not run: %v %+v", err, out)
		}
		runs, err := st.JobRuns(context.Background())
		storetest.MustNotErr(t, "job runs", err)
		if r := runs["slow"]; r.LastSuccess == nil || r.LastTick == nil || !r.LastTick.Equal(tick.Add(time.Minute)) {
			t.Errorf("job_runs row %+v", r)
		}
	})
}

func TestEverySchedulesAreAlignedSoReplicasAgreeOnTicks(t *testing.T) {
	s, err := Parse("@every 30s")
	if err != nil {
		t.Fatal(err)
	}
	a := s.Next(time.Date(2026, 1, 1, 10, 0, 7, 0, time.UTC))
	b := s.Next(time.Date(2026, 1, 1, 10, 0, 29, 0, time.UTC))
	if want := time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC); !a.Equal(want) || !b.Equal(want) {
		t.Errorf("next ticks %s and %s, want both %s", a, b, want)
	}
	if _, err := Parse("every minute"); err == nil {
		t.Error("a bad spec parsed")
	}
}
