package store

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"
)

// Directions of a message: in from the customer's side, out from the agents' side.
const (
	DirIn  = "in"
	DirOut = "out"
)

// Message is a row of messages: one mail in or out of a ticket.
type Message struct {
	ID          int64     `db:"id"`
	TicketID    int64     `db:"ticket_id"`
	InboundID   *int64    `db:"inbound_id"`
	Direction   string    `db:"direction"`
	Kind        string    `db:"kind"`
	FromAddr    string    `db:"from_addr"`
	FromName    string    `db:"from_name"`
	ToJSON      string    `db:"to_addrs"`
	CcJSON      string    `db:"cc_addrs"`
	MessageID   string    `db:"message_id"`
	InReplyTo   string    `db:"in_reply_to"`
	Refs        string    `db:"refs"`
	Subject     string    `db:"subject"`
	Text        string    `db:"text_body"`
	HTML        string    `db:"html_body"`
	RawSHA256   *string   `db:"raw_sha256"`
	AuthResults string    `db:"auth_results"`
	ParseErrors string    `db:"parse_errors"`
	Generated   bool      `db:"generated"`
	CreatedAt   time.Time `db:"created_at"`
}

// InsertMessage stores a message and sets m.ID.
func InsertMessage(ctx context.Context, q sqlx.ExtContext, m *Message) error {
	id, err := insertID(ctx, q, q.Rebind(`INSERT INTO messages
		(ticket_id, inbound_id, direction, kind, from_addr, from_name, to_addrs, cc_addrs, message_id,
		 in_reply_to, refs, subject, text_body, html_body, raw_sha256, auth_results, parse_errors, generated, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		m.TicketID, m.InboundID, m.Direction, m.Kind, m.FromAddr, m.FromName, m.ToJSON, m.CcJSON, m.MessageID,
		m.InReplyTo, m.Refs, m.Subject, m.Text, m.HTML, m.RawSHA256, m.AuthResults, m.ParseErrors, m.Generated, m.CreatedAt)
	if err != nil {
		return fmt.Errorf("ticket %d: insert message: %w", m.TicketID, err)
	}
	m.ID = id
	return nil
}

// ListMessages returns a ticket's messages, oldest first.
func ListMessages(ctx context.Context, q sqlx.QueryerContext, ticketID int64) ([]Message, error) {
	var out []Message
	if err := sqlx.SelectContext(ctx, q, &out, rebind(q, "SELECT * FROM messages WHERE ticket_id = ? ORDER BY id"), ticketID); err != nil {
		return nil, fmt.Errorf("ticket %d: messages: %w", ticketID, err)
	}
	return out, nil
}

// MessageRef says where a Message-ID is known and whether mxdesk made it.
type MessageRef struct {
	TicketID  int64
	Generated bool // mxdesk generated the id (outbox or an outgoing message): a strong pointer
}

// FindMessageID looks a Message-ID up among the ids mxdesk generated (outbox) and the
// messages stored on tickets. Generated ids win over customer-made ones.
func FindMessageID(ctx context.Context, q sqlx.QueryerContext, msgid string) ([]MessageRef, error) {
	if msgid == "" {
		return nil, nil
	}
	var out []MessageRef
	var ids []int64
	if err := sqlx.SelectContext(ctx, q, &ids, rebind(q, "SELECT ticket_id FROM outbox WHERE message_id = ? AND ticket_id IS NOT NULL"), msgid); err != nil {
		return nil, fmt.Errorf("find message-id: %w", err)
	}
	if b := batchOf(ctx); b != nil {
		for _, o := range b.outbox {
			if o.MessageID == msgid && o.TicketID != nil {
				ids = append(ids, *o.TicketID)
			}
		}
	}
	for _, id := range ids {
		out = append(out, MessageRef{TicketID: id, Generated: true})
	}
	var rows []struct {
		TicketID  int64 `db:"ticket_id"`
		Generated bool  `db:"generated"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, rebind(q, "SELECT ticket_id, generated FROM messages WHERE message_id = ?"), msgid); err != nil {
		return nil, fmt.Errorf("find message-id: %w", err)
	}
	for _, r := range rows {
		out = append(out, MessageRef{TicketID: r.TicketID, Generated: r.Generated})
	}
	return out, nil
}

// MessageOfTicket returns a message only if it belongs to the ticket: a page scoped to
// one ticket can never reach another's (guarantee 6).
func MessageOfTicket(ctx context.Context, q sqlx.QueryerContext, ticketID, id int64) (*Message, error) {
	var m Message
	if err := sqlx.GetContext(ctx, q, &m, rebind(q, "SELECT * FROM messages WHERE id = ? AND ticket_id = ?"), id, ticketID); err != nil {
		return nil, fmt.Errorf("message %d of ticket %d: %w", id, ticketID, notFound(err))
	}
	return &m, nil
}

// threadRow is one Message-ID of a ticket's conversation (ThreadIDs).
type threadRow struct {
	MessageID string    `db:"message_id"`
	Direction string    `db:"direction"`
	CreatedAt time.Time `db:"created_at"`
	Seq       int64     `db:"seq"`
}

// ThreadIDs returns the Message-IDs of a ticket's conversation in the order they were
// written: incoming and outgoing messages and every mail mxdesk queued for it. The last
// incoming one is returned separately: notifications answer it (In-Reply-To).
func ThreadIDs(ctx context.Context, q sqlx.QueryerContext, ticketID int64) (all []string, lastIn string, err error) {
	var rows []threadRow
	err = sqlx.SelectContext(ctx, q, &rows, rebind(q, `
		SELECT message_id, direction, created_at, id AS seq FROM messages WHERE ticket_id = ? AND message_id <> ''
		UNION ALL
		SELECT message_id, 'queued' AS direction, created_at, id AS seq FROM outbox WHERE ticket_id = ?`), ticketID, ticketID)
	if err != nil {
		return nil, "", fmt.Errorf("ticket %d: thread: %w", ticketID, err)
	}
	if b := batchOf(ctx); b != nil {
		for _, o := range b.outbox {
			if o.TicketID != nil && *o.TicketID == ticketID && o.MessageID != "" {
				rows = append(rows, threadRow{MessageID: o.MessageID, Direction: "queued", CreatedAt: o.CreatedAt})
			}
		}
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

// DuplicateMessage returns the ticket that already holds a mail with this Message-ID
// from this sender, among the tickets of team teamID and ticket ticketID, or 0. Only
// mail counts (rows with a spool row): an MTA's retry after a lost 250 must not become
// a second message, whichever side of the conversation it came from.
//
// Two queries, not one join: the messages with this Message-ID first (its index; for
// nearly every mail there are none), then their tickets' team. Joined, PostgreSQL
// chose where to start from its statistics of the tables, and before ANALYZE has seen
// them (a new database filling at hundreds of messages a second) it took a team to
// hold a dozen tickets and walked every ticket of the team, per message ingested
// (bench/README, "the dedupe plan"). No ORDER BY id LIMIT 1 either: with it, the plan could walk the
// primary key until a row matched.
func DuplicateMessage(ctx context.Context, q sqlx.QueryerContext, msgid, sender string, teamID, ticketID int64) (int64, error) {
	var rows []firstMatch
	err := sqlx.SelectContext(ctx, q, &rows, rebind(q, `SELECT id, ticket_id FROM messages
		WHERE message_id = ? AND message_id <> '' AND inbound_id IS NOT NULL AND from_addr = ?`), msgid, sender)
	if err != nil {
		return 0, fmt.Errorf("dedupe %s: %w", msgid, err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.TicketID
	}
	query, args, err := sqlx.In(`SELECT id FROM tickets WHERE id IN (?) AND (team_id = ? OR id = ?)`, ids, teamID, ticketID)
	if err != nil {
		return 0, fmt.Errorf("dedupe %s: %w", msgid, err)
	}
	var same []int64
	if err := sqlx.SelectContext(ctx, q, &same, rebind(q, query), args...); err != nil {
		return 0, fmt.Errorf("dedupe %s: tickets: %w", msgid, err)
	}
	var match []firstMatch
	for _, r := range rows {
		if slices.Contains(same, r.TicketID) {
			match = append(match, r)
		}
	}
	return oldestTicket(match), nil
}

// firstMatch is a message matched by Message-ID: oldestTicket picks the oldest's ticket.
type firstMatch struct {
	ID       int64 `db:"id"`
	TicketID int64 `db:"ticket_id"`
}

// oldestTicket returns the ticket of the oldest message in rows, or 0.
func oldestTicket(rows []firstMatch) int64 {
	var best firstMatch
	for _, r := range rows {
		if best.ID == 0 || r.ID < best.ID {
			best = r
		}
	}
	return best.TicketID
}
