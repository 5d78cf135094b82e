package api_test

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/api"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

type ticketPage struct {
	Data       []api.Ticket `json:"data"`
	NextCursor *string      `json:"next_cursor"`
	Total      *int64       `json:"total"`
}

// seed mails in n tickets to Support (from alice and dave, alternating) and m to
// Billing (from carol); it returns their ids.
func (f *fixture) seed(n, m int) (support, billing []int64) {
	f.t.Helper()
	for i := range n {
		from := "alice@example.org"
		if i%2 == 1 {
			from = "dave@example.net"
		}
		support = append(support, f.mail(from, "support@example.com",
			customerMail(from, "support@example.com", fmt.Sprintf("Support question %d", i), fmt.Sprintf("s%d@example.org", i), "Hello, something is broken.")))
	}
	for i := range m {
		billing = append(billing, f.mail("carol@example.org", "billing@example.com",
			customerMail("carol@example.org", "billing@example.com", fmt.Sprintf("Invoice %d", i), fmt.Sprintf("b%d@example.org", i), "My invoice is wrong.")))
	}
	return support, billing
}

func ids(ts []api.Ticket) []int64 {
	var out []int64
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// walk follows next_cursor from path and returns every ticket id in order.
func (f *fixture) walk(path, who string) []int64 {
	f.t.Helper()
	var all []int64
	next := path
	for pages := 0; ; pages++ {
		if pages > 50 {
			f.t.Fatalf("more than 50 pages from %s", path)
		}
		r := f.get(next, who)
		if r.status != 200 {
			f.t.Fatalf("GET %s: %d %s", next, r.status, r.body)
		}
		var p ticketPage
		r.decode(f.t, &p)
		all = append(all, ids(p.Data)...)
		if p.NextCursor == nil {
			return all
		}
		sep := "&"
		if !strings.Contains(path, "?") {
			sep = "?"
		}
		next = path + sep + "cursor=" + *p.NextCursor
	}
}

func TestTicketsAreListedPageByPageWithinTheTokensTeams(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		support, billing := f.seed(7, 3)

		desc := func(xs []int64) []int64 {
			out := append([]int64(nil), xs...)
			sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
			return out
		}
		all := append(append([]int64(nil), support...), billing...)
		for _, tc := range []struct {
			who, path string
			want      []int64
		}{
			{"ana", "/api/v1/tickets?limit=3", desc(support)},
			{"ana", "/api/v1/tickets?limit=2&sort=id", support},
			{"ana", "/api/v1/tickets?limit=2&sort=-created_at", desc(support)},
			{"bob", "/api/v1/tickets?limit=1", desc(billing)},
			{"admin", "/api/v1/tickets?limit=4&sort=-id", desc(all)},
			{"nobody", "/api/v1/tickets", nil},
			{"admin", "/api/v1/tickets?team=Billing&sort=id", billing},
			{"ana", "/api/v1/tickets?team=Billing", nil}, // another team: filtered to nothing, not widened
			{"admin", "/api/v1/tickets?contact=dave@example.net&sort=id", []int64{support[1], support[3], support[5]}},
			{"admin", "/api/v1/tickets?contact=nobody@example.net", nil},
			{"admin", "/api/v1/tickets?q=INVOICE+1", []int64{billing[1]}},
			{"admin", "/api/v1/tickets?q=broken&sort=id&limit=100", support},
			{"admin", "/api/v1/tickets?q=100%25", nil}, // % is literal, not a wildcard
			{"ana", "/api/v1/tickets?status=closed", nil},
			{"ana", "/api/v1/tickets?status=open&priority=medium&limit=5&sort=id", support},
			{"ana", "/api/v1/tickets?assignee=none&sort=id", support},
			{"ana", "/api/v1/tickets?updated_since=2000-01-01T00:00:00Z&sort=id", support},
			{"ana", "/api/v1/tickets?updated_since=1h&sort=id", support},
			{"ana", "/api/v1/tickets?updated_since=2999-01-01T00:00:00Z", nil},
		} {
			got := f.walk(tc.path, tc.who)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("%s %s: %v, want %v", tc.who, tc.path, got, tc.want)
			}
		}

		// count=true adds the total of every page.
		var p ticketPage
		f.get("/api/v1/tickets?limit=2&count=true", "ana").decode(t, &p)
		if p.Total == nil || *p.Total != 7 || len(p.Data) != 2 || p.NextCursor == nil {
			t.Errorf("count: total %v, %d on the page, next %v; want 7, 2, a cursor", p.Total, len(p.Data), p.NextCursor)
		}
		p = ticketPage{}
		f.get("/api/v1/tickets", "ana").decode(t, &p)
		if p.Total != nil {
			t.Errorf("total sent unasked: %d", *p.Total)
		}
		tk := p.Data[0]
		if tk.Team.Name != "Support" || tk.Contact.Email == "" || tk.Status != "open" || tk.SLA.ResponseBy == nil ||
			tk.Mailbox != "support@example.com" || tk.CreatedAt.Location() != time.UTC {
			t.Errorf("ticket as listed: %+v", tk)
		}
	})
}

