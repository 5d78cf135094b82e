package ticket

import (
	"cmp"
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
)

// CloseImported closes the old conversations an import brought in: open tickets, every
// message of which was imported, whose last message is older than before. Each is
// closed as of its last message, so a reply arriving now counts as one to a ticket
// closed that long ago; nobody is told (the conversation ended long before mxdesk).
func (s *Service) CloseImported(ctx context.Context, tx *sqlx.Tx, before time.Time) ([]int64, error) {
	ids, err := store.ImportedOpenTickets(ctx, tx, before)
	if err != nil {
		return nil, err
	}
	// The tickets an import opens are open (archive mode changes no status), so "from"
	// is open for each.
	if err := store.CloseTicketsAsOfUpdate(ctx, tx, ids, SourceImport, jsonObj("from", StatusOpen, "to", StatusClosed)); err != nil {
		return nil, err
	}
	return ids, nil
}

// AddImportedOurs stores the support side's message found in an imported mailbox (sent
// from a mailbox address or by an agent, back then): outgoing, on ticketID, or when
// that is 0 on a new ticket for customer (the support side wrote first). Its
// Message-ID then threads the customer's answer like one mxdesk generated. Nothing is
// sent and no status changes. It returns the ticket's and the message's ids.
func (s *Service) AddImportedOurs(ctx context.Context, tx *sqlx.Tx, ticketID int64, customer Person, nt NewTicket) (int64, int64, error) {
	m := &nt.Message
	t := s.at(m)
	sender := senderAddress(m.From.Email)
	if ticketID == 0 {
		contactID, err := store.UpsertContact(ctx, tx, customer.Email, customer.Name)
		if err != nil {
			return 0, 0, err
		}
		tk := &store.Ticket{
			Subject: threading.StripSubjectTag(nt.Subject), Status: StatusOpen, Priority: cmp.Or(nt.Priority, PriorityMedium),
			TeamID: nt.TeamID, ContactID: contactID, Mailbox: nt.Mailbox, CreatedAt: t, UpdatedAt: t,
		}
		if err := store.InsertTicket(ctx, tx, tk); err != nil {
			return 0, 0, err
		}
		if err := store.AddParticipant(ctx, tx, tk.ID, contactID, "contact"); err != nil {
			return 0, 0, err
		}
		if err := store.InsertEvent(ctx, tx, tk.ID, EvCreated, sender, jsonObj("source", SourceImport, "reason", "the support side wrote first")); err != nil {
			return 0, 0, err
		}
		ticketID = tk.ID
	}
	msgID, err := s.insertIncoming(ctx, tx, ticketID, m, sender, t)
	if err != nil {
		return 0, 0, err
	}
	if err := store.MarkOurs(ctx, tx, msgID, MsgAgent); err != nil {
		return 0, 0, err
	}
	if err := store.InsertEvent(ctx, tx, ticketID, EvAgentReplied, sender, jsonObj("source", SourceImport)); err != nil {
		return 0, 0, err
	}
	return ticketID, msgID, store.TouchTicket(ctx, tx, ticketID, t)
}
