package kb_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/kb"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// TestTheAcknowledgementListsArticlesThatAnswerTheTicket: a new ticket's acknowledgement,
// written by the ticket service with kb.Suggester, lists the password article for a
// forgotten password and nothing for an invoice question.
func TestTheAcknowledgementListsArticlesThatAnswerTheTicket(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		importDocs(t, st)
		composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Example Support <support@example.com>"})
		if err != nil {
			t.Fatal(err)
		}
		secret := []byte("0123456789abcdef0123456789abcdef")
		svc := ticket.New(st, ticket.Config{Composer: composer, Signer: threading.NewSigner(secret),
			Suggest: kb.Suggester(st, "https://support.example.com/")}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ack := func(from, subject, text string) *enmime.Envelope {
			t.Helper()
			var id int64
			err := st.Tx(ctx, func(tx *sqlx.Tx) error {
				team, err := store.EnsureTeam(ctx, tx, "Support")
				if err != nil {
					return err
				}
				id, _, err = svc.Create(ctx, tx, ticket.NewTicket{Subject: subject, TeamID: team, Mailbox: "support@example.com",
					Message: ticket.Incoming{From: ticket.Person{Email: from}, Subject: subject, Text: text}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := st.ListOutbox(ctx, "", id, 10)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				if r.Kind == outbound.KindAck {
					env, err := enmime.ReadEnvelope(bytes.NewReader(r.Raw))
					if err != nil {
						t.Fatal(err)
					}
					return env
				}
			}
			t.Fatalf("ticket %d: no acknowledgement in %d outbox rows", id, len(rows))
			return nil
		}
		env := ack("alice@example.org", "I forgot my password", "Hello, I cannot sign in to the portal. Please help!")
		for _, part := range []string{env.Text, env.HTML} {
			if !strings.Contains(part, "https://support.example.com/kb/reset-password") || !strings.Contains(part, "Forgot your password? Reset it") {
				t.Errorf("the acknowledgement does not list the password article:\n%s", part)
			}
			if !strings.Contains(part, "These articles may already answer your question") {
				t.Errorf("no article list:\n%s", part)
			}
		}
		env = ack("bob@example.net", "Invoice for order 4411 is wrong", "Hi, the invoice for order 4411 lists the wrong amount.")
		for _, part := range []string{env.Text, env.HTML} {
			if strings.Contains(part, "/kb/") || strings.Contains(part, "These articles") {
				t.Errorf("the acknowledgement of an unrelated ticket lists articles:\n%s", part)
			}
		}
		// A search that fails (here: its index is gone) costs the list, not the
		// acknowledgement nor the ticket: the search ran under a savepoint.
		breakIt := "DROP TABLE kb_fts_en"
		if st.Dialect == store.Postgres {
			breakIt = "ALTER TABLE kb_articles RENAME COLUMN search TO search_gone"
		}
		if _, err := st.DB.Exec(breakIt); err != nil {
			t.Fatal(err)
		}
		env = ack("carol@example.org", "I forgot my password", "help")
		if strings.Contains(env.Text, "/kb/") || !strings.Contains(env.Text, "I forgot my password") {
			t.Errorf("the acknowledgement with a broken search:\n%s", env.Text)
		}
	})
}
