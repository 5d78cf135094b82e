package ticket

import (
	"context"
	"encoding/json"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
)

// Bounced records a delivery status notification about mail mxdesk sent: the outbox
// rows whose Message-IDs it names are marked bounced and their tickets get a
// delivery_failed event. It returns the Message-IDs that were ours, so threading files
// the report on the ticket it belongs to (our own ids are strong pointers). Only ids in
// our outbox count: quoting one gains a forger nothing but a wrong "bounced" on one of
// our own mails.
func (s *Service) Bounced(ctx context.Context, tx *sqlx.Tx, msgids []string, reason string) ([]string, error) {
	rows, err := store.MarkOutboxBounced(ctx, tx, msgids, reason)
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, r := range rows {
		refs = append(refs, r.MessageID)
		if r.TicketID == nil {
			continue
		}
		data, _ := json.Marshal(map[string]any{"outbox": r.ID, "rcpt": r.RcptTo, "reason": reason})
		if err := store.InsertEvent(ctx, tx, *r.TicketID, EvDeliveryFailed, r.RcptTo, string(data)); err != nil {
			return nil, err
		}
	}
	return refs, nil
}
