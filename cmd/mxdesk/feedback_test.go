package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestFeedbackReportSumsUpTheRatings(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mxdesk.toml")
	if err := os.WriteFile(cfg, []byte(`data_dir = "`+filepath.Join(dir, "data")+`"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MXDESK_CONFIG", "")
	runCLI(t, cfg, 0, "migrate")
	ctx := context.Background()
	st := storetest.Open(t, "sqlite:"+filepath.Join(dir, "data", "mxdesk.db"))
	team, err := store.EnsureTeam(ctx, st.DB, "Support")
	storetest.MustNotErr(t, "team", err)
	for i, r := range []struct {
		rating  int
		choice  string
		comment string
	}{{5, "excellent", "Fast!"}, {3, "3", ""}} {
		c, err := store.UpsertContact(ctx, st.DB, "c"+string(rune('a'+i))+"@example.org", "")
		storetest.MustNotErr(t, "contact", err)
		now := store.Now()
		tk := &store.Ticket{Subject: "s", Status: "closed", Priority: "medium", TeamID: team, ContactID: c, CreatedAt: now, UpdatedAt: now}
		storetest.MustNotErr(t, "ticket", store.InsertTicket(ctx, st.DB, tk))
		storetest.MustNotErr(t, "replied", store.InsertEvent(ctx, st.DB, tk.ID, "agent_replied", "ana@example.com", "{}"))
		storetest.MustNotErr(t, "feedback", store.InsertFeedback(ctx, st.DB, &store.Feedback{TicketID: tk.ID, Rating: r.rating, Comment: r.comment}))
		storetest.MustNotErr(t, "rated", store.InsertEvent(ctx, st.DB, tk.ID, "rated", "customer", `{"choice":"`+r.choice+`"}`))
	}
	var rep struct {
		Summary struct {
			Count    int     `json:"count"`
			Average  float64 `json:"average"`
			Positive float64 `json:"positive_share"`
		} `json:"summary"`
		Agents []struct {
			Name  string `json:"name"`
			Count int    `json:"count"`
		} `json:"agents"`
	}
	if err := json.Unmarshal([]byte(runCLI(t, cfg, 0, "feedback", "report", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Count != 2 || rep.Summary.Average != 4 || rep.Summary.Positive != 0.5 || len(rep.Agents) != 1 || rep.Agents[0].Count != 2 {
		t.Errorf("report %+v", rep)
	}
	out := runCLI(t, cfg, 0, "feedback", "report", "--team", "Support")
	for _, want := range []string{"team   Support", "agent  ana@example.com", "4.00", "50%", "Fast!"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if out := runCLI(t, cfg, 0, "feedback", "report", "--since", "2000-01-01T00:00:00Z", "--until", "2000-02-01T00:00:00Z", "--json"); !strings.Contains(out, `"count": 0`) {
		t.Errorf("an empty period:\n%s", out)
	}
	runCLI(t, cfg, 2, "feedback", "report", "--team", "Nope")
}
