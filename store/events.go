package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// InsertEvent appends to a ticket's history. data is a JSON object.
func InsertEvent(ctx context.Context, q sqlx.ExtContext, ticketID int64, kind, actor, data string) error {
	if data == "" {
		data = "{}"
	}
	if b := batchOf(ctx); b != nil {
		b.events = append(b.events, pendingEvent{ticketID: ticketID, kind: kind, actor: actor, data: data, at: now()})
		return nil
	}
	_, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO events (ticket_id, kind, actor, data, created_at) VALUES (?, ?, ?, ?, ?)`),
		ticketID, kind, actor, data, now())
	if err != nil {
		return fmt.Errorf("ticket %d: event %s: %w", ticketID, kind, err)
	}
	return nil
}

// Event is a row of a ticket's history.
type Event struct {
	ID        int64     `db:"id"`
	TicketID  int64     `db:"ticket_id"`
	Kind      string    `db:"kind"`
	Actor     string    `db:"actor"`
	Data      string    `db:"data"`
	CreatedAt time.Time `db:"created_at"`
}

// ListEvents returns a ticket's history, oldest first.
func ListEvents(ctx context.Context, q sqlx.QueryerContext, ticketID int64) ([]Event, error) {
	var out []Event
	if err := sqlx.SelectContext(ctx, q, &out, rebind(q, "SELECT * FROM events WHERE ticket_id = ? ORDER BY id"), ticketID); err != nil {
		return nil, fmt.Errorf("ticket %d: events: %w", ticketID, err)
	}
	return out, nil
}
