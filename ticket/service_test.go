package ticket

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
)

// rig is a ticket service over a real database with the real composer and signer.
type rig struct {
	t   *testing.T
	ctx context.Context
	st  *store.Store
	s   *Service
}

func newRig(t *testing.T, st *store.Store, cfg Config) *rig {
	t.Helper()
	composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Example Support <support@example.com>"})
	storetest.MustNotErr(t, "composer", err)
	secret := []byte("ticket-test secret, 32 bytes ok!")
	cfg.Composer, cfg.Signer, cfg.Links = composer, threading.NewSigner(secret), NewLinks(secret, "https://help.example.com")
	if cfg.Own == nil {
		cfg.Own = func(a string) bool { return strings.HasPrefix(a, "support@") }
	}
	r := &rig{t: t, ctx: context.Background(), st: st, s: New(st, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	for _, team := range []string{"Support", "Billing"} {
		_, err := store.EnsureTeam(r.ctx, st.DB, team)
		storetest.MustNotErr(t, "team", err)
	}
	for _, a := range [][2]string{{"ana@example.com", "Ana"}, {"bert@example.com", "Bert"}} {
		_, err := store.UpsertAgent(r.ctx, st.DB, a[0], a[1], "Support")
		storetest.MustNotErr(t, "agent", err)
	}
	return r
}

func (r *rig) tx(what string, fn func(tx *sqlx.Tx) error) {
	r.t.Helper()
	storetest.MustNotErr(r.t, what, r.st.Tx(r.ctx, fn))
}

// create opens a ticket from a customer's mail and returns its id.
func (r *rig) create(from, subject string, mod func(*NewTicket)) int64 {
	r.t.Helper()
	supportID, err := store.TeamByName(r.ctx, r.st.DB, "Support")
	storetest.MustNotErr(r.t, "team", err)
	nt := NewTicket{Subject: subject, TeamID: supportID, Mailbox: "support@example.com", Source: SourceMail,
		Message: Incoming{From: Person{Email: from, Name: "Alice"}, MessageID: "<" + subject + "@example.org>",
			Subject: subject, Text: "Help with " + subject, Cc: []mail.Address{{Address: "carol@example.org"}, {Address: "bert@example.com"}}}}
	if mod != nil {
		mod(&nt)
	}
	var id int64
	r.tx("create", func(tx *sqlx.Tx) error {
		var err error
		id, _, err = r.s.Create(r.ctx, tx, nt)
		return err
	})
	return id
}

func (r *rig) agentMail(id int64, from string, authenticated bool, text string, automatic string) {
	r.t.Helper()
	r.tx("agent mail", func(tx *sqlx.Tx) error {
		agent, err := store.AgentByEmail(r.ctx, tx, from)
		if errors.Is(err, store.ErrNotFound) {
			agent, err = nil, nil
		}
		if err != nil {
			return err
		}
		_, err = r.s.HandleAgentMail(r.ctx, tx, id, AgentMail{Agent: agent, Authenticated: authenticated,
			Message: Incoming{From: Person{Email: from}, Text: text, Automatic: automatic, Subject: "Re: [#1]"}})
		return err
	})
}

// mails returns "kind to rcpt" for the outbox rows written after the first skip ones.
func (r *rig) mails(skip int) []string {
	r.t.Helper()
	rows, err := r.st.ListOutbox(r.ctx, "", 0, 1000)
	storetest.MustNotErr(r.t, "outbox", err)
	var out []string
	for i := len(rows) - 1; i >= 0; i-- { // ListOutbox is newest first
		out = append(out, rows[i].Kind+" to "+rows[i].RcptTo)
	}
	if skip > len(out) {
		return nil
	}
	return out[skip:]
}

func (r *rig) ticket(id int64) *store.Ticket {
	r.t.Helper()
	tk, err := store.GetTicket(r.ctx, r.st.DB, id)
	storetest.MustNotErr(r.t, "ticket", err)
	return tk
}

func (r *rig) events(id int64) string {
	r.t.Helper()
	evs, err := store.ListEvents(r.ctx, r.st.DB, id)
	storetest.MustNotErr(r.t, "events", err)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	return strings.Join(kinds, " ")
}

func (r *rig) lastMessage(id int64) store.Message {
	r.t.Helper()
	ms, err := store.ListMessages(r.ctx, r.st.DB, id)
	storetest.MustNotErr(r.t, "messages", err)
	return ms[len(ms)-1]
}

func TestANewTicketFromMail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, Config{})
		id := r.create("alice@example.org", "Printer on fire", nil)
		tk := r.ticket(id)
		if tk.Status != StatusOpen || tk.Priority != PriorityMedium || tk.ResponseBy == nil || tk.Team != "Support" {
			t.Errorf("ticket = %+v, want open, medium, Support, with SLA deadlines", tk)
		}
		got := strings.Join(r.mails(0), ", ")
		want := "agent_notification to ana@example.com, agent_notification to bert@example.com, acknowledgement to alice@example.org"
		if got != want {
			t.Errorf("mails: %s\nwant: %s", got, want)
		}
		rs, err := store.Participants(r.ctx, st.DB, id)
		storetest.MustNotErr(t, "participants", err)
		if len(rs) != 2 || rs[1].Email != "carol@example.org" {
			t.Errorf("participants %+v: want Alice and Carol (an agent in Cc is not one)", rs)
		}
		if ev := r.events(id); ev != "created" {
			t.Errorf("events %q, want created", ev)
		}
	})
}

