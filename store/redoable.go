package store

import (
	"context"
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
//
// The setting belongs to the connection, which the spool shares: the transaction holds
// the connection throughout, and leaves it with NORMAL for the next unsynced
// transaction (the spool's next batch, mostly), which then sets nothing; whatever else
// uses the connection next sets FULL back first (cachingConn.ready). Setting it and
// setting it back on every transaction were two statements more per spool commit.
func (s *Store) txUnsynced(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	conn, err := s.DB.Connx(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	var normal bool
	if err := conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("begin: connection %T is not the store's", dc)
		}
		c.held, normal = true, c.restore == syncFull
		return nil
	}); err != nil {
		return err
	}
	defer conn.Raw(func(dc any) error {
		// Whatever happened, the next use but an unsynced transaction sets FULL.
		c := dc.(*cachingConn)
		c.held, c.restore = false, syncFull
		return nil
	})
	if !normal {
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
			return fmt.Errorf("begin: synchronous: %w", err)
		}
	}
	return s.runTx(ctx, conn, fn)
}

// syncFull sets SQLite's commits back to waiting for the disk, as the DSN opens them.
const syncFull = "PRAGMA synchronous = FULL"

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
