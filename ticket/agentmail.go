package ticket

import (
	"context"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/threading"
)

// AgentMail is a mail to a ticket's agent reply address.
type AgentMail struct {
	// Agent is the agent the From names; nil when it names nobody known.
	Agent *store.Agent
	// Authenticated says the From's domain passed DMARC-aligned authentication (or is
	// trusted without it).
	Authenticated bool
	// Message is the mail as received; its Text is already stripped of quoted history.
	Message Incoming
}

// refusedNoticeEvery is how often, at most, an agent is told per ticket that their
// replies were not sent: one notice is news, one per mail in a thread is a loop.
const refusedNoticeEvery = time.Hour

// HandleAgentMail carries out mail to a ticket's agent reply address, in tx, and returns
// the stored message's id. Only an agent's authenticated mail is relayed: its commands
// first, all or nothing, then the text to the customer and participants (or kept as an
// internal note after #note). Anything else is kept on the ticket as a refused message
// and reaches nobody but the agent, who is told why at the address the configuration
// gives (never at the From, which may be forged). The first reply sets In Progress and
// records the first response time. The message row is decided once, then written.
func (s *Service) HandleAgentMail(ctx context.Context, tx *sqlx.Tx, ticketID int64, m AgentMail) (int64, error) {
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return 0, err
	}
	in := &m.Message
	sender := senderAddress(in.From.Email)
	t := s.at(in)
	refuse := func(kind, why string) (int64, error) {
		id, err := s.insertMessage(ctx, tx, ticketID, in, store.DirOut, kind, sender, in.Text, t)
		if err != nil {
			return 0, err
		}
		s.log.Warn("ticket: mail to the agents' address not relayed", "ticket", ticketID, "from", sender, "why", why)
		return id, store.InsertEvent(ctx, tx, ticketID, EvAgentReplyRefused, sender, jsonObj("why", why))
	}
	switch {
	case in.Automatic != "":
		return refuse(MsgAuto, "automatic mail ("+in.Automatic+") to the agents' address")
	case m.Agent == nil:
		return refuse(MsgAgentRefused, sender+" is not an agent")
	case !m.Authenticated:
		id, err := refuse(MsgAgentRefused, "the agent's From did not pass authentication")
		if err != nil {
			return 0, err
		}
		return id, s.tellRefused(ctx, tx, tk, m.Agent, in.Text)
	}
	r := threading.ParseAgentReply(in.Text)
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
		id, err := s.insertMessage(ctx, tx, ticketID, in, store.DirOut, MsgAgentRefused, sender, in.Text, t)
		if err != nil {
			return 0, err
		}
		if err := store.InsertEvent(ctx, tx, ticketID, EvAgentReplyRefused, actor, jsonObj("errors", strings.Join(r.Errors, "; "))); err != nil {
			return 0, err
		}
		n := outbound.Notice{Kind: outbound.KindAgentCommandError, Lang: s.cfg.Composer.Language(), TicketID: tk.ID,
			TicketSubject: tk.Subject, To: mail.Address{Name: m.Agent.Name, Address: m.Agent.Email},
			ReplyTo: s.agentReplyAddress(tk), Problems: r.Errors, Message: in.Text, AutoSubmitted: "auto-replied"}
		return id, s.queue(ctx, tx, tk, n, true)
	}
	sendText := !r.Note && r.Body != ""
	kind, text := MsgAgent, r.Body
	switch {
	case r.Note:
		kind = MsgNote
	case !sendText:
		// Commands only: nothing for the customer; the row is the internal record.
		kind, text = MsgNote, in.Text
	}
	msgID, err := s.insertMessage(ctx, tx, ticketID, in, store.DirOut, kind, sender, text, t)
	if err != nil {
		return 0, err
	}
	for _, c := range r.Commands {
		switch c.Name {
		case "status":
			// The reply itself carries the close link; a separate status mail would be noise.
			if err := s.setStatus(ctx, tx, tk.ID, c.Arg, actor, !sendText); err != nil {
				return 0, err
			}
		case "priority":
			if err := s.SetPriority(ctx, tx, tk.ID, c.Arg, actor); err != nil {
				return 0, err
			}
		case "assign":
			if err := s.Assign(ctx, tx, tk.ID, assignee, actor); err != nil {
				return 0, err
			}
		case "team":
			if err := s.setTeam(ctx, tx, tk, teamID, c.Arg, actor); err != nil {
				return 0, err
			}
		}
	}
	switch {
	case r.Note:
		return msgID, store.InsertEvent(ctx, tx, tk.ID, EvNoteAdded, actor, "{}")
	case !sendText:
		return msgID, nil
	}
	var files []outbound.File
	for _, f := range in.Attachments {
		if f.Inline && f.ContentID != "" {
			continue // signature logos and the like; the text is what the customer needs
		}
		files = append(files, outbound.File{Filename: f.Filename, ContentType: f.ContentType, Data: f.Data})
	}
	return msgID, s.replied(ctx, tx, tk.ID, m.Agent, msgID, r.Body, files)
}

// replied sends an agent's answer (already stored as message msgID) to the customer and
// participants, records the first response and moves an Open ticket to In Progress.
func (s *Service) replied(ctx context.Context, tx *sqlx.Tx, ticketID int64, agent *store.Agent, msgID int64, text string, files []outbound.File) error {
	if err := s.AgentReplied(ctx, tx, ticketID, AgentReply{AgentName: agentName(agent), Text: text, Attachments: files}); err != nil {
		return err
	}
	if err := store.MarkFirstResponse(ctx, tx, ticketID, s.now()); err != nil {
		return err
	}
	if err := store.InsertEvent(ctx, tx, ticketID, EvAgentReplied, agent.Email, jsonObj("message", fmt.Sprint(msgID))); err != nil {
		return err
	}
	cur, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	if cur.Status == StatusOpen {
		// The first answer moves the ticket to In Progress, silently: the customer has
		// the answer itself.
		return s.setStatus(ctx, tx, ticketID, StatusInProgress, agent.Email, false)
	}
	return nil
}

// tellRefused mails an agent that a reply was not sent because it failed
// authentication, what would fix it, and the text, at most once per ticket per
// refusedNoticeEvery. The agent believes the customer was answered: silence would be
// the worst answer.
func (s *Service) tellRefused(ctx context.Context, tx *sqlx.Tx, tk *store.Ticket, agent *store.Agent, text string) error {
	n, err := store.CountOutboxTo(ctx, tx, tk.ID, outbound.KindAgentReplyRefused, agent.Email, s.now().Add(-refusedNoticeEvery))
	if err != nil || n > 0 {
		return err
	}
	_, domain, _ := strings.Cut(agent.Email, "@")
	notice := outbound.Notice{Kind: outbound.KindAgentReplyRefused, Lang: s.cfg.Composer.Language(), TicketID: tk.ID,
		TicketSubject: tk.Subject, To: mail.Address{Name: agent.Name, Address: agent.Email},
		ReplyTo: s.agentReplyAddress(tk), Message: text, AutoSubmitted: "auto-replied",
		Problems: []string{"no DKIM signature or SPF pass aligned with " + domain}}
	return s.queue(ctx, tx, tk, notice, true)
}

func agentName(a *store.Agent) string {
	if a.Name != "" {
		return a.Name
	}
	return a.Email
}
