package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Imported spool rows. The importer (`mxdesk import`) writes a spool row for every
// message of an old mailbox, so the raw message is kept and downloadable like any other,
// and so a second run knows what the first stored (by the raw SHA-256).
const (
	// ImportRemoteAddr is the remote_addr of an imported message's spool row.
	ImportRemoteAddr = "import"
	// InboundImportFailed is an imported message that could not be stored: kept raw,
	// with the error, for `mxdesk queue inbound`, and tried again by the next import run
	// (never by the inbound-retry job, which would acknowledge it as new mail).
	InboundImportFailed = "import_failed"
)

// KnownRaw returns, of the SHA-256 sums given, those the spool holds and each one's
// status: what an import already brought in (or SMTP received byte for byte).
func KnownRaw(ctx context.Context, q sqlx.QueryerContext, sums []string) (map[string]string, error) {
	out := make(map[string]string, len(sums))
	for len(sums) > 0 {
		n := min(len(sums), 500)
		query, args, err := sqlx.In("SELECT raw_sha256, status FROM inbound WHERE raw_sha256 IN (?)", sums[:n])
		if err != nil {
			return nil, fmt.Errorf("known messages: %w", err)
		}
		var rows []struct {
			Sum    string `db:"raw_sha256"`
			Status string `db:"status"`
		}
		if err := sqlx.SelectContext(ctx, q, &rows, rebind(q, query), args...); err != nil {
			return nil, fmt.Errorf("known messages: %w", err)
		}
		for _, r := range rows {
			// A message stored once wins over a failed attempt at it.
			if out[r.Sum] == "" || out[r.Sum] == InboundImportFailed {
				out[r.Sum] = r.Status
			}
		}
		sums = sums[n:]
	}
	return out, nil
}

// DeleteImportFailed removes the failed import rows of a raw message before the import
// tries it again (its blob stays: the new row refers to it).
func DeleteImportFailed(ctx context.Context, tx *sqlx.Tx, sum string) error {
	_, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM inbound WHERE raw_sha256 = ? AND status = ?"), sum, InboundImportFailed)
	if err != nil {
		return fmt.Errorf("inbound: forget failed import: %w", err)
	}
	return nil
}

// FailImport marks an imported message's spool row failed, with the error.
func FailImport(ctx context.Context, tx *sqlx.Tx, id int64, cause error) error {
	_, err := tx.ExecContext(ctx, tx.Rebind("UPDATE inbound SET status = ?, error = ?, processed_at = ? WHERE id = ?"),
		InboundImportFailed, cause.Error(), now(), id)
	if err != nil {
		return fmt.Errorf("inbound %d: import failed: %w", id, err)
	}
	return nil
}

// MarkOurs makes a stored message one the support side sent (an agent's or the
// mailbox's own, found in an imported mailbox): outgoing, and its Message-ID as strong a
// pointer as one mxdesk generated, since only the ticket's participants received it.
func MarkOurs(ctx context.Context, tx *sqlx.Tx, id int64, kind string) error {
	_, err := tx.ExecContext(ctx, tx.Rebind("UPDATE messages SET direction = 'out', kind = ?, generated = ? WHERE id = ?"), kind, true, id)
	if err != nil {
		return fmt.Errorf("message %d: mark ours: %w", id, err)
	}
	return nil
}

// ImportedOpenTickets returns the Open tickets whose last change is before
// `before` and every message of which came from an import: the old conversations an
// import closes. A ticket that live mail has touched is left alone.
func ImportedOpenTickets(ctx context.Context, q sqlx.QueryerContext, before time.Time) ([]int64, error) {
	var ids []int64
	err := sqlx.SelectContext(ctx, q, &ids, rebind(q, `SELECT t.id FROM tickets t
		WHERE t.status = 'open' AND t.updated_at < ?
		AND EXISTS (SELECT 1 FROM messages m WHERE m.ticket_id = t.id)
		AND NOT EXISTS (SELECT 1 FROM messages m LEFT JOIN inbound i ON i.id = m.inbound_id
			WHERE m.ticket_id = t.id AND (i.id IS NULL OR i.remote_addr <> ?))
		ORDER BY t.id`), before, ImportRemoteAddr)
	if err != nil {
		return nil, fmt.Errorf("imported open tickets: %w", err)
	}
	return ids, nil
}

// OurMessage returns the ticket already holding the support side's message with this
// Message-ID from this sender, or 0. No ORDER BY id LIMIT 1, for the reason
// DuplicateMessage gives.
func OurMessage(ctx context.Context, tx *sqlx.Tx, msgid, sender string) (int64, error) {
	var rows []firstMatch
	err := tx.SelectContext(ctx, &rows, tx.Rebind(`SELECT id, ticket_id FROM messages WHERE message_id = ? AND message_id <> '' AND direction = 'out' AND from_addr = ?`), msgid, sender)
	if err != nil {
		return 0, fmt.Errorf("dedupe %s: %w", msgid, err)
	}
	return oldestTicket(rows), nil
}

// ForBulk readies the connection for long write transactions with savepoints (an
// import): on SQLite the savepoints' sub-journal in memory instead of a temporary file,
// and a page cache of 64 MiB instead of 2 MiB, so a batch's pages are not spilled
// before the commit (measured: a third of an import's time was those file writes).
// A no-op on PostgreSQL. SQLite has one connection here, so the settings stick.
func (s *Store) ForBulk(ctx context.Context) error {
	if s.Dialect != SQLite {
		return nil
	}
	for _, p := range []string{"PRAGMA cache_size = -65536", "PRAGMA temp_store = MEMORY"} {
		if _, err := s.DB.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("bulk: %s: %w", p, err)
		}
	}
	return nil
}

// Savepoint runs fn inside a savepoint of tx: when fn fails, what it wrote is undone and
// tx goes on without it (an import keeps the rest of its batch). fn's error is returned;
// an error of the savepoint itself is wrapped and means tx is unusable.
func Savepoint(ctx context.Context, tx *sqlx.Tx, fn func() error) (fnErr, err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT sp"); err != nil {
		return nil, fmt.Errorf("savepoint: %w", err)
	}
	if fnErr = fn(); fnErr != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sp"); err != nil {
			return fnErr, fmt.Errorf("savepoint: roll back: %w (after %v)", err, fnErr)
		}
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT sp"); err != nil {
		return fnErr, fmt.Errorf("savepoint: release: %w", err)
	}
	return fnErr, nil
}

// CloseTicketsAsOfUpdate closes the tickets, each as of its own last change (closed_at =
// updated_at), and records the event for each with data: two statements per 500
// tickets instead of three per ticket (an import closes thousands at once).
func CloseTicketsAsOfUpdate(ctx context.Context, tx *sqlx.Tx, ids []int64, actor, data string) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		q, args, err := sqlx.In(`INSERT INTO events (ticket_id, kind, actor, data, created_at)
			SELECT id, 'status_changed', ?, ?, ? FROM tickets WHERE id IN (?) ORDER BY id`, actor, data, now(), ids[:n])
		if err != nil {
			return fmt.Errorf("close tickets: %w", err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("close tickets: events: %w", err)
		}
		q, args, err = sqlx.In(`UPDATE tickets SET status = 'closed', closed_at = updated_at, resolved_at = NULL WHERE id IN (?)`, ids[:n])
		if err != nil {
			return fmt.Errorf("close tickets: %w", err)
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("close tickets: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}
