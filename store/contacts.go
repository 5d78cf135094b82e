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
	r, err := EnsureContact(ctx, q, email, name)
	if err != nil {
		return 0, err
	}
	return r.ContactID, nil
}

// EnsureContact is UpsertContact returning the contact as a recipient (its name and
// language), so a new ticket's acknowledgement needs no second read of the row.
func EnsureContact(ctx context.Context, q sqlx.ExtContext, email, name string) (*Recipient, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	b := batchOf(ctx)
	if b != nil {
		if r, ok := b.contacts[email]; ok && (r.Name != "" || name == "") {
			return &r, nil
		}
	}
	// Most mail comes from someone already known: a read, not a write (on PostgreSQL an
	// upsert writes a new row version every time).
	var found []Recipient
	if err := sqlx.SelectContext(ctx, q, &found, q.Rebind(`SELECT id AS contact_id, email, name, language, 'contact' AS role
		FROM contacts WHERE email = ?`), email); err != nil {
		return nil, fmt.Errorf("contact %s: %w", email, err)
	}
	if len(found) == 1 && (found[0].Name != "" || name == "") {
		if b != nil {
			b.contacts[email] = found[0]
		}
		return &found[0], nil
	}
	var r Recipient
	err := sqlx.GetContext(ctx, q, &r, q.Rebind(`INSERT INTO contacts (email, name, created_at) VALUES (?, ?, ?)
		ON CONFLICT (email) DO UPDATE SET name = CASE WHEN contacts.name = '' THEN excluded.name ELSE contacts.name END
		RETURNING id AS contact_id, email, name, language, 'contact' AS role`), email, name, now())
	if err != nil {
		return nil, fmt.Errorf("contact %s: %w", email, err)
	}
	if b != nil {
		b.contacts[email] = r
	}
	return &r, nil
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
