package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
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

// Attachment is a file carried by a message; its bytes are the blob named by SHA256.
type Attachment struct {
	ID          int64  `db:"id"`
	MessageID   int64  `db:"message_id"`
	Filename    string `db:"filename"`
	ContentType string `db:"content_type"`
	ContentID   string `db:"content_id"`
	Inline      bool   `db:"inline"`
	Size        int64  `db:"size"`
	SHA256      string `db:"sha256"`
}

// InsertAttachment stores the bytes as a blob and the attachment row.
func InsertAttachment(ctx context.Context, q sqlx.ExtContext, a *Attachment, data []byte) error {
	sum, err := PutBlob(ctx, q, data)
	if err != nil {
		return err
	}
	a.SHA256, a.Size = sum, int64(len(data))
	id, err := insertID(ctx, q, q.Rebind(`INSERT INTO attachments (message_id, filename, content_type, content_id, inline, size, sha256)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), a.MessageID, a.Filename, a.ContentType, a.ContentID, a.Inline, a.Size, a.SHA256)
	if err != nil {
		return fmt.Errorf("message %d: insert attachment: %w", a.MessageID, err)
	}
	a.ID = id
	return nil
}

// ListAttachments returns the attachments of a ticket's messages, keyed by message id.
func ListAttachments(ctx context.Context, q sqlx.QueryerContext, ticketID int64) (map[int64][]Attachment, error) {
	var rows []Attachment
	err := sqlx.SelectContext(ctx, q, &rows, rebind(q, `SELECT a.* FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE m.ticket_id = ? ORDER BY a.id`), ticketID)
	if err != nil {
		return nil, fmt.Errorf("ticket %d: attachments: %w", ticketID, err)
	}
	out := map[int64][]Attachment{}
	for _, a := range rows {
		out[a.MessageID] = append(out[a.MessageID], a)
	}
	return out, nil
}

// InsertEvent appends to a ticket's history. data is a JSON object.
func InsertEvent(ctx context.Context, q sqlx.ExtContext, ticketID int64, kind, actor, data string) error {
	if data == "" {
		data = "{}"
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

// MessageOfTicket returns a message only if it belongs to the ticket: a page scoped to
// one ticket can never reach another's (guarantee 6).
func MessageOfTicket(ctx context.Context, q sqlx.QueryerContext, ticketID, id int64) (*Message, error) {
	var m Message
	if err := sqlx.GetContext(ctx, q, &m, rebind(q, "SELECT * FROM messages WHERE id = ? AND ticket_id = ?"), id, ticketID); err != nil {
		return nil, fmt.Errorf("message %d of ticket %d: %w", id, ticketID, notFound(err))
	}
	return &m, nil
}

// AttachmentOfTicket returns an attachment and the kind of its message, only if the
// message belongs to the ticket.
func AttachmentOfTicket(ctx context.Context, q sqlx.QueryerContext, ticketID, id int64) (*Attachment, string, error) {
	var row struct {
		Attachment
		Kind string `db:"kind"`
	}
	err := sqlx.GetContext(ctx, q, &row, rebind(q, `SELECT a.*, m.kind FROM attachments a JOIN messages m ON m.id = a.message_id
		WHERE a.id = ? AND m.ticket_id = ?`), id, ticketID)
	if err != nil {
		return nil, "", fmt.Errorf("attachment %d of ticket %d: %w", id, ticketID, notFound(err))
	}
	return &row.Attachment, row.Kind, nil
}
