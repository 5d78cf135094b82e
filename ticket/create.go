package ticket

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/mail"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
)

// NoSender is the address of a message that named none (no From, empty MAIL FROM): it
// is stored, never answered.
const NoSender = "unknown@invalid"

// Person is an address with its display name.
type Person struct {
	Email string
	Name  string
}

// File is an attachment of a message arriving on a ticket: its bytes in Data, or,
// with SHA256 set, a blob already stored (PutBlobStream) of Size bytes, so a large
// upload need never be in memory.
type File struct {
	Filename    string
	ContentType string
	ContentID   string
	Inline      bool // shown in the body (an image the HTML refers to)
	Data        []byte
	SHA256      string
	Size        int64
}

// Incoming is a message arriving on a ticket from the customer's side: a mail, a post
// in the portal, one sent in through the API on a customer's behalf, an imported mail.
type Incoming struct {
	From Person
	// Kind is MsgCustomer (empty means that), MsgAuto or MsgBounce.
	Kind string
	// Automatic says why the message is automatic ("" for a person): it is stored and
	// causes nothing (no acknowledgement, no reopen, no agent mail).
	Automatic   string
	InboundID   *int64 // the spool row it came from, for mail
	MessageID   string
	InReplyTo   []string
	References  []string
	Subject     string
	Text        string
	HTML        string
	To, Cc      []mail.Address
	RawSHA256   *string
	AuthResults string
	ParseErrors []string
	Attachments []File
	// At is when it was written; zero is now. An import passes the mail's Date.
	At time.Time
	// Archive marks an imported message: it changes no status and mails nobody.
	Archive bool
}

// NewTicket is what opens a ticket.
type NewTicket struct {
	Subject  string
	Priority string // empty: medium
	TeamID   int64
	Mailbox  string // the address it was sent to; reply addresses are built on it
	Source   string // SourceMail, SourcePortal, SourceAPI, SourceImport
	// Flag says why an agent should look at it before trusting it ("" for none).
	Flag string
	// LinkedTo is an older ticket this one continues (a reply long after it closed).
	LinkedTo int64
	// Reason is how threading decided to open it, for the history.
	Reason string
	// NoAck says why the customer gets no acknowledgement ("" sends one).
	NoAck   string
	Message Incoming
	// Fields are a portal template's values, stored with the ticket and shown to agents.
	Fields []store.Field
}

// at is when m happened.
func (s *Service) at(m *Incoming) time.Time {
	if m.At.IsZero() {
		return s.now()
	}
	return m.At.UTC().Truncate(time.Microsecond)
}