func TestOneTicketCarriesItsVersionAndSLA(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		support, billing := f.seed(1, 1)
		r := f.get(fmt.Sprintf("/api/v1/tickets/%d", support[0]), "ana")
		if r.status != 200 || r.header.Get("ETag") == "" {
			t.Fatalf("GET ticket: %d, ETag %q", r.status, r.header.Get("ETag"))
		}
		var tk api.Ticket
		r.decode(t, &tk)
		if tk.ID != support[0] || tk.Subject != "Support question 0" || tk.SLA.ResolutionBy == nil || tk.Assignee != nil {
			t.Errorf("ticket %+v", tk)
		}
		// Another team's ticket is not there for ana; the admin sees it.
		if r := f.get(fmt.Sprintf("/api/v1/tickets/%d", billing[0]), "ana"); r.status != 404 {
			t.Errorf("ana on Billing's ticket: %d", r.status)
		}
		if r := f.get(fmt.Sprintf("/api/v1/tickets/%d", billing[0]), "admin"); r.status != 200 {
			t.Errorf("admin on Billing's ticket: %d", r.status)
		}
	})
}

type messagesOut struct {
	Data []api.Message `json:"data"`
}

func TestMessagesShowWhatPeopleReadTheWholeTextAndTheFiles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		id := f.mail("alice@example.org", "support@example.com", withAttachment("alice@example.org", "support@example.com", "Photo", "p1@example.org"))
		_, billing := f.seed(0, 1)
		r := f.get(fmt.Sprintf("/api/v1/tickets/%d/messages", id), "ana")
		if r.status != 200 {
			t.Fatalf("messages: %d %s", r.status, r.body)
		}
		var out messagesOut
		r.decode(t, &out)
		if len(out.Data) != 1 {
			t.Fatalf("%d messages, want 1", len(out.Data))
		}
		m := out.Data[0]
		if strings.Contains(m.Text, "older text") || !strings.Contains(m.Text, "The photo is attached") {
			t.Errorf("text %q: want the quote stripped", m.Text)
		}
		if !strings.Contains(m.TextFull, "older text") {
			t.Errorf("text_full %q: want everything", m.TextFull)
		}
		if strings.Contains(m.HTML, "<script") || !strings.Contains(m.HTML, "<b>attached</b>") {
			t.Errorf("html %q: want sanitised", m.HTML)
		}
		if m.Kind != "customer" || m.Internal || m.Direction != "in" || m.From.Email != "alice@example.org" || m.Auth == nil || m.Auth.DKIM != "pass" {
			t.Errorf("message %+v", m)
		}
		if len(m.Attachments) != 1 || m.Attachments[0].Filename != "photo.png" {
			t.Fatalf("attachments %+v", m.Attachments)
		}
		a := m.Attachments[0]
		r = f.get(a.URL, "ana")
		if r.status != 200 || r.header.Get("Content-Type") != "image/png" || int64(len(r.body)) != a.Size ||
			!strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") || !strings.HasPrefix(string(r.body), "\x89PNG") {
			t.Errorf("attachment: %d %v %d bytes", r.status, r.header, len(r.body))
		}
		// Another team's agent gets a 404 for the file and for the messages.
		if r := f.get(a.URL, "bob"); r.status != 404 {
			t.Errorf("bob on ana's attachment: %d", r.status)
		}
		if r := f.get(fmt.Sprintf("/api/v1/tickets/%d/messages", billing[0]), "ana"); r.status != 404 {
			t.Errorf("ana on Billing's messages: %d", r.status)
		}
	})
}

