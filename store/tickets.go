package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Ticket is a row of tickets with the names of its team and contact joined in.
type Ticket struct {
	ID               int64      `db:"id"`
	Subject          string     `db:"subject"`
	Status           string     `db:"status"`
	Priority         string     `db:"priority"`
	TeamID           int64      `db:"team_id"`
	ContactID        int64      `db:"contact_id"`
	Mailbox          string     `db:"mailbox"`
	Flagged          bool       `db:"flagged"`
	FlagReason       string     `db:"flag_reason"`
	LinkedTicketID   *int64     `db:"linked_ticket_id"`
	OutsideHours     bool       `db:"outside_hours"`
	ResponseBy       *time.Time `db:"response_by"`
	ResolutionBy     *time.Time `db:"resolution_by"`
	FirstRespondedAt *time.Time `db:"first_responded_at"`
	ResolvedAt       *time.Time `db:"resolved_at"`
	ClosedAt         *time.Time `db:"closed_at"`
	AssigneeID       *int64     `db:"assignee_id"`
	CreatedAt        time.Time  `db:"created_at"`
	UpdatedAt        time.Time  `db:"updated_at"`

	Team         string `db:"team_name"`
	ContactEmail string `db:"contact_email"`
	ContactName  string `db:"contact_name"`
}

const ticketSelect = `SELECT t.id, t.subject, t.status, t.priority, t.team_id, t.contact_id, t.mailbox,
	t.flagged, t.flag_reason, t.linked_ticket_id, t.outside_hours, t.response_by, t.resolution_by,
	t.first_responded_at, t.resolved_at, t.closed_at, t.assignee_id, t.created_at, t.updated_at,
	tm.name AS team_name, c.email AS contact_email, c.name AS contact_name
	FROM tickets t JOIN teams tm ON tm.id = t.team_id JOIN contacts c ON c.id = t.contact_id`

// InsertTicket creates a ticket and sets t.ID.
func InsertTicket(ctx context.Context, q sqlx.ExtContext, t *Ticket) error {
	id, err := insertID(ctx, q, q.Rebind(`INSERT INTO tickets
		(subject, status, priority, team_id, contact_id, mailbox, flagged, flag_reason, linked_ticket_id,
		 outside_hours, response_by, resolution_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		t.Subject, t.Status, t.Priority, t.TeamID, t.ContactID, t.Mailbox, t.Flagged, t.FlagReason,
		t.LinkedTicketID, t.OutsideHours, t.ResponseBy, t.ResolutionBy, t.CreatedAt, t.UpdatedAt)
	if err != nil {
		return fmt.Errorf("insert ticket: %w", err)
	}
	t.ID = id
	return nil
}

// GetTicket loads one ticket.
func GetTicket(ctx context.Context, q sqlx.QueryerContext, id int64) (*Ticket, error) {
	var t Ticket
	if err := sqlx.GetContext(ctx, q, &t, rebind(q, ticketSelect+" WHERE t.id = ?"), id); err != nil {
		return nil, fmt.Errorf("ticket %d: %w", id, notFound(err))
	}
	return &t, nil
}

// TicketFilter narrows ListTickets. Zero values mean no restriction.
type TicketFilter struct {
	Status    string
	ContactID int64
	Limit     int
}

// ListTickets returns tickets, newest first.
func (s *Store) ListTickets(ctx context.Context, f TicketFilter) ([]Ticket, error) {
	q := ticketSelect + " WHERE 1=1"
	var args []any
	if f.Status != "" {
		q += " AND t.status = ?"
		args = append(args, f.Status)
	}
	if f.ContactID != 0 {
		q += " AND t.contact_id = ?"
		args = append(args, f.ContactID)
	}
	q += " ORDER BY t.id DESC"
	if f.Limit > 0 {
		q += " LIMIT ?"
		args = append(args, f.Limit)
	}
	var out []Ticket
	if err := s.DB.SelectContext(ctx, &out, s.DB.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	return out, nil
}

// TouchTicket bumps updated_at.
func TouchTicket(ctx context.Context, q sqlx.ExtContext, id int64, at time.Time) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE tickets SET updated_at = ? WHERE id = ?`), at, id)
	if err != nil {
		return fmt.Errorf("ticket %d: touch: %w", id, err)
	}
	return nil
}

