package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// Job names, as in the configuration's [jobs] table.
const (
	FeedbackRequests = "feedback-requests"
	AutoClose        = "auto-close"
	SLAWarnings      = "sla-warnings"
	InboundRetry     = "inbound-retry"
	OutboundSweep    = "outbound-sweep"
	Cleanup          = "cleanup"
)

// Runner is a worker that handles a batch of due rows and says how many (the ingester,
// the outbound worker).
type Runner interface {
	RunOnce(ctx context.Context) (int, error)
}

// Deps is what the standard jobs work with.
type Deps struct {
	Store   *store.Store
	Tickets *ticket.Service
	Ingest  Runner
	Outbox  Runner
	// FeedbackDelay: Resolved this long before the customer is asked for feedback.
	FeedbackDelay time.Duration
	// AutoCloseAfter: Resolved this long becomes Closed.
	AutoCloseAfter time.Duration
	// SentRetention: delivered mail keeps its body this long.
	SentRetention time.Duration
}

// batch bounds one job's pass over tickets; what is left is due at the next tick.
const batch = 500

// Standard returns mxdesk's jobs with the schedules in specs (by job name).
func Standard(d Deps, specs map[string]string) []Job {
	spec := func(name string) string {
		if s, ok := specs[name]; ok && s != "" {
			return s
		}
		return Off
	}
	return []Job{
		{FeedbackRequests, spec(FeedbackRequests), d.feedbackRequests},
		{AutoClose, spec(AutoClose), d.autoClose},
		{SLAWarnings, spec(SLAWarnings), d.slaWarnings},
		{InboundRetry, spec(InboundRetry), func(ctx context.Context, _ time.Time) error { return drain(ctx, d.Ingest) }},
		{OutboundSweep, spec(OutboundSweep), func(ctx context.Context, _ time.Time) error { return drain(ctx, d.Outbox) }},
		{Cleanup, spec(Cleanup), d.cleanup},
	}
}

// drain runs a worker until it finds nothing due (bounded, so a row that keeps coming
// back due cannot hold the job for ever).
func drain(ctx context.Context, r Runner) error {
	if r == nil {
		return nil
	}
	for range 100 {
		n, err := r.RunOnce(ctx)
		if err != nil || n == 0 || ctx.Err() != nil {
			return err
		}
	}
	return nil
}

// eachResolved runs fn in its own transaction for each ticket Resolved since before
// cutoff, after checking in that transaction that it is still Resolved (the customer may
// have answered since the list was read).
func (d Deps) eachResolved(ctx context.Context, cutoff time.Time, unasked bool, fn func(tx *sqlx.Tx, id int64) error) (int, error) {
	ids, err := d.Store.ResolvedBefore(ctx, cutoff, unasked, batch)
	if err != nil {
		return 0, err
	}
	done := 0
	var errs []error
	for _, id := range ids {
		err := d.Store.Tx(ctx, func(tx *sqlx.Tx) error {
			tk, err := store.GetTicket(ctx, tx, id)
			if err != nil {
				return err
			}
			if tk.Status != ticket.StatusResolved || tk.ResolvedAt == nil || tk.ResolvedAt.After(cutoff) {
				return nil
			}
			err = fn(tx, id)
			if err == nil {
				done++
			}
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("ticket %d: %w", id, err))
		}
	}
	return done, errors.Join(errs...)
}

// feedbackRequests asks the customer of each ticket Resolved for FeedbackDelay for
// feedback, once per ticket (RequestFeedback records it in tickets.feedback_requested_at).
func (d Deps) feedbackRequests(ctx context.Context, now time.Time) error {
	_, err := d.eachResolved(ctx, now.Add(-d.FeedbackDelay), true, func(tx *sqlx.Tx, id int64) error {
		return d.Tickets.RequestFeedback(ctx, tx, id)
	})
	return err
}

// autoClose closes tickets Resolved for AutoCloseAfter; SetStatus tells the customer.
func (d Deps) autoClose(ctx context.Context, now time.Time) error {
	_, err := d.eachResolved(ctx, now.Add(-d.AutoCloseAfter), false, func(tx *sqlx.Tx, id int64) error {
		return d.Tickets.SetStatus(ctx, tx, id, ticket.StatusClosed, "auto-close")
	})
	return err
}

// slaWarnings mails a team's agents once when a ticket has 20 % of a target's working
// time left and once when it breaches, for first response (until answered) and for
// resolution (until Resolved).
func (d Deps) slaWarnings(ctx context.Context, now time.Time) error {
	policy := d.Tickets.SLA()
	var errs []error
	for after := int64(0); ; {
		rows, err := d.Store.OpenSLATickets(ctx, after, batch)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		after = rows[len(rows)-1].ID
		for _, tk := range rows {
			target := policy.Target(tk.Priority)
			type due struct {
				kind     string
				deadline time.Time
			}
			var warn []due
			if tk.FirstRespondedAt == nil && tk.ResponseBy != nil {
				if k := Stage(policy, now, *tk.ResponseBy, target.FirstResponse, ticket.WarnResponse, ticket.BreachResponse); k != "" {
					warn = append(warn, due{k, *tk.ResponseBy})
				}
			}
			if tk.ResolutionBy != nil {
				if k := Stage(policy, now, *tk.ResolutionBy, target.Resolution, ticket.WarnResolution, ticket.BreachResolution); k != "" {
					warn = append(warn, due{k, *tk.ResolutionBy})
				}
			}
			for _, w := range warn {
				err := d.Store.Tx(ctx, func(tx *sqlx.Tx) error {
					return d.Tickets.WarnSLA(ctx, tx, tk.ID, w.kind, w.deadline)
				})
				if err != nil {
					errs = append(errs, fmt.Errorf("ticket %d: %s: %w", tk.ID, w.kind, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Stage says which warning a deadline calls for at now: breach once it has passed,
// warn once 20 % of the target's working time is left, "" before that.
func Stage(p ticket.SLA, now, deadline time.Time, target time.Duration, warn, breach string) string {
	switch {
	case !now.Before(deadline):
		return breach
	case !now.Before(p.WarnAt(deadline, target)):
		return warn
	}
	return ""
}

// cleanup removes expired sessions and sign-in tokens (the portal's too) and empties old sent mail.
func (d Deps) cleanup(ctx context.Context, now time.Time) error {
	if _, _, _, err := d.Store.Cleanup(ctx, now, now.Add(-d.SentRetention)); err != nil {
		return err
	}
	// Expired portal sessions and emailed account links.
	_, err := store.PurgeAccounts(ctx, d.Store.DB, now.UTC())
	return err
}
