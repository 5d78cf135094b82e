// Package scheduler runs mxdesk's background jobs on cron schedules (robfig/cron/v3
// specs). It owns when a job runs and that it runs once: never twice at once in one
// process, and on PostgreSQL once per tick across every replica sharing the database
// (a transaction-scoped advisory lock around the run, plus the tick claimed in
// job_runs). What a job does lives in jobs.go and goes through the ticket service; the
// scheduler itself never changes a ticket or sends mail.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/mxdesk/mxdesk/store"
)

// Func is a job's work. now is the scheduler's clock at the start of the run: jobs
// decide what is due from it, so tests run them at any fake time.
type Func func(ctx context.Context, now time.Time) error

// Job is a named piece of work on a schedule.
type Job struct {
	Name string
	// Spec is a cron spec ("*/10 * * * *", "@hourly", "@every 30s") or "off".
	Spec string
	Run  Func
}

// Off is the spec of a job that only runs by hand.
const Off = "off"

// Config is what the Scheduler needs besides the store and the jobs.
type Config struct {
	// Now is the clock; nil is time.Now. Tests pass a fake one.
	Now func() time.Time
	// Registerer receives the job metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// Scheduler runs jobs.
type Scheduler struct {
	st     *store.Store
	log    *slog.Logger
	now    func() time.Time
	order  []string
	jobs   map[string]*entry
	lastOK *prometheus.GaugeVec
	took   *prometheus.GaugeVec
	runs   *prometheus.CounterVec
}

type entry struct {
	Job
	sched cron.Schedule // nil when off
	// running keeps a job from overlapping itself in this process: a tick that comes
	// while the previous run is still busy is skipped, not queued.
	running sync.Mutex
}

// New parses every job's schedule; a bad spec is an error naming the job.
func New(st *store.Store, jobs []Job, cfg Config, log *slog.Logger) (*Scheduler, error) {
	s := &Scheduler{st: st, log: log, now: cfg.Now, jobs: map[string]*entry{},
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mxdesk_job_last_success_timestamp_seconds",
			Help: "When each job last finished without error (Unix time), in this process.",
		}, []string{"job"}),
		took: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mxdesk_job_last_duration_seconds",
			Help: "How long each job's last run in this process took.",
		}, []string{"job"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxdesk_job_runs_total",
			Help: "Job runs by result: ok, error, or skipped (another replica had the tick, or the last run was still busy).",
		}, []string{"job", "result"}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, j := range jobs {
		if _, dup := s.jobs[j.Name]; dup {
			return nil, fmt.Errorf("scheduler: job %s defined twice", j.Name)
		}
		e := &entry{Job: j}
		if j.Spec != Off {
			sched, err := Parse(j.Spec)
			if err != nil {
				return nil, fmt.Errorf("jobs.%s: %w", j.Name, err)
			}
			e.sched = sched
		}
		s.jobs[j.Name] = e
		s.order = append(s.order, j.Name)
	}
	sort.Strings(s.order)
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(s.lastOK, s.took, s.runs)
	}
	return s, nil
}

// Parse reads a cron spec. "@every D" is aligned to multiples of D since the Unix
// epoch (robfig's own form counts from when the process started), so every replica
// computes the same ticks and the tick claim in job_runs can tell them apart.
func Parse(spec string) (cron.Schedule, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("%q is not a cron spec: %w", spec, err)
	}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		return aligned{every.Delay}, nil
	}
	return sched, nil
}

type aligned struct{ every time.Duration }

func (a aligned) Next(t time.Time) time.Time {
	return t.Truncate(a.every).Add(a.every)
}

// Names returns the job names, sorted.
func (s *Scheduler) Names() []string { return append([]string(nil), s.order...) }

// Spec returns a job's spec.
func (s *Scheduler) Spec(name string) string {
	if e, ok := s.jobs[name]; ok {
		return e.Spec
	}
	return ""
}

// Next returns when the job runs next after t (zero when it is off).
func (s *Scheduler) Next(name string, t time.Time) time.Time {
	e, ok := s.jobs[name]
	if !ok || e.sched == nil {
		return time.Time{}
	}
	return e.sched.Next(t)
}

// ErrUnknownJob is returned for a name no job has.
var ErrUnknownJob = errors.New("no such job")

// Outcome is what one attempt to run a job did.
type Outcome struct {
	Ran     bool
	Skipped string // why not, when it did not run
	Took    time.Duration
	Err     error // the job's own error
}

// Run starts every scheduled job and returns when ctx ends and running jobs finished.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, name := range s.order {
		e := s.jobs[name]
		if e.sched == nil {
			s.log.Info("scheduler: job is off", "job", name)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, e)
		}()
	}
	wg.Wait()
}

