package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/config"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

func TestAReplyAddressOfAMissingTicketOpensANewOneInsteadOfFailing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newHarness(t, st, 0)
		for _, role := range []threading.Role{threading.RoleCustomer, threading.RoleAgent} {
			rcpt := threading.ReplyAddress("support@example.com", h.signer.Token(role, 999))
			id := h.ingest("alice@example.org", []string{rcpt}, customer(alice, "", "after the restore"))
			if in := h.inbound(id); in.Status != store.InboundDone {
				t.Fatalf("role %c: spool row %s (%s), want done", role, in.Status, in.Error)
			}
		}
		if n := h.count("SELECT COUNT(*) FROM tickets"); n != 2 {
			t.Errorf("%d tickets, want 2 new ones", n)
		}
	})
}

func TestMailToTheAgentsAddressIsRelayedOnlyFromAnAgent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newHarness(t, st, 0)
		h.g.cfg.TrustedDomains = []string{"example.com"}
		h.newTicketFromAlice()
		if _, err := store.UpsertAgent(h.ctx, st.DB, "ana@example.com", "Ana", "Support"); err != nil {
			t.Fatal(err)
		}
		agentAddr := threading.ReplyAddress("support@example.com", h.signer.Token(threading.RoleAgent, 1))
		tests := []struct {
			name, from, extra string
			relayed           bool
			kind              string
		}{
			{"a stranger", "Mallory <mallory@evil.test>", "", false, ticket.MsgAgentRefused},
			{"the agent's out-of-office", "Ana <ana@example.com>", "Auto-Submitted: auto-replied", false, "auto"},
			{"the agent", "Ana <ana@example.com>", "", true, "agent"},
		}
		for _, tt := range tests {
			before := len(h.outbox())
			raw := "From: " + tt.from + "\r\nTo: " + agentAddr + "\r\nSubject: Re: [#1]\r\n"
			if tt.extra != "" {
				raw += tt.extra + "\r\n"
			}
			raw += "\r\nTry turning it off.\r\n"
			h.ingest("x@example.org", []string{agentAddr}, raw)
			msgs := h.messages(1)
			last := msgs[len(msgs)-1]
			var toAlice int
			for _, o := range h.outbox()[before:] {
				if o.RcptTo == "alice@example.org" && o.Kind == "agent_reply" {
					toAlice++
				}
			}
			if (toAlice == 1) != tt.relayed || last.Kind != tt.kind {
				t.Errorf("%s: %d agent replies to Alice, message kind %q; want relayed %v, kind %q", tt.name, toAlice, last.Kind, tt.relayed, tt.kind)
			}
		}
	})
}

func TestAReplyToATicketClosedLongAgoOpensALinkedOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newHarnessWith(t, st, ticket.Config{ReopenWindow: 24 * time.Hour})
		h.newTicketFromAlice()
		reply := threading.ReplyAddress("support@example.com", h.signer.Token(threading.RoleCustomer, 1))
		for i, closedAgo := range []time.Duration{time.Hour, 48 * time.Hour} {
			st.DB.MustExec(st.DB.Rebind("UPDATE tickets SET status = 'closed', closed_at = ? WHERE id = 1"), time.Now().UTC().Add(-closedAgo))
			h.ingest("alice@example.org", []string{reply}, customer(alice, fmt.Sprintf("late-%d@example.org", i), "Re: [#1] Printer on fire"))
			if i == 0 {
				if tk := h.ticket(1); len(h.messages(1)) != 2 || tk.Status != "open" {
					t.Errorf("ticket 1: %d messages, status %s; want the recent reply to reopen it", len(h.messages(1)), tk.Status)
				}
			}
		}
		if n := len(h.messages(1)); n != 2 {
			t.Errorf("ticket 1 has %d messages after the late reply, want 2", n)
		}
		if n := h.count("SELECT COUNT(*) FROM tickets"); n != 2 {
			t.Fatalf("%d tickets, want the late reply in a new one", n)
		}
		if tk2 := h.ticket(2); tk2.LinkedTicketID == nil || *tk2.LinkedTicketID != 1 {
			t.Errorf("ticket 2 linked to %v, want 1", tk2.LinkedTicketID)
		}
	})
}

