package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// BenchmarkIngest measures ingest alone: b.N spooled 4 KiB messages from 1,000 senders
// (or one), each a new ticket, drained by the lanes side by side as serve does
// (PostgreSQL also with one lane, for the comparison). The figure to compare with the
// SMTP side's accepted rate is msgs/s.
//
//	go test -run XXX -bench Ingest -benchtime 3000x ./ingest
//	MXDESK_TEST_POSTGRES=postgres://… go test -run XXX -bench Ingest -benchtime 3000x ./ingest
func BenchmarkIngest(b *testing.B) {
	dialects := storetest.Dialects(b)
	names := make([]string, 0, len(dialects))
	for name := range dialects {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, senders := range []int{1000, 1} {
			b.Run(fmt.Sprintf("%s/senders=%d", name, senders), func(b *testing.B) { benchIngest(b, dialects[name], senders, 0) })
			other := 1
			if name == store.SQLite {
				other = 2
			}
			b.Run(fmt.Sprintf("%s/senders=%d/lanes=%d", name, senders, other), func(b *testing.B) { benchIngest(b, dialects[name], senders, other) })
		}
		// Nothing handed over: every row is read back from the spool, as after a restart
		// or during a burst larger than the handover holds.
		b.Run(fmt.Sprintf("%s/senders=1000/read-back", name), func(b *testing.B) { benchIngest(b, dialects[name], 1000, -1) })
	}
}

// benchIngest is one BenchmarkIngest run: senders distinct From addresses (one is what
// smtp-source sends: every message after the hundredth meets the loop guard). lanes -1:
// the default lanes, and the rows are not handed over.
func benchIngest(b *testing.B, dialect func(testing.TB) string, senders, lanes int) {
	handOver := lanes >= 0
	lanes = max(lanes, 0)
	{
		{
			ctx := context.Background()
			st := storetest.Open(b, dialect(b))
			signer := threading.NewSigner(testSecret)
			router := NewRouter(testMailboxes, signer)
			g := newTestIngester(st, Config{Resolve: router.Resolve, Own: router.Own, Lanes: lanes}, ticket.Config{Signer: signer, Composer: testComposer(b), MaxAutoPerHour: 100},
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			body := string(make([]byte, 0))
			for len(body) < 3800 {
				body += "the printer on the third floor is broken again and nobody knows why.\r\n"
			}
			// Spooled and handed over, as serve's spool does.
			var ins []*store.Inbound
			err := st.Tx(ctx, func(tx *sqlx.Tx) error {
				for i := range b.N {
					from := fmt.Sprintf("customer%d@example.org", i%senders)
					raw := "From: Customer <" + from + ">\r\nTo: support@example.com\r\nSubject: printer " + fmt.Sprint(i) +
						"\r\nMessage-ID: <bench." + fmt.Sprint(i) + "@example.org>\r\nDate: Tue, 24 Nov 2026 12:00:00 +0000\r\n" +
						"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
					in := &store.Inbound{RemoteAddr: "127.0.0.1:1", Helo: "bench", MailFrom: from, Rcpt: []string{"support@example.com"}, Raw: []byte(raw)}
					if err := store.InsertInbound(ctx, tx, in); err != nil {
						return err
					}
					ins = append(ins, in)
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if handOver {
				g.Notify(ins)
			}
			b.ResetTimer()
			if err := g.Drain(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			var done int
			if err := st.DB.Get(&done, "SELECT COUNT(*) FROM inbound WHERE status = 'done'"); err != nil || done != b.N {
				b.Fatalf("%d rows done of %d (%v)", done, b.N, err)
			}
		}
	}
}
