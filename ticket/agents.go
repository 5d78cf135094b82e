package ticket

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

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
		text := threading.StripText(m.Text)
		if m.Kind == "agent" || m.Kind == "note" || threading.IsForward(m.Subject) {
			// An agent's text is already what they meant to say; a forward is all
			// "quote", and the quote is the point.
			text = m.Text
		}
		out = append(out, outbound.Entry{From: from, When: m.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"),
			Text: strings.TrimSpace(text), Internal: m.Kind == "note"})
	}
	return out, nil
}

// NotifyAgents sends a new ticket or a customer's reply to every agent of the ticket's
// team, with the agent reply address and the conversation so far. Agents' mail is not
// held back by the loop guard: a busy queue is not a loop.
func (s *Service) NotifyAgents(ctx context.Context, tx *sqlx.Tx, ticketID int64, event string) (bool, error) {
	// The conversation is read only when the team has agents to mail it to.
	var (
		conv    []outbound.Entry
		convErr error
		loaded  bool
	)
	queued, err := s.mailAgents(ctx, tx, ticketID, outbound.KindAgentNotification, func(n *outbound.Notice) {
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
		return false, convErr
	}
	return queued, err
}

// mailAgents queues one mail of a kind to each agent of the ticket's team, threaded in
// the agents' view of the ticket and answerable at its agent reply address; fill adds
// what the kind says.
func (s *Service) mailAgents(ctx context.Context, tx *sqlx.Tx, ticketID int64, kind string, fill func(n *outbound.Notice)) (bool, error) {
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return false, err
	}
	agents, err := store.AgentsOfTeam(ctx, tx, tk.TeamID)
	if err != nil || len(agents) == 0 {
		return false, err
	}
	customer, err := store.Contact(ctx, tx, tk.ContactID)
	if err != nil {
		return false, err
	}
	ids, _, err := store.ThreadIDs(ctx, tx, ticketID)
	if err != nil {
		return false, err
	}
	name := customer.Name
	if name == "" {
		name = customer.Email
	}
	queued := false
	for _, a := range agents {
		n := outbound.Notice{
			Kind: kind, Lang: s.cfg.Composer.Language(), TicketID: tk.ID,
			TicketSubject: tk.Subject, Team: tk.Team, To: mail.Address{Name: a.Name, Address: a.Email},
			ReplyTo: s.agentReplyAddress(tk), References: trimRefs(ids), CustomerName: name,
			CustomerEmail: customer.Email, Priority: tk.Priority, NewStatus: tk.Status,
			AutoSubmitted: "auto-generated", Links: outbound.Links{View: s.viewLink(tk)},
		}
		if len(ids) > 0 {
			n.InReplyTo = ids[len(ids)-1]
		}
		fill(&n)
		q, err := s.queue(ctx, tx, tk, n, false)
		if err != nil {
			return false, err
		}
		queued = queued || q
	}
	return queued, nil
}

// AgentMail is an agent's mail to a ticket's agent reply address, already stored as a
// message row by ingest; Text is its stripped text.
type AgentMail struct {
	Agent       *store.Agent
	MessageID   int64 // the stored message row
	Text        string
	Attachments []outbound.File
}