func TestWhatANewTicketDoesNotSend(t *testing.T) {
	tests := []struct {
		name       string
		mod        func(*NewTicket)
		wantMails  string
		wantEvents string
		wantSLA    bool
	}{
		{"an automatic message gets no acknowledgement and wakes no agent",
			func(nt *NewTicket) { nt.Message.Automatic, nt.Message.Kind = "Auto-Submitted: auto-replied", MsgAuto }, "",
			"created ack_suppressed", true},
		{"a quarantined sender gets no acknowledgement (backscatter)",
			func(nt *NewTicket) { nt.NoAck = "DMARC says quarantine" },
			"agent_notification to ana@example.com, agent_notification to bert@example.com", "created ack_suppressed", true},
		{"a message with no sender is stored, never answered",
			func(nt *NewTicket) { nt.Message.From.Email = "" },
			"agent_notification to ana@example.com, agent_notification to bert@example.com", "created ack_suppressed", true},
		{"an imported message mails nobody and starts no SLA clock",
			func(nt *NewTicket) { nt.Message.Archive = true }, "", "created", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				r := newRig(t, st, Config{})
				id := r.create("alice@example.org", "Out of office", tt.mod)
				if got := strings.Join(r.mails(0), ", "); got != tt.wantMails {
					t.Errorf("mails %q, want %q", got, tt.wantMails)
				}
				if ev := r.events(id); ev != tt.wantEvents {
					t.Errorf("events %q, want %q", ev, tt.wantEvents)
				}
				if got := r.ticket(id).ResponseBy != nil; got != tt.wantSLA {
					t.Errorf("SLA started %v, want %v", got, tt.wantSLA)
				}
			})
		})
	}
}

func TestTheLoopGuardHoldsBackAutomaticMailPastTheHourlyCap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, Config{MaxAutoPerHour: 1})
		r.create("alice@example.org", "one", nil)
		second := r.create("alice@example.org", "two", nil)
		sent, err := st.ListOutbox(r.ctx, store.OutboxSuppressed, 0, 10)
		storetest.MustNotErr(t, "outbox", err)
		if len(sent) != 1 || sent[0].RcptTo != "alice@example.org" || !strings.Contains(r.events(second), EvNotificationSuppressed) {
			t.Errorf("suppressed %+v, events %q: want the second acknowledgement kept as suppressed", sent, r.events(second))
		}
	})
}