// TicketExists reports whether a ticket with this id exists.
func TicketExists(ctx context.Context, q sqlx.QueryerContext, id int64) (bool, error) {
	var n int
	if err := sqlx.GetContext(ctx, q, &n, rebind(q, "SELECT COUNT(*) FROM tickets WHERE id = ?"), id); err != nil {
		return false, fmt.Errorf("ticket %d: %w", id, err)
	}
	return n > 0, nil
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

// FlagTicket flags a ticket for an agent's attention, keeping an earlier reason.
func FlagTicket(ctx context.Context, q sqlx.ExtContext, id int64, reason string) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE tickets SET flagged = ?, flag_reason = CASE WHEN flag_reason = '' THEN ? ELSE flag_reason END WHERE id = ?`),
		true, reason, id)
	if err != nil {
		return fmt.Errorf("ticket %d: flag: %w", id, err)
	}
	return nil
}

// SetTicketPriority changes a ticket's priority.
func SetTicketPriority(ctx context.Context, q sqlx.ExtContext, id int64, priority string) error {
	return setTicketColumn(ctx, q, id, "priority", priority)
}

// SetTicketTeam moves a ticket to another team.
func SetTicketTeam(ctx context.Context, q sqlx.ExtContext, id, teamID int64) error {
	return setTicketColumn(ctx, q, id, "team_id", teamID)
}

// SetTicketAssignee assigns a ticket to an agent.
func SetTicketAssignee(ctx context.Context, q sqlx.ExtContext, id, agentID int64) error {
	return setTicketColumn(ctx, q, id, "assignee_id", agentID)
}

// setTicketColumn sets one column, named by the functions above, never by input.
func setTicketColumn(ctx context.Context, q sqlx.ExtContext, id int64, column string, value any) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE tickets SET `+column+` = ?, updated_at = ? WHERE id = ?`), value, now(), id)
	if err != nil {
		return fmt.Errorf("ticket %d: set %s: %w", id, column, err)
	}
	return nil
}

// MarkFirstResponse records the first agent reply's time, once.
func MarkFirstResponse(ctx context.Context, q sqlx.ExtContext, id int64, at time.Time) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE tickets SET first_responded_at = ? WHERE id = ? AND first_responded_at IS NULL`), at, id)
	if err != nil {
		return fmt.Errorf("ticket %d: first response: %w", id, err)
	}
	return nil
}

// OpenTicket inserts a new ticket t, its contact as its first participant and its
// first message m (whose TicketID it sets), and sets t.ID and m.ID. On PostgreSQL it is
// one statement, not three round trips: every new ticket pays it.
func OpenTicket(ctx context.Context, q sqlx.ExtContext, t *Ticket, m *Message) error {
	if q.DriverName() != "postgres" {
		if err := InsertTicket(ctx, q, t); err != nil {
			return err
		}
		if err := AddParticipant(ctx, q, t.ID, t.ContactID, "contact"); err != nil {
			return err
		}
		m.TicketID = t.ID
		return InsertMessage(ctx, q, m)
	}
	// The parameters inside the SELECTs are cast: PostgreSQL types an untyped parameter
	// there as text, not as the column it goes into.
	var ids struct {
		Ticket  int64 `db:"ticket_id"`
		Message int64 `db:"message_id"`
	}
	err := sqlx.GetContext(ctx, q, &ids, `WITH t AS (
			INSERT INTO tickets (subject, status, priority, team_id, contact_id, mailbox, flagged, flag_reason,
				linked_ticket_id, outside_hours, response_by, resolution_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id),
		p AS (
			INSERT INTO participants (ticket_id, contact_id, role, created_at)
			SELECT id, $5::bigint, 'contact', $15::timestamptz FROM t),
		m AS (
			INSERT INTO messages (ticket_id, inbound_id, direction, kind, from_addr, from_name, to_addrs, cc_addrs,
				message_id, in_reply_to, refs, subject, text_body, html_body, raw_sha256, auth_results, parse_errors,
				generated, created_at)
			SELECT id, $16::bigint, $17::text, $18::text, $19::text, $20::text, $21::text, $22::text, $23::text,
				$24::text, $25::text, $26::text, $27::text, $28::text, $29::text, $30::text, $31::text,
				$32::boolean, $33::timestamptz FROM t RETURNING id)
		SELECT t.id AS ticket_id, m.id AS message_id FROM t, m`,
		t.Subject, t.Status, t.Priority, t.TeamID, t.ContactID, t.Mailbox, t.Flagged, t.FlagReason,
		t.LinkedTicketID, t.OutsideHours, t.ResponseBy, t.ResolutionBy, t.CreatedAt, t.UpdatedAt, now(),
		m.InboundID, m.Direction, m.Kind, m.FromAddr, m.FromName, m.ToJSON, m.CcJSON, m.MessageID,
		m.InReplyTo, m.Refs, m.Subject, m.Text, m.HTML, m.RawSHA256, m.AuthResults, m.ParseErrors,
		m.Generated, m.CreatedAt)
	if err != nil {
		return fmt.Errorf("open ticket: %w", err)
	}
	t.ID, m.ID, m.TicketID = ids.Ticket, ids.Message, ids.Ticket
	return nil
}
