package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/scheduler"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// slaFromConfig builds the SLA policy from [hours] and [sla]; config has validated it.
func slaFromConfig(cfg *config.Config) (*ticket.SLA, error) {
	loc, err := time.LoadLocation(cfg.Hours.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("hours.time_zone: %w", err)
	}
	cal := &ticket.Calendar{Loc: loc}
	for day, s := range cfg.Hours.Days() {
		if cal.Week[day], err = ticket.ParseSpans(s); err != nil {
			return nil, fmt.Errorf("hours.%s: %w", strings.ToLower(time.Weekday(day).String()), err)
		}
	}
	if cal.Holidays, err = ticket.ParseHolidays(cfg.Hours.Holidays); err != nil {
		return nil, fmt.Errorf("hours.holidays: %w", err)
	}
	targets := map[string]ticket.Target{}
	for p, t := range cfg.SLA.ByPriority() {
		targets[p] = ticket.Target{FirstResponse: t.FirstResponse.Duration, Resolution: t.Resolution.Duration}
	}
	return &ticket.SLA{Calendar: cal, Targets: targets}, nil
}

// newScheduler builds the standard jobs on the services serve (or `jobs run`) built.
func newScheduler(cfg *config.Config, st *store.Store, tickets *ticket.Service, ing, worker scheduler.Runner,
	reg prometheus.Registerer, log *slog.Logger) (*scheduler.Scheduler, error) {
	jobs := scheduler.Standard(scheduler.Deps{
		Store: st, Tickets: tickets, Ingest: ing, Outbox: worker,
		FeedbackDelay: cfg.Feedback.Delay.Duration, AutoCloseAfter: cfg.Tickets.AutoCloseAfter.Duration,
		SentRetention: cfg.Outbound.SentRetention.Duration,
	}, cfg.Jobs.ByName())
	return scheduler.New(st, jobs, scheduler.Config{Registerer: reg}, log)
}

// jobServices builds what the jobs need the way serve does, for `mxdesk jobs run`: the
// same templates, secret and links, so a mail a job queues from the CLI is the mail
// serve would have queued, and a running serve's outbound worker sends it.
func jobServices(cfg *config.Config, st *store.Store, log *slog.Logger) (*scheduler.Scheduler, error) {
	reg := prometheus.NewRegistry() // not served: the CLI's run is logged and in job_runs
	svc, err := buildServices(cfg, st, reg, log)
	if err != nil {
		return nil, err
	}
	return newScheduler(cfg, st, svc.tickets, svc.ingester, svc.worker, reg, log)
}

// jobJSON is one line of `mxdesk jobs --json`.
type jobJSON struct {
	Name        string     `json:"name"`
	Schedule    string     `json:"schedule"`
	NextRun     *time.Time `json:"next_run,omitempty"`
	LastStart   *time.Time `json:"last_start,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastResult  string     `json:"last_result"` // ok, error, running, never
	LastError   string     `json:"last_error,omitempty"`
	DurationMS  int64      `json:"duration_ms"`
}

func cmdJobs(ctx context.Context, cfgPath string, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	if len(args) > 0 && args[0] == "run" {
		if len(args) != 2 {
			return usageError{"want 'jobs run NAME'"}
		}
		return jobsRun(ctx, cfg, args[1], stdout, stderr)
	}
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unknown argument %q (want 'jobs [--json]' or 'jobs run NAME')", fs.Arg(0))}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	sched, err := newScheduler(cfg, st, nil, nil, nil, nil, newLogger(io.Discard, "error"))
	if err != nil {
		return err
	}
	runs, err := st.JobRuns(ctx)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	var out []jobJSON
	for _, name := range sched.Names() {
		j := jobJSON{Name: name, Schedule: sched.Spec(name), LastResult: "never"}
		if next := sched.Next(name, now); !next.IsZero() {
			j.NextRun = &next
		}
		if r, ok := runs[name]; ok && r.LastStart != nil {
			j.LastStart, j.LastSuccess, j.LastError, j.DurationMS = r.LastStart, r.LastSuccess, r.LastError, r.DurationMS
			switch {
			case r.LastFinish == nil || r.LastFinish.Before(*r.LastStart):
				j.LastResult = "running"
			case r.LastError != "":
				j.LastResult = "error"
			default:
				j.LastResult = "ok"
			}
		}
		out = append(out, j)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSCHEDULE\tNEXT RUN\tLAST START\tRESULT\tTOOK")
	stamp := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	}
	for _, j := range out {
		result := j.LastResult
		if j.LastError != "" {
			result += ": " + j.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%dms\n", j.Name, j.Schedule, stamp(j.NextRun), stamp(j.LastStart), result, j.DurationMS)
	}
	return tw.Flush()
}

// jobsRun runs one job now against the configured database, beside a running serve: on
// PostgreSQL it waits for no one (a run in progress elsewhere makes it say so), and the
// mail it queues goes into the same outbox serve sends from.
func jobsRun(ctx context.Context, cfg *config.Config, name string, stdout, stderr io.Writer) error {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	log := newLogger(stderr, cfg.LogLevel)
	sched, err := jobServices(cfg, st, log)
	if err != nil {
		return err
	}
	out, err := sched.RunNow(ctx, name)
	if errors.Is(err, scheduler.ErrUnknownJob) {
		return usageError{fmt.Sprintf("no job %q (jobs: %s)", name, strings.Join(sched.Names(), ", "))}
	}
	if err != nil {
		return err
	}
	switch {
	case !out.Ran:
		return fmt.Errorf("job %s did not run: %s", name, out.Skipped)
	case out.Err != nil:
		return fmt.Errorf("job %s failed after %s: %w", name, out.Took.Round(time.Millisecond), out.Err)
	}
	fmt.Fprintf(stdout, "job %s ran in %s\n", name, out.Took.Round(time.Millisecond))
	return nil
}

// lockSQLite takes an exclusive lock on a file beside the SQLite database for as long
// as serve runs: two serve processes on one file would both release each other's
// in-flight mail at start and race their workers, so the second one refuses to start.
// The CLI does not take it; it reads and writes beside a running serve as before.
func lockSQLite(dbURL string) (release func(), err error) {
	path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
	lockPath := path + ".serve-lock"
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o750); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another mxdesk serve is already running on the SQLite database %s (it holds %s); "+
				"SQLite allows one serve per file: stop the other one, or use PostgreSQL to run replicas", path, lockPath)
		}
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	return func() { f.Close() }, nil
}