// Create opens a ticket with its first message, in tx: the contact and participants,
// the SLA deadlines, the history, the agents' mail and the customer's acknowledgement.
// It returns the ticket's and the message's ids.
func (s *Service) Create(ctx context.Context, tx *sqlx.Tx, nt NewTicket) (ticketID, messageID int64, err error) {
	m := &nt.Message
	t := s.at(m)
	sender := senderAddress(m.From.Email)
	contact, err := store.EnsureContact(ctx, tx, sender, m.From.Name)
	if err != nil {
		return 0, 0, err
	}
	contactID := contact.ContactID
	team, err := s.teamName(ctx, tx, nt.TeamID)
	if err != nil {
		return 0, 0, err
	}
	tk := &store.Ticket{
		Subject: threading.StripSubjectTag(nt.Subject), Status: StatusOpen, Priority: cmp.Or(nt.Priority, PriorityMedium),
		TeamID: nt.TeamID, ContactID: contactID, Mailbox: nt.Mailbox,
		Flagged: nt.Flag != "", FlagReason: nt.Flag, CreatedAt: t, UpdatedAt: t,
		Team: team, ContactEmail: contact.Email, ContactName: contact.Name,
	}
	if nt.LinkedTo != 0 {
		tk.LinkedTicketID = &nt.LinkedTo
	}
	if !m.Archive {
		s.StartSLA(tk) // response_by, resolution_by, outside_hours
	}
	row := incomingRow(m, sender, t)
	if err := store.OpenTicket(ctx, tx, tk, row); err != nil {
		return 0, 0, err
	}
	msgID := row.ID
	if err := insertAttachments(ctx, tx, row.ID, m.Attachments); err != nil {
		return 0, 0, err
	}
	if err := store.InsertFields(ctx, tx, tk.ID, nt.Fields); err != nil {
		return 0, 0, err
	}
	if err := s.afterCustomerMessage(ctx, tx, tk, true, m, sender); err != nil {
		return 0, 0, err
	}
	data, _ := json.Marshal(map[string]any{"message": msgID, "reason": nt.Reason, "flag": nt.Flag,
		"automatic": m.Automatic, "source": cmp.Or(nt.Source, SourceMail)})
	if err := store.InsertEvent(ctx, tx, tk.ID, EvCreated, sender, string(data)); err != nil {
		return 0, 0, err
	}
	why := nt.NoAck
	switch {
	case m.Archive:
		return tk.ID, msgID, nil
	case why != "":
	case m.Automatic != "":
		why = m.Automatic // guarantee: nothing automatic answers an automatic message
	case sender == NoSender:
		why = "no sender address"
	}
	if why != "" {
		return tk.ID, msgID, store.InsertEvent(ctx, tx, tk.ID, EvAckSuppressed, "", jsonObj("why", why))
	}
	// The thread is the customer's message alone: the agents' notifications just
	// queued are theirs, not the customer's conversation.
	var th thread
	if m.MessageID != "" {
		th = thread{ids: []string{m.MessageID}, lastIn: m.MessageID}
	}
	return tk.ID, msgID, s.acknowledge(ctx, tx, tk, *contact, th, m.Text, "")
}

// AddCustomerMessage adds a message from the customer's side to an existing ticket, in
// tx: people in Cc become participants, a Resolved or Closed ticket opens again, the
// team's agents get it. flag, when set, flags the ticket; reason is how threading found
// it. Callers first ask OpensNew whether the ticket still takes replies.
func (s *Service) AddCustomerMessage(ctx context.Context, tx *sqlx.Tx, ticketID int64, m Incoming, reason, flag string) (int64, error) {
	t := s.at(&m)
	sender := senderAddress(m.From.Email)
	if _, err := store.UpsertContact(ctx, tx, sender, m.From.Name); err != nil {
		return 0, err
	}
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return 0, err
	}
	msgID, err := s.insertIncoming(ctx, tx, ticketID, &m, sender, t)
	if err != nil {
		return 0, err
	}
	if err := s.afterCustomerMessage(ctx, tx, tk, false, &m, sender); err != nil {
		return 0, err
	}
	if flag != "" {
		if err := store.FlagTicket(ctx, tx, ticketID, flag); err != nil {
			return 0, err
		}
	}
	data, _ := json.Marshal(map[string]any{"message": msgID, "reason": reason, "automatic": m.Automatic})
	if err := store.InsertEvent(ctx, tx, ticketID, EvCustomerReplied, sender, string(data)); err != nil {
		return 0, err
	}
	return msgID, store.TouchTicket(ctx, tx, ticketID, t)
}

// OpensNew reports whether a person's message to tk at t opens a new ticket linked to
// it instead of reopening it: tk was closed longer ago than the reopen window. One rule
// for mail, the portal and the API.
func (s *Service) OpensNew(tk *store.Ticket, t time.Time) bool {
	return tk.Status == StatusClosed && tk.ClosedAt != nil && s.cfg.ReopenWindow > 0 && t.Sub(*tk.ClosedAt) > s.cfg.ReopenWindow
}

