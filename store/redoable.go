package store

import (
	"context"
	"database/sql/driver"
	"fmt"

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
