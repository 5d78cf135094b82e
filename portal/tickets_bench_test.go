package portal_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/account"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// BenchmarkCustomerPages measures GET /my-tickets and a 200-message ticket page through
// the whole portal (session lookup, the customer scope, rendering) with 100,000 tickets
// of 10,000 customers in the database, the signed-in customer owning 50 of them; p50 and
// p99 per page, and the weight of /my-tickets (HTML + the stylesheet).
//
//	go test ./portal -run '^$' -bench CustomerPages -benchtime 300x
func BenchmarkCustomerPages(b *testing.B) {
	for name, mk := range storetest.Dialects(b) {
		b.Run(name, func(b *testing.B) {
			st := storetest.Open(b, mk(b))
			f := setupAccounts(b, st, accOptions{})
			big := seedTickets(b, st, 100_000, 10_000, 50)
			client := signedInClient(b, f)
			for _, page := range []struct{ name, path string }{
				{"my-tickets", "/my-tickets"},
				{"ticket-200-messages", fmt.Sprintf("/my-tickets/%d", big)},
			} {
				b.Run(page.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					var size int
					for b.Loop() {
						start := time.Now()
						resp, err := client.Get(f.srv.URL + page.path)
						if err != nil {
							b.Fatal(err)
						}
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Fatalf("%s: %d", page.path, resp.StatusCode)
						}
						lat = append(lat, time.Since(start))
						size = len(body)
					}
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
					b.ReportMetric(float64(size)/1024, "html-KiB")
				})
			}
		})
	}
}

// signedInClient signs the benchmark's customer in and returns a client with the cookie.
func signedInClient(b *testing.B, f *accFixture) *http.Client {
	br := f.browser(b)
	ctx := context.Background()
	hash, err := account.NewHasher(account.DefaultParams, 1).Hash(ctx, goodPassword)
	if err != nil {
		b.Fatal(err)
	}
	a, err := store.EnsureAccount(ctx, f.st.DB, "bench@example.org", store.Now())
	if err == nil {
		err = store.VerifyAccount(ctx, f.st.DB, a.ID, store.Now())
	}
	if err == nil {
		err = store.SetAccountPassword(ctx, f.st.DB, a.ID, hash, store.Now())
	}
	if err != nil {
		b.Fatal(err)
	}
	r := br.post("/login", "email", "bench@example.org", "password", goodPassword)
	if r.URL != "/" {
		b.Fatalf("sign-in: %d at %s", r.Code, r.URL)
	}
	return br.c
}

// seedTickets writes n tickets of `customers` contacts, the first `own` of them
// bench@example.org's, each with one message; the last of the customer's gets 200
// messages. It returns that ticket's id.
func seedTickets(b *testing.B, st *store.Store, n, customers, own int) int64 {
	ctx := context.Background()
	var big int64
	err := st.Tx(ctx, func(tx *sqlx.Tx) error {
		team, err := store.EnsureTeam(ctx, tx, "Support")
		if err != nil {
			return err
		}
		now := store.Now()
		contacts := make([]int64, customers)
		for i := range customers {
			email := fmt.Sprintf("customer%d@example.org", i)
			if i == 0 {
				email = "bench@example.org"
			}
			if contacts[i], err = store.UpsertContact(ctx, tx, email, ""); err != nil {
				return err
			}
		}
		const batch = 500
		for start := 0; start < n; start += batch {
			var rows []string
			var args []any
			for i := start; i < min(n, start+batch); i++ {
				contact := contacts[1+i%(customers-1)]
				if i%(n/own) == 0 {
					contact = contacts[0]
				}
				created := now.Add(-time.Duration(n-i) * time.Minute)
				rows = append(rows, "(?, ?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, fmt.Sprintf("Question number %d", i), []string{"open", "in_progress", "resolved", "closed"}[i%4],
					"medium", team, contact, "support@example.com", created, created, created.Add(8*time.Hour))
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(`INSERT INTO tickets (subject, status, priority, team_id, contact_id, mailbox,
				created_at, updated_at, response_by) VALUES `+strings.Join(rows, ", ")), args...); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO participants (ticket_id, contact_id, role, created_at)
			SELECT id, contact_id, 'contact', created_at FROM tickets`); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages (ticket_id, direction, kind, from_addr, text_body, created_at)
			SELECT id, 'in', 'customer', 'someone@example.org', 'The words of the first message of this ticket.', created_at FROM tickets`); err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &big, tx.Rebind(`SELECT MAX(id) FROM tickets WHERE contact_id = ?`), contacts[0]); err != nil {
			return err
		}
		for i := range 199 {
			kind := []string{"customer", "agent"}[i%2]
			if err := store.InsertMessage(ctx, tx, &store.Message{TicketID: big, Direction: "in", Kind: kind, FromAddr: "someone@example.org",
				Text: strings.Repeat(fmt.Sprintf("Message %d of a long conversation. ", i), 10), CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if st.Dialect == store.Postgres {
		if _, err := st.DB.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	return big
}

var absoluteURL = regexp.MustCompile(`(?i)(?:src|href|action)="(?:https?:)?//`)

// TestMyTicketsPageWeight keeps /my-tickets with a full page of 25 tickets under 60 KB
// with its stylesheet, and free of requests to other hosts.
func TestMyTicketsPageWeight(t *testing.T) {
	st := storetest.Open(t, storetest.Dialects(t)[store.SQLite](t))
	f := setupAccounts(t, st, accOptions{})
	for i := range 30 {
		f.mailTicket(t, "alice@example.org", fmt.Sprintf("A rather long subject line for ticket number %d, as customers write them", i), "Words.")
	}
	b := f.browser(t)
	f.signUp(t, b, "alice@example.org", goodPassword)
	html := b.get("/my-tickets").Body
	css := b.get("/portal.css").Body
	if total := len(html) + len(css); total > 60_000 || strings.Count(html, "<tr") != 26 {
		t.Errorf("/my-tickets weighs %d bytes (HTML %d, CSS %d), rows %d", total, len(html), len(css), strings.Count(html, "<tr")-1)
	}
	if m := absoluteURL.FindString(html); m != "" {
		t.Errorf("a request to another host: %s", m)
	}
	t.Logf("HTML %d bytes + CSS %d bytes", len(html), len(css))
}