// afterCustomerMessage does what a person's message causes beyond storing it: people in
// To and Cc become participants, a Resolved or Closed ticket opens again, and the team's
// agents get it. Automatic and archived messages cause none of it.
func (s *Service) afterCustomerMessage(ctx context.Context, tx *sqlx.Tx, tk *store.Ticket, created bool, m *Incoming, sender string) error {
	if m.Automatic != "" {
		return nil
	}
	for _, a := range append(append([]mail.Address(nil), m.Cc...), m.To...) {
		addr := strings.ToLower(a.Address)
		if addr == "" || addr == sender || s.cfg.Own != nil && s.cfg.Own(addr) {
			continue
		}
		if _, err := store.AgentByEmail(ctx, tx, addr); err == nil {
			continue // an agent in Cc is not a customer-side participant
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		id, err := store.UpsertContact(ctx, tx, addr, a.Name)
		if err != nil {
			return err
		}
		if err := store.AddParticipant(ctx, tx, tk.ID, id, "cc"); err != nil {
			return err
		}
	}
	if m.Archive {
		return nil
	}
	event := EventNew
	if !created {
		event = EventReply
		if tk.Status == StatusResolved || tk.Status == StatusClosed {
			if err := s.Reopen(ctx, tx, tk.ID, sender); err != nil {
				return err
			}
		}
	}
	if created {
		return s.notifyAgents(ctx, tx, tk, event) // tk is as Create wrote it
	}
	return s.NotifyAgents(ctx, tx, tk.ID, event) // read again: Reopen changed it
}

// insertIncoming writes the message row and its attachments, once, as what it is.
func (s *Service) insertIncoming(ctx context.Context, tx *sqlx.Tx, ticketID int64, m *Incoming, sender string, t time.Time) (int64, error) {
	return s.insertMessage(ctx, tx, ticketID, m, store.DirIn, cmp.Or(m.Kind, MsgCustomer), sender, m.Text, t)
}

// incomingRow is the message row of m from the customer's side.
func incomingRow(m *Incoming, sender string, t time.Time) *store.Message {
	return messageRow(m, store.DirIn, cmp.Or(m.Kind, MsgCustomer), sender, m.Text, t)
}

// insertMessage writes one message row with its attachments.
func (s *Service) insertMessage(ctx context.Context, tx *sqlx.Tx, ticketID int64, m *Incoming, dir, kind, sender, text string, t time.Time) (int64, error) {
	row := messageRow(m, dir, kind, sender, text, t)
	row.TicketID = ticketID
	if err := store.InsertMessage(ctx, tx, row); err != nil {
		return 0, err
	}
	return row.ID, insertAttachments(ctx, tx, row.ID, m.Attachments)
}

// messageRow is the row of a message on a ticket (TicketID left to the caller).
func messageRow(m *Incoming, dir, kind, sender, text string, t time.Time) *store.Message {
	return &store.Message{
		InboundID: m.InboundID, Direction: dir, Kind: kind,
		FromAddr: sender, FromName: m.From.Name, ToJSON: addrJSON(m.To), CcJSON: addrJSON(m.Cc),
		MessageID: m.MessageID, InReplyTo: strings.Join(m.InReplyTo, " "), Refs: strings.Join(m.References, " "),
		Subject: m.Subject, Text: text, HTML: m.HTML, RawSHA256: m.RawSHA256,
		AuthResults: m.AuthResults, ParseErrors: strings.Join(m.ParseErrors, "\n"), CreatedAt: t,
	}
}

// insertAttachments writes a message's attachments.
func insertAttachments(ctx context.Context, tx *sqlx.Tx, messageID int64, files []File) error {
	for _, f := range files {
		a := &store.Attachment{MessageID: messageID, Filename: f.Filename, ContentType: f.ContentType, ContentID: f.ContentID, Inline: f.Inline}
		data := f.Data
		if f.SHA256 != "" {
			a.SHA256, a.Size, data = f.SHA256, f.Size, nil
		}
		if err := store.InsertAttachment(ctx, tx, a, data); err != nil {
			return err
		}
	}
	return nil
}

// senderAddress is the address a message is filed under: NoSender when it named none.
func senderAddress(addr string) string {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if addr == "" {
		return NoSender
	}
	return addr
}

func addrJSON(list []mail.Address) string {
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, a.Address)
	}
	b, _ := json.Marshal(out)
	return string(b)
}
