// Command seed fills an mxdesk database with a grown helpdesk's history, so bench/run
// --grown can measure ingest against it: by default 1,000,000 tickets and 3,000,000
// messages, with 250,000 contacts, a participant and a "created" event per ticket, and one
// sent acknowledgement per ticket in the outbox (all older than the loop guard's hour).
//
//	seed -db sqlite:PATH|postgres://… [-tickets N] [-messages N] [-chunk N]
//
// It migrates the database (unless -migrate=false: bench/run lets the mxdesk binary under
// test create its own schema), then generates the rows inside the database with bulk
// INSERT … SELECT over a number series (generate_series on PostgreSQL, a recursive CTE on
// SQLite), -chunk rows per transaction; on SQLite with synchronous=OFF for the seeding
// connection only (a crash mid-seed means seeding again). Nothing here goes through
// ingest: the point is the size of the tables and indexes, not their history.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

func main() {
	dbURL := flag.String("db", "", "database URL")
	tickets := flag.Int64("tickets", 1_000_000, "tickets")
	messages := flag.Int64("messages", 3_000_000, "messages (at least one per ticket)")
	contacts := flag.Int64("contacts", 250_000, "contacts")
	chunk := flag.Int64("chunk", 200_000, "rows per transaction")
	migrate := flag.Bool("migrate", true, "apply this tree's migrations first (bench/run migrates with the binary under test instead and passes -migrate=false)")
	flag.Parse()
	if err := run(*dbURL, *tickets, *messages, *contacts, *chunk, *migrate); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(url string, tickets, messages, contacts, chunk int64, migrate bool) error {
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		return err
	}
	defer st.Close()
	if migrate {
		if _, err := st.Migrate(ctx); err != nil {
			return err
		}
	}
	team, err := store.EnsureTeam(ctx, st.DB, "Support")
	if err != nil {
		return err
	}
	var n int64
	if err := st.DB.GetContext(ctx, &n, "SELECT COUNT(*) FROM tickets"); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d tickets already there: seed an empty database", n)
	}
	pg := st.Dialect == store.Postgres
	// ts is a timestamp i minutes after 2024-01-01, i a SQL expression.
	ts := func(i string) string {
		if pg {
			return fmt.Sprintf("(TIMESTAMPTZ '2024-01-01 00:00:00+00' + (%s) * INTERVAL '1 second')", i)
		}
		return fmt.Sprintf("strftime('%%Y-%%m-%%d %%H:%%M:%%f', '2024-01-01', '+' || (%s) || ' seconds')", i)
	}
	blob := func(s string) string {
		if pg {
			return "convert_to(" + s + ", 'UTF8')"
		}
		return "CAST(" + s + " AS BLOB)"
	}
	body := "'" + strings.Repeat("Hello, the printer on the third floor is broken again. ", 6) + "'"
	steps := []struct {
		table string
		total int64
		sql   string // INSERT … SELECT using i from the series
	}{
		{"contacts", contacts, `INSERT INTO contacts (id, email, name, created_at)
			SELECT i, 'seed' || i || '@customers.example.net', 'Customer ' || i, ` + ts("i") + ` FROM series`},
		{"tickets", tickets, fmt.Sprintf(`INSERT INTO tickets (id, subject, status, priority, team_id, contact_id, mailbox, created_at, updated_at)
			SELECT i, 'Seeded ticket ' || i, CASE WHEN i %% 10 = 0 THEN 'open' ELSE 'closed' END, 'medium', %d,
			1 + i %% %d, 'support@example.com', %s, %s FROM series`, team, contacts, ts("i*30"), ts("i*30+600"))},
		{"participants", tickets, fmt.Sprintf(`INSERT INTO participants (ticket_id, contact_id, role, created_at)
			SELECT i, 1 + i %% %d, 'contact', %s FROM series`, contacts, ts("i*30"))},
		{"events", tickets, `INSERT INTO events (ticket_id, kind, actor, data, created_at)
			SELECT i, 'created', 'seed' || i || '@customers.example.net', '{"reason":"new"}', ` + ts("i*30") + ` FROM series`},
		{"outbox", tickets, `INSERT INTO outbox (ticket_id, kind, automatic, mail_from, rcpt_to, message_id, raw, status, attempts, next_attempt_at, created_at, sent_at)
			SELECT i, 'acknowledgement', ` + boolean(pg, true) + `, 'support@example.com', 'seed' || (1 + i % ` + fmt.Sprint(contacts) + `) || '@customers.example.net',
			'ack.' || i || '@example.com', ` + blob("'Subject: seeded acknowledgement'") + `, 'sent', 1, ` + ts("i*30") + `, ` + ts("i*30") + `, ` + ts("i*30+1") + ` FROM series`},
		// Message j belongs to ticket 1 + (j-1) % tickets: the first pass over the tickets
		// is each ticket's opening message, later passes alternate agent and customer.
		{"messages", messages, fmt.Sprintf(`INSERT INTO messages (ticket_id, direction, kind, from_addr, to_addrs, cc_addrs, message_id, in_reply_to, refs, subject, text_body, generated, created_at)
			SELECT 1 + (i - 1) %% %[1]d,
			CASE WHEN i > %[1]d AND (i / %[1]d) %% 2 = 1 THEN 'out' ELSE 'in' END,
			CASE WHEN i > %[1]d AND (i / %[1]d) %% 2 = 1 THEN 'agent' ELSE 'customer' END,
			'seed' || (1 + i %% %[2]d) || '@customers.example.net', '["support@example.com"]', '[]',
			'seed.' || i || '@customers.example.net', '', '', 'Seeded ticket ' || (1 + (i - 1) %% %[1]d), %[3]s,
			CASE WHEN i > %[1]d AND (i / %[1]d) %% 2 = 1 THEN %[4]s ELSE %[5]s END, %[6]s FROM series`,
			tickets, contacts, body, boolean(pg, true), boolean(pg, false), ts("i*10"))},
	}
	start := time.Now()
	for _, s := range steps {
		t0 := time.Now()
		for lo := int64(1); lo <= s.total; lo += chunk {
			hi := min(lo+chunk-1, s.total)
			var q string
			if pg {
				q = strings.Replace(s.sql, "FROM series", fmt.Sprintf("FROM generate_series(%d::bigint, %d::bigint) AS series(i)", lo, hi), 1)
			} else {
				q = fmt.Sprintf("WITH RECURSIVE series(i) AS (SELECT %d UNION ALL SELECT i + 1 FROM series WHERE i < %d) ", lo, hi) + s.sql
			}
			if err := exec(ctx, st, q); err != nil {
				return fmt.Errorf("%s rows %d-%d: %w", s.table, lo, hi, err)
			}
		}
		fmt.Fprintf(os.Stderr, "seed: %-12s %9d rows in %s\n", s.table, s.total, time.Since(t0).Round(time.Millisecond))
	}
	if pg {
		for _, t := range []string{"contacts", "tickets", "events", "outbox", "messages"} {
			if _, err := st.DB.ExecContext(ctx, fmt.Sprintf("SELECT setval(pg_get_serial_sequence('%s', 'id'), (SELECT MAX(id) FROM %s))", t, t)); err != nil {
				return fmt.Errorf("%s sequence: %w", t, err)
			}
		}
		// What autovacuum would have done for a database that grew over months.
		if _, err := st.DB.ExecContext(ctx, "VACUUM ANALYZE"); err != nil {
			return fmt.Errorf("vacuum analyze: %w", err)
		}
	} else if _, err := st.DB.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	fmt.Fprintf(os.Stderr, "seed: done in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func boolean(pg, v bool) string {
	switch {
	case pg && v:
		return "TRUE"
	case pg:
		return "FALSE"
	case v:
		return "1"
	}
	return "0"
}

// exec runs one chunk in its own transaction; on SQLite on a connection with
// synchronous=OFF, since a seed interrupted is a seed to redo.
func exec(ctx context.Context, st *store.Store, q string) error {
	conn, err := st.DB.Connx(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if st.Dialect == store.SQLite {
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=OFF"); err != nil {
			return err
		}
		defer conn.ExecContext(ctx, "PRAGMA synchronous=FULL")
	}
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, q); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
