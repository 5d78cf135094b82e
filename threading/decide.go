package threading

import (
	"context"
	"fmt"
	"strings"
)

// Ref is one place a Message-ID is known.
type Ref struct {
	TicketID  int64
	Generated bool // mxdesk made the id and sent it only to the ticket's participants
}

// Lookup is what Decide may ask of the database.
type Lookup interface {
	// MessageID returns where a Message-ID is known: ids mxdesk generated, ids of
	// stored messages.
	MessageID(ctx context.Context, id string) ([]Ref, error)
	// TicketExists tells whether ticket id exists (a subject tag may name anything).
	TicketExists(ctx context.Context, id int64) (bool, error)
	// IsParticipant tells whether the address takes part in the ticket.
	IsParticipant(ctx context.Context, ticketID int64, addr string) (bool, error)
}

// Input is what a message says about where it belongs.
type Input struct {
	// TokenTicket is the ticket of a valid signed reply address it was sent to, or 0.
	TokenTicket int64
	InReplyTo   []string
	References  []string
	Subject     string
	// Sender is the From address, lower case.
	Sender string
	// Authenticated: the From domain passed DMARC-aligned authentication, or is listed
	// as trusted without it.
	Authenticated bool
}

// ByForward is the reason for a new ticket opened for a forwarded message.
const ByForward = "forward"

// Reasons a Decision gives; they end up in events and logs.
const (
	ByReplyAddress = "reply-address"
	ByGeneratedID  = "generated-message-id"
	ByMessageID    = "message-id"
	BySubjectTag   = "subject-tag"
	NewTicket      = "new"
)

// Decision is where a message goes.
type Decision struct {
	// TicketID is the ticket to append to; 0 means open a new ticket.
	TicketID int64
	// Reason says which rule decided.
	Reason string
	// Flag is set when a weak pointer named a ticket but the sender could not prove it
	// belongs there: the new ticket is flagged with this text for an agent to look at.
	Flag string
	// Pointed is the ticket the refused weak pointer named.
	Pointed int64
}

// Decide applies the threading order of the design: signed reply address, then a
// Message-ID mxdesk generated (In-Reply-To before References), then weak pointers
// (a customer-made Message-ID, the subject tag) that count only for an authenticated
// participant of the ticket.
func Decide(ctx context.Context, in Input, l Lookup) (Decision, error) {
	if in.TokenTicket != 0 {
		return Decision{TicketID: in.TokenTicket, Reason: ByReplyAddress}, nil
	}
	if IsForward(in.Subject) {
		// A forward is someone handing us a new matter, even when it carries an old
		// ticket's tag or threading headers: a new ticket for the forwarder.
		return Decision{Reason: ByForward}, nil
	}
	var weak []Decision
	for _, id := range append(append([]string(nil), in.InReplyTo...), in.References...) {
		refs, err := l.MessageID(ctx, id)
		if err != nil {
			return Decision{}, fmt.Errorf("threading: look up %s: %w", id, err)
		}
		for _, r := range refs {
			if r.Generated {
				return Decision{TicketID: r.TicketID, Reason: ByGeneratedID}, nil
			}
		}
		for _, r := range refs {
			weak = append(weak, Decision{TicketID: r.TicketID, Reason: ByMessageID})
		}
	}
	if n := SubjectTag(in.Subject); n != 0 {
		ok, err := l.TicketExists(ctx, n)
		if err != nil {
			return Decision{}, fmt.Errorf("threading: ticket %d: %w", n, err)
		}
		if ok {
			weak = append(weak, Decision{TicketID: n, Reason: BySubjectTag})
		}
	}
	var refused Decision
	for _, w := range weak {
		part, err := l.IsParticipant(ctx, w.TicketID, strings.ToLower(in.Sender))
		if err != nil {
			return Decision{}, fmt.Errorf("threading: ticket %d: %w", w.TicketID, err)
		}
		if part && in.Authenticated {
			return w, nil
		}
		if refused.Pointed == 0 {
			why := "sender is not a participant"
			if part {
				why = "sender is a participant but not authenticated"
			}
			refused = Decision{Reason: NewTicket, Pointed: w.TicketID,
				Flag: fmt.Sprintf("%s points at ticket %d but %s", w.Reason, w.TicketID, why)}
		}
	}
	if refused.Pointed != 0 {
		return refused, nil
	}
	return Decision{Reason: NewTicket}, nil
}
