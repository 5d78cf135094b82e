package ticket

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
)

// AgentPost is an agent's reply or internal note that did not come by mail (the agent
// API). The text is taken as it is: no `#` commands are read from it, the caller has
// fields for them.
type AgentPost struct {
	Agent *store.Agent
	Note  bool
	Text  string
	// Status, when set, is applied with the post as `#status` in a mail would be.
	Status      string
	Attachments []File
}

// PostAsAgent carries out an agent's post in tx exactly as the same agent's
// authenticated mail to the agent reply address: a reply goes to the contact and
// participants from the mailbox address with the agent's name, threaded, records the
// first response and moves an Open ticket to In Progress; a note never leaves. It
// returns the stored message's id.
func (s *Service) PostAsAgent(ctx context.Context, tx *sqlx.Tx, ticketID int64, p AgentPost) (int64, error) {
	if p.Agent == nil {
		return 0, fmt.Errorf("ticket %d: a post needs an agent", ticketID)
	}
	if p.Status != "" && !ValidStatus(p.Status) {
		return 0, fmt.Errorf("ticket %d: %w %q (want open, in_progress, resolved or closed)", ticketID, ErrBadStatus, p.Status)
	}
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return 0, err
	}
	actor := p.Agent.Email
	kind := MsgAgent
	if p.Note {
		kind = MsgNote
	}
	in := &Incoming{From: Person{Email: p.Agent.Email, Name: p.Agent.Name}, Subject: "Re: " + tk.Subject,
		Text: p.Text, Attachments: p.Attachments}
	msgID, err := s.insertMessage(ctx, tx, ticketID, in, store.DirOut, kind, senderAddress(actor), p.Text, s.now())
	if err != nil {
		return 0, err
	}
	if p.Status != "" {
		// A reply carries the close link itself: a separate status mail would be noise.
		if err := s.setStatus(ctx, tx, ticketID, p.Status, actor, p.Note); err != nil {
			return 0, err
		}
	}
	if p.Note {
		return msgID, store.InsertEvent(ctx, tx, ticketID, EvNoteAdded, actor, "{}")
	}
	var files []outbound.File
	for _, f := range p.Attachments {
		files = append(files, outbound.File{Filename: f.Filename, ContentType: f.ContentType, Data: f.Data})
	}
	return msgID, s.replied(ctx, tx, ticketID, p.Agent, msgID, p.Text, files)
}

// Unassign leaves a ticket without an assignee.
func (s *Service) Unassign(ctx context.Context, tx *sqlx.Tx, ticketID int64, actor string) error {
	if err := store.ClearTicketAssignee(ctx, tx, ticketID); err != nil {
		return err
	}
	return store.InsertEvent(ctx, tx, ticketID, EvAssigned, actor, jsonObj("to", ""))
}
