package ingest

import (
	"sync"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

// handover keeps the messages the spool has just committed, so ingest parses the bytes
// smtpd already holds instead of reading every message back from the database (for a
// 25 MB message, two more copies), and the rows a batch parsed but did not reach, so
// each message is parsed once. It is only a cache: a row missing here is read from the
// spool, and correctness never depends on it.
type handover struct {
	mu    sync.Mutex
	rows  map[int64]handed
	bytes int
}

// handed is a row in the handover: the spool's, or parsed already (it set), and the
// bytes it counts against handoverBytes, reckoned once when it is added.
type handed struct {
	in    *store.Inbound
	it    *item
	bytes int
}

func (h *handover) put(ins []*store.Inbound) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, in := range ins {
		h.add(handed{in: in})
	}
}

// putItem hands back a parsed row its batch did not reach (the time budget ended the
// batch, a session waited on the spool, or it waits for another lane): the next batch
// takes it as it is. A batch may store a few rows of the 64 parsed for it, so without
// this most messages were parsed several times over.
func (h *handover) putItem(it *item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.add(handed{in: it.in, it: it})
}

func (h *handover) add(r handed) {
	if h.rows == nil {
		h.rows = map[int64]handed{}
	}
	in := r.in
	r.bytes = r.size()
	// A message bigger than the budget is still taken when it is alone: reading it back
	// would cost two more copies of it.
	if in.ID == 0 || h.bytes > 0 && h.bytes+r.bytes > handoverBytes {
		return
	}
	if len(in.Raw) > bigMessage {
		// Parsed from the database in chunks instead (prepare), so smtpd's copy
		// can go as soon as the session is done with it.
		return
	}
	if old, ok := h.rows[in.ID]; ok {
		h.bytes -= old.bytes
	}
	h.rows[in.ID] = r
	h.bytes += r.bytes
}

// size is what a handed row keeps alive: cap, not len, since the buffer smtpd read into
// stays alive with the row, and a parsed row's text and attachments too.
func (r handed) size() int {
	n := cap(r.in.Raw)
	if r.it != nil && r.it.pm != nil {
		n += len(r.it.pm.Text) + len(r.it.pm.HTML)
		for _, p := range r.it.pm.Attachments {
			n += len(p.Data)
		}
	}
	return n
}

// receivedAt is when a handed-over row arrived.
func (h *handover) receivedAt(id int64) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r, ok := h.rows[id]; ok && !r.in.ReceivedAt.IsZero() {
		return r.in.ReceivedAt, true
	}
	return time.Time{}, false
}

// take removes a row from the handover: the spool's row (in), or the parsed item a
// batch handed back (it, with in set too); both nil when the row is not here.
func (h *handover) take(id int64) (in *store.Inbound, it *item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.rows[id]
	if !ok {
		return nil, nil
	}
	delete(h.rows, id)
	h.bytes -= r.bytes
	return r.in, r.it
}

// missing returns those of ids the handover does not hold.
func (h *handover) missing(ids []int64) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int64
	for _, id := range ids {
		if _, ok := h.rows[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// forget drops lane l's rows that are no longer due: its rows below the newest due id
// that were not due (another replica took them), or all of them when nothing was due.
func (h *handover) forget(due []int64, l *lane) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(due) == 0 {
		for id, r := range h.rows {
			if l.owns(id) {
				delete(h.rows, id)
				h.bytes -= r.bytes
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
	for id, r := range h.rows {
		if id < last && !isDue[id] && l.owns(id) {
			delete(h.rows, id)
			h.bytes -= r.bytes
		}
	}
}

// Notify hands over the rows the spool has just committed and wakes the ingester; it
// never blocks the SMTP session.
func (g *Ingester) Notify(ins []*store.Inbound) {
	g.handed.put(ins)
	g.wakeAll()
}
