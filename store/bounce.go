package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// OutboxBounced is a mail that was handed on and later came back as a delivery status
// notification: the recipient never got it, whatever the relay said at the time.
const OutboxBounced = "bounced"

// Bounced is an outbox row a DSN reported on.
type Bounced struct {
	ID        int64  `db:"id"`
	TicketID  *int64 `db:"ticket_id"`
	RcptTo    string `db:"rcpt_to"`
	MessageID string `db:"message_id"`
}

// MarkOutboxBounced marks the sent outbox rows whose Message-ID is one of msgids as
// bounced, with reason as their error, in the caller's transaction, and returns them.
// Only mxdesk's own ids are in the outbox, so ids a DSN quotes from someone else's mail
// match nothing. A row already marked is returned again (a second DSN for one mail).
func MarkOutboxBounced(ctx context.Context, q sqlx.ExtContext, msgids []string, reason string) ([]Bounced, error) {
	if len(msgids) == 0 {
		return nil, nil
	}
	query, args, err := sqlx.In(`SELECT id, ticket_id, rcpt_to, message_id FROM outbox WHERE message_id IN (?) AND status IN (?, ?)`,
		msgids, OutboxSent, OutboxBounced)
	if err != nil {
		return nil, fmt.Errorf("bounce: %w", err)
	}
	var rows []Bounced
	if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("bounce: find outbox rows: %w", err)
	}
	for _, r := range rows {
		if _, err := q.ExecContext(ctx, q.Rebind(`UPDATE outbox SET status = ?, last_error = ? WHERE id = ?`), OutboxBounced, reason, r.ID); err != nil {
			return nil, fmt.Errorf("outbox %d: mark bounced: %w", r.ID, err)
		}
	}
	return rows, nil
}

// RetryInbound makes a failed spool row due now, for `mxdesk queue retry`. It reports
// whether the row was failed (only those are retried: a done row is done).
func (s *Store) RetryInbound(ctx context.Context, id int64) (bool, error) {
	res, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE inbound SET next_attempt_at = ? WHERE id = ? AND status = ?`),
		now(), id, InboundFailed)
	if err != nil {
		return false, fmt.Errorf("inbound %d: retry: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("inbound %d: retry: %w", id, err)
	}
	return n == 1, nil
}

// FlagTicket flags a ticket for an agent's attention, keeping an earlier reason.
func FlagTicket(ctx context.Context, q sqlx.ExtContext, id int64, reason string) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE tickets SET flagged = ?, flag_reason = CASE WHEN flag_reason = '' THEN ? ELSE flag_reason END WHERE id = ?`),
		true, reason, id)
	if err != nil {
		return fmt.Errorf("ticket %d: flag: %w", id, err)
	}
	return nil
}
