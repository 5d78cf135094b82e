package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jmoiron/sqlx"
)

// TxRedoable is Tx for work that is redone from durable input if it is lost: ingest,
// whose spool row is committed (and answered 250) before, and stays due until the ingest
// transaction marks it done. On SQLite its commit does not wait for the disk: the
// transaction runs with synchronous=NORMAL.
//
// A crash of mxdesk loses nothing (the operating system has the write). A power cut may
// lose the last such transactions, and then all of each: the ticket, the message, the
// acknowledgement's outbox row and the spool row's "done" together, so the spool row is
// ingested again, once. Nothing leaves mxdesk on the strength of such a commit alone: the
// outbound worker claims a row in a transaction that waits for the disk, and SQLite's
// write-ahead log is written in order, so that wait makes every earlier commit durable too.
//
// On PostgreSQL it is Tx: with synchronous_commit off, the spool's commits flush
// ingest's WAL too, and the 250 waits longer.
func (s *Store) TxRedoable(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if s.Dialect != SQLite {
		return s.Tx(ctx, fn)
	}
	return s.txUnsynced(ctx, fn)
}

// txUnsynced runs fn in a SQLite transaction whose commit does not wait for the disk
// (synchronous=NORMAL): the commit is in the write-ahead log, in the operating system's
// cache, until the next fsync of the log (syncWAL, a checkpoint, or a commit with FULL).
func (s *Store) txUnsynced(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	// SQLite's setting belongs to the connection, which the spool shares: hold the
	// connection for the whole transaction, and never give it back without FULL.
	conn, err := s.DB.Connx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
		return fmt.Errorf("begin: synchronous: %w", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA synchronous = FULL"); err != nil {
			// The spool's commits must wait for the disk: a connection that cannot be
			// set back is closed, and the next one opens with FULL (Open's DSN).
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return s.runTx(ctx, conn, fn)
}

// syncWAL makes every SQLite transaction committed so far durable: it syncs the
// write-ahead log (dataSync), where a commit with synchronous=NORMAL left its frames. The
// log is written in order and read back only up to its first torn frame, so the sync
// covers every earlier commit too. Any descriptor of the file will do (a sync flushes
// the file, not the descriptor's writes), so it opens the log afresh and never holds a stale one.
// A commit already moved into the database file by a checkpoint is durable there: a
// checkpoint syncs the database file before the log may be reused, and with no log left
// (every connection closed) it syncs the database file itself. A log file it has not
// seen before (created since) gets its directory synced too, as SQLite does for a new
// log: without that its name may not survive a power cut.
func (s *Store) syncWAL() error {
	path := s.walPath
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		path = strings.TrimSuffix(path, "-wal")
		f, err = os.Open(path)
	}
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	defer f.Close()
	if err := dataSync(f); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if s.walSeen != nil && os.SameFile(fi, s.walSeen) {
		return nil
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", filepath.Dir(path), err)
	}
	s.walSeen = fi
	return nil
}
