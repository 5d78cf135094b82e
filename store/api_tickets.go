package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Scope is the set of teams whose tickets a reader may see: every team, or the listed
// ones (none listed: nothing). The agent API builds one per token and passes it to
// every query below, so a ticket outside it is simply not found.
type Scope struct {
	All   bool
	Teams []int64
}

// where returns the SQL condition on a tickets row aliased t, with its arguments.
func (sc Scope) where() (string, []any) {
	if sc.All {
		return "1=1", nil
	}
	if len(sc.Teams) == 0 {
		return "1=0", nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(sc.Teams)), ", ")
	args := make([]any, len(sc.Teams))
	for i, id := range sc.Teams {
		args[i] = id
	}
	return "t.team_id IN (" + marks + ")", args
}

// Has reports whether a team is in the scope.
func (sc Scope) Has(teamID int64) bool {
	if sc.All {
		return true
	}
	for _, id := range sc.Teams {
		if id == teamID {
			return true
		}
	}
	return false
}

// Ticket orders for TicketQuery.Sort.
const (
	SortUpdated = "updated_at"
	SortCreated = "created_at"
	SortID      = "id"
)

// TicketQuery is a page of the agent API's ticket list: filters, an order and where the
// previous page ended (keyset pagination: a page costs the same wherever it starts).
type TicketQuery struct {
	Scope        Scope
	Status       string
	Priority     string
	TeamID       int64
	AssigneeID   int64 // -1: unassigned
	ContactID    int64
	Text         string // substring of the subject or a message's text, case-insensitive
	UpdatedSince *time.Time
	Sort         string // SortUpdated (default), SortCreated or SortID
	Asc          bool
	// After is the last row of the previous page: its sort value (ignored for SortID)
	// and id.
	After *TicketKey
	Limit int
}

// TicketKey is a ticket's position in an order.
type TicketKey struct {
	At time.Time
	ID int64
}

// where builds the filter of q (without the page position).
func (q TicketQuery) where() (string, []any) {
	cond, args := q.Scope.where()
	add := func(c string, a ...any) {
		cond += " AND " + c
		args = append(args, a...)
	}
	if q.Status != "" {
		add("t.status = ?", q.Status)
	}
	if q.Priority != "" {
		add("t.priority = ?", q.Priority)
	}
	if q.TeamID != 0 {
		add("t.team_id = ?", q.TeamID)
	}
	switch {
	case q.AssigneeID < 0:
		add("t.assignee_id IS NULL")
	case q.AssigneeID > 0:
		add("t.assignee_id = ?", q.AssigneeID)
	}
	if q.ContactID != 0 {
		add("t.contact_id = ?", q.ContactID)
	}
	if q.UpdatedSince != nil {
		add("t.updated_at >= ?", q.UpdatedSince.UTC())
	}
	if q.Text != "" {
		pat := "%" + likeEscape(strings.ToLower(q.Text)) + "%"
		add(`(LOWER(t.subject) LIKE ? ESCAPE '\' OR EXISTS (SELECT 1 FROM messages m
			WHERE m.ticket_id = t.id AND m.kind <> 'agent_refused' AND LOWER(m.text_body) LIKE ? ESCAPE '\'))`, pat, pat)
	}
	return cond, args
}