func TestAgentMailCommandsAndRefusals(t *testing.T) {
	tests := []struct {
		name, from, text, automatic string
		authenticated               bool
		wantKind                    string
		wantMails                   string // after the ticket's own three
		check                       func(t *testing.T, r *rig, tk *store.Ticket)
	}{
		{name: "a plain answer goes to the customer and Cc, and starts In Progress", from: "ana@example.com", authenticated: true,
			text: "Switch it off.\n\nOn Monday Alice wrote:\n> old", wantKind: MsgAgent,
			wantMails: "agent_reply to alice@example.org, agent_reply to carol@example.org",
			check: func(t *testing.T, r *rig, tk *store.Ticket) {
				if tk.Status != StatusInProgress || tk.FirstRespondedAt == nil {
					t.Errorf("status %s, first response %v: want in_progress, recorded", tk.Status, tk.FirstRespondedAt)
				}
			}},
		{name: "#status resolved with text: one reply carrying the close link, no status mail", from: "ana@example.com", authenticated: true,
			text: "#status resolved\n\nDone.", wantKind: MsgAgent,
			wantMails: "agent_reply to alice@example.org, agent_reply to carol@example.org",
			check: func(t *testing.T, r *rig, tk *store.Ticket) {
				if tk.Status != StatusResolved || tk.ResolvedAt == nil {
					t.Errorf("status %s, want resolved", tk.Status)
				}
			}},
		{name: "#status closed alone mails the customer that it closed", from: "ana@example.com", authenticated: true,
			text: "#status closed", wantKind: MsgNote, wantMails: "closed to alice@example.org",
			check: func(t *testing.T, r *rig, tk *store.Ticket) {
				if tk.Status != StatusClosed || tk.ClosedAt == nil {
					t.Errorf("status %s, want closed", tk.Status)
				}
			}},
		{name: "#priority moves the SLA deadlines and tells nobody", from: "ana@example.com", authenticated: true,
			text: "#priority urgent", wantKind: MsgNote,
			check: func(t *testing.T, r *rig, tk *store.Ticket) {
				if tk.Priority != PriorityUrgent || !strings.Contains(r.events(tk.ID), EvPriorityChanged) {
					t.Errorf("priority %s, events %q", tk.Priority, r.events(tk.ID))
				}
			}},
		{name: "#assign names an agent", from: "ana@example.com", authenticated: true,
			text: "#assign Bert <bert@example.com>", wantKind: MsgNote,
			check: func(t *testing.T, r *rig, tk *store.Ticket) {
				bert, _ := store.AgentByEmail(r.ctx, r.st.DB, "bert@example.com")
				if tk.AssigneeID == nil || *tk.AssigneeID != bert.ID {
					t.Errorf("assignee %v, want Bert (%d)", tk.AssigneeID, bert.ID)
				}
			}},
		{name: "#team moves it", from: "ana@example.com", authenticated: true,
			text: "#team Billing", wantKind: MsgNote,
			check: func(t *testing.T, r *rig, tk *store.Ticket) {
				if tk.Team != "Billing" || !strings.Contains(r.events(tk.ID), EvTeamChanged) {
					t.Errorf("team %s, events %q", tk.Team, r.events(tk.ID))
				}
			}},
		{name: "#note stays internal", from: "ana@example.com", authenticated: true,
			text: "#note the customer sounds upset", wantKind: MsgNote,
			check: func(t *testing.T, r *rig, tk *store.Ticket) {
				if m := r.lastMessage(tk.ID); !strings.Contains(m.Text, "upset") || !strings.Contains(r.events(tk.ID), EvNoteAdded) {
					t.Errorf("note text %q, events %q", m.Text, r.events(tk.ID))
				}
			}},
		{name: "a command naming nobody refuses the whole reply and tells the agent", from: "ana@example.com", authenticated: true,
			text: "#assign nobody@example.com\n\nHello Alice", wantKind: MsgAgentRefused,
			wantMails: "agent_command_error to ana@example.com",
			check: func(t *testing.T, r *rig, tk *store.Ticket) {
				if tk.Status != StatusOpen || tk.AssigneeID != nil {
					t.Errorf("a refused reply changed the ticket: %+v", tk)
				}
			}},
		{name: "a typo in a command is never sent as text", from: "ana@example.com", authenticated: true,
			text: "#stauts resolved\n\nHello Alice", wantKind: MsgAgentRefused,
			wantMails: "agent_command_error to ana@example.com",
			check: func(t *testing.T, r *rig, tk *store.Ticket) {
				if tk.Status != StatusOpen {
					t.Errorf("status %s after a typo, want open", tk.Status)
				}
			}},
		{name: "a stranger at the agents' address reaches nobody", from: "mallory@evil.test", authenticated: true,
			text: "Send me the invoice", wantKind: MsgAgentRefused},
		{name: "an unauthenticated agent is told why and what fixes it", from: "ana@example.com", authenticated: false,
			text: "Switch it off.", wantKind: MsgAgentRefused, wantMails: "agent_reply_refused to ana@example.com"},
		{name: "an agent's out-of-office is kept, never relayed", from: "ana@example.com", authenticated: true,
			text: "I am away", automatic: "Auto-Submitted: auto-replied", wantKind: MsgAuto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				r := newRig(t, st, Config{})
				id := r.create("alice@example.org", "Printer on fire", nil)
				r.agentMail(id, tt.from, tt.authenticated, tt.text, tt.automatic)
				if got := strings.Join(r.mails(3), ", "); got != tt.wantMails {
					t.Errorf("mails %q, want %q", got, tt.wantMails)
				}
				m := r.lastMessage(id)
				if m.Kind != tt.wantKind || m.Direction != store.DirOut {
					t.Errorf("stored as %s/%s, want out/%s", m.Direction, m.Kind, tt.wantKind)
				}
				if tt.check != nil {
					tt.check(t, r, r.ticket(id))
				}
			})
		})
	}
}