func TestPeopleInCcBecomeParticipantsWhoMayReplyAndHearBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newHarness(t, st, 0)
		h.g.cfg.TrustedDomains = []string{"example.org", "example.com"}
		h.ingest("alice@example.org", support, customer(alice, "cc-1@example.org", "Printer on fire", "Cc: Bob <bob@example.org>, support@example.com"))
		if _, err := store.UpsertAgent(h.ctx, st.DB, "ana@example.com", "Ana", "Support"); err != nil {
			t.Fatal(err)
		}
		// Bob answers with the tag only (no reply address, no In-Reply-To).
		h.ingest("bob@example.org", support, customer("Bob <bob@example.org>", "cc-2@example.org", "Re: [#1] Printer on fire"))
		if n := len(h.messages(1)); n != 2 {
			t.Fatalf("ticket 1 has %d messages, want Bob's reply on it", n)
		}
		if n := h.count("SELECT COUNT(*) FROM tickets"); n != 1 {
			t.Fatalf("%d tickets, want 1", n)
		}
		// The agent's answer reaches Alice and Bob, not support@.
		agentAddr := threading.ReplyAddress("support@example.com", h.signer.Token(threading.RoleAgent, 1))
		before := len(h.outbox())
		h.ingest("ana@example.com", []string{agentAddr}, "From: Ana <ana@example.com>\r\nTo: "+agentAddr+"\r\nSubject: Re: [#1]\r\n\r\nSwitch it off.\r\n")
		got := map[string]bool{}
		for _, o := range h.outbox()[before:] {
			if o.Kind == "agent_reply" {
				got[o.RcptTo] = true
			}
		}
		if len(got) != 2 || !got["alice@example.org"] || !got["bob@example.org"] {
			t.Errorf("agent reply went to %v, want Alice and Bob", got)
		}
	})
}

func TestAMailboxsPriorityIsItsTicketsPriority(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newHarness(t, st, 0)
		r := NewRouter([]config.Mailbox{{Address: "support@example.com", Team: "Support"},
			{Address: "outage@example.com", Team: "Support", Priority: "urgent"}}, h.signer)
		h.g.cfg.Resolve = r.Resolve
		h.ingest("alice@example.org", []string{"outage@example.com"}, customer(alice, "", "Everything is down"))
		h.ingest("alice@example.org", support, customer(alice, "", "A question"))
		if p1, p2 := h.ticket(1).Priority, h.ticket(2).Priority; p1 != "urgent" || p2 != "medium" {
			t.Errorf("priorities %s, %s; want urgent from outage@, medium by default", p1, p2)
		}
	})
}

func TestAnUnauthenticatedAgentReplyReachesOnlyTheAgentWithWhyAndTheFix(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newHarness(t, st, 0) // example.com is not trusted, and nothing here signs
		h.newTicketFromAlice()
		if _, err := store.UpsertAgent(h.ctx, st.DB, "ana@example.com", "Ana", "Support"); err != nil {
			t.Fatal(err)
		}
		agentAddr := threading.ReplyAddress("support@example.com", h.signer.Token(threading.RoleAgent, 1))
		before := len(h.outbox())
		for i := range 3 {
			// The From is forged as often as it is a misconfigured server: the notice
			// goes to the agent's configured address, whatever the envelope says.
			raw := fmt.Sprintf("From: Ana <ana@example.com>\r\nTo: %s\r\nSubject: Re: [#1]\r\nMessage-ID: <ana-%d@example.com>\r\n\r\nTry turning it off.\r\n", agentAddr, i)
			h.ingest("bounce-me@elsewhere.test", []string{agentAddr}, raw)
		}
		var notices int
		for _, o := range h.outbox()[before:] {
			switch {
			case o.RcptTo == "ana@example.com" && o.Kind == "agent_reply_refused":
				notices++
				raw := strings.ReplaceAll(string(o.Raw), "=\r\n", "") // quoted-printable soft breaks
				for _, want := range []string{"NOT sent", "SPF", "DKIM", "trusted_unauthenticated_domains", "Try turning it off."} {
					if !strings.Contains(raw, want) {
						t.Errorf("the notice does not say %q:\n%s", want, raw)
					}
				}
			default:
				t.Errorf("mail %s to %s: an unauthenticated reply must reach nobody but the agent", o.Kind, o.RcptTo)
			}
		}
		if notices != 1 {
			t.Errorf("%d notices to the agent for 3 refused replies within the hour, want 1", notices)
		}
		for _, m := range h.messages(1)[1:] {
			if m.Kind != ticket.MsgAgentRefused || m.Direction != store.DirOut {
				t.Errorf("message %d stored as %s/%s, want out/%s", m.ID, m.Direction, m.Kind, ticket.MsgAgentRefused)
			}
		}
	})
}
