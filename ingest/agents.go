package ingest

import (
	"context"
	"errors"
	"net/mail"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// afterCustomerMessage does what a human customer's message causes beyond storing it:
// people in Cc become participants, a Resolved or Closed ticket opens again, and the
// team's agents get it. Automatic mail (out-of-office, bounces) causes none of it.
func (g *Ingester) afterCustomerMessage(ctx context.Context, tx *sqlx.Tx, ticketID int64, created bool, class Class, sender string, pm *Parsed) (bool, error) {
	if class.Automatic {
		return false, nil
	}
	for _, a := range append(append([]mail.Address(nil), pm.Cc...), pm.To...) {
		addr := strings.ToLower(a.Address)
		if addr == "" || addr == sender || g.cfg.Own != nil && g.cfg.Own(addr) {
			continue
		}
		if _, err := store.AgentByEmail(ctx, tx, addr); err == nil {
			continue // an agent in Cc is not a customer-side participant
		} else if !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		id, err := store.UpsertContact(ctx, tx, addr, a.Name)
		if err != nil {
			return false, err
		}
		if err := store.AddParticipant(ctx, tx, ticketID, id, "cc"); err != nil {
			return false, err
		}
	}
	event := ticket.EventNew
	if !created {
		event = ticket.EventReply
		tk, err := store.GetTicket(ctx, tx, ticketID)
		if err != nil {
			return false, err
		}
		if tk.Status == ticket.StatusResolved || tk.Status == ticket.StatusClosed {
			if _, err := g.tickets.Reopen(ctx, tx, ticketID, sender); err != nil {
				return false, err
			}
		}
	}
	return g.tickets.NotifyAgents(ctx, tx, ticketID, event)
}

// agentMail handles mail to a ticket's agent reply address. It is relayed to the customer
// only when it comes from an agent (and that agent's domain passes authentication);
// anything else is kept on the ticket as a refused message for the agents to see.
func (g *Ingester) agentMail(ctx context.Context, tx *sqlx.Tx, rt Route, in *store.Inbound, pm *Parsed, class Class, sender string, res *Result) (bool, error) {
	agent, err := store.AgentByEmail(ctx, tx, sender)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	kind, why := "agent", ""
	switch {
	case class.Automatic:
		kind, why = "auto", "automatic mail ("+class.Why+") to the agents' address"
	case agent == nil:
		kind, why = "agent_rejected", sender+" is not an agent"
	case !g.authenticated(in, sender):
		kind, why = "agent_rejected", "the agent's From did not pass authentication"
	}
	msgID, err := g.storeMessage(ctx, tx, rt.TicketID, in, pm, class, sender, g.now())
	if err != nil {
		return false, err
	}
	res.Tickets = append(res.Tickets, rt.TicketID)
	res.Messages = append(res.Messages, msgID)
	if _, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE messages SET direction = 'out', kind = ? WHERE id = ?`), kind, msgID); err != nil {
		return false, err
	}
	if why != "" {
		g.log.Warn("ingest: mail to the agents' address not relayed", "ticket", rt.TicketID, "from", sender, "why", why)
		return false, store.InsertEvent(ctx, tx, rt.TicketID, "agent_reply_refused", sender, jsonObj("why", why))
	}
	var files []outbound.File
	for _, p := range pm.Attachments {
		if p.Inline && p.ContentID != "" {
			continue // signature logos and the like; the text is what the customer needs
		}
		files = append(files, outbound.File{Filename: p.Filename, ContentType: p.ContentType, Data: p.Data})
	}
	return g.tickets.HandleAgentMail(ctx, tx, rt.TicketID, ticket.AgentMail{
		Agent: agent, MessageID: msgID, Text: threading.StripText(pm.Text), Attachments: files,
	})
}
