package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestTicketShowHasFieldsAndFeedback(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		team, err := store.EnsureTeam(ctx, st.DB, "Support")
		storetest.MustNotErr(t, "team", err)
		contact, err := store.UpsertContact(ctx, st.DB, "alice@example.org", "Alice")
		storetest.MustNotErr(t, "contact", err)
		now := store.Now()
		tk := &store.Ticket{Subject: "Crash", Status: "closed", Priority: "medium", TeamID: team, ContactID: contact, CreatedAt: now, UpdatedAt: now}
		storetest.MustNotErr(t, "ticket", store.InsertTicket(ctx, st.DB, tk))
		storetest.MustNotErr(t, "fields", store.InsertFields(ctx, st.DB, tk.ID, []store.Field{{Name: "version", Label: "Version", Value: "2.1"}}))
		_, err = store.InsertRating(ctx, st.DB, &store.Feedback{TicketID: tk.ID, Rating: 5, Choice: "Problem solved", Comment: "Thanks"})
		storetest.MustNotErr(t, "rating", err)
		d, err := loadTicketDetail(ctx, st, tk.ID)
		storetest.MustNotErr(t, "show", err)
		js, _ := json.Marshal(d)
		if !strings.Contains(string(js), `"fields":[{"name":"version","label":"Version","value":"2.1"}]`) ||
			!strings.Contains(string(js), `"rating":5,"comment":"Thanks","choice":"Problem solved"`) {
			t.Errorf("ticket show --json:\n%s", js)
		}
		var out bytes.Buffer
		printTicket(&out, d, false)
		if !strings.Contains(out.String(), "Version: 2.1") || !strings.Contains(out.String(), `Feedback: 5 of 5 stars, "Problem solved": Thanks`) {
			t.Errorf("ticket show:\n%s", out.String())
		}
	})
}
