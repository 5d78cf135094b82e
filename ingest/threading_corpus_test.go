package ingest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
)

// TestRealClientRepliesLandOnTheirTicket takes every corpus message that answers another
// (In-Reply-To, as written by real clients: Gmail, Outlook, Apple Mail, Thunderbird,
// mutt, webmails, MTAs), pretends mxdesk generated the id it answers (as if that was our
// notification), and checks the message lands on that ticket and nowhere else. This is
// the header parsing of the threading path against what clients really send.
func TestRealClientRepliesLandOnTheirTicket(t *testing.T) {
	needCorpus(t)
	st := storetest.Open(t, "sqlite:"+filepath.Join(t.TempDir(), "threads.db"))
	h := newHarness(t, st, 1_000_000)
	ctx := context.Background()
	var tried, landed, forwards int
	var misses []string
	for _, m := range corpusMessages(t) {
		pm := h.g.parser.Parse(m.Raw)
		if len(pm.InReplyTo) == 0 {
			continue
		}
		if threading.IsForward(pm.Subject) {
			forwards++
			continue
		}
		tried++
		// The ticket the reply belongs to, with "our" notification's Message-ID.
		var ticketID int64
		err := st.Tx(ctx, func(tx *sqlx.Tx) error {
			team, _ := store.EnsureTeam(ctx, tx, "Support")
			c, err := store.UpsertContact(ctx, tx, "someone@example.net", "")
			if err != nil {
				return err
			}
			now := store.Now()
			tk := &store.Ticket{Subject: "seed", Status: "open", Priority: "medium", TeamID: team, ContactID: c,
				Mailbox: "support@example.com", CreatedAt: now, UpdatedAt: now}
			if err := store.InsertTicket(ctx, tx, tk); err != nil {
				return err
			}
			ticketID = tk.ID
			// Unique per seed: several corpus replies answer the same message.
			if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE outbox SET message_id = message_id || '-old-' || id WHERE message_id = ?"), pm.InReplyTo[0]); err != nil {
				return err
			}
			return st.InsertOutbox(ctx, tx, &store.Outbox{TicketID: &ticketID, Kind: "acknowledgement", MailFrom: "support@example.com",
				RcptTo: "someone@example.net", MessageID: pm.InReplyTo[0], Raw: []byte("x"), Status: store.OutboxSent})
		})
		if err != nil {
			t.Fatalf("%s: seed: %v", m.Name, err)
		}
		id := h.spool("sender@example.org", support, string(m.Raw))
		if err := h.g.Process(ctx, id); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		var got []int64
		st.DB.Select(&got, st.DB.Rebind("SELECT ticket_id FROM messages WHERE inbound_id = ?"), id)
		if len(got) == 1 && got[0] == ticketID {
			landed++
		} else if in := h.inbound(id); in.Status != store.InboundDuplicate {
			misses = append(misses, m.Name+" ("+strings.Join(pm.InReplyTo, " ")+")")
		} else {
			landed++ // an earlier corpus copy of the same message already landed there
		}
	}
	t.Logf("%d corpus replies tried, %d landed on their ticket, %d forwards left out", tried, landed, forwards)
	if tried < 100 {
		t.Fatalf("only %d corpus replies: the corpus or the parser changed", tried)
	}
	for _, miss := range misses {
		t.Errorf("reply did not land on its ticket: %s", miss)
	}
}
