package outbound_test

import (
	"context"
	"net/mail"
	"os"
	"path/filepath"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// BenchmarkWorkerToSink measures outbound throughput: b.N composed, DKIM-signed
// notifications queued on SQLite and delivered by one worker to an SMTP sink on
// loopback, one connection per mail (as to a relay).
//
//	go test -run=XXX -bench=WorkerToSink -benchtime=2000x ./outbound
//	smtp-sink 127.0.0.1:2626 1000 & MXDESK_BENCH_RELAY=127.0.0.1:2626 go test -run=XXX -bench=WorkerToSink -benchtime=2000x ./outbound
func BenchmarkWorkerToSink(b *testing.B) {
	st := storetest.Open(b, "sqlite:"+filepath.Join(b.TempDir(), "b.db"))
	c, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Support <support@example.com>"})
	if err != nil {
		b.Fatal(err)
	}
	keys := testKeysForBench(b)
	signer, _ := outbound.ParseDKIMKey(keys)
	ctx := context.Background()
	err = st.Tx(ctx, func(tx *sqlx.Tx) error {
		for range b.N {
			m, err := c.Compose(outbound.Notice{Kind: outbound.KindAck, Lang: "en", TicketID: 1, TicketSubject: "bench",
				To: mail.Address{Address: "alice@example.org"}, AutoSubmitted: "auto-replied"})
			if err != nil {
				return err
			}
			if err := st.InsertOutbox(ctx, tx, &store.Outbox{Kind: "acknowledgement", MailFrom: m.From, RcptTo: m.To,
				MessageID: m.MessageID, Raw: m.Raw}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// MXDESK_BENCH_RELAY points the worker at a real peer instead, such as Postfix's
	// `smtp-sink 127.0.0.1:2626 1000`; the run then ends when the outbox is empty.
	relay := os.Getenv("MXDESK_BENCH_RELAY")
	var sink *sinktest.Sink
	if relay == "" {
		sink = sinktest.Start(b)
		relay = sink.Addr
	}
	done := func() bool {
		if sink != nil {
			return len(sink.Messages()) >= b.N
		}
		n, err := st.CountOutbox(ctx, store.OutboxSent)
		return err == nil && n >= b.N
	}
	w := outbound.NewWorker(st, outbound.WorkerConfig{Relay: relay,
		DKIM: &outbound.DKIMKey{Domain: "example.com", Selector: "mx1", Signer: signer}}, quiet())
	b.ResetTimer()
	for !done() {
		if _, err := w.RunOnce(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
}
