package store

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Inbound statuses. A row is new until ingest has committed it as done, duplicate (an MTA
// re-delivered a message already ingested) or failed (retried later).
const (
	InboundNew       = "new"
	InboundDone      = "done"
	InboundDuplicate = "duplicate"
	InboundFailed    = "failed"
)

// InboundDue reports whether a spool row with this status still needs ingesting: new,
// or failed and to be retried.
func InboundDue(status string) bool { return status == InboundNew || status == InboundFailed }

// Inbound is one spooled message: what smtpd answered 250 for.
type Inbound struct {
	ID            int64      `db:"id" json:"id"`
	ReceivedAt    time.Time  `db:"received_at" json:"received_at"`
	RemoteAddr    string     `db:"remote_addr" json:"remote_addr"`
	Helo          string     `db:"helo" json:"helo"`
	MailFrom      string     `db:"mail_from" json:"mail_from"`
	RcptJSON      string     `db:"rcpt_to" json:"-"`
	Size          int64      `db:"size" json:"size"`
	RawSHA256     string     `db:"raw_sha256" json:"raw_sha256"`
	AuthResults   string     `db:"auth_results" json:"auth_results,omitempty"`
	Status        string     `db:"status" json:"status"`
	Attempts      int        `db:"attempts" json:"attempts"`
	NextAttemptAt *time.Time `db:"next_attempt_at" json:"next_attempt_at,omitempty"`
	Error         string     `db:"error" json:"error,omitempty"`
	ProcessedAt   *time.Time `db:"processed_at" json:"processed_at,omitempty"`

	Rcpt []string `db:"-" json:"rcpt_to"`
	Raw  []byte   `db:"-" json:"-"`
}

// InsertInbound stores the raw message as a blob and its spool row, in the caller's
// transaction, and sets in.ID.
func InsertInbound(ctx context.Context, q sqlx.ExtContext, in *Inbound) error {
	return insertInboundBatch(ctx, q, []*spoolReq{{in: in}})
}

// DueInbound returns up to limit ids of rows ready for ingest, oldest first: new, or
// failed with their retry time passed. It locks nothing; LockInbound decides who gets a row.
//
// Each status is read in id order from the (status, id) index and limited before the two
// are merged. One WHERE with an OR made both databases collect every new row and sort
// them to keep the first few: during a burst, with thousands waiting, that was 4 % of
// serve's CPU on SQLite, paid on every batch.
func (s *Store) DueInbound(ctx context.Context, limit int) ([]int64, error) {
	return s.DueInboundLane(ctx, limit, 0, 1, 0)
}

// laneWindow is how many times its share of the oldest new rows a lane looks through
// (DueInboundLane).
const laneWindow = 4

// DueInboundLane is DueInbound for one of several ingest lanes: the rows whose id
// modulo lanes is lane, and of the new ones only those from id from on (failed rows due
// again are looked for from the start).
//
// The from is what spares a busy lane the rows it already ingested. On PostgreSQL a
// row's old index entries stay until vacuum: every row that was new keeps one under
// "new", and a scan from the start steps over all of a flood's ingested rows to reach
// the first still new. The caller knows where its last scan began.
//
// A lane looks for its new rows among the oldest laneWindow×limit×lanes new rows (from
// from on), not among all of them. With the MOD inside the index scan, PostgreSQL
// guessed that few rows would pass it and chose, on every batch, to read all of a
// flood's new rows (thousands) and sort them, rather than read the index in order and
// stop once the lane had enough. A LIMIT on the scan itself makes reading in order and
// stopping the plan. Ids are dealt to the lanes in turn, so each lane's share of any
// window is about 1/lanes. A lane whose rows all lie past the window, the others far
// behind, finds nothing until they catch up; they are then busy with older rows than
// its own.
func (s *Store) DueInboundLane(ctx context.Context, limit, lane, lanes int, from int64) ([]int64, error) {
	fresh, mine := `SELECT id FROM inbound WHERE status = `+sqlList(InboundNew)+` AND id >= ?`, ""
	args := []any{from}
	if lanes > 1 {
		ours := fmt.Sprintf("MOD(id, %d) = %d", lanes, lane)
		mine = " AND " + ours
		fresh = `SELECT id FROM (` + fresh + ` ORDER BY id LIMIT ?) AS w WHERE ` + ours
		args = append(args, laneWindow*limit*lanes)
	}
	args = append(args, limit, now(), limit, limit)
	var ids []int64
	err := s.DB.SelectContext(ctx, &ids, s.DB.Rebind(`
		SELECT id FROM (`+fresh+` ORDER BY id LIMIT ?) AS fresh
		UNION ALL
		SELECT id FROM (SELECT id FROM inbound WHERE status = `+sqlList(InboundFailed)+mine+` AND next_attempt_at <= ?
			ORDER BY id LIMIT ?) AS retry
		ORDER BY id LIMIT ?`), args...)
	if err != nil {
		return nil, fmt.Errorf("due inbound: %w", err)
	}
	return ids, nil
}

// OlderInboundWaiting reports whether a new spool row older than id waits in another
// lane than lane of lanes (DueInboundLane).
func OlderInboundWaiting(ctx context.Context, q sqlx.QueryerContext, id int64, lane, lanes int) (bool, error) {
	var ids []int64
	err := sqlx.SelectContext(ctx, q, &ids, rebind(q, `SELECT id FROM inbound WHERE status = `+sqlList(InboundNew)+`
		AND id < ? AND MOD(id, ?) <> ? ORDER BY id LIMIT 1`), id, lanes, lane)
	if err != nil {
		return false, fmt.Errorf("inbound: older rows of other lanes: %w", err)
	}
	return len(ids) > 0, nil
}

// LockInbound locks a spool row in the ingest transaction and reports whether it still
// needs ingesting. The lock, not a status, is what makes the row ours: if the process dies
// mid-ingest the transaction rolls back, the lock goes with the connection, and the row is
// new again for the next process at once. On PostgreSQL, SKIP LOCKED lets another replica
// pass over it; on SQLite the transaction already holds the write lock.
func LockInbound(ctx context.Context, tx *sqlx.Tx, dialect string, id int64) (bool, error) {
	q := "SELECT status FROM inbound WHERE id = ?"
	if dialect == Postgres {
		q += " FOR UPDATE SKIP LOCKED"
	}
	var status []string
	if err := tx.SelectContext(ctx, &status, tx.Rebind(q), id); err != nil {
		return false, fmt.Errorf("inbound %d: lock: %w", id, err)
	}
	return len(status) == 1 && InboundDue(status[0]), nil
}

// LockInbounds is LockInbound for a batch in one statement; it returns the ids that are
// locked and still need ingesting. Rows another replica holds are left out.
//
// The rows are found by primary key alone and their status is checked here: with the
// status in the WHERE, PostgreSQL ANDed the primary key with the (status, id) index,
// reading every waiting row's entry to lock a batch of 32, thousands during a burst.
func LockInbounds(ctx context.Context, tx *sqlx.Tx, dialect string, ids []int64) (map[int64]bool, error) {
	q, args, err := sqlx.In("SELECT id, status FROM inbound WHERE id IN (?)", ids)
	if err != nil {
		return nil, fmt.Errorf("inbound: lock: %w", err)
	}
	if dialect == Postgres {
		q += " FOR UPDATE SKIP LOCKED"
	}
	var got []struct {
		ID     int64  `db:"id"`
		Status string `db:"status"`
	}
	if err := tx.SelectContext(ctx, &got, tx.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("inbound: lock: %w", err)
	}
	due := make(map[int64]bool, len(got))
	for _, r := range got {
		if InboundDue(r.Status) {
			due[r.ID] = true
		}
	}
	return due, nil
}

// FinishInbounds is FinishInbound for a batch: one statement per outcome.
func FinishInbounds(ctx context.Context, tx *sqlx.Tx, byStatus map[string][]int64) error {
	t := now()
	for status, ids := range byStatus {
		if len(ids) == 0 {
			continue
		}
		q, args, err := sqlx.In(`UPDATE inbound SET status = ?, error = '', processed_at = ?, next_attempt_at = NULL WHERE id IN (?)`, status, t, ids)
		if err != nil {
			return fmt.Errorf("inbound: finish: %w", err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("inbound: finish %d rows: %w", len(ids), err)
		}
	}
	return nil
}

// GetInbound loads a spool row with its raw message.
func GetInbound(ctx context.Context, q sqlx.QueryerContext, id int64) (*Inbound, error) {
	in, err := GetInboundRow(ctx, q, id)
	if err != nil {
		return nil, err
	}
	raw, err := GetBlob(ctx, q, in.RawSHA256)
	if err != nil {
		return nil, fmt.Errorf("inbound %d: %w", id, err)
	}
	in.Raw = raw
	return in, nil
}

// GetInboundRow loads a spool row without its raw message (OpenBlob streams it).
func GetInboundRow(ctx context.Context, q sqlx.QueryerContext, id int64) (*Inbound, error) {
	var in Inbound
	if err := sqlx.GetContext(ctx, q, &in, rebind(q, "SELECT * FROM inbound WHERE id = ?"), id); err != nil {
		return nil, fmt.Errorf("inbound %d: %w", id, notFound(err))
	}
	if err := in.decodeRcpt(); err != nil {
		return nil, err
	}
	return &in, nil
}

// GetInboundRows loads the spool rows ids (those that exist) in two statements, not
// two per row, with the raw message of each row still to ingest whose size is at most
// maxRaw. Raw stays nil for a bigger message and for one stored in chunks: the caller
// reads those on their own (GetBlob, OpenBlob). Ingest reads a batch's rows this way
// when they are not in memory: after a restart, and during a burst bigger than what it
// keeps.
func GetInboundRows(ctx context.Context, q sqlx.QueryerContext, ids []int64, maxRaw int64) (map[int64]*Inbound, error) {
	out := make(map[int64]*Inbound, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	query, args, err := sqlx.In("SELECT * FROM inbound WHERE id IN (?)", ids)
	if err != nil {
		return nil, fmt.Errorf("inbound rows: %w", err)
	}
	var rows []*Inbound
	if err := sqlx.SelectContext(ctx, q, &rows, rebind(q, query), args...); err != nil {
		return nil, fmt.Errorf("inbound rows: %w", err)
	}
	var sums []string
	for _, in := range rows {
		if err := in.decodeRcpt(); err != nil {
			return nil, err
		}
		out[in.ID] = in
		if InboundDue(in.Status) && in.Size <= maxRaw {
			sums = append(sums, in.RawSHA256)
		}
	}
	if len(sums) == 0 {
		return out, nil
	}
	query, args, err = sqlx.In("SELECT sha256, size, data FROM blobs WHERE sha256 IN (?)", sums)
	if err != nil {
		return nil, fmt.Errorf("inbound rows: blobs: %w", err)
	}
	var blobs []struct {
		SHA256 string `db:"sha256"`
		Size   int64  `db:"size"`
		Data   []byte `db:"data"`
	}
	if err := sqlx.SelectContext(ctx, q, &blobs, rebind(q, query), args...); err != nil {
		return nil, fmt.Errorf("inbound rows: blobs: %w", err)
	}
	whole := make(map[string][]byte, len(blobs))
	for _, b := range blobs {
		if int64(len(b.Data)) == b.Size {
			whole[b.SHA256] = b.Data
		}
	}
	for _, in := range rows {
		if data, ok := whole[in.RawSHA256]; ok && in.Size <= maxRaw {
			in.Raw = data
		}
	}
	return out, nil
}

// decodeRcpt fills Rcpt from the row's rcpt_to column.
func (in *Inbound) decodeRcpt() error {
	if err := json.Unmarshal([]byte(in.RcptJSON), &in.Rcpt); err != nil {
		return fmt.Errorf("inbound %d: rcpt_to: %w", in.ID, err)
	}
	return nil
}

// CopyKey is the advisory lock key of a message's copies (LockCopies).
func CopyKey(messageID, sender string) int64 {
	h := fnv.New64a()
	h.Write([]byte(strings.ToLower(sender)))
	h.Write([]byte{0})
	h.Write([]byte(messageID))
	return int64(h.Sum64())
}

// LockCopies takes PostgreSQL transaction-level advisory locks on keys (CopyKey), in key
// order and in one statement, so transactions locking overlapping sets never deadlock.
// They are released when the transaction ends.
func LockCopies(ctx context.Context, tx *sqlx.Tx, keys []int64) error {
	return lockKeys(ctx, tx, keys, "message copies")
}

// lockKeys takes PostgreSQL transaction-level advisory locks on keys, in key order and
// in one statement; what names them in an error.
func lockKeys(ctx context.Context, tx *sqlx.Tx, keys []int64, what string) error {
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	// OFFSET 0 keeps the sorted subquery from being flattened: the locks are taken in
	// the order its rows come out.
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(k)
		FROM (SELECT k FROM unnest($1::bigint[]) AS u(k) ORDER BY k OFFSET 0) AS sorted`,
		pq.Int64Array(keys))
	if err != nil {
		return fmt.Errorf("lock %s: %w", what, err)
	}
	return nil
}

// FinishInbound records the outcome of ingesting a row, in the ingest transaction.
func FinishInbound(ctx context.Context, q sqlx.ExtContext, id int64, status string) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE inbound SET status = ?, error = '', processed_at = ?, next_attempt_at = NULL WHERE id = ?`),
		status, now(), id)
	if err != nil {
		return fmt.Errorf("inbound %d: finish: %w", id, err)
	}
	return nil
}

// FailInbound records an ingest error and when to try again. The raw message stays.
func (s *Store) FailInbound(ctx context.Context, id int64, cause error) error {
	var attempts int
	if err := s.DB.GetContext(ctx, &attempts, s.DB.Rebind("SELECT attempts FROM inbound WHERE id = ?"), id); err != nil {
		return fmt.Errorf("inbound %d: fail: %w", id, notFound(err))
	}
	attempts++
	next := now().Add(RetryDelay(attempts))
	_, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE inbound SET status = ?, attempts = ?, error = ?, next_attempt_at = ? WHERE id = ?`),
		InboundFailed, attempts, cause.Error(), next, id)
	if err != nil {
		return fmt.Errorf("inbound %d: fail: %w", id, err)
	}
	return nil
}

// RetryDelay is the backoff after the n-th failed attempt: 1 min doubling up to 6 h.
func RetryDelay(n int) time.Duration {
	d := time.Minute
	for i := 1; i < n && d < 6*time.Hour; i++ {
		d *= 2
	}
	return min(d, 6*time.Hour)
}

// ListInbound returns spool rows, newest first, optionally only those with a status.
func (s *Store) ListInbound(ctx context.Context, status string, limit int) ([]Inbound, error) {
	q := "SELECT * FROM inbound"
	args := []any{}
	if status != "" {
		q += " WHERE status = ?"
		args = append(args, status)
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	var rows []Inbound
	if err := s.DB.SelectContext(ctx, &rows, s.DB.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("list inbound: %w", err)
	}
	for i := range rows {
		_ = json.Unmarshal([]byte(rows[i].RcptJSON), &rows[i].Rcpt)
	}
	return rows, nil
}

// RetryInbound makes a failed spool row due now, for `mxdesk queue retry`. It reports
// whether the row was failed (only those are retried: a done row is done).
func (s *Store) RetryInbound(ctx context.Context, id int64) (bool, error) {
	res, err := s.DB.ExecContext(ctx, s.DB.Rebind(`UPDATE inbound SET next_attempt_at = ? WHERE id = ? AND status = ?`),
		now(), id, InboundFailed)
	if err != nil {
		return false, fmt.Errorf("inbound %d: retry: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("inbound %d: retry: %w", id, err)
	}
	return n == 1, nil
}
