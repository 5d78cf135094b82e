package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// SLAPaused returns the working time the ticket has waited on the customer so far.
func SLAPaused(ctx context.Context, q sqlx.QueryerContext, id int64) (time.Duration, error) {
	var secs int64
	if err := sqlx.GetContext(ctx, q, &secs, rebind(q, "SELECT sla_paused_seconds FROM tickets WHERE id = ?"), id); err != nil {
		return 0, fmt.Errorf("ticket %d: sla pause: %w", id, notFound(err))
	}
	return time.Duration(secs) * time.Second, nil
}

// SetSLA stores a ticket's deadlines and its accumulated pause.
func SetSLA(ctx context.Context, q sqlx.ExtContext, id int64, responseBy, resolutionBy time.Time, paused time.Duration) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE tickets SET response_by = ?, resolution_by = ?, sla_paused_seconds = ? WHERE id = ?`),
		responseBy.UTC(), resolutionBy.UTC(), int64(paused/time.Second), id)
	if err != nil {
		return fmt.Errorf("ticket %d: set sla: %w", id, err)
	}
	return nil
}

// ResolvedBefore returns up to limit ids of tickets Resolved at or before t, oldest
// first; with unasked set, only those never asked for feedback.
func (s *Store) ResolvedBefore(ctx context.Context, t time.Time, unasked bool, limit int) ([]int64, error) {
	q := `SELECT id FROM tickets WHERE status = 'resolved' AND resolved_at <= ?`
	if unasked {
		q += ` AND feedback_requested_at IS NULL`
	}
	q += ` ORDER BY resolved_at, id LIMIT ?`
	var ids []int64
	if err := s.DB.SelectContext(ctx, &ids, s.DB.Rebind(q), t.UTC(), limit); err != nil {
		return nil, fmt.Errorf("resolved tickets: %w", err)
	}
	return ids, nil
}

// MarkFeedbackRequested records that the ticket was asked for feedback and reports
// whether this call was the first: the row update is the claim, so two replicas (or the
// job and `mxdesk jobs run`) never both ask.
func MarkFeedbackRequested(ctx context.Context, q sqlx.ExtContext, id int64, at time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE tickets SET feedback_requested_at = ? WHERE id = ? AND feedback_requested_at IS NULL`), at.UTC(), id)
	if err != nil {
		return false, fmt.Errorf("ticket %d: feedback requested: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SLATicket is what the sla-warnings job needs of an open ticket.
type SLATicket struct {
	ID               int64      `db:"id"`
	Priority         string     `db:"priority"`
	ResponseBy       *time.Time `db:"response_by"`
	ResolutionBy     *time.Time `db:"resolution_by"`
	FirstRespondedAt *time.Time `db:"first_responded_at"`
}

// OpenSLATickets returns the tickets whose clock runs (Open or In Progress) with
// deadlines, after id after, by id, at most limit.
func (s *Store) OpenSLATickets(ctx context.Context, after int64, limit int) ([]SLATicket, error) {
	var out []SLATicket
	err := s.DB.SelectContext(ctx, &out, s.DB.Rebind(`SELECT id, priority, response_by, resolution_by, first_responded_at
		FROM tickets WHERE status IN ('open', 'in_progress') AND resolution_by IS NOT NULL AND id > ? ORDER BY id LIMIT ?`), after, limit)
	if err != nil {
		return nil, fmt.Errorf("open tickets: %w", err)
	}
	return out, nil
}

// RecordSLAWarning records one warning (kind about deadline) and reports whether it is
// new; the primary key makes it once per ticket, kind and deadline.
func RecordSLAWarning(ctx context.Context, q sqlx.ExtContext, ticketID int64, kind string, deadline, at time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO sla_warnings (ticket_id, kind, deadline, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`), ticketID, kind, deadline.UTC(), at.UTC())
	if err != nil {
		return false, fmt.Errorf("ticket %d: sla warning: %w", ticketID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
