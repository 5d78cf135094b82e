package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Outbox statuses.
const (
	OutboxPending    = "pending"
	OutboxSending    = "sending"
	OutboxSent       = "sent"
	OutboxFailed     = "failed"     // permanent: recorded and visible, never retried
	OutboxSuppressed = "suppressed" // automatic mail held back by the loop guard
	OutboxDropped    = "dropped"    // an operator decided it must not be sent
)

// Outbox is one mail to send, written in the transaction of the change that caused it.
type Outbox struct {
	ID            int64      `db:"id" json:"id"`
	TicketID      *int64     `db:"ticket_id" json:"ticket_id,omitempty"`
	Kind          string     `db:"kind" json:"kind"`
	Automatic     bool       `db:"automatic" json:"automatic"`
	MailFrom      string     `db:"mail_from" json:"mail_from"`
	RcptTo        string     `db:"rcpt_to" json:"rcpt_to"`
	MessageID     string     `db:"message_id" json:"message_id"`
	Raw           []byte     `db:"raw" json:"-"`
	Status        string     `db:"status" json:"status"`
	Attempts      int        `db:"attempts" json:"attempts"`
	NextAttemptAt time.Time  `db:"next_attempt_at" json:"next_attempt_at"`
	LastError     string     `db:"last_error" json:"last_error,omitempty"`
	CreatedAt     time.Time  `db:"created_at" json:"created_at"`
	SentAt        *time.Time `db:"sent_at" json:"sent_at,omitempty"`
	ClaimedBy     *int64     `db:"claimed_by" json:"-"`
}

// OnOutbox sets the function called after every commit that wrote an outbox row: the
// outbound worker's Wake. Whoever queues mail thereby wakes the worker after the mail is
// visible to it, never before (a worker woken early would find nothing and sleep).
func (s *Store) OnOutbox(wake func()) { s.outboxWake = wake }

