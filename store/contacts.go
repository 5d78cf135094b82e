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
	// Most mail comes from someone already known: a read, not a write (on PostgreSQL an
	// upsert writes a new row version every time).
	var found []struct {
		ID   int64  `db:"id"`
		Name string `db:"name"`
	}
	if err := sqlx.SelectContext(ctx, q, &found, q.Rebind(`SELECT id, name FROM contacts WHERE email = ?`), email); err != nil {
		return 0, fmt.Errorf("contact %s: %w", email, err)
	}
	if len(found) == 1 && (found[0].Name != "" || name == "") {
		return found[0].ID, nil
	}
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
	// Teams exist from serve's start on: a read on the hot path, a write only the first time.
	var ids []int64
	if err := sqlx.SelectContext(ctx, q, &ids, q.Rebind(`SELECT id FROM teams WHERE name = ?`), name); err != nil {
		return 0, fmt.Errorf("team %s: %w", name, err)
	}
	if len(ids) == 1 {
		return ids[0], nil
	}
	var id int64
	err := sqlx.GetContext(ctx, q, &id, q.Rebind(`INSERT INTO teams (name, created_at) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING id`), name, now())
	if err != nil {
		return 0, fmt.Errorf("team %s: %w", name, err)
	}
	return id, nil
}
