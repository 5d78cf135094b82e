package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// BenchmarkSpoolCommit is the durable commit smtpd waits for before its 250: a raw
// message (4 KiB, or 100 KiB with 20 senders) and its spool row, with 1 and 20 sessions
// committing at once (group commit turns the 20 into a few transactions). One op is one
// message; msg/s and the p99 of a Commit call are reported. On PostgreSQL too when
// MXDESK_TEST_POSTGRES is set.
func BenchmarkSpoolCommit(b *testing.B) {
	line := "the printer on the third floor is broken again.\r\n"
	for name, mk := range storetest.Dialects(b) {
		for _, c := range []struct{ senders, lines int }{{1, 84}, {20, 84}, {20, 2100}} {
			senders, body := c.senders, "Subject: bench\r\n\r\n"+strings.Repeat(line, c.lines)
			b.Run(fmt.Sprintf("%s/senders=%d/size=%dKiB", name, senders, (len(body)+512)/1024), func(b *testing.B) {
				st := storetest.Open(b, mk(b))
				sp := st.NewSpool(nil)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { sp.Run(ctx); close(done) }()
				defer func() { sp.Stop(); cancel(); <-done }()
				var (
					mu   sync.Mutex
					lats []time.Duration
					wg   sync.WaitGroup
					next = make(chan int)
				)
				b.SetBytes(int64(len(body)))
				b.ResetTimer()
				start := time.Now()
				for w := 0; w < senders; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						var mine []time.Duration
						for i := range next {
							// Distinct bytes per message: blobs are content-addressed.
							raw := []byte(fmt.Sprintf("Message-ID: <%d.%d@bench>\r\n%s", w, i, body))
							t0 := time.Now()
							if err := sp.Commit(ctx, &store.Inbound{MailFrom: "a@example.org", Rcpt: []string{"support@example.com"}, Raw: raw}); err != nil {
								b.Error(err)
								return
							}
							mine = append(mine, time.Since(t0))
						}
						mu.Lock()
						lats = append(lats, mine...)
						mu.Unlock()
					}()
				}
				for i := 0; i < b.N; i++ {
					next <- i
				}
				close(next)
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msg/s")
				if len(lats) > 0 {
					sortDurations(lats)
					b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
				}
			})
		}
	}
}

func sortDurations(d []time.Duration) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j] < d[j-1]; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

// BenchmarkDueInbound is ingest's poll for work with a backlog of new rows behind it, as
// in a burst where SMTP accepts faster than ingest finishes: the cost of one poll should
// not grow with the backlog.
func BenchmarkDueInbound(b *testing.B) {
	for name, mk := range storetest.Dialects(b) {
		for _, backlog := range []int{100, 5000} {
			b.Run(fmt.Sprintf("%s/backlog=%d", name, backlog), func(b *testing.B) {
				st := storetest.Open(b, mk(b))
				ctx := context.Background()
				for i := 0; i < backlog; i += 500 {
					err := st.Tx(ctx, func(tx *sqlx.Tx) error {
						for j := i; j < min(i+500, backlog); j++ {
							if err := store.InsertInbound(ctx, tx, &store.Inbound{Raw: fmt.Appendf(nil, "m%d", j)}); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for b.Loop() {
					if ids, err := st.DueInbound(ctx, 32); err != nil || len(ids) != 32 {
						b.Fatalf("due: %d ids, %v", len(ids), err)
					}
				}
			})
		}
	}
}
