package outbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/jhillyerd/enmime/v2"

	"github.com/mxdesk/mxdesk/store"
)

// WorkerConfig is what the worker needs from the configuration.
type WorkerConfig struct {
	// Relay is host:port of the smarthost; empty writes each mail to the log instead.
	Relay string
	// Hostname is what we say in EHLO.
	Hostname string
	// RetryMax is how long a temporarily failing mail is retried before it is failed.
	RetryMax time.Duration
	// Poll is how often due rows are looked for without a wake-up (retries).
	Poll time.Duration
	// RetrySchedule is the wait after each failed attempt; the last step repeats.
	RetrySchedule []time.Duration
	// Username and Password turn on SMTP AUTH with the relay (only over TLS).
	Username, Password string
	// DKIM signs every mail when set.
	DKIM *DKIMKey
	// Metrics counts what happens to mail; nil counts nothing.
	Metrics *Metrics
	// Concurrency is how many deliveries run at once (default 8).
	Concurrency int
	// Resolver and NotFound serve Relay "mx": MX lookups, and telling "no such record"
	// (deliver to the domain itself) from a failure (try later).
	Resolver MXResolver
	NotFound func(error) bool
	// MXPort is the port of MX hosts: 25, except in tests.
	MXPort int
}

// Worker delivers outbox rows. One per process; on PostgreSQL, replicas claim disjoint rows.
type Worker struct {
	st   *store.Store
	cfg  WorkerConfig
	log  *slog.Logger
	wake chan struct{}
	// relayTLS remembers that the relay offers STARTTLS.
	relayTLS atomic.Bool
}

// NewWorker returns a worker over st.
func NewWorker(st *store.Store, cfg WorkerConfig, log *slog.Logger) *Worker {
	if cfg.Poll <= 0 {
		// A due-row query on an index: cheap enough that a retry queued by the CLI (another
		// process, which cannot wake this one) goes out within seconds.
		cfg.Poll = 5 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 48 * time.Hour
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.MXPort == 0 {
		cfg.MXPort = 25
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if len(cfg.RetrySchedule) == 0 {
		cfg.RetrySchedule = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 4 * time.Hour}
	}
	w := &Worker{st: st, cfg: cfg, log: log, wake: make(chan struct{}, 1)}
	// Whoever writes an outbox row wakes the worker after that commit (store.OnOutbox).
	st.OnOutbox(w.Wake)
	return w
}

// Wake asks the worker to look for due rows now; it never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then returns after the row in hand.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-t.C:
			// Mail a crashed replica (or this one's previous run) left in flight is
			// due again at once (PostgreSQL; on SQLite serve released it at start).
			if n, err := w.st.ReleaseDead(ctx); err != nil {
				w.log.Error("outbound: releasing mail of stopped replicas failed", "err", err)
			} else if n > 0 {
				w.log.Warn("outbound: resending mail a stopped replica left in flight (same Message-IDs)", "count", n)
			}
		}
		for ctx.Err() == nil {
			n, err := w.RunOnce(ctx)
			if err != nil {
				w.log.Error("outbound: claim failed", "err", err)
				break
			}
			if n == 0 {
				break
			}
		}
		t.Reset(w.cfg.Poll)
	}
}

// RunOnce claims a batch of due rows and delivers them; it returns how many it handled.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	rows, err := w.st.ClaimOutbox(ctx, 64)
	if err != nil {
		return 0, err
	}
	// Deliveries wait on the network, so several run at once; each row is still
	// claimed by exactly one worker. Outcomes are recorded as they come in, whatever has
	// finished since the last commit in one transaction: few fsyncs, and a crash resends
	// only what was in flight or not yet recorded (same Message-ID, which receivers
	// deduplicate), not the whole batch.
	results := make(chan store.Delivery, len(rows))
	recorded := make(chan error, 1)
	go func() {
		var firstErr error
		for d := range results {
			batch := []store.Delivery{d}
		more:
			for {
				select {
				case d, ok := <-results:
					if !ok {
						break more
					}
					batch = append(batch, d)
				default:
					break more
				}
			}
			if err := w.st.RecordDeliveries(context.WithoutCancel(ctx), batch); err != nil {
				w.log.Error("outbound: delivered but could not record the outcome; will resend after the lease", "err", err, "count", len(batch))
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		recorded <- firstErr
	}()
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range rows {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results <- w.deliverRow(context.WithoutCancel(ctx), &rows[i])
		}()
	}
	wg.Wait()
	close(results)
	return len(rows), <-recorded
}

