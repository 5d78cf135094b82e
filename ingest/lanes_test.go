package ingest

import (
	"fmt"
	"testing"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestLanes runs the ingest lanes side by side (on PostgreSQL; SQLite has one) over a
// spool that holds what a single loop got right by its order: a sender flooding past
// the loop guard, and questions each followed at once by the sender's own follow-up.
// The guard still lets exactly its number through, and every follow-up joins its
// question's ticket, whichever lane each landed in.
func TestLanes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const guard, flood, pairs = 10, 60, 20
		h := newHarness(t, st, guard)
		h.g.cfg.TrustedDomains = []string{"example.net"} // a customer's own Message-ID threads
		if st.Dialect == store.Postgres && len(h.g.lanes) < 2 {
			t.Fatalf("%d lanes on PostgreSQL, want several", len(h.g.lanes))
		}
		for i := range flood {
			h.spool("flood@example.org", support, customer("flood@example.org", fmt.Sprintf("flood-%d@example.org", i), fmt.Sprintf("Flood %d", i)))
			if i < pairs {
				from := fmt.Sprintf("c%d@example.net", i)
				q := fmt.Sprintf("q-%d@example.net", i)
				h.spool(from, support, customer(from, q, fmt.Sprintf("Question %d", i)))
				h.spool(from, support, customer(from, fmt.Sprintf("r-%d@example.net", i), fmt.Sprintf("Re: Question %d", i),
					"In-Reply-To: <"+q+">", "References: <"+q+">"))
			}
		}
		storetest.MustNotErr(t, "drain", h.g.Drain(h.ctx))
		if n := h.count("SELECT COUNT(*) FROM inbound WHERE status <> ?", store.InboundDone); n != 0 {
			t.Fatalf("%d spool rows not done", n)
		}
		if n := h.count("SELECT COUNT(*) FROM tickets"); n != flood+pairs {
			t.Errorf("%d tickets, want %d", n, flood+pairs)
		}
		for i := range pairs {
			q := h.count("SELECT ticket_id FROM messages WHERE message_id = ?", fmt.Sprintf("q-%d@example.net", i))
			r := h.count("SELECT ticket_id FROM messages WHERE message_id = ?", fmt.Sprintf("r-%d@example.net", i))
			if q != r {
				t.Errorf("follow-up %d is on ticket %d, its question on %d", i, r, q)
			}
		}
		if n := h.count("SELECT COUNT(*) FROM outbox WHERE rcpt_to = ? AND status <> ?", "flood@example.org", store.OutboxSuppressed); n != guard {
			t.Errorf("%d acknowledgements to the flooding sender, want exactly %d", n, guard)
		}
	})
}

// A lane looks for its rows from where its last scan found the first. A row that is new
// below that floor (committed late by another replica, or left by a batch that rolled
// back) is still ingested: a scan from the floor that finds nothing starts again from
// the spool's start, so Drain, which stops when its lanes find nothing, leaves nothing.
func TestLaneFindsRowsBelowItsFloor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newHarness(t, st, 100)
		var ids []int64
		for i := range 8 {
			from := fmt.Sprintf("c%d@example.org", i)
			ids = append(ids, h.spool(from, support, customer(from, fmt.Sprintf("m%d@example.org", i), fmt.Sprintf("Question %d", i))))
		}
		// Every lane believes its last scan began at the sixth row, a moment ago.
		for _, l := range h.g.lanes {
			l.floor.Store(ids[5])
			l.rescanned.Store(h.g.now().UnixNano())
		}
		storetest.MustNotErr(t, "drain", h.g.Drain(h.ctx))
		if n := h.count("SELECT COUNT(*) FROM inbound WHERE status <> ?", store.InboundDone); n != 0 {
			t.Errorf("%d spool rows below the lanes' floor were left", n)
		}
		if n := h.count("SELECT COUNT(*) FROM tickets"); n != len(ids) {
			t.Errorf("%d tickets, want %d", n, len(ids))
		}
	})
}
