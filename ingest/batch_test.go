package ingest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/ticket"
)

func TestBatch(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, h *harness)
	}{
		{
			name: "one batch holds two new tickets, an unroutable row and an MTA retry of the first; each gets its own outcome",
			run: func(t *testing.T, h *harness) {
				first := h.spool("alice@example.org", support, customer(alice, "b-1@example.org", "Batch"))
				bob := h.spool("bob@example.org", support, customer("Bob <bob@example.org>", "b-2@example.org", "Another matter"))
				lost := h.spool("alice@example.org", []string{"sales@example.com"}, customer(alice, "b-3@example.org", "Nobody"))
				again := h.spool("alice@example.org", support, customer(alice, "b-1@example.org", "Batch"))
				n, err := h.g.RunOnce(h.ctx)
				storetest.MustNotErr(t, "run once", err)
				if n != 4 {
					t.Fatalf("RunOnce looked at %d rows, want 4", n)
				}
				h.drain() // a slow machine may hit the batch time before the last row
				want := map[int64]string{first: store.InboundDone, bob: store.InboundDone, lost: store.InboundFailed, again: store.InboundDuplicate}
				for id, status := range want {
					if got := h.inbound(id); got.Status != status {
						t.Errorf("row %d is %q (%s), want %q", id, got.Status, got.Error, status)
					}
				}
				if got := h.inbound(lost).Error; !strings.Contains(got, errNoRoute.Error()) {
					t.Errorf("unroutable row's error = %q", got)
				}
				// The retry was recognised inside the transaction that stored the first copy.
				if n := h.count("SELECT COUNT(*) FROM tickets"); n != 2 {
					t.Errorf("%d tickets, want 2", n)
				}
				for id := int64(1); id <= 2; id++ {
					if ms := h.messages(id); len(ms) != 1 {
						t.Errorf("ticket %d has %d messages, want 1", id, len(ms))
					}
				}
				if rows := h.outbox(); len(rows) != 2 {
					t.Errorf("%d outbox rows, want 2 acknowledgements", len(rows))
				}
			},
		},
		{
			name: "rows handed over by the spool are ingested from memory, and a handed row another replica finished is not stored twice",
			run: func(t *testing.T, h *harness) {
				id1 := h.spool("alice@example.org", support, customer(alice, "h-1@example.org", "Handed one"))
				id2 := h.spool("bob@example.org", support, customer("bob@example.org", "h-2@example.org", "Handed two"))
				// Another replica (its own Ingester) takes row 2 before this one gets to it.
				other := New(h.st, h.g.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
				storetest.MustNotErr(t, "other replica", other.Process(h.ctx, id2))
				h.g.Notify([]*store.Inbound{h.inbound(id1), h.inbound(id2)})
				// The stale handed row 2 is due no more; RunOnce sees only row 1.
				n, err := h.g.RunOnce(h.ctx)
				storetest.MustNotErr(t, "run once", err)
				if n != 1 {
					t.Errorf("RunOnce looked at %d rows, want 1", n)
				}
				if n := h.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"); n != 2 {
					t.Errorf("%d incoming messages, want 2", n)
				}
				// Even when a stale row is handed and processed directly, the row lock decides.
				h.g.Notify([]*store.Inbound{h.inbound(id2)})
				storetest.MustNotErr(t, "process stale", h.g.Process(h.ctx, id2))
				if n := h.count("SELECT COUNT(*) FROM messages WHERE direction = 'in'"); n != 2 {
					t.Errorf("%d incoming messages after a stale handover, want 2", n)
				}
			},
		},
		{
			name: "a message over bigMessage is parsed from the database in chunks, its attachment whole",
			run: func(t *testing.T, h *harness) {
				att := make([]byte, bigMessage*3/4+12345)
				rand.NewChaCha8([32]byte{7}).Read(att)
				enc := base64.StdEncoding.EncodeToString(att)
				var b strings.Builder
				b.WriteString("From: Alice <alice@example.org>\r\nTo: support@example.com\r\nSubject: Big one\r\nMessage-ID: <big@example.org>\r\n")
				b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n")
				b.WriteString("--b\r\nContent-Type: application/octet-stream; name=x.bin\r\nContent-Disposition: attachment; filename=x.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n")
				for len(enc) > 0 {
					n := min(76, len(enc))
					b.WriteString(enc[:n] + "\r\n")
					enc = enc[n:]
				}
				b.WriteString("--b--\r\n")
				if b.Len() <= bigMessage {
					t.Fatalf("message of %d bytes is not over bigMessage", b.Len())
				}
				id := h.spool("alice@example.org", support, b.String())
				h.drain()
				if got := h.inbound(id); got.Status != store.InboundDone {
					t.Fatalf("row is %q (%s)", got.Status, got.Error)
				}
				ms := h.messages(1)
				if len(ms) != 1 || !strings.Contains(ms[0].Text, "See attached.") || ms[0].Subject != "Big one" {
					t.Fatalf("messages = %+v", ms)
				}
				atts, err := store.ListAttachments(h.ctx, h.st.DB, 1)
				storetest.MustNotErr(t, "attachments", err)
				list := atts[ms[0].ID]
				if len(list) != 1 || list[0].Filename != "x.bin" || list[0].Size != int64(len(att)) {
					t.Fatalf("attachments = %+v", list)
				}
				data, err := store.GetBlob(h.ctx, h.st.DB, list[0].SHA256)
				storetest.MustNotErr(t, "blob", err)
				if !bytes.Equal(data, att) {
					t.Errorf("attachment read back differs (%d bytes, want %d)", len(data), len(att))
				}
			},
		},
		{
			name: "ingest gives way to SMTP sessions waiting on the spool, but a flood that never ends does not stop it",
			run: func(t *testing.T, h *harness) {
				load := &fakeLoad{waiting: 1}
				h.g.YieldTo(load, 0)
				for i := range 5 {
					from := string(rune('a'+i)) + "y@example.org"
					h.spool(from, support, customer(from, "", "Busy"))
				}
				start := time.Now()
				h.drain()
				if got := h.count("SELECT COUNT(*) FROM inbound WHERE status = 'done'"); got != 5 {
					t.Errorf("%d rows done, want 5", got)
				}
				// Each batch waited for the sessions (bounded) and stopped at its first row.
				if asked := load.asked.Load(); asked < 5 || time.Since(start) < 5*yieldMax {
					t.Errorf("asked %d times, took %v: ingest did not give way", asked, time.Since(start))
				}
			},
		},
		{
			name: "during a burst ingest holds back until the oldest waiting row is BurstLag old, then ingests it all",
			run: func(t *testing.T, h *harness) {
				const lag = 300 * time.Millisecond
				h.g.YieldTo(&fakeLoad{rate: 10 * burstRate}, lag)
				logs := captureLog(h.g)
				arrived := time.Now()
				for i := range 3 {
					from := string(rune('a'+i)) + "b@example.org"
					h.spool(from, support, customer(from, "", "Burst"))
				}
				n, err := h.g.RunOnce(h.ctx)
				storetest.MustNotErr(t, "run once", err)
				if waited := time.Since(arrived); n != 3 || waited < lag || h.g.heldBack.Load() == 0 {
					t.Errorf("first run looked at %d rows %v after they arrived (held back %d times); want 3 after at least %v",
						n, waited, h.g.heldBack.Load(), lag)
				}
				if age := h.g.Backlog(); age < lag {
					t.Errorf("backlog = %v during the run, want at least %v", age, lag)
				}
				h.drain()
				if got := h.count("SELECT COUNT(*) FROM inbound WHERE status = 'done'"); got != 3 {
					t.Errorf("%d rows done, want 3", got)
				}
				if age := h.g.Backlog(); age != 0 {
					t.Errorf("after draining, backlog = %v, want 0", age)
				}
				for _, want := range []string{"holding back so sessions go first", "caught up after the burst"} {
					if n := strings.Count(logs.String(), want); n != 1 {
						t.Errorf("log has %q %d times, want once:\n%s", want, n, logs)
					}
				}
			},
		},
		{
			name: "rows already BurstLag old (a restart in a flood) are ingested at once, burst or not",
			run: func(t *testing.T, h *harness) {
				h.g.YieldTo(&fakeLoad{rate: 10 * burstRate}, time.Hour)
				logs := captureLog(h.g)
				id := h.spool("old@example.org", support, customer("old@example.org", "", "Old"))
				_, err := h.st.DB.ExecContext(h.ctx, h.st.DB.Rebind("UPDATE inbound SET received_at = ? WHERE id = ?"),
					store.Now().Add(-2*time.Hour), id)
				storetest.MustNotErr(t, "age the row", err)
				h.drain()
				if got := h.count("SELECT COUNT(*) FROM tickets"); got != 1 || strings.Contains(logs.String(), "holding back") {
					t.Errorf("%d tickets, log %q; want 1 ticket and no holding back", got, logs)
				}
			},
		},
		{
			name: "ingest behind by BurstLag paces the sessions: a place per two rows stored while far behind, one per row below half the lag, a handful when it has nothing to do, none once the sessions are quiet",
			run: func(t *testing.T, h *harness) {
				const lag = 5 * time.Second
				h.g.YieldTo(&fakeLoad{}, lag)
				logs := captureLog(h.g)
				// blocked reports whether Admit waits: it is given a context that ends
				// soon, and returns that context's error only if it was still waiting.
				blocked := func() bool {
					ctx, cancel := context.WithTimeout(h.ctx, 50*time.Millisecond)
					defer cancel()
					return errors.Is(h.g.Admit(ctx), context.DeadlineExceeded)
				}
				if blocked() {
					t.Fatal("Admit waits before ingest fell behind")
				}
				// One row at a time: a batch always takes its first row, whatever the
				// load, so each RunOnce below stores exactly the row spooled before it.
				spoolOld := func(from string) {
					id := h.spool(from, support, customer(from, "", "Behind"))
					_, err := h.st.DB.ExecContext(h.ctx, h.st.DB.Rebind("UPDATE inbound SET received_at = ? WHERE id = ?"),
						store.Now().Add(-time.Hour), id)
					storetest.MustNotErr(t, "age the row", err)
					_, err = h.g.RunOnce(h.ctx)
					storetest.MustNotErr(t, "run once", err)
				}
				spoolOld("ap@example.org")
				if !h.g.Pacing() {
					t.Fatal("not pacing with the oldest row an hour old")
				}
				if !blocked() {
					t.Error("the first row stored an hour late gave a place")
				}
				spoolOld("bp@example.org")
				if blocked() || !blocked() {
					t.Error("the second row stored an hour late did not give exactly one place")
				}
				// A fresh row gives one session its place.
				h.spool("fresh@example.org", support, customer("fresh@example.org", "", "Fresh"))
				_, err := h.g.RunOnce(h.ctx)
				storetest.MustNotErr(t, "run once", err)
				if blocked() {
					t.Error("no place after a fresh row was stored")
				}
				if !blocked() {
					t.Error("a second session got in on one row stored")
				}
				// Nothing left while sessions still ask (one asked just now, whatever
				// the load on the test machine): ingest lets a handful in.
				h.g.flow.lastAsk.Store(time.Now().UnixNano())
				_, err = h.g.RunOnce(h.ctx)
				storetest.MustNotErr(t, "run once", err)
				if !h.g.Pacing() || blocked() {
					t.Errorf("caught up while sessions ask: pacing %v, want on with places given", h.g.Pacing())
				}
				// Nobody asked for flowQuiet: the flood is over, pacing ends.
				h.g.flow.lastAsk.Store(time.Now().Add(-flowQuiet).UnixNano())
				_, err = h.g.RunOnce(h.ctx)
				storetest.MustNotErr(t, "run once", err)
				if h.g.Pacing() || blocked() {
					t.Errorf("still pacing after ingest caught up and the sessions were quiet (pacing %v)", h.g.Pacing())
				}
				if paced, timedOut := h.g.Paced(); paced != 3 || timedOut != 0 {
					t.Errorf("paced %d, timed out %d; want 3 (the sessions that had to wait) and 0", paced, timedOut)
				}
				for _, want := range []string{"SMTP sessions now wait for ingest", "SMTP sessions no longer wait"} {
					if n := strings.Count(logs.String(), want); n != 1 {
						t.Errorf("log has %q %d times, want once:\n%s", want, n, logs)
					}
				}
				if got := h.count("SELECT COUNT(*) FROM tickets"); got != 3 {
					t.Errorf("%d tickets, want 3", got)
				}
			},
		},
		{
			name: "mail that is not a burst is ingested at once, whatever the lag, and the log tells of no burst",
			run: func(t *testing.T, h *harness) {
				// Sessions arrive, but fewer than a burst's (one message alone counts
				// for about 10 a second).
				h.g.YieldTo(&fakeLoad{rate: burstRate - 1}, time.Hour)
				logs := captureLog(h.g)
				h.spool("calm@example.org", support, customer("calm@example.org", "", "Calm"))
				h.drain()
				if got := h.count("SELECT COUNT(*) FROM tickets"); got != 1 || h.g.heldBack.Load() != 0 {
					t.Errorf("%d tickets, held back %d times; want 1 ticket, never held", got, h.g.heldBack.Load())
				}
				if strings.Contains(logs.String(), "burst") {
					t.Errorf("the log tells of a burst:\n%s", logs)
				}
			},
		},
		{
			name: "while pacing, a session waiting on the spool cuts a SQLite batch (its spool writer shares ingest's connection)",
			run: func(t *testing.T, h *harness) {
				h.g.YieldTo(&fakeLoad{waiting: 1}, time.Second)
				for i := range 3 {
					from := string(rune('a'+i)) + "w@example.org"
					id := h.spool(from, support, customer(from, "", "Waited on"))
					_, err := h.st.DB.ExecContext(h.ctx, h.st.DB.Rebind("UPDATE inbound SET received_at = ? WHERE id = ?"),
						store.Now().Add(-time.Hour), id)
					storetest.MustNotErr(t, "age the row", err)
				}
				_, err := h.g.RunOnce(h.ctx)
				storetest.MustNotErr(t, "run once", err)
				if !h.g.Pacing() {
					t.Fatal("not pacing with rows an hour old")
				}
				want := 3
				if h.st.Dialect == store.SQLite {
					want = 1
				}
				if got := h.count("SELECT COUNT(*) FROM inbound WHERE status = 'done'"); got != want {
					t.Errorf("%d rows stored by the first batch, want %d", got, want)
				}
			},
		},
		{
			name: "a row its batch did not reach is not parsed again: every message is parsed once",
			run: func(t *testing.T, h *harness) {
				// Sessions always waiting: every batch stops after its first row, and
				// hands back the others it parsed.
				h.g.YieldTo(&fakeLoad{waiting: 1}, 0)
				const n = 12
				var ins []*store.Inbound
				for i := range n {
					from := string(rune('a'+i)) + "p@example.org"
					ins = append(ins, h.inbound(h.spool(from, support, customer(from, "", "Parsed once"))))
				}
				h.g.Notify(ins[:n/2]) // half from the handover, half read back
				h.drain()
				if got := h.count("SELECT COUNT(*) FROM inbound WHERE status = 'done'"); got != n {
					t.Errorf("%d rows done, want %d", got, n)
				}
				if got := h.g.parsed.Load(); got != n {
					t.Errorf("%d messages parsed for %d rows", got, n)
				}
			},
		},
		{
			name: "more rows than one batch takes are all ingested by repeated runs",
			run: func(t *testing.T, h *harness) {
				const n = batchRows*2 + 5
				for i := range n {
					from := string(rune('a'+i%26)) + "x@example.org"
					h.spool(from, support, customer(from, "", "Many"))
				}
				h.drain()
				if got := h.count("SELECT COUNT(*) FROM tickets"); got != n {
					t.Errorf("%d tickets, want %d", got, n)
				}
				if got := h.count("SELECT COUNT(*) FROM inbound WHERE status = 'done'"); got != n {
					t.Errorf("%d rows done, want %d", got, n)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				tc.run(t, newHarness(t, st, 100))
			})
		})
	}
}

