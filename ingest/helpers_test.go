package ingest

import (
	"log/slog"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/ticket"
)

// newTestIngester builds an Ingester as serve does: over a ticket service made from tc
// (which shares cfg's idea of our own addresses).
func newTestIngester(st *store.Store, cfg Config, tc ticket.Config, log *slog.Logger) *Ingester {
	if tc.Own == nil {
		tc.Own = cfg.Own
	}
	cfg.Tickets = ticket.New(st, tc, log)
	return New(st, cfg, log)
}
