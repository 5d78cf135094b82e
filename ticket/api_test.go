package ticket_test

import (
	"context"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// newService is the real service over st, and a ticket Alice opened with Ana on its team.
func newService(t *testing.T, st *store.Store) (*ticket.Service, int64, *store.Agent) {
	t.Helper()
	ctx := context.Background()
	secret := []byte("0123456789abcdef0123456789abcdef")
	composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Example Support <support@example.com>"})
	storetest.MustNotErr(t, "composer", err)
	svc := ticket.New(st, ticket.Config{Composer: composer, Signer: threading.NewSigner(secret),
		Own: func(a string) bool { return a == "support@example.com" }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_, err = store.UpsertAgent(ctx, st.DB, "ana@example.com", "Ana", "Support")
	storetest.MustNotErr(t, "agent", err)
	ana, err := store.AgentByEmail(ctx, st.DB, "ana@example.com")
	storetest.MustNotErr(t, "agent", err)
	team, err := store.TeamByName(ctx, st.DB, "Support")
	storetest.MustNotErr(t, "team", err)
	var id int64
	storetest.MustNotErr(t, "create", st.Tx(ctx, func(tx *sqlx.Tx) error {
		id, _, err = svc.Create(ctx, tx, ticket.NewTicket{Subject: "Printer on fire", TeamID: team, Mailbox: "support@example.com",
			Message: ticket.Incoming{From: ticket.Person{Email: "alice@example.org", Name: "Alice"}, MessageID: "c1@example.org",
				Subject: "Printer on fire", Text: "It burns.", To: []mail.Address{{Address: "support@example.com"}}}})
		return err
	}))
	return svc, id, ana
}

func outboxOf(t *testing.T, st *store.Store, id int64, kind string) []store.Outbox {
	t.Helper()
	all, err := st.ListOutbox(context.Background(), "", id, 100)
	storetest.MustNotErr(t, "outbox", err)
	var out []store.Outbox
	for _, o := range all {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func TestAnAgentsPostIsAReplyOrANoteAsByMail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		svc, id, ana := newService(t, st)
		post := func(p ticket.AgentPost) int64 {
			var msg int64
			storetest.MustNotErr(t, "post", st.Tx(ctx, func(tx *sqlx.Tx) error {
				var err error
				msg, err = svc.PostAsAgent(ctx, tx, id, p)
				return err
			}))
			return msg
		}
		// A note: stored, marked, sent to nobody, the ticket stays Open.
		post(ticket.AgentPost{Agent: ana, Note: true, Text: "Called facilities."})
		if n := len(outboxOf(t, st, id, outbound.KindAgentReply)); n != 0 {
			t.Fatalf("a note queued %d replies", n)
		}
		tk, _ := store.GetTicket(ctx, st.DB, id)
		if tk.Status != ticket.StatusOpen || tk.FirstRespondedAt != nil {
			t.Errorf("after a note: %s, first response %v", tk.Status, tk.FirstRespondedAt)
		}
		// A reply with a file: to Alice from the mailbox with Ana's name, threaded under
		// her message; In Progress, first response recorded.
		msg := post(ticket.AgentPost{Agent: ana, Text: "Please switch it off.", Attachments: []ticket.File{{Filename: "howto.txt", ContentType: "text/plain", Data: []byte("Off.")}}})
		replies := outboxOf(t, st, id, outbound.KindAgentReply)
		if len(replies) != 1 || replies[0].RcptTo != "alice@example.org" {
			t.Fatalf("%d replies (first to %s), want 1 to alice@example.org", len(replies), replies[0].RcptTo)
		}
		raw := string(replies[0].Raw)
		for _, want := range []string{"Ana", "support@example.com", "In-Reply-To: <c1@example.org>", "Please switch it off.", "howto.txt"} {
			if !strings.Contains(raw, want) {
				t.Errorf("reply lacks %q:\n%s", want, raw)
			}
		}
		tk, _ = store.GetTicket(ctx, st.DB, id)
		if tk.Status != ticket.StatusInProgress || tk.FirstRespondedAt == nil {
			t.Errorf("after a reply: %s, first response %v", tk.Status, tk.FirstRespondedAt)
		}
		msgs, _ := store.ListMessages(ctx, st.DB, id)
		kinds := []string{}
		for _, m := range msgs {
			kinds = append(kinds, m.Kind+"/"+m.Direction)
		}
		if strings.Join(kinds, " ") != "customer/in note/out agent/out" || msgs[2].ID != msg {
			t.Errorf("messages %v", kinds)
		}
		// A reply that resolves: one mail (the reply, with the close link), no status mail.
		post(ticket.AgentPost{Agent: ana, Text: "Done.", Status: ticket.StatusResolved})
		if n := len(outboxOf(t, st, id, outbound.KindStatusChanged)); n != 0 {
			t.Errorf("a resolving reply also queued %d status mails", n)
		}
		tk, _ = store.GetTicket(ctx, st.DB, id)
		if tk.Status != ticket.StatusResolved {
			t.Errorf("status %s, want resolved", tk.Status)
		}
		// A bad status changes nothing.
		err := st.Tx(ctx, func(tx *sqlx.Tx) error {
			_, err := svc.PostAsAgent(ctx, tx, id, ticket.AgentPost{Agent: ana, Text: "x", Status: "done"})
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "unknown status") {
			t.Errorf("bad status: %v", err)
		}
	})
}

func TestUnassignLeavesTheTicketWithoutAnAssignee(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		svc, id, ana := newService(t, st)
		storetest.MustNotErr(t, "assign", st.Tx(ctx, func(tx *sqlx.Tx) error { return svc.Assign(ctx, tx, id, ana, "ana@example.com") }))
		storetest.MustNotErr(t, "unassign", st.Tx(ctx, func(tx *sqlx.Tx) error { return svc.Unassign(ctx, tx, id, "ana@example.com") }))
		tk, _ := store.GetTicket(ctx, st.DB, id)
		if tk.AssigneeID != nil {
			t.Errorf("assignee %d after unassign", *tk.AssigneeID)
		}
	})
}
