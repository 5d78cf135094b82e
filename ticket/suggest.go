package ticket

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
)

// SuggestFunc returns knowledge-base articles that may answer a new ticket, from its
// subject and first message, in the customer's language first; none rather than weak
// ones. It reads through tx, the transaction that creates the ticket.
type SuggestFunc func(ctx context.Context, tx *sqlx.Tx, subject, text, lang string) ([]outbound.Article, error)

// suggest asks Config.Suggest for the acknowledgement's articles, from the ticket's
// subject and text (its first message's). A failed search costs the customer the list,
// never the acknowledgement: it is logged and the list left out.
func (s *Service) suggest(ctx context.Context, tx *sqlx.Tx, tk *store.Ticket, text, lang string) []outbound.Article {
	if s.cfg.Suggest == nil {
		return nil
	}
	arts, err := s.cfg.Suggest(ctx, tx, tk.Subject, text, lang)
	if err != nil {
		s.log.Warn("ticket: suggest articles", "ticket", tk.ID, "err", err)
		return nil
	}
	return arts
}
