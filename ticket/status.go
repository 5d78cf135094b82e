package ticket

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
)

// ErrBadStatus is returned for a status that is not one of the four.
var ErrBadStatus = errors.New("unknown status")

// ErrBadPriority is returned for a priority that is not one of the four.
var ErrBadPriority = errors.New("unknown priority")

// SetStatus changes a ticket's status in the caller's transaction, records the event
// and queues the customer's notification: "closed" for Closed, "status changed" (with a
// close link when Resolved) otherwise. Setting the status it already has does nothing.
func (s *Service) SetStatus(ctx context.Context, tx *sqlx.Tx, ticketID int64, status, actor string) error {
	return s.setStatus(ctx, tx, ticketID, status, actor, true)
}

// ChangeStatus is SetStatus in its own transaction.
func (s *Service) ChangeStatus(ctx context.Context, ticketID int64, status, actor string) error {
	return s.st.Tx(ctx, func(tx *sqlx.Tx) error {
		return s.SetStatus(ctx, tx, ticketID, status, actor)
	})
}

// Reopen opens a Resolved or Closed ticket again because the customer wrote; the agents
// learn of it from the customer's message they are sent, the customer needs no mail.
func (s *Service) Reopen(ctx context.Context, tx *sqlx.Tx, ticketID int64, actor string) error {
	return s.setStatus(ctx, tx, ticketID, StatusOpen, actor, false)
}

// setStatus is SetStatus with the customer's notification optional.
func (s *Service) setStatus(ctx context.Context, tx *sqlx.Tx, ticketID int64, status, actor string, notify bool) error {
	if !ValidStatus(status) {
		return fmt.Errorf("ticket %d: %w %q (want open, in_progress, resolved or closed)", ticketID, ErrBadStatus, status)
	}
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	if tk.Status == status {
		return nil
	}
	old := tk.Status
	if err := store.UpdateTicketStatus(ctx, tx, ticketID, status, s.now()); err != nil {
		return err
	}
	tk.Status = status
	if (old == StatusResolved || old == StatusClosed) && (status == StatusOpen || status == StatusInProgress) {
		// The clock stood still while the ticket waited on the customer.
		if err := s.resumeSLA(ctx, tx, tk); err != nil {
			return err
		}
	}
	if err := store.InsertEvent(ctx, tx, ticketID, EvStatusChanged, actor, jsonObj("from", old, "to", status)); err != nil {
		return err
	}
	if !notify {
		return nil
	}
	r, err := store.Contact(ctx, tx, tk.ContactID)
	if err != nil {
		return err
	}
	kind := outbound.KindStatusChanged
	if status == StatusClosed {
		kind = outbound.KindClosed
	}
	n, err := s.notice(ctx, tx, kind, tk, *r, "auto-generated")
	if err != nil {
		return err
	}
	n.OldStatus, n.NewStatus = old, status
	if status == StatusResolved {
		n.Links.Close = s.closeLink(tk)
	}
	return s.queue(ctx, tx, tk, n, true)
}

// SetPriority changes a ticket's priority and moves its SLA deadlines with it.
func (s *Service) SetPriority(ctx context.Context, tx *sqlx.Tx, ticketID int64, priority, actor string) error {
	if !ValidPriority(priority) {
		return fmt.Errorf("ticket %d: %w %q (want low, medium, high or urgent)", ticketID, ErrBadPriority, priority)
	}
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	if tk.Priority == priority {
		return nil
	}
	if err := store.SetTicketPriority(ctx, tx, ticketID, priority); err != nil {
		return err
	}
	if err := store.InsertEvent(ctx, tx, ticketID, EvPriorityChanged, actor, jsonObj("from", tk.Priority, "to", priority)); err != nil {
		return err
	}
	return s.PriorityChanged(ctx, tx, ticketID)
}

// Assign makes agent the ticket's assignee.
func (s *Service) Assign(ctx context.Context, tx *sqlx.Tx, ticketID int64, agent *store.Agent, actor string) error {
	if err := store.SetTicketAssignee(ctx, tx, ticketID, agent.ID); err != nil {
		return err
	}
	return store.InsertEvent(ctx, tx, ticketID, EvAssigned, actor, jsonObj("to", agent.Email))
}

// SetTeam moves a ticket to the team of that name.
func (s *Service) SetTeam(ctx context.Context, tx *sqlx.Tx, ticketID int64, team, actor string) error {
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	teamID, err := store.TeamByName(ctx, tx, team)
	if err != nil {
		return fmt.Errorf("team %q: %w", team, err)
	}
	return s.setTeam(ctx, tx, tk, teamID, team, actor)
}

func (s *Service) setTeam(ctx context.Context, tx *sqlx.Tx, tk *store.Ticket, teamID int64, team, actor string) error {
	if err := store.SetTicketTeam(ctx, tx, tk.ID, teamID); err != nil {
		return err
	}
	return store.InsertEvent(ctx, tx, tk.ID, EvTeamChanged, actor, jsonObj("from", tk.Team, "to", team))
}
