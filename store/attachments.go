package store

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"
)

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

// InsertAttachment stores the bytes as a blob and the attachment row. With a.SHA256
// already set (and data nil) the bytes are a blob stored before, by PutBlobStream, and
// the row refers to it with a.Size as its size.
func InsertAttachment(ctx context.Context, q sqlx.ExtContext, a *Attachment, data []byte) error {
	if a.SHA256 == "" || data != nil {
		sum, err := PutBlob(ctx, q, data)
		if err != nil {
			return err
		}
		a.SHA256, a.Size = sum, int64(len(data))
	}
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
