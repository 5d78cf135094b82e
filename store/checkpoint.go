package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// SQLite's write-ahead log is copied back into the database file by a checkpoint. By
// default the commit that grows the log past 1,000 pages runs it, and waits for it: the
// copy of 4 MB and an fsync of the database file. That commit is as often a spool
// commit, which a session's 250 waits for, as an ingest batch. So the store's own
// connection runs with wal_autocheckpoint=0, and a goroutine with a connection of its
// own checkpoints a little after commits (PASSIVE: it neither waits for the writer nor
// stops it).
//
// A PASSIVE checkpoint copies the frames committed when it began; the writer keeps
// appending meanwhile, and the log starts over only when a writer finds every frame
// copied. Under a steady stream of commits that never happens and the log grows
// without bound, so once it holds more than ckptRestartPages the checkpointer copies
// once more and then asks for TRUNCATE: that waits for the writer's transaction in hand,
// holds the next one back while it copies the little the passes left, and empties the
// log. (After RESTART, which should let the next writer start the log over without
// truncating it, a test's writer went on appending.)
const (
	ckptEvery        = 200 * time.Millisecond
	ckptRestartPages = 4096 // 16 MB of 4 KiB pages
)

// checkpointer runs SQLite's checkpoints beside the writer.
type checkpointer struct {
	db   *sqlx.DB
	wake chan struct{}
	stop context.CancelFunc
	done chan struct{}
	// restartPages is ckptRestartPages (a test lowers it).
	restartPages int
	// onErr hears of a failed checkpoint (the log grows until one succeeds); nil: no one.
	onErr atomic.Pointer[func(error)]
}

// startCheckpointer opens the checkpointer's connection (dsn: the database's, with its
// default checkpoints) and starts it; close stops it.
func startCheckpointer(dsn string) (*checkpointer, error) {
	db, err := sqlx.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("checkpointer: %w", err)
	}
	db.SetMaxOpenConns(1)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), stop: cancel, done: make(chan struct{}),
		restartPages: ckptRestartPages}
	go c.run(ctx)
	return c, nil
}

// committed tells the checkpointer the log grew; it never blocks.
func (c *checkpointer) committed() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run checkpoints after commits, at most once every ckptEvery.
func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		if err := c.checkpoint(ctx); err != nil && ctx.Err() == nil {
			if f := c.onErr.Load(); f != nil {
				(*f)(err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(ckptEvery):
		}
	}
}

// checkpoint copies what the log holds, and empties it when it has grown long.
func (c *checkpointer) checkpoint(ctx context.Context) error {
	log, err := c.run1(ctx, "PASSIVE")
	if err != nil || log <= c.restartPages {
		return err
	}
	if _, err := c.run1(ctx, "PASSIVE"); err != nil {
		return err
	}
	_, err = c.run1(ctx, "TRUNCATE")
	return err
}

// run1 runs one checkpoint in mode and returns the frames the log held.
func (c *checkpointer) run1(ctx context.Context, mode string) (int, error) {
	var busy, log, copied int
	if err := c.db.QueryRowxContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &log, &copied); err != nil {
		return 0, fmt.Errorf("checkpoint (%s): %w", mode, err)
	}
	return log, nil
}

// close stops the checkpointer. The last connection to close checkpoints whatever is
// left (SQLite does that itself).
func (c *checkpointer) close() error {
	c.stop()
	<-c.done
	return c.db.Close()
}

// OnCheckpointError sets who hears of a failed SQLite checkpoint (serve logs it); a
// no-op on PostgreSQL.
func (s *Store) OnCheckpointError(fn func(error)) {
	if s.ckpt != nil {
		s.ckpt.onErr.Store(&fn)
	}
}