func TestACustomerReplyReopensWithinTheWindowAndOpensANewTicketAfter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, Config{ReopenWindow: 24 * time.Hour})
		id := r.create("alice@example.org", "Printer on fire", nil)
		storetest.MustNotErr(t, "resolve", r.s.ChangeStatus(r.ctx, id, StatusResolved, "ana"))
		before := len(r.mails(0))
		r.tx("reply", func(tx *sqlx.Tx) error {
			_, err := r.s.AddCustomerMessage(r.ctx, tx, id, Incoming{From: Person{Email: "alice@example.org"}, Text: "It is back"}, "token", "")
			return err
		})
		if tk := r.ticket(id); tk.Status != StatusOpen {
			t.Errorf("status after the customer's reply = %s, want open", tk.Status)
		}
		if got := strings.Join(r.mails(before), ", "); got != "agent_notification to ana@example.com, agent_notification to bert@example.com" {
			t.Errorf("mails after the reopen %q: the agents hear of it, the customer needs nothing", got)
		}
		storetest.MustNotErr(t, "close", r.s.ChangeStatus(r.ctx, id, StatusClosed, "ana"))
		tk := r.ticket(id)
		for _, tc := range []struct {
			after time.Duration
			want  bool
		}{{time.Hour, false}, {48 * time.Hour, true}} {
			if got := r.s.OpensNew(tk, tk.ClosedAt.Add(tc.after)); got != tc.want {
				t.Errorf("OpensNew %v after closing = %v, want %v", tc.after, got, tc.want)
			}
		}
		always := newRig(t, st, Config{})
		if always.s.OpensNew(tk, tk.ClosedAt.Add(1000*time.Hour)) {
			t.Error("with no reopen window a reply always reopens")
		}
	})
}

func TestCloseAndRateByLinkOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, Config{})
		id := r.create("alice@example.org", "Printer on fire", nil)
		closeLink := Link{Action: ActionClose, TicketID: id, Expires: time.Now().Add(time.Hour), Nonce: NewNonce()}
		storetest.MustNotErr(t, "close", r.s.CloseByLink(r.ctx, closeLink))
		if err := r.s.CloseByLink(r.ctx, closeLink); !errors.Is(err, store.ErrLinkUsed) {
			t.Errorf("closing twice: %v, want ErrLinkUsed", err)
		}
		if r.ticket(id).Status != StatusClosed {
			t.Errorf("status %s, want closed", r.ticket(id).Status)
		}
		if err := r.s.CloseByLink(r.ctx, Link{Action: ActionRate, TicketID: id, Nonce: NewNonce()}); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("a rating link used to close: %v, want ErrLinkInvalid", err)
		}

		for range 2 {
			r.tx("feedback", func(tx *sqlx.Tx) error { return r.s.RequestFeedback(r.ctx, tx, id) })
		}
		n := 0
		for _, m := range r.mails(0) {
			if strings.HasPrefix(m, outbound.KindFeedbackRequest) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d feedback requests, want 1 per ticket", n)
		}
		nonce := NewNonce()
		fid, err := r.s.Rate(r.ctx, Link{Action: ActionRate, TicketID: id, Arg: "good", Nonce: nonce})
		storetest.MustNotErr(t, "rate", err)
		if _, err := r.s.Rate(r.ctx, Link{Action: ActionRate, TicketID: id, Arg: "5", Nonce: nonce}); !errors.Is(err, store.ErrLinkUsed) {
			t.Errorf("a second link of the same request: %v, want ErrLinkUsed", err)
		}
		for _, bad := range []string{"0", "6", "great", ""} {
			if _, err := r.s.Rate(r.ctx, Link{Action: ActionRate, TicketID: id, Arg: bad, Nonce: NewNonce()}); !errors.Is(err, ErrLinkInvalid) {
				t.Errorf("rating %q: %v, want ErrLinkInvalid", bad, err)
			}
		}
		fs, err := store.ListFeedback(r.ctx, st.DB, id)
		storetest.MustNotErr(t, "feedback", err)
		if len(fs) != 1 || fs[0].ID != fid || fs[0].Rating != 4 {
			t.Errorf("feedback %+v, want one rating of 4 (good)", fs)
		}
	})
}

func TestBadValuesChangeNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, Config{})
		id := r.create("alice@example.org", "Printer on fire", nil)
		if err := r.s.ChangeStatus(r.ctx, id, "done", "ana"); !errors.Is(err, ErrBadStatus) {
			t.Errorf("status done: %v, want ErrBadStatus", err)
		}
		err := st.Tx(r.ctx, func(tx *sqlx.Tx) error { return r.s.SetPriority(r.ctx, tx, id, "asap", "ana") })
		if !errors.Is(err, ErrBadPriority) {
			t.Errorf("priority asap: %v, want ErrBadPriority", err)
		}
		err = st.Tx(r.ctx, func(tx *sqlx.Tx) error { return r.s.SetTeam(r.ctx, tx, id, "Nobody", "ana") })
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("team Nobody: %v, want not found", err)
		}
		if tk := r.ticket(id); tk.Status != StatusOpen || tk.Priority != PriorityMedium || tk.Team != "Support" {
			t.Errorf("ticket changed: %+v", tk)
		}
	})
}

func TestABounceMarksOurMailAndNothingElse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, Config{})
		id := r.create("alice@example.org", "Printer on fire", nil)
		acks, err := st.ListOutbox(r.ctx, "", id, 10)
		storetest.MustNotErr(t, "outbox", err)
		var ackID string
		for _, o := range acks {
			if o.Kind == outbound.KindAck {
				ackID = o.MessageID
				// Only mail that went out can bounce.
				storetest.MustNotErr(t, "sent", st.MarkOutboxSent(r.ctx, o.ID))
			}
		}
		var refs []string
		r.tx("bounce", func(tx *sqlx.Tx) error {
			var err error
			refs, err = r.s.Bounced(r.ctx, tx, []string{ackID, "<someone-elses@example.net>"}, "550 no such user")
			return err
		})
		if len(refs) != 1 || refs[0] != ackID || !strings.Contains(r.events(id), EvDeliveryFailed) {
			t.Errorf("refs %v, events %q: want only our acknowledgement, marked", refs, r.events(id))
		}
	})
}

func TestSLAWarningsGoOutOncePerDeadline(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, Config{})
		id := r.create("alice@example.org", "Printer on fire", nil)
		deadline := time.Now().Add(time.Hour).UTC()
		for range 2 {
			r.tx("warn", func(tx *sqlx.Tx) error { return r.s.WarnSLA(r.ctx, tx, id, WarnResponse, deadline) })
		}
		if got := strings.Join(r.mails(3), ", "); got != "sla_warning to ana@example.com, sla_warning to bert@example.com" {
			t.Errorf("mails %q, want one warning per agent", got)
		}
	})
}

func TestReadableText(t *testing.T) {
	quoted := "Thanks, that worked.\n\nOn Mon, 23 Nov 2026, Ana wrote:\n> Switch it off."
	tests := []struct {
		name string
		m    store.Message
		want string
	}{
		{"a customer's quote is stripped", store.Message{Direction: store.DirIn, Text: quoted}, "Thanks, that worked."},
		{"an agent's text is what they meant", store.Message{Direction: store.DirOut, Kind: MsgAgent, Text: quoted}, quoted},
		{"a forward keeps its quote", store.Message{Direction: store.DirIn, Subject: "Fwd: invoice", Text: quoted}, quoted},
	}
	for _, tt := range tests {
		if got := ReadableText(&tt.m); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestATicketIsRatedOnceWhicheverWayAndHoweverFast(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		r := newRig(t, st, Config{})
		id := r.create("alice@example.org", "Printer on fire", nil)
		const tries = 6
		errs := make(chan error, tries)
		var wg sync.WaitGroup
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					errs <- r.s.RateByCustomer(r.ctx, id, 5, "", "great", "alice@example.org")
					return
				}
				_, err := r.s.Rate(r.ctx, Link{Action: ActionRate, TicketID: id, Arg: "good", Nonce: NewNonce()})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrAlreadyRated):
				t.Errorf("a second rating: %v, want ErrAlreadyRated", err)
			}
		}
		fs, err := store.ListFeedback(r.ctx, st.DB, id)
		storetest.MustNotErr(t, "feedback", err)
		if won != 1 || len(fs) != 1 {
			t.Errorf("%d ratings accepted, %d stored; want one of each", won, len(fs))
		}
	})
}