// loop waits for each tick of one job and runs it. The wait uses the real clock; the
// runs themselves read s.now.
func (s *Scheduler) loop(ctx context.Context, e *entry) {
	for {
		tick := e.sched.Next(s.now())
		t := time.NewTimer(time.Until(tick))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		// A run that outlasts its next tick makes the loop skip the ticks it missed
		// (Next counts from after the run) rather than run them back to back.
		if _, err := s.RunTick(ctx, e.Name, tick); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler: could not run job", "job", e.Name, "tick", tick.UTC(), "err", err)
		}
	}
}

// RunNow runs a job by hand (mxdesk jobs run NAME): at once, not tied to a tick, but
// still never beside another run of the same job in this process or, on PostgreSQL,
// on another replica.
func (s *Scheduler) RunNow(ctx context.Context, name string) (Outcome, error) {
	return s.RunTick(ctx, name, time.Time{})
}

// RunTick runs a job for its scheduled time tick (zero: by hand) unless this process is
// already running it, another replica holds it, or the tick was already run. The error
// is about the machinery (the database); the job's own error is in Outcome.Err.
func (s *Scheduler) RunTick(ctx context.Context, name string, tick time.Time) (Outcome, error) {
	e, ok := s.jobs[name]
	if !ok {
		return Outcome{}, fmt.Errorf("job %q: %w", name, ErrUnknownJob)
	}
	if !e.running.TryLock() {
		return s.skip(e, tick, "the previous run is still busy in this process"), nil
	}
	defer e.running.Unlock()
	if s.st.Dialect == store.Postgres {
		return s.runLocked(ctx, e, tick)
	}
	// SQLite: one process owns the file (serve refuses a second), so the in-process
	// lock is the whole story; the run must not sit inside a write transaction, which
	// would lock out the job's own writes.
	var claimed bool
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		var err error
		claimed, err = store.ClaimJobTick(ctx, tx, name, tick, s.now())
		return err
	})
	if err != nil {
		return Outcome{}, err
	}
	if !claimed {
		return s.skip(e, tick, "this tick has run already"), nil
	}
	out := s.run(ctx, e, tick)
	return out, s.st.Tx(context.WithoutCancel(ctx), func(tx *sqlx.Tx) error {
		return store.FinishJob(ctx, tx, name, s.now(), out.Took, errText(out.Err))
	})
}

// runLocked runs a job inside a PostgreSQL transaction that holds the job's advisory
// lock and its job_runs row for the length of the run: a replica whose tick comes
// meanwhile fails to take the lock and skips; one that comes after finds the tick
// claimed and skips. If this process dies mid-run, the transaction and the lock go.
func (s *Scheduler) runLocked(ctx context.Context, e *entry, tick time.Time) (Outcome, error) {
	tx, err := s.st.DB.BeginTxx(ctx, nil)
	if err != nil {
		return Outcome{}, fmt.Errorf("job %s: begin: %w", e.Name, err)
	}
	defer tx.Rollback()
	got, err := store.TryJobLock(ctx, tx, s.st.Dialect, e.Name)
	if err != nil {
		return Outcome{}, err
	}
	if !got {
		return s.skip(e, tick, "another replica is running it"), nil
	}
	claimed, err := store.ClaimJobTick(ctx, tx, e.Name, tick, s.now())
	if err != nil {
		return Outcome{}, err
	}
	if !claimed {
		return s.skip(e, tick, "this tick has run already"), nil
	}
	out := s.run(ctx, e, tick)
	if err := store.FinishJob(context.WithoutCancel(ctx), tx, e.Name, s.now(), out.Took, errText(out.Err)); err != nil {
		return out, err
	}
	if err := tx.Commit(); err != nil {
		return out, fmt.Errorf("job %s: commit: %w", e.Name, err)
	}
	return out, nil
}

// run calls the job, logs the run and records the metrics.
func (s *Scheduler) run(ctx context.Context, e *entry, tick time.Time) Outcome {
	now := s.now()
	began := time.Now()
	err := e.Run(ctx, now)
	out := Outcome{Ran: true, Took: time.Since(began), Err: err}
	attrs := []any{"job", e.Name, "took", out.Took.Round(time.Millisecond)}
	if !tick.IsZero() {
		attrs = append(attrs, "tick", tick.UTC().Format(time.RFC3339))
	} else {
		attrs = append(attrs, "tick", "by hand")
	}
	s.took.WithLabelValues(e.Name).Set(out.Took.Seconds())
	if err != nil {
		s.runs.WithLabelValues(e.Name, "error").Inc()
		s.log.Error("scheduler: job failed", append(attrs, "err", err)...)
		return out
	}
	s.runs.WithLabelValues(e.Name, "ok").Inc()
	s.lastOK.WithLabelValues(e.Name).Set(float64(s.now().Unix()))
	s.log.Info("scheduler: job ran", attrs...)
	return out
}

func (s *Scheduler) skip(e *entry, tick time.Time, why string) Outcome {
	s.runs.WithLabelValues(e.Name, "skipped").Inc()
	s.log.Debug("scheduler: job skipped", "job", e.Name, "tick", tick.UTC(), "why", why)
	return Outcome{Skipped: why}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
