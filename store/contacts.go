package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// UpsertContact returns the id of the contact with this address, creating it if needed.
// A name is recorded the first time one is seen; later mail does not rename the contact.
func UpsertContact(ctx context.Context, q sqlx.ExtContext, email, name string) (int64, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	var id int64
	err := sqlx.GetContext(ctx, q, &id, q.Rebind(`INSERT INTO contacts (email, name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (email) DO UPDATE SET name = CASE WHEN contacts.name = '' THEN excluded.name ELSE contacts.name END
		RETURNING id`), email, name, now())
	if err != nil {
		return 0, fmt.Errorf("contact %s: %w", email, err)
	}
	return id, nil
}

// AddParticipant records that a contact takes part in a ticket (contact, or cc).
func AddParticipant(ctx context.Context, q sqlx.ExtContext, ticketID, contactID int64, role string) error {
	_, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO participants (ticket_id, contact_id, role, created_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (ticket_id, contact_id) DO NOTHING`), ticketID, contactID, role, now())
	if err != nil {
		return fmt.Errorf("ticket %d: add participant: %w", ticketID, err)
	}
	return nil
}

// IsParticipant reports whether the address takes part in the ticket.
func IsParticipant(ctx context.Context, q sqlx.QueryerContext, ticketID int64, email string) (bool, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, rebind(q, `SELECT COUNT(*) FROM participants p JOIN contacts c ON c.id = p.contact_id
		WHERE p.ticket_id = ? AND c.email = ?`), ticketID, strings.ToLower(email))
	if err != nil {
		return false, fmt.Errorf("ticket %d: participant: %w", ticketID, err)
	}
	return n > 0, nil
}

// EnsureTeam returns the id of the team with this name, creating it if needed.
func EnsureTeam(ctx context.Context, q sqlx.ExtContext, name string) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, q, &id, q.Rebind(`INSERT INTO teams (name, created_at) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`), name, now())
	if err != nil {
		return 0, fmt.Errorf("team %s: %w", name, err)
	}
	return id, nil
}
