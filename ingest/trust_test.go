package ingest

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/mailauth"
	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// trustRig is an Ingester over a real database, spooling rows with the authentication
// results smtpd would have stored.
type trustRig struct {
	t      *testing.T
	st     *store.Store
	g      *Ingester
	signer *threading.Signer
}

func newTrustRig(t *testing.T, st *store.Store, trusted ...string) *trustRig {
	signer := threading.NewSigner([]byte("trust-test secret, 32 bytes long"))
	composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Support <support@example.com>"})
	storetest.MustNotErr(t, "composer", err)
	router := NewRouter([]config.Mailbox{{Address: "support@example.com", Team: "Support"}}, signer)
	g := newTestIngester(st, Config{Resolve: router.Resolve, Own: router.Own, TrustedDomains: trusted}, ticket.Config{Signer: signer, Composer: composer},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &trustRig{t: t, st: st, g: g, signer: signer}
}

// deliver spools raw as smtpd would with these results and ingests it.
func (r *trustRig) deliver(mailFrom, rcpt, raw string, res *mailauth.Results) {
	r.t.Helper()
	ctx := context.Background()
	in := &store.Inbound{RemoteAddr: "192.0.2.1:25", Helo: "mx.example.org", MailFrom: mailFrom, Rcpt: []string{rcpt},
		Raw: []byte(strings.ReplaceAll(raw, "\n", "\r\n"))}
	if res != nil {
		in.AuthResults = res.JSON()
	}
	storetest.MustNotErr(r.t, "spool", r.st.Tx(ctx, func(tx *sqlx.Tx) error { return store.InsertInbound(ctx, tx, in) }))
	storetest.MustNotErr(r.t, "process", r.g.Process(ctx, in.ID))
}

func (r *trustRig) tickets() []store.Ticket {
	r.t.Helper()
	list, err := r.st.ListTickets(context.Background(), store.TicketFilter{})
	storetest.MustNotErr(r.t, "list", err)
	return list
}

func (r *trustRig) messages(id int64) []store.Message {
	r.t.Helper()
	m, err := store.ListMessages(context.Background(), r.st.DB, id)
	storetest.MustNotErr(r.t, "messages", err)
	return m
}

func aligned(domain string) *mailauth.Results {
	return &mailauth.Results{FromDomain: domain, DKIM: "pass", SPF: "none", DMARC: "pass", AlignedDomain: domain, AlignedBy: "dkim"}
}

func TestWeakPointersNeedStoredAuthentication(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newTrustRig(t, st, "trusted.example")
		r.deliver("alice@example.org", "support@example.com", "From: Alice <alice@example.org>\nSubject: Printer on fire\nMessage-ID: <a1@example.org>\n\nhelp\n", nil)
		r.deliver("carol@trusted.example", "support@example.com", "From: carol@trusted.example\nSubject: Unsigned customer\nMessage-ID: <c1@trusted.example>\n\nhi\n", nil)
		tag := "From: Alice <alice@example.org>\nSubject: Re: [#1] Printer on fire\nMessage-ID: <%s>\n\nmore\n"
		tests := []struct {
			name     string
			raw      string
			res      *mailauth.Results
			onTicket int64 // 0: a new, flagged ticket
		}{
			{"forged From of the customer, [#1], nothing authenticated", strings.Replace(tag, "%s", "f1@evil.test", 1), nil, 0},
			{"forged, with Authentication-Results written by the forger", "Authentication-Results: mx.example.com; dkim=pass header.d=example.org; dmarc=pass header.from=example.org\n" + strings.Replace(tag, "%s", "f2@evil.test", 1), nil, 0},
			{"aligned for another domain than the From", strings.Replace(tag, "%s", "f3@evil.test", 1), aligned("evil.test"), 0},
			{"DMARC failed", strings.Replace(tag, "%s", "f4@evil.test", 1), &mailauth.Results{FromDomain: "example.org", DKIM: "fail", DMARC: "fail", Policy: "none"}, 0},
			{"the customer's aligned signature", strings.Replace(tag, "%s", "a2@example.org", 1), aligned("example.org"), 1},
			{"In-Reply-To the customer's own Message-ID, aligned", "From: alice@example.org\nSubject: something else\nIn-Reply-To: <a1@example.org>\nMessage-ID: <a3@example.org>\n\nx\n", aligned("example.org"), 1},
			{"a trusted_unauthenticated_domains customer with [#2]", "From: carol@trusted.example\nSubject: Re: [#2]\nMessage-ID: <c2@trusted.example>\n\nx\n", nil, 2},
		}
		for _, tt := range tests {
			before := len(r.tickets())
			msgs1 := len(r.messages(1))
			r.deliver("alice@example.org", "support@example.com", tt.raw, tt.res)
			after := r.tickets()
			if tt.onTicket == 0 {
				if len(after) != before+1 || !after[0].Flagged || after[0].LinkedTicketID == nil || *after[0].LinkedTicketID != 1 {
					t.Errorf("%s: want a new flagged ticket linked to 1; got %d tickets, newest %+v", tt.name, len(after), after[0])
				}
				if n := len(r.messages(1)); n != msgs1 {
					t.Errorf("%s: ticket 1 was touched (%d messages, had %d)", tt.name, n, msgs1)
				}
				continue
			}
			if len(after) != before {
				t.Errorf("%s: opened a ticket, want it appended to %d", tt.name, tt.onTicket)
			}
		}
		if n := len(r.messages(1)); n != 3 {
			t.Errorf("ticket 1 has %d messages, want 3 (the first and the two authenticated replies)", n)
		}
	})
}