// InsertOutbox queues a mail in the caller's transaction q and sets o.ID; the outbound
// worker is woken when that transaction commits (at once when q is not a transaction
// run by this Store).
func (s *Store) InsertOutbox(ctx context.Context, q sqlx.ExtContext, o *Outbox) error {
	t := now()
	if o.Status == "" {
		o.Status = OutboxPending
	}
	o.CreatedAt, o.NextAttemptAt = t, t
	id, err := insertID(ctx, q, q.Rebind(`INSERT INTO outbox
		(ticket_id, kind, automatic, mail_from, rcpt_to, message_id, raw, status, next_attempt_at, last_error, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		o.TicketID, o.Kind, o.Automatic, o.MailFrom, o.RcptTo, o.MessageID, o.Raw, o.Status, o.NextAttemptAt, o.LastError, o.CreatedAt)
	if err != nil {
		return fmt.Errorf("outbox %s to %s: %w", o.Kind, o.RcptTo, err)
	}
	o.ID = id
	s.markQueued(q)
	return nil
}

// loopGuardCounted is the loop guard's condition on the rows it counts: automatic mail
// that was not held back (suppressed) or dropped. It is also, word for word, the
// predicate of the partial index outbox_loop_guard (migration 0021), which holds only
// these rows, so a recipient's thousands of suppressed rows cost the count nothing. The
// statuses are literals, not parameters: a database uses a partial index only when it
// can prove the query implies its predicate, and PostgreSQL's generic plan, prepared
// once per connection (stmtcache.go), cannot see a parameter's value.
// TestLoopGuardCountUsesItsIndex holds the two to each other.
func loopGuardCounted() string {
	return `automatic = TRUE AND status IN (` + sqlList(OutboxPending, OutboxSending, OutboxSent, OutboxFailed, OutboxBounced) + `)`
}

// CountAutomaticSince counts automatic mails queued to rcpt since t (the loop guard's
// window): the rows of loopGuardCounted. In a transaction it first
// takes the recipient's lock (lockRecipients), held until the transaction ends, so the
// caller's count-then-queue is exact against every other writer.
func CountAutomaticSince(ctx context.Context, q sqlx.QueryerContext, rcpt string, t time.Time) (int, error) {
	if err := lockRecipients(ctx, q, []string{rcpt}); err != nil {
		return 0, err
	}
	var n int
	err := sqlx.GetContext(ctx, q, &n, rebind(q, `SELECT COUNT(*) FROM outbox WHERE rcpt_to = ? AND `+loopGuardCounted()+`
		AND created_at >= ?`), rcpt, t)
	if err != nil {
		return 0, fmt.Errorf("count outbox to %s: %w", rcpt, err)
	}
	return n, nil
}

// outboxLease is how long a claimed row belongs to its sender before another may retry it.
const outboxLease = 10 * time.Minute

// ClaimOutbox marks up to limit due rows as sending and returns them. On PostgreSQL,
// SKIP LOCKED lets several replicas claim disjoint rows.
func (s *Store) ClaimOutbox(ctx context.Context, limit int) ([]Outbox, error) {
	var rows []Outbox
	err := s.Tx(ctx, func(tx *sqlx.Tx) error {
		t := now()
		q := `SELECT * FROM outbox WHERE status IN (` + sqlList(OutboxPending, OutboxSending) + `) AND next_attempt_at <= ? ORDER BY id LIMIT ?`
		if s.Dialect == Postgres {
			q += " FOR UPDATE SKIP LOCKED"
		}
		if err := tx.SelectContext(ctx, &rows, tx.Rebind(q), t, limit); err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		// One statement for the batch, not one per row: every acknowledgement is claimed.
		ids := make([]int64, len(rows))
		for i := range rows {
			rows[i].Attempts++
			ids[i] = rows[i].ID
		}
		u, args, err := sqlx.In(`UPDATE outbox SET status = ?, attempts = attempts + 1, next_attempt_at = ?, claimed_by = ? WHERE id IN (?)`,
			OutboxSending, t.Add(outboxLease), s.replica, ids)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, tx.Rebind(u), args...)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return rows, nil
}

// ReleaseSending makes rows a crashed process left sending due again. Only for SQLite,
// where one process owns the database; on PostgreSQL, ReleaseDead asks whether the
// replica that claimed them is gone.
func (s *Store) ReleaseSending(ctx context.Context) (int64, error) {
	res, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE outbox SET status = ?, next_attempt_at = ? WHERE status = ?`),
		OutboxPending, now(), OutboxSending)
	if err != nil {
		return 0, fmt.Errorf("release outbox: %w", err)
	}
	return res.RowsAffected()
}

// Delivery is the outcome of one delivery attempt.
type Delivery struct {
	ID     int64
	Status string // OutboxSent, OutboxPending (retry at Next) or OutboxFailed
	Error  string
	Next   time.Time
}

