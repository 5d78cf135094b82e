package ticket

import (
	"cmp"
	"context"
	"net/mail"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
)

// Agent events for NotifyAgents.
const (
	EventNew   = "new"
	EventReply = "reply"
)

// agentReplyAddress is the ticket's signed reply address for agents: a different token
// role from the customer's, so a customer can never post as an agent.
func (s *Service) agentReplyAddress(tk *store.Ticket) string {
	return threading.ReplyAddress(tk.Mailbox, s.cfg.Signer.Token(threading.RoleAgent, tk.ID))
}

// conversation returns the ticket's messages for agents, newest first, stripped of quoted
// history (the full originals stay stored).
func conversation(ctx context.Context, tx *sqlx.Tx, ticketID int64) ([]outbound.Entry, error) {
	msgs, err := store.ListMessages(ctx, tx, ticketID)
	if err != nil {
		return nil, err
	}
	out := make([]outbound.Entry, 0, len(msgs))
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		from := m.FromAddr
		if m.FromName != "" {
			from = m.FromName + " <" + m.FromAddr + ">"
		}
		out = append(out, outbound.Entry{From: from, When: m.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"),
			Text: ReadableText(&m), Internal: m.Kind == MsgNote})
	}
	return out, nil
}

// NotifyAgents sends a new ticket or a customer's reply to every agent of the ticket's
// team, with the agent reply address and the conversation so far. Agents' mail is not
// held back by the loop guard: a busy queue is not a loop.
func (s *Service) NotifyAgents(ctx context.Context, tx *sqlx.Tx, ticketID int64, event string) error {
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	return s.notifyAgents(ctx, tx, tk, event)
}

// notifyAgents is NotifyAgents for a ticket as it is now in tx.
func (s *Service) notifyAgents(ctx context.Context, tx *sqlx.Tx, tk *store.Ticket, event string) error {
	ticketID := tk.ID
	// The conversation is read only when the team has agents to mail it to.
	var (
		conv    []outbound.Entry
		convErr error
		loaded  bool
	)
	err := s.mailAgents(ctx, tx, tk, outbound.KindAgentNotification, func(n *outbound.Notice) {
		if !loaded {
			conv, convErr = conversation(ctx, tx, ticketID)
			loaded = true
		}
		n.Event, n.Conversation = event, conv
		// Agents' clients list it under the customer's name.
		n.FromName = n.CustomerName + " (" + s.cfg.Composer.Brand().Name + ")"
	})
	if convErr != nil {
		// The transaction is rolled back: nothing half-filled is sent.
		return convErr
	}
	return err
}

// mailAgents queues one mail of a kind to each agent of the ticket's team, threaded in
// the agents' view of the ticket and answerable at its agent reply address; fill adds
// what the kind says.
func (s *Service) mailAgents(ctx context.Context, tx *sqlx.Tx, tk *store.Ticket, kind string, fill func(n *outbound.Notice)) error {
	ticketID := tk.ID
	agents, err := store.AgentsOfTeam(ctx, tx, tk.TeamID)
	if err != nil || len(agents) == 0 {
		return err
	}
	customer, err := store.Contact(ctx, tx, tk.ContactID)
	if err != nil {
		return err
	}
	ids, _, err := store.ThreadIDs(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	name := customer.Name
	if name == "" {
		name = customer.Email
	}
	fields, err := store.ListFields(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	for _, a := range agents {
		n := outbound.Notice{
			Kind: kind, Lang: s.cfg.Composer.Language(), TicketID: tk.ID,
			TicketSubject: tk.Subject, Team: tk.Team, To: mail.Address{Name: a.Name, Address: a.Email},
			ReplyTo: s.agentReplyAddress(tk), References: trimRefs(ids), CustomerName: name,
			CustomerEmail: customer.Email, Priority: tk.Priority, NewStatus: tk.Status,
			AutoSubmitted: "auto-generated", Links: outbound.Links{View: s.viewLink(tk)},
		}
		for _, f := range fields {
			n.Fields = append(n.Fields, outbound.Field{Label: cmp.Or(f.Label, f.Name), Value: f.Value})
		}
		if len(ids) > 0 {
			n.InReplyTo = ids[len(ids)-1]
		}
		fill(&n)
		if err := s.queue(ctx, tx, tk, n, false); err != nil {
			return err
		}
	}
	return nil
}
