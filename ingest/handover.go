package ingest

import (
	"sync"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

// handover keeps the messages the spool has just committed, so ingest parses the bytes
// smtpd already holds instead of reading every message back from the database (for a
// 25 MB message, two more copies). It is only a cache: a row missing here is read from
// the spool, and correctness never depends on it.
type handover struct {
	mu    sync.Mutex
	rows  map[int64]*store.Inbound
	bytes int
}

func (h *handover) put(ins []*store.Inbound) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rows == nil {
		h.rows = map[int64]*store.Inbound{}
	}
	for _, in := range ins {
		// cap, not len: the buffer smtpd read into stays alive with the row. A message
		// bigger than the budget is still taken when it is alone: reading it back would
		// cost two more copies of it.
		if in.ID == 0 || h.bytes > 0 && h.bytes+cap(in.Raw) > handoverBytes {
			continue
		}
		if len(in.Raw) > bigMessage {
			// Parsed from the database in chunks instead (prepare), so smtpd's copy
			// can go as soon as the session is done with it.
			continue
		}
		h.rows[in.ID] = in
		h.bytes += cap(in.Raw)
	}
}

// receivedAt is when a handed-over row arrived.
func (h *handover) receivedAt(id int64) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if in := h.rows[id]; in != nil && !in.ReceivedAt.IsZero() {
		return in.ReceivedAt, true
	}
	return time.Time{}, false
}

func (h *handover) take(id int64) *store.Inbound {
	h.mu.Lock()
	defer h.mu.Unlock()
	in := h.rows[id]
	if in != nil {
		delete(h.rows, id)
		h.bytes -= cap(in.Raw)
	}
	return in
}

// forget drops lane l's rows that are no longer due: its rows below the newest due id
// that were not due (another replica took them), or all of them when nothing was due.
func (h *handover) forget(due []int64, l *lane) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(due) == 0 {
		for id, in := range h.rows {
			if l.owns(id) {
				delete(h.rows, id)
				h.bytes -= cap(in.Raw)
			}
		}
		return
	}
	isDue := make(map[int64]bool, len(due))
	last := int64(0)
	for _, id := range due {
		isDue[id] = true
		last = max(last, id)
	}
	for id, in := range h.rows {
		if id < last && !isDue[id] && l.owns(id) {
			delete(h.rows, id)
			h.bytes -= cap(in.Raw)
		}
	}
}

// Notify hands over the rows the spool has just committed and wakes the ingester; it
// never blocks the SMTP session.
func (g *Ingester) Notify(ins []*store.Inbound) {
	g.handed.put(ins)
	g.wakeAll()
}