// likeEscape makes user text a literal inside a LIKE pattern.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// QueryTickets returns one page of tickets in q's order.
func (s *Store) QueryTickets(ctx context.Context, q TicketQuery) ([]Ticket, error) {
	cond, args := q.where()
	col := "t.updated_at"
	switch q.Sort {
	case "", SortUpdated:
	case SortCreated:
		col = "t.created_at"
	case SortID:
		col = ""
	default:
		return nil, fmt.Errorf("list tickets: unknown order %q", q.Sort)
	}
	cmp, dir := "<", "DESC"
	if q.Asc {
		cmp, dir = ">", "ASC"
	}
	if q.After != nil {
		if col == "" {
			cond += " AND t.id " + cmp + " ?"
			args = append(args, q.After.ID)
		} else {
			cond += " AND (" + col + " " + cmp + " ? OR (" + col + " = ? AND t.id " + cmp + " ?))"
			at := q.After.At.UTC()
			args = append(args, at, at, q.After.ID)
		}
	}
	order := "t.id " + dir
	if col != "" {
		order = col + " " + dir + ", " + order
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	query := ticketSelect + " WHERE " + cond + " ORDER BY " + order + " LIMIT ?"
	args = append(args, limit)
	var out []Ticket
	if err := s.DB.SelectContext(ctx, &out, s.DB.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	return out, nil
}

// CountTickets counts the tickets q's filters match (every page together).
func (s *Store) CountTickets(ctx context.Context, q TicketQuery) (int64, error) {
	cond, args := q.where()
	var n int64
	if err := s.DB.GetContext(ctx, &n, s.DB.Rebind("SELECT COUNT(*) FROM tickets t WHERE "+cond), args...); err != nil {
		return 0, fmt.Errorf("count tickets: %w", err)
	}
	return n, nil
}

// AttachmentTicket returns an attachment with the ticket and team its message belongs
// to, so a caller can check its scope before serving the bytes.
func AttachmentTicket(ctx context.Context, q sqlx.QueryerContext, id int64) (*Attachment, int64, int64, error) {
	var row struct {
		Attachment
		TicketID int64 `db:"ticket_id"`
		TeamID   int64 `db:"team_id"`
	}
	err := sqlx.GetContext(ctx, q, &row, rebind(q, `SELECT a.*, m.ticket_id, t.team_id FROM attachments a
		JOIN messages m ON m.id = a.message_id JOIN tickets t ON t.id = m.ticket_id WHERE a.id = ?`), id)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("attachment %d: %w", id, notFound(err))
	}
	return &row.Attachment, row.TicketID, row.TeamID, nil
}

// ContactRow is a contact as the agent API lists it.
type ContactRow struct {
	ID        int64     `db:"id"`
	Email     string    `db:"email"`
	Name      string    `db:"name"`
	Language  string    `db:"language"`
	CreatedAt time.Time `db:"created_at"`
	Tickets   int64     `db:"tickets"`
}

// ContactQuery is a page of contacts: those who have a ticket in the scope.
type ContactQuery struct {
	Scope   Scope
	Text    string // substring of the address or name
	AfterID int64
	Limit   int
}

// QueryContacts returns contacts by id, with the number of their tickets in scope. The
// page is found by walking contacts in id order and probing each one's tickets
// (tickets_contact_team), so a page costs the same however many tickets there are;
// only the page's contacts have their tickets counted.
func (s *Store) QueryContacts(ctx context.Context, q ContactQuery) ([]ContactRow, error) {
	cond, scopeArgs := q.Scope.where()
	var args []any
	args = append(args, scopeArgs...)
	query := `SELECT c.id, c.email, c.name, c.language, c.created_at,
		(SELECT COUNT(*) FROM tickets t WHERE t.contact_id = c.id AND ` + cond + `) AS tickets
		FROM contacts c WHERE c.id > ? AND EXISTS (SELECT 1 FROM tickets t WHERE t.contact_id = c.id AND ` + cond + `)`
	args = append(args, q.AfterID)
	args = append(args, scopeArgs...)
	if q.Text != "" {
		pat := "%" + likeEscape(strings.ToLower(q.Text)) + "%"
		query += ` AND (LOWER(c.email) LIKE ? ESCAPE '\' OR LOWER(c.name) LIKE ? ESCAPE '\')`
		args = append(args, pat, pat)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	query += " ORDER BY c.id LIMIT ?"
	args = append(args, limit)
	var out []ContactRow
	if err := s.DB.SelectContext(ctx, &out, s.DB.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("list contacts: %w", err)
	}
	return out, nil
}

// ContactInScope returns a contact who has a ticket in the scope, or ErrNotFound.
func (s *Store) ContactInScope(ctx context.Context, sc Scope, id int64) (*ContactRow, error) {
	rows, err := s.QueryContacts(ctx, ContactQuery{Scope: sc, AfterID: id - 1, Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || rows[0].ID != id {
		return nil, fmt.Errorf("contact %d: %w", id, ErrNotFound)
	}
	return &rows[0], nil
}

// ContactByEmail returns the id of the contact with this address, or ErrNotFound.
func ContactByEmail(ctx context.Context, q sqlx.QueryerContext, email string) (int64, error) {
	var id int64
	err := sqlx.GetContext(ctx, q, &id, rebind(q, "SELECT id FROM contacts WHERE email = ?"), strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return 0, fmt.Errorf("contact %s: %w", email, notFound(err))
	}
	return id, nil
}

// TeamRow is a team's id and name.
type TeamRow struct {
	ID   int64  `db:"id"`
	Name string `db:"name"`
}

// ListTeams returns every team by name.
func ListTeams(ctx context.Context, q sqlx.QueryerContext) ([]TeamRow, error) {
	var out []TeamRow
	if err := sqlx.SelectContext(ctx, q, &out, "SELECT id, name FROM teams ORDER BY name"); err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	return out, nil
}

// ClearTicketAssignee leaves a ticket without an assignee.
func ClearTicketAssignee(ctx context.Context, q sqlx.ExtContext, id int64) error {
	return setTicketColumn(ctx, q, id, "assignee_id", nil)
}

// LockTicket loads a ticket in tx and, on PostgreSQL, locks its row until the
// transaction ends, so a change checked against the version read (If-Match) cannot
// interleave with another. SQLite runs one writing transaction at a time anyway.
func LockTicket(ctx context.Context, tx *sqlx.Tx, id int64) (*Ticket, error) {
	query := ticketSelect + " WHERE t.id = ?"
	if tx.DriverName() == "postgres" {
		query += " FOR UPDATE OF t"
	}
	var t Ticket
	if err := tx.GetContext(ctx, &t, tx.Rebind(query), id); err != nil {
		return nil, fmt.Errorf("ticket %d: %w", id, notFound(err))
	}
	return &t, nil
}
