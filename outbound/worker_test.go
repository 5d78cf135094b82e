package outbound_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/outbound/sinktest"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// queueOne composes a notice and writes it to the outbox, as the ticket service does.
func queueOne(t *testing.T, st *store.Store) *store.Outbox {
	t.Helper()
	c, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Support <support@example.com>"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Compose(outbound.Notice{Kind: outbound.KindClosed, Lang: "en", TicketID: 1, TicketSubject: "x",
		To: mail.Address{Address: "alice@example.org"}, AutoSubmitted: "auto-generated"})
	if err != nil {
		t.Fatal(err)
	}
	row := &store.Outbox{Kind: outbound.KindClosed, Automatic: true, MailFrom: m.From, RcptTo: m.To, MessageID: m.MessageID, Raw: m.Raw}
	err = st.Tx(context.Background(), func(tx *sqlx.Tx) error { return st.InsertOutbox(context.Background(), tx, row) })
	if err != nil {
		t.Fatal(err)
	}
	return row
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// drain runs the worker until no row is due or the deadline passes.
func drain(t *testing.T, w *outbound.Worker, until func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !until() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTemporaryFailuresAreRetriedWithTheSameMessageID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		sink := sinktest.Start(t)
		sink.SetRefuse(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}, 3)
		row := queueOne(t, st)
		w := outbound.NewWorker(st, outbound.WorkerConfig{Relay: sink.Addr, RetrySchedule: []time.Duration{time.Millisecond}}, quiet())
		drain(t, w, func() bool { return len(sink.Messages()) > 0 })
		// Nothing left to send: no second copy can follow.
		if n, err := st.CountOutbox(context.Background(), store.OutboxPending, store.OutboxSending); err != nil || n != 0 {
			t.Fatalf("%d rows still to send (%v) after the delivery", n, err)
		}
		msgs := sink.Messages()
		if len(msgs) != 1 || sink.Attempts() != 4 {
			t.Fatalf("sink got %d mails after %d attempts, want 1 after 4", len(msgs), sink.Attempts())
		}
		if got := msgs[0].Header.Get("Message-ID"); got != "<"+row.MessageID+">" {
			t.Errorf("delivered Message-ID %s, queued %s", got, row.MessageID)
		}
		rows, _ := st.ListOutbox(context.Background(), "", 0, 10)
		if len(rows) != 1 || rows[0].Status != store.OutboxSent || rows[0].Attempts != 4 {
			t.Errorf("outbox = %+v, want one sent row after 4 attempts", rows)
		}
	})
}

func TestPermanentFailureEndsAsFailedWithTheServersReply(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		sink := sinktest.Start(t)
		sink.SetRefuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}, -1)
		queueOne(t, st)
		w := outbound.NewWorker(st, outbound.WorkerConfig{Relay: sink.Addr, RetrySchedule: []time.Duration{time.Millisecond}}, quiet())
		var rows []store.Outbox
		drain(t, w, func() bool {
			rows, _ = st.ListOutbox(context.Background(), store.OutboxFailed, 0, 10)
			return len(rows) == 1
		})
		if !strings.Contains(rows[0].LastError, "no such user here") || rows[0].Attempts != 1 {
			t.Errorf("failed row = %+v, want the relay's reply after one attempt", rows[0])
		}
		if n := len(sink.Messages()); n != 0 {
			t.Errorf("sink got %d mails", n)
		}
	})
}

func TestUnreachableRelayIsDeferredNotFailed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		queueOne(t, st)
		w := outbound.NewWorker(st, outbound.WorkerConfig{Relay: "127.0.0.1:1", RetrySchedule: []time.Duration{time.Hour}}, quiet())
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		rows, _ := st.ListOutbox(context.Background(), "", 0, 10)
		if len(rows) != 1 || rows[0].Status != store.OutboxPending || !rows[0].NextAttemptAt.After(time.Now().Add(50*time.Minute)) ||
			!strings.Contains(rows[0].LastError, "127.0.0.1:1") {
			t.Errorf("row after a refused connection = %+v, want pending, retried in an hour, the error naming the relay", rows[0])
		}
	})
}

// TestMailInFlightAtACrashIsResentWithTheSameMessageID: a worker that claimed a row and
// died leaves it "sending"; on restart it goes out again under its original Message-ID,
// so the receiver can deduplicate.
func TestMailInFlightAtACrashIsResentWithTheSameMessageID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		row := queueOne(t, st)
		claimed, err := st.ClaimOutbox(ctx, 10) // the worker that "dies" after claiming
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v %v", claimed, err)
		}
		if st.Dialect == store.SQLite {
			if n, err := st.ReleaseSending(ctx); err != nil || n != 1 {
				t.Fatalf("release: %d %v", n, err)
			}
		} else {
			// PostgreSQL replicas wait for the lease; move the clock by editing the row.
			st.DB.MustExec(st.DB.Rebind("UPDATE outbox SET next_attempt_at = ? WHERE id = ?"), time.Now().Add(-time.Minute).UTC(), row.ID)
		}
		sink := sinktest.Start(t)
		w := outbound.NewWorker(st, outbound.WorkerConfig{Relay: sink.Addr}, quiet())
		drain(t, w, func() bool { return len(sink.Messages()) == 1 })
		if got := sink.Messages()[0].Header.Get("Message-ID"); got != "<"+row.MessageID+">" {
			t.Errorf("resent as %s, queued as %s", got, row.MessageID)
		}
	})
}

// testKeysForBench returns an RSA-2048 PKCS#1 test key, generated per run.
func testKeysForBench(tb testing.TB) []byte {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}