// HandleAgentMail carries out an agent's reply: commands first, all or nothing, then the
// text to the customer and participants (or kept as an internal note after #note). A
// reply with a bad command reaches nobody but the agent, who is told why. The first
// agent reply sets In Progress and records the first response time.
func (s *Service) HandleAgentMail(ctx context.Context, tx *sqlx.Tx, ticketID int64, m AgentMail) (queued bool, err error) {
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return false, err
	}
	r := threading.ParseAgentReply(m.Text)
	actor := m.Agent.Email
	// Check the commands that name something before changing anything.
	var assignee *store.Agent
	var teamID int64
	for _, c := range r.Commands {
		switch c.Name {
		case "assign":
			a, err := store.AgentByEmail(ctx, tx, c.Arg)
			if err != nil {
				r.Errors = append(r.Errors, fmt.Sprintf("#assign %s: no agent has that address", c.Arg))
			}
			assignee = a
		case "team":
			id, err := store.TeamByName(ctx, tx, c.Arg)
			if err != nil {
				r.Errors = append(r.Errors, fmt.Sprintf("#team %s: no team has that name", c.Arg))
			}
			teamID = id
		}
	}
	if len(r.Errors) > 0 {
		if err := s.setMessageKind(ctx, tx, m.MessageID, "agent_rejected"); err != nil {
			return false, err
		}
		if err := store.InsertEvent(ctx, tx, ticketID, "agent_reply_rejected", actor, jsonObj("errors", strings.Join(r.Errors, "; "))); err != nil {
			return false, err
		}
		n := outbound.Notice{Kind: outbound.KindAgentCommandError, Lang: s.cfg.Composer.Language(), TicketID: tk.ID,
			TicketSubject: tk.Subject, To: mail.Address{Name: m.Agent.Name, Address: m.Agent.Email},
			ReplyTo: s.agentReplyAddress(tk), Problems: r.Errors, Message: m.Text, AutoSubmitted: "auto-replied"}
		return s.queue(ctx, tx, tk, n, true)
	}
	sendText := !r.Note && r.Body != ""
	for _, c := range r.Commands {
		switch c.Name {
		case "status":
			// The reply itself carries the close link; a separate status mail would be noise.
			q, err := s.setStatus(ctx, tx, tk.ID, c.Arg, actor, !sendText)
			if err != nil {
				return false, err
			}
			queued = queued || q
		case "priority":
			if err := store.SetTicketField(ctx, tx, tk.ID, "priority", c.Arg); err != nil {
				return false, err
			}
			if err := store.InsertEvent(ctx, tx, tk.ID, "priority_changed", actor, jsonObj("from", tk.Priority, "to", c.Arg)); err != nil {
				return false, err
			}
			if err := s.PriorityChanged(ctx, tx, tk.ID); err != nil {
				return false, err
			}
		case "assign":
			if err := store.SetTicketField(ctx, tx, tk.ID, "assignee_id", assignee.ID); err != nil {
				return false, err
			}
			if err := store.InsertEvent(ctx, tx, tk.ID, "assigned", actor, jsonObj("to", assignee.Email)); err != nil {
				return false, err
			}
		case "team":
			if err := store.SetTicketField(ctx, tx, tk.ID, "team_id", teamID); err != nil {
				return false, err
			}
			if err := store.InsertEvent(ctx, tx, tk.ID, "team_changed", actor, jsonObj("from", tk.Team, "to", c.Arg)); err != nil {
				return false, err
			}
		}
	}
	if r.Note {
		if err := s.setMessageKind(ctx, tx, m.MessageID, "note"); err != nil {
			return false, err
		}
		if err := s.setMessageText(ctx, tx, m.MessageID, r.Body); err != nil {
			return false, err
		}
		return queued, store.InsertEvent(ctx, tx, tk.ID, "note_added", actor, "{}")
	}
	if !sendText {
		// Commands only: nothing for the customer; keep the row as an internal record.
		return queued, s.setMessageKind(ctx, tx, m.MessageID, "note")
	}
	if err := s.setMessageText(ctx, tx, m.MessageID, r.Body); err != nil {
		return false, err
	}
	q, err := s.AgentReplied(ctx, tx, tk.ID, AgentReply{AgentName: agentName(m.Agent), Text: r.Body, Attachments: m.Attachments})
	if err != nil {
		return false, err
	}
	queued = queued || q
	if err := store.MarkFirstResponse(ctx, tx, tk.ID, s.now()); err != nil {
		return false, err
	}
	if err := store.InsertEvent(ctx, tx, tk.ID, "agent_replied", actor, jsonObj("message", fmt.Sprint(m.MessageID))); err != nil {
		return false, err
	}
	cur, err := store.GetTicket(ctx, tx, tk.ID)
	if err != nil {
		return false, err
	}
	if cur.Status == StatusOpen {
		// The first answer moves the ticket to In Progress, silently: the customer has
		// the answer itself.
		if _, err := s.setStatus(ctx, tx, tk.ID, StatusInProgress, actor, false); err != nil {
			return false, err
		}
	}
	return queued, nil
}

func agentName(a *store.Agent) string {
	if a.Name != "" {
		return a.Name
	}
	return a.Email
}

func (s *Service) setMessageKind(ctx context.Context, tx *sqlx.Tx, id int64, kind string) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE messages SET kind = ? WHERE id = ?`), kind, id)
	if err != nil {
		return fmt.Errorf("message %d: kind: %w", id, err)
	}
	return nil
}

// setMessageText keeps what the agent meant (without commands and quoted history) as the
// message's text; the raw mail stays stored.
func (s *Service) setMessageText(ctx context.Context, tx *sqlx.Tx, id int64, text string) error {
	_, err := tx.ExecContext(ctx, tx.Rebind(`UPDATE messages SET text_body = ? WHERE id = ?`), text, id)
	if err != nil {
		return fmt.Errorf("message %d: text: %w", id, err)
	}
	return nil
}
