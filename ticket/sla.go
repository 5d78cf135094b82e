package ticket

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
)

// Expectation says in words, in the contact's language, when to expect a first answer
// under this policy: the priority's first-response target in working hours or days.
func (s SLA) Expectation(lang, priority string) string {
	d := s.Target(priority).FirstResponse
	amount := workAmount(lang, d)
	if lang == "de" {
		return "Wir antworten in der Regel innerhalb " + amount + "."
	}
	return "We typically respond within " + amount + "."
}

// SLAExpectation is Expectation under the default policy.
func SLAExpectation(lang, priority string) string {
	return DefaultSLA().Expectation(lang, priority)
}

// workAmount writes a working duration the way a customer reads it: whole working days
// when it is a multiple of WorkingDay, else hours (and minutes).
func workAmount(lang string, d time.Duration) string {
	de := lang == "de"
	plural := func(n int64, one, many string) string {
		if n == 1 {
			return one
		}
		if de {
			return "von " + strconv.FormatInt(n, 10) + " " + many
		}
		return strconv.FormatInt(n, 10) + " " + many
	}
	switch {
	case d >= WorkingDay && d%WorkingDay == 0:
		n := int64(d / WorkingDay)
		if de {
			return plural(n, "eines Arbeitstages", "Arbeitstagen")
		}
		return plural(n, "1 working day", "working days")
	case d%time.Hour == 0:
		n := int64(d / time.Hour)
		if de {
			return plural(n, "einer Arbeitsstunde", "Arbeitsstunden")
		}
		return plural(n, "1 working hour", "working hours")
	default:
		n := int64(d.Round(time.Minute) / time.Minute)
		if de {
			return "von " + strconv.FormatInt(n, 10) + " Arbeitsminuten"
		}
		return strconv.FormatInt(n, 10) + " working minutes"
	}
}

// sla returns the service's policy.
func (s *Service) sla() SLA {
	if s.cfg.SLA != nil {
		return *s.cfg.SLA
	}
	return DefaultSLA()
}

// SLA returns the service's policy (the jobs use it for warnings).
func (s *Service) SLA() SLA { return s.sla() }

// StartSLA fills a new ticket's SLA fields before it is inserted: response_by and
// resolution_by from its priority, counted in working time from its creation, and
// whether it arrived outside working hours (the acknowledgement says so).
func (s *Service) StartSLA(tk *store.Ticket) {
	p := s.sla()
	rb, sb := p.Deadlines(tk.CreatedAt, tk.Priority, 0)
	tk.ResponseBy, tk.ResolutionBy = &rb, &sb
	tk.OutsideHours = !p.Calendar.Within(tk.CreatedAt)
}

// replanSLA recomputes a ticket's deadlines from its creation, its current priority and
// the working time it has waited on the customer so far plus extra (the wait that ends
// now, on a reopen).
func (s *Service) replanSLA(ctx context.Context, tx *sqlx.Tx, ticketID int64, extra time.Duration) error {
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	paused, err := store.SLAPaused(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	paused += extra
	rb, sb := s.sla().Deadlines(tk.CreatedAt, tk.Priority, paused)
	if err := store.SetSLA(ctx, tx, ticketID, rb, sb, paused); err != nil {
		return fmt.Errorf("ticket %d: sla: %w", ticketID, err)
	}
	return nil
}

// PriorityChanged recomputes the deadlines after the priority changed (#priority).
func (s *Service) PriorityChanged(ctx context.Context, tx *sqlx.Tx, ticketID int64) error {
	return s.replanSLA(ctx, tx, ticketID, 0)
}

// resumeSLA is called when a ticket leaves Resolved or Closed for Open or In Progress:
// the working time it waited on the customer since it was resolved (or closed) is added
// to its pause, moving both deadlines later.
func (s *Service) resumeSLA(ctx context.Context, tx *sqlx.Tx, tk *store.Ticket) error {
	since := tk.ResolvedAt
	if since == nil || (tk.ClosedAt != nil && tk.ClosedAt.Before(*since)) {
		since = tk.ClosedAt
	}
	if since == nil {
		return nil
	}
	return s.replanSLA(ctx, tx, tk.ID, s.sla().Calendar.Between(*since, s.now()))
}

// SLA warning kinds: one mail at 80 % of a target's working time, one at the breach.
const (
	WarnResponse     = "response_warning"
	BreachResponse   = "response_breach"
	WarnResolution   = "resolution_warning"
	BreachResolution = "resolution_breach"
)

// WarnSLA mails every agent of the ticket's team that a deadline is near (kind
// WarnResponse, WarnResolution) or passed (BreachResponse, BreachResolution), once per
// deadline: it records the warning and does nothing when it was recorded before.
func (s *Service) WarnSLA(ctx context.Context, tx *sqlx.Tx, ticketID int64, kind string, deadline time.Time) error {
	first, err := store.RecordSLAWarning(ctx, tx, ticketID, kind, deadline, s.now())
	if err != nil || !first {
		return err // warned already (another replica's job): once per deadline
	}
	cal := s.sla().Calendar
	when := deadline.In(cal.Loc).Format("2006-01-02 15:04 MST")
	tk, err := store.GetTicket(ctx, tx, ticketID)
	if err != nil {
		return err
	}
	err = s.mailAgents(ctx, tx, tk, outbound.KindSLAWarning, func(n *outbound.Notice) {
		n.Event, n.Message = kind, when
	})
	if err != nil {
		return err
	}
	return store.InsertEvent(ctx, tx, ticketID, EvSLAPrefix+kind, "", jsonObj("deadline", deadline.UTC().Format(time.RFC3339)))
}
