package store

import (
	"context"
	"fmt"
	"time"

	"github.com/mxdesk/mxdesk/migrations"
)

// FailingTooLong is how long spool rows may keep failing before the instance reports
// itself not ready: a message that cannot be ingested for that long needs a person.
const FailingTooLong = 10 * time.Minute

// Ready says whether this instance can do its work, and if not, why: the database
// answers, every migration this binary knows is applied (another replica may be older
// or newer), and no spool row has been failing for more than FailingTooLong.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.DB.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	all, err := migrations.List(s.Dialect)
	if err != nil {
		return err
	}
	var applied []int
	if err := s.DB.SelectContext(ctx, &applied, "SELECT version FROM schema_migrations"); err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}
	for _, m := range all {
		if !done[m.Version] {
			return fmt.Errorf("migration %s is pending: run mxdesk migrate", m.Name)
		}
	}
	var failing struct {
		N      int    `db:"n"`
		Oldest *int64 `db:"oldest"`
	}
	err = s.DB.GetContext(ctx, &failing, s.DB.Rebind("SELECT count(*) AS n, min(id) AS oldest FROM inbound WHERE status = ? AND received_at < ?"),
		InboundFailed, now().Add(-FailingTooLong))
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if failing.N > 0 {
		return fmt.Errorf("%d spool row(s) failing for more than %s (oldest inbound %d): mxdesk queue inbound --status failed", failing.N, FailingTooLong, *failing.Oldest)
	}
	return nil
}
