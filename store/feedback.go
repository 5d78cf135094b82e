package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// ErrLinkUsed is returned when a single-use link's nonce was recorded before.
var ErrLinkUsed = errors.New("link already used")

// UseLink records the first use of a single-use link; a second use gets ErrLinkUsed.
// The primary key on the nonce makes this safe against two clicks at once.
func UseLink(ctx context.Context, q sqlx.ExtContext, nonce string, ticketID int64) error {
	var n int
	if err := sqlx.GetContext(ctx, q, &n, rebind(q, "SELECT COUNT(*) FROM used_links WHERE nonce = ?"), nonce); err != nil {
		return fmt.Errorf("link: %w", err)
	}
	if n > 0 {
		return ErrLinkUsed
	}
	_, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO used_links (nonce, ticket_id, used_at) VALUES (?, ?, ?)`), nonce, ticketID, now())
	if err != nil {
		if isUniqueViolation(err) {
			return ErrLinkUsed
		}
		return fmt.Errorf("link: %w", err)
	}
	return nil
}

// LinkUsedAt returns when a nonce was used, or nil.
func LinkUsedAt(ctx context.Context, q sqlx.QueryerContext, nonce string) (*time.Time, error) {
	var at []time.Time
	if err := sqlx.SelectContext(ctx, q, &at, rebind(q, "SELECT used_at FROM used_links WHERE nonce = ?"), nonce); err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	if len(at) == 0 {
		return nil, nil
	}
	return &at[0], nil
}

func isUniqueViolation(err error) bool {
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "duplicate key value")
}

// Feedback is a customer's rating of a ticket.
type Feedback struct {
	ID          int64      `db:"id" json:"id"`
	TicketID    int64      `db:"ticket_id" json:"ticket_id"`
	Rating      int        `db:"rating" json:"rating"`
	Comment     string     `db:"comment" json:"comment,omitempty"`
	Choice      string     `db:"choice" json:"choice,omitempty"` // a predefined option given with the stars
	RequestedAt *time.Time `db:"requested_at" json:"requested_at,omitempty"`
	CreatedAt   time.Time  `db:"created_at" json:"created_at"`
}

// InsertFeedback records a rating and returns its id.
func InsertFeedback(ctx context.Context, q sqlx.ExtContext, f *Feedback) error {
	f.CreatedAt = now()
	id, err := insertID(ctx, q, q.Rebind(`INSERT INTO feedback (ticket_id, rating, comment, requested_at, created_at) VALUES (?, ?, ?, ?, ?)`),
		f.TicketID, f.Rating, f.Comment, f.RequestedAt, f.CreatedAt)
	if err != nil {
		return fmt.Errorf("ticket %d: feedback: %w", f.TicketID, err)
	}
	f.ID = id
	return nil
}

// SetFeedbackComment adds the optional comment to a rating of the ticket.
func SetFeedbackComment(ctx context.Context, q sqlx.ExtContext, ticketID, id int64, comment string) error {
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE feedback SET comment = ? WHERE id = ? AND ticket_id = ?`), comment, id, ticketID)
	if err != nil {
		return fmt.Errorf("feedback %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("feedback %d: %w", id, ErrNotFound)
	}
	return nil
}

// ListFeedback returns a ticket's ratings, oldest first.
func ListFeedback(ctx context.Context, q sqlx.QueryerContext, ticketID int64) ([]Feedback, error) {
	var out []Feedback
	if err := sqlx.SelectContext(ctx, q, &out, rebind(q, "SELECT * FROM feedback WHERE ticket_id = ? ORDER BY id"), ticketID); err != nil {
		return nil, fmt.Errorf("ticket %d: feedback: %w", ticketID, err)
	}
	return out, nil
}