// RecordDeliveries records a batch of outcomes in one transaction: the deliveries in
// one statement (nearly every outcome is one), each other outcome in its own.
func (s *Store) RecordDeliveries(ctx context.Context, ds []Delivery) error {
	return s.Tx(ctx, func(tx *sqlx.Tx) error {
		t := now()
		var sent []int64
		for _, d := range ds {
			var err error
			switch d.Status {
			case OutboxSent:
				sent = append(sent, d.ID)
			case OutboxPending:
				_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE outbox SET status = ?, last_error = ?, next_attempt_at = ? WHERE id = ?`),
					OutboxPending, d.Error, d.Next.UTC(), d.ID)
			default:
				_, err = tx.ExecContext(ctx, tx.Rebind(`UPDATE outbox SET status = ?, last_error = ? WHERE id = ?`), d.Status, d.Error, d.ID)
			}
			if err != nil {
				return fmt.Errorf("outbox %d: record %s: %w", d.ID, d.Status, err)
			}
		}
		if len(sent) == 0 {
			return nil
		}
		q, args, err := sqlx.In(`UPDATE outbox SET status = ?, sent_at = ?, last_error = '' WHERE id IN (?)`, OutboxSent, t, sent)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("outbox: record %d sent: %w", len(sent), err)
		}
		return nil
	})
}

// MarkOutboxSent records a delivery.
func (s *Store) MarkOutboxSent(ctx context.Context, id int64) error {
	_, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE outbox SET status = ?, sent_at = ?, last_error = '' WHERE id = ?`), OutboxSent, now(), id)
	if err != nil {
		return fmt.Errorf("outbox %d: mark sent: %w", id, err)
	}
	return nil
}

// ListOutbox returns outbox rows, newest first, optionally of one status or one ticket.
func (s *Store) ListOutbox(ctx context.Context, status string, ticketID int64, limit int) ([]Outbox, error) {
	q := "SELECT * FROM outbox WHERE 1=1"
	var args []any
	if status != "" {
		q += " AND status = ?"
		args = append(args, status)
	}
	if ticketID != 0 {
		q += " AND ticket_id = ?"
		args = append(args, ticketID)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	var rows []Outbox
	if err := s.DB.SelectContext(ctx, &rows, s.DB.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return rows, nil
}

// OldestUnsent returns the creation time of the oldest row still to be sent, or nil.
// It orders by id + 0, not id: ordered by the primary key, PostgreSQL walked it through
// every row ever sent to find the first unsent one (the metrics scrape grew with the
// table); this way it takes the few unsent rows from the status index and sorts them.
func (s *Store) OldestUnsent(ctx context.Context) (*time.Time, error) {
	var t []time.Time
	err := s.DB.SelectContext(ctx, &t, s.DB.Rebind(`SELECT created_at FROM outbox WHERE status IN (`+sqlList(OutboxPending, OutboxSending)+`) ORDER BY id + 0 LIMIT 1`))
	if err != nil || len(t) == 0 {
		return nil, err
	}
	return &t[0], nil
}

// CountOutbox counts rows with any of the statuses.
func (s *Store) CountOutbox(ctx context.Context, statuses ...string) (int, error) {
	q, args, err := sqlx.In(`SELECT COUNT(*) FROM outbox WHERE status IN (?)`, statuses)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.DB.GetContext(ctx, &n, s.DB.Rebind(q), args...); err != nil {
		return 0, fmt.Errorf("count outbox: %w", err)
	}
	return n, nil
}

// RetryOutbox makes a waiting, failed or suppressed row due now; it reports false for a
// row that was sent, dropped or does not exist.
func (s *Store) RetryOutbox(ctx context.Context, id int64) (bool, error) {
	res, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE outbox SET status = ?, next_attempt_at = ?, created_at = CASE WHEN status = ? THEN ? ELSE created_at END
		WHERE id = ? AND status IN (?, ?, ?)`), OutboxPending, now(), OutboxFailed, now(), id, OutboxPending, OutboxFailed, OutboxSuppressed)
	if err != nil {
		return false, fmt.Errorf("outbox %d: retry: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DropOutbox marks a row that has not been sent as never to be sent.
func (s *Store) DropOutbox(ctx context.Context, id int64) (bool, error) {
	res, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE outbox SET status = ? WHERE id = ? AND status IN (?, ?, ?)`),
		OutboxDropped, id, OutboxPending, OutboxFailed, OutboxSuppressed)
	if err != nil {
		return false, fmt.Errorf("outbox %d: drop: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// OutboxBounced is a mail that was handed on and later came back as a delivery status
// notification: the recipient never got it, whatever the relay said at the time.
const OutboxBounced = "bounced"

// Bounced is an outbox row a DSN reported on.
type Bounced struct {
	ID        int64  `db:"id"`
	TicketID  *int64 `db:"ticket_id"`
	RcptTo    string `db:"rcpt_to"`
	MessageID string `db:"message_id"`
}

// MarkOutboxBounced marks the sent outbox rows whose Message-ID is one of msgids as
// bounced, with reason as their error, in the caller's transaction, and returns them.
// Only mxdesk's own ids are in the outbox, so ids a DSN quotes from someone else's mail
// match nothing. A row already marked is returned again (a second DSN for one mail).
func MarkOutboxBounced(ctx context.Context, q sqlx.ExtContext, msgids []string, reason string) ([]Bounced, error) {
	if len(msgids) == 0 {
		return nil, nil
	}
	query, args, err := sqlx.In(`SELECT id, ticket_id, rcpt_to, message_id FROM outbox WHERE message_id IN (?) AND status IN (?, ?)`,
		msgids, OutboxSent, OutboxBounced)
	if err != nil {
		return nil, fmt.Errorf("bounce: %w", err)
	}
	var rows []Bounced
	if err := sqlx.SelectContext(ctx, q, &rows, q.Rebind(query), args...); err != nil {
		return nil, fmt.Errorf("bounce: find outbox rows: %w", err)
	}
	for _, r := range rows {
		if _, err := q.ExecContext(ctx, q.Rebind(`UPDATE outbox SET status = ?, last_error = ? WHERE id = ?`), OutboxBounced, reason, r.ID); err != nil {
			return nil, fmt.Errorf("outbox %d: mark bounced: %w", r.ID, err)
		}
	}
	return rows, nil
}

// CountOutboxTo counts the mails of a kind queued for a ticket to rcpt since t, whatever
// became of them (a notice rate limit).
func CountOutboxTo(ctx context.Context, q sqlx.QueryerContext, ticketID int64, kind, rcpt string, t time.Time) (int, error) {
	var n int
	err := sqlx.GetContext(ctx, q, &n, rebind(q, `SELECT COUNT(*) FROM outbox WHERE ticket_id = ? AND kind = ? AND rcpt_to = ? AND created_at >= ?`),
		ticketID, kind, rcpt, t)
	if err != nil {
		return 0, fmt.Errorf("outbox: count %s to %s: %w", kind, rcpt, err)
	}
	if b := batchOf(ctx); b != nil {
		for _, o := range b.outbox {
			if o.TicketID != nil && *o.TicketID == ticketID && o.Kind == kind && o.RcptTo == rcpt {
				n++
			}
		}
	}
	return n, nil
}

// outboxPerStatement bounds one multi-row INSERT of outbox rows (11 parameters a row).
const outboxPerStatement = 500

// InsertOutboxRows queues several mails in the caller's transaction, a statement per
// outboxPerStatement rows, like InsertOutbox (the worker is woken after the commit).
// The rows' ids are not set.
func (s *Store) InsertOutboxRows(ctx context.Context, q sqlx.ExtContext, rows []*Outbox) error {
	if len(rows) == 0 {
		return nil
	}
	for len(rows) > 0 {
		n := min(len(rows), outboxPerStatement)
		var sb strings.Builder
		sb.WriteString(`INSERT INTO outbox
		(ticket_id, kind, automatic, mail_from, rcpt_to, message_id, raw, status, next_attempt_at, last_error, created_at) VALUES `)
		args := make([]any, 0, 11*n)
		for i, o := range rows[:n] {
			if o.Status == "" {
				o.Status = OutboxPending
			}
			if o.CreatedAt.IsZero() {
				o.CreatedAt = now()
			}
			o.NextAttemptAt = o.CreatedAt
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, o.TicketID, o.Kind, o.Automatic, o.MailFrom, o.RcptTo, o.MessageID, o.Raw, o.Status, o.NextAttemptAt, o.LastError, o.CreatedAt)
		}
		if _, err := q.ExecContext(ctx, q.Rebind(sb.String()), args...); err != nil {
			return fmt.Errorf("outbox: %d rows: %w", n, err)
		}
		rows = rows[n:]
	}
	s.markQueued(q)
	return nil
}

// CountAutomaticSinceMany is CountAutomaticSince for several recipients at once (their
// locks taken in one statement). A recipient already at limit needs no lock: other
// transactions can only add to its count, and its mail is held back whatever they do.
// So a mail loop, or any flood from one address, does not queue every ingest lane
// behind that address's lock; the others are counted under it as before.
func CountAutomaticSinceMany(ctx context.Context, q sqlx.QueryerContext, rcpts []string, t time.Time, limit int) (map[string]int, error) {
	out := make(map[string]int, len(rcpts))
	if len(rcpts) == 0 {
		return out, nil
	}
	// One entry per address: a batch from one sender names it many times, and each
	// length of the IN list is a statement of its own to prepare and cache.
	rcpts = slices.Compact(slices.Sorted(slices.Values(rcpts)))
	if locks(q) {
		first, err := countAutomatic(ctx, q, rcpts, t)
		if err != nil {
			return nil, err
		}
		var under []string
		for _, r := range rcpts {
			if first[r] >= limit {
				out[r] = first[r]
			} else {
				under = append(under, r)
			}
		}
		if len(under) == 0 {
			return out, nil
		}
		if err := lockRecipients(ctx, q, under); err != nil {
			return nil, err
		}
		rcpts = under
	}
	counts, err := countAutomatic(ctx, q, rcpts, t)
	if err != nil {
		return nil, err
	}
	for _, r := range rcpts {
		out[r] = counts[r]
	}
	return out, nil
}

// countAutomatic is the count of CountAutomaticSinceMany, without a lock.
func countAutomatic(ctx context.Context, q sqlx.QueryerContext, rcpts []string, t time.Time) (map[string]int, error) {
	query, args, err := sqlx.In(`SELECT rcpt_to, COUNT(*) AS n FROM outbox WHERE rcpt_to IN (?) AND `+loopGuardCounted()+`
		AND created_at >= ? GROUP BY rcpt_to`, rcpts, t)
	if err != nil {
		return nil, fmt.Errorf("count outbox: %w", err)
	}
	var rows []struct {
		Rcpt string `db:"rcpt_to"`
		N    int    `db:"n"`
	}
	if err := sqlx.SelectContext(ctx, q, &rows, rebind(q, query), args...); err != nil {
		return nil, fmt.Errorf("count outbox to %d recipients: %w", len(rcpts), err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Rcpt] = r.N
	}
	return out, nil
}

// lockRecipients serializes, across transactions, the loop guard's count-then-queue for
// these addresses: on PostgreSQL, transaction-level advisory locks (LockCopies' way:
// sorted, one statement); SQLite has one writer anyway, and outside a transaction there
// is nothing to hold a lock for. Two ingest lanes, or a lane and the portal, would
// otherwise both count 99 and both send the hundredth.
func lockRecipients(ctx context.Context, q sqlx.QueryerContext, rcpts []string) error {
	if !locks(q) || len(rcpts) == 0 {
		return nil
	}
	tx := q.(*sqlx.Tx)
	keys := make([]int64, len(rcpts))
	for i, r := range rcpts {
		h := fnv.New64a()
		h.Write([]byte("loop-guard\x00"))
		h.Write([]byte(strings.ToLower(r)))
		keys[i] = int64(h.Sum64())
	}
	return lockKeys(ctx, tx, keys, "loop guard recipients")
}

// locks reports whether lockRecipients takes locks through q: a PostgreSQL transaction.
func locks(q sqlx.QueryerContext) bool {
	tx, ok := q.(*sqlx.Tx)
	return ok && tx.DriverName() == "postgres"
}

// markQueued arranges the outbound worker's wake-up for rows just written through q:
// after the commit when q is a transaction of this Store (runTx), at once otherwise.
func (s *Store) markQueued(q sqlx.ExtContext) {
	if tx, ok := q.(*sqlx.Tx); ok {
		s.queued.Store(tx, struct{}{})
	} else if s.outboxWake != nil {
		s.outboxWake()
	}
}
