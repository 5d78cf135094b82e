package ticket

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
)

// CloseImported closes the old conversations an import brought in: open tickets, every
// message of which was imported, whose last message is older than before. Each is
// closed as of its last message, so a reply arriving now counts as one to a ticket
// closed that long ago; nobody is told (the conversation ended long before mxdesk).
func (s *Service) CloseImported(ctx context.Context, tx *sqlx.Tx, before time.Time) ([]int64, error) {
	ids, err := store.ImportedOpenTickets(ctx, tx, before)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		tk, err := store.GetTicket(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if err := store.UpdateTicketStatus(ctx, tx, id, StatusClosed, tk.UpdatedAt); err != nil {
			return nil, err
		}
		if err := store.InsertEvent(ctx, tx, id, "status_changed", "import", jsonObj("from", tk.Status, "to", StatusClosed)); err != nil {
			return nil, fmt.Errorf("ticket %d: %w", id, err)
		}
	}
	return ids, nil
}