func TestContactsAreThoseWithTicketsInTheTokensTeams(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		f.seed(3, 2)
		type contactPage struct {
			Data       []api.Contact `json:"data"`
			NextCursor *string       `json:"next_cursor"`
		}
		emails := func(who, path string) []string {
			var out []string
			next := path
			for {
				var p contactPage
				r := f.get(next, who)
				if r.status != 200 {
					t.Fatalf("%s: %d %s", next, r.status, r.body)
				}
				r.decode(t, &p)
				for _, c := range p.Data {
					out = append(out, c.Email+":"+strconv.FormatInt(c.Tickets, 10))
				}
				if p.NextCursor == nil {
					return out
				}
				next = path + "&cursor=" + *p.NextCursor
			}
		}
		for _, tc := range []struct{ who, path, want string }{
			{"ana", "/api/v1/contacts?limit=1", "[alice@example.org:2 dave@example.net:1]"},
			{"bob", "/api/v1/contacts?limit=1", "[carol@example.org:2]"},
			{"admin", "/api/v1/contacts?limit=2", "[alice@example.org:2 dave@example.net:1 carol@example.org:2]"},
			{"admin", "/api/v1/contacts?q=CAROL", "[carol@example.org:2]"},
			{"nobody", "/api/v1/contacts?limit=5", "[]"},
		} {
			if got := fmt.Sprint(emails(tc.who, tc.path)); got != tc.want && !(tc.want == "[]" && got == "[]") {
				t.Errorf("%s %s: %s, want %s", tc.who, tc.path, got, tc.want)
			}
		}
		var carol int64
		storetest.MustNotErr(t, "carol", st.DB.Get(&carol, "SELECT id FROM contacts WHERE email = 'carol@example.org'"))
		var d struct {
			api.Contact
			Tickets []api.Ticket `json:"tickets"`
		}
		r := f.get(fmt.Sprintf("/api/v1/contacts/%d", carol), "bob")
		if r.status != 200 {
			t.Fatalf("contact: %d %s", r.status, r.body)
		}
		r.decode(t, &d)
		if d.Email != "carol@example.org" || len(d.Tickets) != 2 {
			t.Errorf("contact %+v", d)
		}
		if r := f.get(fmt.Sprintf("/api/v1/contacts/%d", carol), "ana"); r.status != 404 {
			t.Errorf("ana on a Billing-only contact: %d", r.status)
		}
	})
}

func TestFeedbackSumsUpRatingsPerTeamAndAgent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		support, billing := f.seed(2, 1)
		// Ana answered support[0]; the customers rated.
		storetest.MustNotErr(t, "event", store.InsertEvent(f.ctx, st.DB, support[0], "agent_replied", "ana@example.com", "{}"))
		rate := func(id int64, rating int, choice string) {
			storetest.MustNotErr(t, "feedback", store.InsertFeedback(f.ctx, st.DB, &store.Feedback{TicketID: id, Rating: rating}))
			storetest.MustNotErr(t, "event", store.InsertEvent(f.ctx, st.DB, id, "rated", "customer", `{"choice":"`+choice+`"}`))
		}
		rate(support[0], 5, "excellent")
		rate(support[1], 3, "3")
		rate(billing[0], 1, "poor")
		var rep api.FeedbackReport
		r := f.get("/api/v1/feedback", "admin")
		if r.status != 200 {
			t.Fatalf("feedback: %d %s", r.status, r.body)
		}
		r.decode(t, &rep)
		if rep.Summary.Count != 3 || rep.Summary.Average != 3 || rep.Summary.Positive != 0.333 || rep.Summary.Stars != [5]int{1, 0, 1, 0, 1} {
			t.Errorf("summary %+v", rep.Summary)
		}
		if len(rep.Teams) != 2 || rep.Teams[0].Name != "Support" || rep.Teams[0].Average != 4 || rep.Teams[1].Average != 1 {
			t.Errorf("teams %+v", rep.Teams)
		}
		if len(rep.Agents) != 1 || rep.Agents[0].Name != "ana@example.com" || rep.Agents[0].Count != 1 {
			t.Errorf("agents %+v", rep.Agents)
		}
		if rep.Ratings[0].Choice != "excellent" || rep.Ratings[0].Agents[0] != "ana@example.com" {
			t.Errorf("ratings %+v", rep.Ratings)
		}
		// Bob sees Billing's only; a filter by agent narrows to the tickets they answered.
		f.get("/api/v1/feedback", "bob").decode(t, &rep)
		if rep.Summary.Count != 1 || rep.Ratings[0].TicketID != billing[0] {
			t.Errorf("bob's feedback %+v", rep)
		}
		f.get("/api/v1/feedback?agent=ana@example.com&since=1h", "admin").decode(t, &rep)
		if rep.Summary.Count != 1 || rep.Ratings[0].TicketID != support[0] {
			t.Errorf("ana's feedback %+v", rep)
		}
		f.get("/api/v1/feedback?until=2000-01-01T00:00:00Z&since=2h", "admin").decode(t, &rep)
		if rep.Summary.Count != 0 {
			t.Errorf("an empty period has %d ratings", rep.Summary.Count)
		}
	})
}

func TestTheDescriptionIsServedWithoutAToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setup(t, st)
		r := f.get("/api/v1/openapi.json", "")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"openapi":"3.0.3"`) {
			t.Errorf("openapi.json: %d %.200s", r.status, r.body)
		}
	})
}