func TestReplyAddressAppendsWhateverTheFrom(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newTrustRig(t, st)
		r.deliver("alice@example.org", "support@example.com", "From: alice@example.org\nSubject: Printer\nMessage-ID: <a1@example.org>\n\nx\n", nil)
		addr := threading.ReplyAddress("support@example.com", r.signer.Token(threading.RoleCustomer, 1))
		r.deliver("bob@other.test", addr, "From: Bob <bob@other.test>\nSubject: forwarded to me\nMessage-ID: <b1@other.test>\n\nI am Alice's colleague\n", nil)
		msgs := r.messages(1)
		if len(r.tickets()) != 1 || len(msgs) != 2 || msgs[1].FromAddr != "bob@other.test" {
			t.Errorf("reply to the signed address: %d tickets, messages %+v", len(r.tickets()), msgs)
		}
	})
}

func TestQuarantineFailureIsFlaggedAndNotAcknowledged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newTrustRig(t, st)
		q := &mailauth.Results{FromDomain: "bank.example", DKIM: "none", SPF: "fail", DMARC: "fail", Policy: "quarantine", Quarantine: true}
		r.deliver("ceo@bank.example", "support@example.com", "From: ceo@bank.example\nSubject: urgent transfer\nMessage-ID: <q1@bank.example>\n\npay now\n", q)
		list := r.tickets()
		if len(list) != 1 || !list[0].Flagged || !strings.Contains(list[0].FlagReason, "quarantine") {
			t.Fatalf("tickets %+v, want one flagged for quarantine", list)
		}
		out, err := st.ListOutbox(context.Background(), "", 0, 10)
		storetest.MustNotErr(t, "outbox", err)
		if len(out) != 0 {
			t.Errorf("%d outbox rows: a quarantined (likely forged) sender got an acknowledgement", len(out))
		}
		if got := mailauth.Parse(r.messages(1)[0].AuthResults); got == nil || !got.Quarantine {
			t.Errorf("message auth_results %q", r.messages(1)[0].AuthResults)
		}
	})
}

func TestDSNMarksOurMailBounced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		r := newTrustRig(t, st)
		r.deliver("alice@example.org", "support@example.com", "From: alice@example.org\nSubject: Printer\nMessage-ID: <a1@example.org>\n\nx\n", nil)
		out, err := st.ListOutbox(ctx, "", 0, 10)
		storetest.MustNotErr(t, "outbox", err)
		if len(out) != 1 {
			t.Fatalf("%d outbox rows, want the acknowledgement", len(out))
		}
		storetest.MustNotErr(t, "sent", st.MarkOutboxSent(ctx, out[0].ID))
		dsn := `From: MAILER-DAEMON@mx.example.org
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn1@mx.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; alice@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <alice@example.org>: mailbox unavailable
--B
Content-Type: text/rfc822-headers

From: Support <support@example.com>
To: alice@example.org
Subject: [#1] Printer
Message-ID: <` + out[0].MessageID + `>
--B--
`
		r.deliver("", "support@example.com", dsn, nil)
		rows, err := st.ListOutbox(ctx, "", 0, 10)
		storetest.MustNotErr(t, "outbox", err)
		if len(rows) != 1 || rows[0].Status != store.OutboxBounced || !strings.Contains(rows[0].LastError, "mailbox unavailable") {
			t.Errorf("outbox after the DSN: %+v", rows)
		}
		if n := len(r.tickets()); n != 1 {
			t.Errorf("%d tickets: the DSN opened a ticket instead of joining ticket 1", n)
		}
		msgs := r.messages(1)
		if len(msgs) != 2 || msgs[1].Kind != "bounce" {
			t.Errorf("ticket 1 messages %+v, want the DSN as a bounce", msgs)
		}
		events, err := store.ListEvents(ctx, st.DB, 1)
		storetest.MustNotErr(t, "events", err)
		found := false
		for _, e := range events {
			found = found || e.Kind == "delivery_failed"
		}
		if !found {
			t.Error("no delivery_failed event on ticket 1")
		}
	})
}

func TestAutoReplySubjects(t *testing.T) {
	tests := map[string]bool{
		"Out of Office: [#1] Printer on fire": true,
		"Automatic reply: Printer":            true,
		"Abwesenheitsnotiz: Drucker":          true,
		"Réponse automatique : imprimante":    true,
		"Autosvar: skrivare":                  true,
		"out of office":                       true,
		"Out of office settings are broken":   false,
		"Re: Automatic reply not working":     false,
		"Printer on fire":                     false,
		"":                                    false,
	}
	for subj, want := range tests {
		if got := autoReplySubject(subj) != ""; got != want {
			t.Errorf("autoReplySubject(%q) = %v, want %v", subj, got, want)
		}
	}
}
