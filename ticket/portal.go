package ticket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strconv"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
)

// What the portal asks of tickets: the same Create and AddCustomerMessage mail uses, so
// a ticket made in the portal is one made by mail (acknowledgement, agents' mail, SLA,
// Message-IDs that thread), and the same reopen rule.

// Errors of the customer's actions in the portal.
var (
	ErrAlreadyClosed = errors.New("ticket already closed")
	ErrAlreadyRated  = errors.New("ticket already rated")
	ErrBadRating     = errors.New("a rating is 1 to 5 stars")
)

// PortalTicket is a ticket a signed-in customer opens.
type PortalTicket struct {
	From     Person
	Subject  string
	Text     string
	Priority string // empty: medium
	TeamID   int64
	Mailbox  string
	Cc       []Person
	Files    []Upload
	Fields   []store.Field
}

// Upload is a file sent with a portal form, read from Body, which yields exactly Size
// bytes (the portal stages uploads on disk). It is streamed into a blob inside the
// ticket's transaction, so neither the form nor the ticket holds it in memory, and a
// refused or failed form leaves nothing stored.
type Upload struct {
	Filename    string
	ContentType string
	Body        io.Reader
	Size        int64
}

// storeUploads streams the uploads into blobs in tx and returns them as Files.
func storeUploads(ctx context.Context, tx *sqlx.Tx, ups []Upload) ([]File, error) {
	files := make([]File, 0, len(ups))
	for _, u := range ups {
		sum, size, err := store.PutBlobStream(ctx, tx, u.Body, u.Size)
		if err != nil {
			return nil, fmt.Errorf("upload %q: %w", u.Filename, err)
		}
		if size != u.Size {
			return nil, fmt.Errorf("upload %q: %d bytes, announced %d", u.Filename, size, u.Size)
		}
		files = append(files, File{Filename: u.Filename, ContentType: u.ContentType, SHA256: sum, Size: size})
	}
	return files, nil
}

// CreateFromPortal opens a ticket from the portal's form. Its message gets a Message-ID
// mxdesk made, so the customer's later mail answering our acknowledgement threads.
func (s *Service) CreateFromPortal(ctx context.Context, p PortalTicket) (int64, error) {
	var id int64
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		files, err := storeUploads(ctx, tx, p.Files)
		if err != nil {
			return err
		}
		m := s.portalMessage(p.From, p.Subject, p.Text, p.Cc, files)
		tid, mid, err := s.Create(ctx, tx, NewTicket{Subject: p.Subject, Priority: p.Priority, TeamID: p.TeamID, Mailbox: p.Mailbox,
			Source: SourcePortal, Reason: "portal", Message: m, Fields: p.Fields})
		if err != nil {
			return err
		}
		id = tid
		return store.MarkMessageGenerated(ctx, tx, mid)
	})
	return id, err
}

func (s *Service) portalMessage(from Person, subject, text string, cc []Person, files []File) Incoming {
	m := Incoming{From: from, Subject: subject, Text: text, Attachments: files, MessageID: s.cfg.Composer.NewMessageID()}
	for _, c := range cc {
		m.Cc = append(m.Cc, mail.Address{Name: c.Name, Address: c.Email})
	}
	return m
}

// ReplyFromPortal adds the customer's reply to a ticket: it reopens a Resolved or Closed
// ticket, or, past the reopen window, opens a new ticket linked to it (one rule with
// mail). It returns the ticket the reply went to.
func (s *Service) ReplyFromPortal(ctx context.Context, ticketID int64, from Person, text string, ups []Upload) (int64, error) {
	var target int64
	err := s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		tk, err := store.GetTicket(ctx, tx, ticketID)
		if err != nil {
			return err
		}
		files, err := storeUploads(ctx, tx, ups)
		if err != nil {
			return err
		}
		m := s.portalMessage(from, "Re: "+tk.Subject, text, nil, files)
		var mid int64
		if s.OpensNew(tk, s.now()) {
			target, mid, err = s.Create(ctx, tx, NewTicket{Subject: tk.Subject, Priority: tk.Priority, TeamID: tk.TeamID,
				Mailbox: tk.Mailbox, Source: SourcePortal, LinkedTo: tk.ID, Reason: "portal reply after the reopen window", Message: m})
		} else {
			target = tk.ID
			mid, err = s.AddCustomerMessage(ctx, tx, tk.ID, m, "portal", "")
		}
		if err != nil {
			return err
		}
		return store.MarkMessageGenerated(ctx, tx, mid)
	})
	return target, err
}

// CloseByCustomer closes a ticket from the portal; closing twice is ErrAlreadyClosed.
func (s *Service) CloseByCustomer(ctx context.Context, ticketID int64, actor string) error {
	return s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		tk, err := store.GetTicket(ctx, tx, ticketID)
		if err != nil {
			return err
		}
		if tk.Status == StatusClosed {
			return ErrAlreadyClosed
		}
		return s.SetStatus(ctx, tx, ticketID, StatusClosed, actor)
	})
}

// RateByCustomer records the portal's feedback form: 1–5 stars, an option, a comment;
// once per ticket, the emailed rating links included.
func (s *Service) RateByCustomer(ctx context.Context, ticketID int64, rating int, option, comment, actor string) error {
	if rating < 1 || rating > 5 {
		return ErrBadRating
	}
	return s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		// Two submissions at once wait for each other here (PostgreSQL; SQLite has one
		// writer), so the second finds the first's rating.
		if _, err := store.LockTicket(ctx, tx, ticketID); err != nil {
			return err
		}
		ok, err := store.InsertRating(ctx, tx, &store.Feedback{TicketID: ticketID, Rating: rating, Choice: option, Comment: comment})
		if err != nil {
			return err
		}
		if !ok {
			return ErrAlreadyRated
		}
		return store.InsertEvent(ctx, tx, ticketID, EvRated, actor, jsonObj("rating", strconv.Itoa(rating), "choice", option))
	})
}

// Rated reports whether the ticket has a rating.
func Rated(ctx context.Context, st *store.Store, ticketID int64) (bool, error) {
	fs, err := store.ListFeedback(ctx, st.DB, ticketID)
	if err != nil {
		return false, fmt.Errorf("ticket %d: %w", ticketID, err)
	}
	return len(fs) > 0, nil
}
