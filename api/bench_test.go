package api_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// benchTickets is how many tickets the benchmark database holds.
const benchTickets = 100_000

// BenchmarkAPI100k measures the reads agents' tools make most, on a database of 100,000
// tickets (two messages each, four teams, a quarter of them open): the open tickets of
// the token's team (and of all teams, and with the total), and one ticket's messages.
// It reports the median and 99th percentile of the whole HTTP exchange over loopback.
//
//	go test ./api -run '^$' -bench API100k -benchtime 2000x
func BenchmarkAPI100k(b *testing.B) {
	for name, mk := range storetest.Dialects(b) {
		b.Run(name, func(b *testing.B) {
			st := storetest.Open(b, mk(b))
			f := setup(b, st)
			seedBench(b, st)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			get := func(b *testing.B, path, who string) {
				req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
				req.Header.Set("Authorization", "Bearer "+f.tokens[who])
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n < 100 {
					b.Fatalf("GET %s: %d, %d bytes", path, resp.StatusCode, n)
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for _, tc := range []struct {
				name, who string
				path      func() string
			}{
				{"tickets_open_team", "ana", func() string { return "/api/v1/tickets?status=open" }},
				{"tickets_open_admin", "admin", func() string { return "/api/v1/tickets?status=open" }},
				{"tickets_open_count", "ana", func() string { return "/api/v1/tickets?status=open&count=true" }},
				{"contacts_admin", "admin", func() string { return "/api/v1/contacts?limit=50" }},
				{"contacts_team", "ana", func() string { return "/api/v1/contacts?limit=50" }},
				{"search_rare", "admin", func() string { return fmt.Sprintf("/api/v1/tickets?q=problem+%d&limit=10", 90000+rng.IntN(9000)) }},
				{"messages", "admin", func() string {
					return fmt.Sprintf("/api/v1/tickets/%d/messages", 1+rng.IntN(benchTickets))
				}},
			} {
				b.Run(tc.name, func(b *testing.B) {
					for range 20 { // warm the caches and the connection
						get(b, tc.path(), tc.who)
					}
					took := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for range b.N {
						start := time.Now()
						get(b, tc.path(), tc.who)
						took = append(took, time.Since(start))
					}
					b.StopTimer()
					sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
					ms := func(q float64) float64 {
						return float64(took[int(q*float64(len(took)-1))].Microseconds()) / 1000
					}
					b.ReportMetric(ms(0.5), "p50-ms")
					b.ReportMetric(ms(0.99), "p99-ms")
				})
			}
		})
	}
}

// seedBench writes the tickets with multi-row INSERTs: the rows ingest writes, at a
// speed a benchmark can wait for.
func seedBench(b *testing.B, st *store.Store) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	teams := make([]int64, 4)
	for i, name := range []string{"Support", "Billing", "Sales", "Ops"} {
		id, err := store.EnsureTeam(ctx, st.DB, name)
		storetest.MustNotErr(b, "team", err)
		teams[i] = id
	}
	contacts := make([]int64, 1000)
	for i := range contacts {
		id, err := store.UpsertContact(ctx, st.DB, fmt.Sprintf("customer%d@example.org", i), fmt.Sprintf("Customer %d", i))
		storetest.MustNotErr(b, "contact", err)
		contacts[i] = id
	}
	statuses := []string{"open", "in_progress", "resolved", "closed", "closed", "closed", "closed", "open"}
	text := strings.Repeat("The printer on floor three prints every page twice and then jams. ", 6)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 250
	for from := 0; from < benchTickets; from += batch {
		err := st.Tx(ctx, func(tx *sqlx.Tx) error {
			var tq, mq strings.Builder
			var targs, margs []any
			tq.WriteString(`INSERT INTO tickets (id, subject, status, priority, team_id, contact_id, mailbox, created_at, updated_at, response_by, resolution_by) VALUES `)
			mq.WriteString(`INSERT INTO messages (ticket_id, direction, kind, from_addr, from_name, to_addrs, cc_addrs, message_id, subject, text_body, html_body, created_at) VALUES `)
			for i := from; i < from+batch; i++ {
				id := int64(i + 1)
				created := base.Add(time.Duration(i) * time.Minute)
				if i > from {
					tq.WriteString(", ")
					mq.WriteString(", ")
				}
				tq.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
				targs = append(targs, id, fmt.Sprintf("Printer problem %d", i), statuses[i%len(statuses)], "medium",
					teams[i%len(teams)], contacts[i%len(contacts)], "support@example.com", created, created.Add(time.Hour),
					created.Add(8*time.Hour), created.Add(40*time.Hour))
				mq.WriteString(`(?, 'in', 'customer', ?, '', '["support@example.com"]', '[]', ?, ?, ?, '', ?), ` +
					`(?, 'out', 'agent', 'ana@example.com', 'Ana', '[]', '[]', '', ?, ?, '', ?)`)
				margs = append(margs, id, fmt.Sprintf("customer%d@example.org", i%len(contacts)), fmt.Sprintf("m%d@example.org", i),
					"Printer problem", text+"\n\nOn Monday, someone wrote:\n> an older message", created,
					id, "Re: Printer problem", "Switch it off and on again.", created.Add(time.Hour))
			}
			if _, err := tx.ExecContext(ctx, tx.Rebind(tq.String()), targs...); err != nil {
				return fmt.Errorf("tickets: %w", err)
			}
			_, err := tx.ExecContext(ctx, tx.Rebind(mq.String()), margs...)
			return err
		})
		storetest.MustNotErr(b, "seed", err)
	}
	if st.Dialect == store.Postgres {
		// The explicit ids left the sequence behind.
		_, err := st.DB.Exec(`SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT MAX(id) FROM tickets))`)
		storetest.MustNotErr(b, "sequence", err)
	}
	// Fresh statistics and (PostgreSQL) a visibility map, as autovacuum would have made
	// after a bulk load: without it a COUNT reads every row's heap page.
	stmt := "ANALYZE"
	if st.Dialect == store.Postgres {
		stmt = "VACUUM ANALYZE"
	}
	_, err := st.DB.Exec(stmt)
	storetest.MustNotErr(b, "analyze", err)
	b.Logf("%s: seeded %d tickets, %d messages in %s", st.Dialect, benchTickets, 2*benchTickets, time.Since(start).Round(time.Second))
}

// BenchmarkAPIReply measures POST /tickets/{id}/messages with a reply: the message, the
// mail composed and queued for the customer, the first-response bookkeeping, one
// commit (fsync'd on SQLite: synchronous=FULL). p50 and p99 of the HTTP exchange.
//
//	go test ./api -run '^$' -bench APIReply -benchtime 500x
func BenchmarkAPIReply(b *testing.B) {
	for name, mk := range storetest.Dialects(b) {
		b.Run(name, func(b *testing.B) {
			st := storetest.Open(b, mk(b))
			f := setup(b, st)
			support, _ := f.seed(20, 0)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			body := `{"type":"reply","body":"Please switch it off at the wall and on again."}`
			took := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/tickets/%d/messages", f.srv.URL, support[i%len(support)]), strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+f.tokens["ana"])
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				took = append(took, time.Since(start))
				if resp.StatusCode != 201 {
					b.Fatalf("POST reply: %d", resp.StatusCode)
				}
			}
			b.StopTimer()
			sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
			ms := func(q float64) float64 { return float64(took[int(q*float64(len(took)-1))].Microseconds()) / 1000 }
			b.ReportMetric(ms(0.5), "p50-ms")
			b.ReportMetric(ms(0.99), "p99-ms")
		})
	}
}
