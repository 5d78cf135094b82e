package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// ThreadIDs returns the Message-IDs of a ticket's conversation in the order they were
// written: incoming and outgoing messages and every mail mxdesk queued for it. The last
// incoming one is returned separately: notifications answer it (In-Reply-To).
func ThreadIDs(ctx context.Context, q sqlx.QueryerContext, ticketID int64) (all []string, lastIn string, err error) {
	var rows []struct {
		MessageID string    `db:"message_id"`
		Direction string    `db:"direction"`
		CreatedAt time.Time `db:"created_at"`
		Seq       int64     `db:"seq"`
	}
	err = sqlx.SelectContext(ctx, q, &rows, rebind(q, `
		SELECT message_id, direction, created_at, id AS seq FROM messages WHERE ticket_id = ? AND message_id <> ''
		UNION ALL
		SELECT message_id, 'queued' AS direction, created_at, id AS seq FROM outbox WHERE ticket_id = ?`), ticketID, ticketID)
	if err != nil {
		return nil, "", fmt.Errorf("ticket %d: thread: %w", ticketID, err)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].CreatedAt.Before(rows[j].CreatedAt) })
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.MessageID] {
			continue
		}
		seen[r.MessageID] = true
		all = append(all, r.MessageID)
		if r.Direction == "in" {
			lastIn = r.MessageID
		}
	}
	return all, lastIn, nil
}

// Recipient is someone a ticket's notifications go to.
type Recipient struct {
	ContactID int64  `db:"contact_id"`
	Email     string `db:"email"`
	Name      string `db:"name"`
	Language  string `db:"language"`
	Role      string `db:"role"`
}

// Participants returns the ticket's contact first, then the other participants.
func Participants(ctx context.Context, q sqlx.QueryerContext, ticketID int64) ([]Recipient, error) {
	var out []Recipient
	err := sqlx.SelectContext(ctx, q, &out, rebind(q, `SELECT c.id AS contact_id, c.email, c.name, c.language, p.role
		FROM participants p JOIN contacts c ON c.id = p.contact_id WHERE p.ticket_id = ?
		ORDER BY CASE WHEN p.role = 'contact' THEN 0 ELSE 1 END, p.created_at`), ticketID)
	if err != nil {
		return nil, fmt.Errorf("ticket %d: participants: %w", ticketID, err)
	}
	return out, nil
}

// Contact returns a contact by id.
func Contact(ctx context.Context, q sqlx.QueryerContext, id int64) (*Recipient, error) {
	var r Recipient
	err := sqlx.GetContext(ctx, q, &r, rebind(q, `SELECT id AS contact_id, email, name, language, 'contact' AS role FROM contacts WHERE id = ?`), id)
	if err != nil {
		return nil, fmt.Errorf("contact %d: %w", id, notFound(err))
	}
	return &r, nil
}

// SetContactLanguage records a contact's language (from the portal's Accept-Language,
// or an explicit choice) when none is known yet, or always when force is set.
func SetContactLanguage(ctx context.Context, q sqlx.ExtContext, id int64, lang string, force bool) error {
	query := `UPDATE contacts SET language = ? WHERE id = ?`
	if !force {
		query += ` AND language = ''`
	}
	if _, err := q.ExecContext(ctx, q.Rebind(query), strings.ToLower(lang), id); err != nil {
		return fmt.Errorf("contact %d: language: %w", id, err)
	}
	return nil
}

// UpdateTicketStatus sets the status and the timestamp that goes with it: resolved_at for
// Resolved, closed_at for Closed, both cleared when the ticket opens again.
func UpdateTicketStatus(ctx context.Context, q sqlx.ExtContext, id int64, status string, at time.Time) error {
	query := `UPDATE tickets SET status = ?, resolved_at = NULL, closed_at = NULL, updated_at = ? WHERE id = ?`
	args := []any{status, at, id}
	switch status {
	case "resolved":
		query = `UPDATE tickets SET status = ?, resolved_at = ?, updated_at = ? WHERE id = ?`
		args = []any{status, at, at, id}
	case "closed":
		query = `UPDATE tickets SET status = ?, closed_at = ?, updated_at = ? WHERE id = ?`
		args = []any{status, at, at, id}
	}
	if _, err := q.ExecContext(ctx, q.Rebind(query), args...); err != nil {
		return fmt.Errorf("ticket %d: status %s: %w", id, status, err)
	}
	return nil
}
