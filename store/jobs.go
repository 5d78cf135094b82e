package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jmoiron/sqlx"
)

// JobRun is a job's row of job_runs: its last run, as every replica sees it.
type JobRun struct {
	Job         string     `db:"job" json:"job"`
	LastTick    *time.Time `db:"last_tick" json:"last_tick,omitempty"`
	LastStart   *time.Time `db:"last_start" json:"last_start,omitempty"`
	LastFinish  *time.Time `db:"last_finish" json:"last_finish,omitempty"`
	LastSuccess *time.Time `db:"last_success" json:"last_success,omitempty"`
	LastError   string     `db:"last_error" json:"last_error,omitempty"`
	DurationMS  int64      `db:"duration_ms" json:"duration_ms"`
}

// EnsureJob creates a job's row if it has none.
func EnsureJob(ctx context.Context, q sqlx.ExtContext, job string) error {
	_, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO job_runs (job) VALUES (?) ON CONFLICT DO NOTHING`), job)
	if err != nil {
		return fmt.Errorf("job %s: %w", job, err)
	}
	return nil
}

// TryJobLock takes the job's transaction-scoped advisory lock on PostgreSQL and reports
// whether it got it; the lock goes with the transaction, so a replica that dies mid-run
// frees it. On SQLite (one process per file) it always succeeds.
func TryJobLock(ctx context.Context, tx *sqlx.Tx, dialect, job string) (bool, error) {
	if dialect != Postgres {
		return true, nil
	}
	h := fnv.New64a()
	h.Write([]byte("mxdesk job " + job))
	var ok bool
	if err := tx.GetContext(ctx, &ok, "SELECT pg_try_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
		return false, fmt.Errorf("job %s: lock: %w", job, err)
	}
	return ok, nil
}

// ClaimJobTick records that this process runs the job's tick (its scheduled time) and
// reports whether no one had claimed it yet. A zero tick (a run by hand) always claims.
func ClaimJobTick(ctx context.Context, q sqlx.ExtContext, job string, tick, start time.Time) (bool, error) {
	if err := EnsureJob(ctx, q, job); err != nil {
		return false, err
	}
	var (
		res interface{ RowsAffected() (int64, error) }
		err error
	)
	if tick.IsZero() {
		res, err = q.ExecContext(ctx, q.Rebind(`UPDATE job_runs SET last_start = ? WHERE job = ?`), start.UTC(), job)
	} else {
		res, err = q.ExecContext(ctx, q.Rebind(`UPDATE job_runs SET last_tick = ?, last_start = ?
			WHERE job = ? AND (last_tick IS NULL OR last_tick < ?)`), tick.UTC(), start.UTC(), job, tick.UTC())
	}
	if err != nil {
		return false, fmt.Errorf("job %s: claim: %w", job, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishJob records a run's outcome; runErr "" is a success.
func FinishJob(ctx context.Context, q sqlx.ExtContext, job string, finish time.Time, took time.Duration, runErr string) error {
	query := `UPDATE job_runs SET last_finish = ?, duration_ms = ?, last_error = ?, last_success = ? WHERE job = ?`
	args := []any{finish.UTC(), took.Milliseconds(), runErr, finish.UTC(), job}
	if runErr != "" {
		query = `UPDATE job_runs SET last_finish = ?, duration_ms = ?, last_error = ? WHERE job = ?`
		args = []any{finish.UTC(), took.Milliseconds(), runErr, job}
	}
	if _, err := q.ExecContext(ctx, q.Rebind(query), args...); err != nil {
		return fmt.Errorf("job %s: record: %w", job, err)
	}
	return nil
}

// JobRuns returns every job's row by name.
func (s *Store) JobRuns(ctx context.Context) (map[string]JobRun, error) {
	var rows []JobRun
	if err := s.DB.SelectContext(ctx, &rows, `SELECT job, last_tick, last_start, last_finish, last_success, last_error, duration_ms FROM job_runs`); err != nil {
		return nil, fmt.Errorf("job runs: %w", err)
	}
	out := make(map[string]JobRun, len(rows))
	for _, r := range rows {
		out[r.Job] = r
	}
	return out, nil
}

// Cleanup removes expired sessions and sign-in tokens and empties the bodies of outbox
// rows sent before sentBefore. The outbox rows themselves stay: their Message-IDs are
// the strong pointers that thread a customer's reply (guarantee 3b), however old.
func (s *Store) Cleanup(ctx context.Context, now, sentBefore time.Time) (sessions, tokens, outbox int64, err error) {
	err = s.Tx(ctx, func(tx *sqlx.Tx) error {
		exec := func(q string, args ...any) (int64, error) {
			res, err := tx.ExecContext(ctx, tx.Rebind(q), args...)
			if err != nil {
				return 0, err
			}
			return res.RowsAffected()
		}
		var err error
		if sessions, err = exec(`DELETE FROM sessions WHERE expires_at < ?`, now.UTC()); err != nil {
			return fmt.Errorf("cleanup sessions: %w", err)
		}
		if tokens, err = exec(`DELETE FROM signin_tokens WHERE expires_at < ?`, now.UTC()); err != nil {
			return fmt.Errorf("cleanup sign-in tokens: %w", err)
		}
		if outbox, err = exec(`UPDATE outbox SET raw = ? WHERE status = ? AND sent_at < ? AND LENGTH(raw) > 0`, []byte{}, OutboxSent, sentBefore.UTC()); err != nil {
			return fmt.Errorf("cleanup outbox: %w", err)
		}
		return nil
	})
	return sessions, tokens, outbox, err
}