// drain runs RunOnce until no row is due (failed rows wait for their retry time).
func (h *harness) drain() {
	h.t.Helper()
	for range 1000 {
		n, err := h.g.RunOnce(h.ctx)
		storetest.MustNotErr(h.t, "run once", err)
		if n == 0 {
			return
		}
	}
	h.t.Fatal("rows still due after 1000 runs")
}

// fakeLoad is an SMTP side with waiting sessions waiting for the spool, and rate a
// second beginning to wait.
type fakeLoad struct {
	waiting int
	rate    float64
	asked   atomic.Int64
}

func (l *fakeLoad) Waiting() int { l.asked.Add(1); return l.waiting }

func (l *fakeLoad) ArrivalRate() float64 { return l.rate }

// captureLog sends g's log to a buffer the test reads once ingest is done.
func captureLog(g *Ingester) *bytes.Buffer {
	var b bytes.Buffer
	g.log = slog.New(slog.NewTextHandler(&b, nil))
	return &b
}

// TestBatchDefersTheLoopGuard: in one batch transaction the loop guard decides every
// acknowledgement at the batch's end (ticket.Service.FlushBatch), and still lets exactly
// the allowed number through; a reply in the same batch finds the ticket and the queued
// acknowledgement its message answers.
func TestBatchDefersTheLoopGuard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		h := newHarness(t, st, 3)
		// Carol's own Message-ID threads her reply only when her mail is authenticated.
		h.g.cfg.TrustedDomains = []string{"example.net"}
		for i := range 5 {
			h.spool("carol@example.net", support, customer("carol@example.net", fmt.Sprintf("guard-%d@example.net", i), fmt.Sprintf("Question %d", i)))
		}
		h.spool("carol@example.net", support, customer("carol@example.net", "guard-reply@example.net", "Re: Question 0",
			"In-Reply-To: <guard-0@example.net>", "References: <guard-0@example.net>"))
		h.drain()
		if n := h.count("SELECT COUNT(*) FROM tickets"); n != 5 {
			t.Errorf("%d tickets, want 5 (the reply joins the first)", n)
		}
		first := int64(h.count("SELECT ticket_id FROM messages WHERE message_id = ?", "guard-0@example.net"))
		if ms := h.messages(first); len(ms) != 2 {
			t.Errorf("the first question's ticket %d has %d messages, want 2 (with the reply)", first, len(ms))
		}
		sendable, suppressed := 0, 0
		for _, o := range h.outbox() {
			if o.Status == store.OutboxSuppressed {
				suppressed++
			} else if o.Automatic {
				sendable++
			}
		}
		if sendable != 3 || suppressed != 2 {
			t.Errorf("%d acknowledgements to send and %d suppressed, want 3 and 2", sendable, suppressed)
		}
		if n := h.count("SELECT COUNT(*) FROM events WHERE kind = ?", ticket.EvNotificationSuppressed); n != 2 {
			t.Errorf("%d suppression events, want 2", n)
		}
	})
}

// TestOneSpooledMessageIsNoBurst ties the spool's arrival rate to ingest's threshold
// with a real spool: one message alone counts about 10 a second, and ingest takes it at
// once. (How the rate follows waves of sessions: store's TestArrivalRate.)
func TestOneSpooledMessageIsNoBurst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		sp := st.NewSpool(nil)
		go sp.Run(ctx) // Stop waits for it
		defer sp.Stop()
		raw := "Message-ID: <1@rate>\r\nFrom: a@example.org\r\nSubject: rate\r\n\r\nbody\r\n"
		if err := sp.Commit(ctx, &store.Inbound{MailFrom: "a@example.org", Rcpt: support, Raw: []byte(raw)}); err != nil {
			t.Fatal(err)
		}
		if r := sp.ArrivalRate(); r >= burstRate || r <= 0 {
			t.Errorf("one message: rate %.1f a second, want above 0 and below the burst's %d", r, burstRate)
		}
	})
}