// deliverRow sends one row and says what became of it; RunOnce records the batch.
func (w *Worker) deliverRow(ctx context.Context, o *store.Outbox) store.Delivery {
	log := w.log.With("outbox_id", o.ID, "kind", o.Kind, "to", o.RcptTo, "message_id", o.MessageID)
	if o.TicketID != nil {
		log = log.With("ticket", *o.TicketID)
	}
	raw := o.Raw
	var err error
	if w.cfg.DKIM != nil {
		// Signed at send time, so a key rotation applies to mail already queued.
		raw, err = w.cfg.DKIM.Sign(o.Raw)
	}
	if err == nil {
		dctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		switch w.cfg.Relay {
		case "":
			w.logMail(log, o)
		case RelayMX:
			err = w.sendMX(dctx, o, raw)
		default:
			err = w.send(dctx, o, raw)
		}
		cancel()
	}
	if err == nil {
		if w.cfg.Relay != "" {
			log.Info("outbound: delivered", "relay", w.cfg.Relay, "attempt", o.Attempts)
		}
		w.cfg.Metrics.count("sent")
		return store.Delivery{ID: o.ID, Status: store.OutboxSent}
	}
	var se *smtp.SMTPError
	permanent := errors.As(err, &se) && se.Code >= 500
	if !permanent && time.Since(o.CreatedAt) > w.cfg.RetryMax {
		permanent = true
		err = fmt.Errorf("gave up after %s: %w", w.cfg.RetryMax, err)
	}
	if permanent {
		log.Error("outbound: delivery failed permanently", "err", err, "attempt", o.Attempts)
		w.cfg.Metrics.count("failed")
		return store.Delivery{ID: o.ID, Status: store.OutboxFailed, Error: err.Error()}
	}
	w.cfg.Metrics.count("deferred")
	next := time.Now().Add(w.retryDelay(o.Attempts))
	log.Warn("outbound: delivery deferred", "err", err, "attempt", o.Attempts, "next_attempt", next.UTC().Format(time.RFC3339))
	return store.Delivery{ID: o.ID, Status: store.OutboxPending, Error: err.Error(), Next: next}
}

// retryDelay is the wait after the n-th failed attempt.
func (w *Worker) retryDelay(n int) time.Duration {
	s := w.cfg.RetrySchedule
	return s[min(max(n, 1), len(s))-1]
}

// logMail stands in for delivery on a local instance: the mail goes to the log, where the
// newcomer can read the acknowledgement.
func (w *Worker) logMail(log *slog.Logger, o *store.Outbox) {
	attrs := []any{"relay", "none (outbound.relay is empty)"}
	if env, err := enmime.ReadEnvelope(bytes.NewReader(o.Raw)); err == nil {
		attrs = append(attrs, "subject", env.GetHeader("Subject"), "reply_to", env.GetHeader("Reply-To"),
			"text", strings.ReplaceAll(strings.TrimSpace(env.Text), "\r\n", "\n"))
	}
	log.Info("outbound: mail logged instead of sent", attrs...)
}

// send delivers one row through the relay with go-smtp's client. STARTTLS is used when
// the relay offers it (go-smtp's SendMail would insist on it). go-smtp starts TLS only
// at connection start, so the first connection to a relay that offers it is redone
// with TLS, and the worker remembers the answer.
func (w *Worker) send(ctx context.Context, o *store.Outbox, raw []byte) error {
	c, err := w.dial(ctx, w.relayTLS.Load())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(w.cfg.Hostname); err != nil {
		return fmt.Errorf("relay %s: EHLO: %w", w.cfg.Relay, err)
	}
	if !w.relayTLS.Load() {
		if ok, _ := c.Extension("STARTTLS"); ok {
			w.relayTLS.Store(true)
			c.Quit()
			return w.send(ctx, o, raw)
		}
	}
	if w.cfg.Username != "" {
		if err := w.auth(c); err != nil {
			return err
		}
	}
	if err := transact(c, o, raw); err != nil {
		return fmt.Errorf("relay %s: %w", w.cfg.Relay, err)
	}
	return nil
}

// auth logs in to the relay with PLAIN, or LOGIN where PLAIN is not offered, and only
// over TLS: a password in clear text is refused before it is sent.
func (w *Worker) auth(c *smtp.Client) error {
	if _, ok := c.TLSConnectionState(); !ok {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
			Message: fmt.Sprintf("relay %s offers no STARTTLS; mxdesk does not send outbound.relay_password in clear text", w.cfg.Relay)}
	}
	var client sasl.Client
	switch {
	case c.SupportsAuth("PLAIN"):
		client = sasl.NewPlainClient("", w.cfg.Username, w.cfg.Password)
	case c.SupportsAuth("LOGIN"):
		client = sasl.NewLoginClient(w.cfg.Username, w.cfg.Password)
	default:
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
			Message: fmt.Sprintf("relay %s offers neither AUTH PLAIN nor LOGIN", w.cfg.Relay)}
	}
	if err := c.Auth(client); err != nil {
		return fmt.Errorf("relay %s: AUTH: %w", w.cfg.Relay, err)
	}
	return nil
}

func (w *Worker) dial(ctx context.Context, startTLS bool) (*smtp.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", w.cfg.Relay)
	if err != nil {
		return nil, fmt.Errorf("relay %s: %w", w.cfg.Relay, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if !startTLS {
		return smtp.NewClient(conn), nil
	}
	host, _, _ := net.SplitHostPort(w.cfg.Relay)
	c, err := smtp.NewClientStartTLS(conn, &tls.Config{ServerName: host})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("relay %s: STARTTLS: %w", w.cfg.Relay, err)
	}
	return c, nil
}
