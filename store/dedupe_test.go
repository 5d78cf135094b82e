package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// An MTA's retry is the same Message-ID from the same sender: DuplicateMessage finds the
// ticket that holds it, but only mail (a spool row) counts, only among the team's tickets
// or the ticket named, and the oldest copy's ticket wins.
func TestDuplicateMessageFindsTheRetryInTheTeamOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		var support, billing int64
		var tickets []int64 // 0, 1: Support; 2: Billing
		add := func(tx *sqlx.Tx, ticket int64, msgid, from string, mail bool) error {
			m := &store.Message{TicketID: ticket, Direction: store.DirIn, Kind: "customer", FromAddr: from,
				MessageID: msgid, CreatedAt: store.Now()}
			if mail {
				in := &store.Inbound{Raw: fmt.Appendf(nil, "%s %d", msgid, ticket)}
				if err := store.InsertInbound(ctx, tx, in); err != nil {
					return err
				}
				m.InboundID = &in.ID
			}
			return store.InsertMessage(ctx, tx, m)
		}
		err := st.Tx(ctx, func(tx *sqlx.Tx) (err error) {
			if support, err = store.EnsureTeam(ctx, tx, "Support"); err != nil {
				return err
			}
			if billing, err = store.EnsureTeam(ctx, tx, "Billing"); err != nil {
				return err
			}
			c, err := store.UpsertContact(ctx, tx, "alice@example.org", "")
			if err != nil {
				return err
			}
			for _, team := range []int64{support, support, billing} {
				now := store.Now()
				tk := &store.Ticket{Subject: "s", Status: "open", Priority: "medium", TeamID: team, ContactID: c,
					Mailbox: "support@example.com", CreatedAt: now, UpdatedAt: now}
				if err := store.InsertTicket(ctx, tx, tk); err != nil {
					return err
				}
				tickets = append(tickets, tk.ID)
			}
			for _, m := range []struct {
				ticket      int
				msgid, from string
				mail        bool
			}{
				{1, "a@x", "alice@example.org", true}, // the oldest copy: ticket 1
				{0, "a@x", "alice@example.org", true},
				{2, "b@x", "alice@example.org", true},  // Billing's
				{0, "c@x", "alice@example.org", false}, // not mail: written in the portal
				{0, "", "alice@example.org", true},     // no Message-ID matches nothing
			} {
				if err := add(tx, tickets[m.ticket], m.msgid, m.from, m.mail); err != nil {
					return err
				}
			}
			return nil
		})
		storetest.MustNotErr(t, "seed", err)
		for _, c := range []struct {
			msgid, sender string
			team, ticket  int64
			want          int64
		}{
			{"a@x", "alice@example.org", support, 0, tickets[1]},
			{"a@x", "bob@example.org", support, 0, 0},                     // another sender
			{"a@x", "alice@example.org", billing, 0, 0},                   // another team
			{"b@x", "alice@example.org", support, 0, 0},                   // Billing's ticket
			{"b@x", "alice@example.org", support, tickets[2], tickets[2]}, // …named by a reply address
			{"c@x", "alice@example.org", support, 0, 0},
			{"", "alice@example.org", support, 0, 0},
			{"z@x", "alice@example.org", support, 0, 0},
		} {
			got, err := store.DuplicateMessage(ctx, st.DB, c.msgid, c.sender, c.team, c.ticket)
			storetest.MustNotErr(t, "dedupe", err)
			if got != c.want {
				t.Errorf("DuplicateMessage(%q, %s, team %d, ticket %d) = %d, want %d", c.msgid, c.sender, c.team, c.ticket, got, c.want)
			}
		}
	})
}
