package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store/storetest"
)

func TestATicketCreatedOnAHolidayIsOutsideHoursAndShowsItsDeadlines(t *testing.T) {
	for name, mk := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			sink := sinktest.Start(t)
			// Yesterday, today and tomorrow are holidays, whenever the test runs.
			day := func(d int) string { return time.Now().UTC().AddDate(0, 0, d).Format(time.DateOnly) }
			inst := newInstance(t, mk(t), sink.Addr, fmt.Sprintf("[hours]\nholidays = [%q, %q, %q]\n", day(-1), day(0), day(1)))
			inst.start()
			raw := "From: <alice@example.org>\r\nTo: support@example.com\r\nSubject: Printer on fire\r\nMessage-ID: <holiday@example.org>\r\n\r\nHelp\r\n"
			if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, raw); err != nil {
				t.Fatal(err)
			}
			ack := sink.Wait(t, 1, 30*time.Second)[0]
			if body := string(ack.Raw); !strings.Contains(body, "outside our working hours") || !strings.Contains(body, "1 working day") {
				t.Errorf("the acknowledgement does not give the notice and the medium policy:\n%s", body)
			}
			var tk struct {
				CreatedAt        time.Time  `json:"created_at"`
				OutsideHours     bool       `json:"outside_hours"`
				ResponseBy       *time.Time `json:"response_by"`
				ResolutionBy     *time.Time `json:"resolution_by"`
				FirstRespondedAt *time.Time `json:"first_responded_at"`
				ResolvedAt       *time.Time `json:"resolved_at"`
			}
			inst.cliJSON(&tk, "ticket", "show", "1")
			if !tk.OutsideHours || tk.ResponseBy == nil || tk.ResolutionBy == nil || tk.FirstRespondedAt != nil || tk.ResolvedAt != nil {
				t.Fatalf("ticket show --json: %+v", tk)
			}
			// Today and tomorrow are holidays: the first answer is due after them.
			afterTomorrow := tk.CreatedAt.UTC().Truncate(24*time.Hour).AddDate(0, 0, 2)
			if tk.ResponseBy.Before(afterTomorrow) || !tk.ResolutionBy.After(*tk.ResponseBy) {
				t.Errorf("response_by %s, resolution_by %s for a ticket created %s", tk.ResponseBy, tk.ResolutionBy, tk.CreatedAt)
			}
			var jobs []jobJSON
			inst.cliJSON(&jobs, "jobs")
			if len(jobs) != 6 {
				t.Errorf("mxdesk jobs lists %d jobs, want 6: %+v", len(jobs), jobs)
			}
			if out := inst.cli("jobs", "run", "sla-warnings"); !strings.Contains(out, "job sla-warnings ran") {
				t.Errorf("jobs run: %s", out)
			}
		})
	}
}
