package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"
)

// SQLite copies its write-ahead log back into the database file at a checkpoint. By
// default the connection that commits runs one once the log passes 1,000 pages: on
// serve's one connection, which the spool and ingest share, so every session waits while
// it copies pages and syncs the database file. RunCheckpoints moves that work to a
// connection of its own. Its PASSIVE checkpoints copy beside the writer without taking
// its lock; the writer's own checkpoint stays as a backstop at a larger log, and then
// finds nearly every page already copied.
const (
	// checkpointEvery is how often the checkpointer looks at the log.
	checkpointEvery = 50 * time.Millisecond
	// writerCheckpointPages is when the writer checkpoints itself after all: the log
	// restarts from its beginning only after a checkpoint that caught up with the
	// writer, which one beside a busy writer rarely does. 10,000 pages of 4 KiB bound
	// the log to 40 MB.
	writerCheckpointPages = 10000
)

// RunCheckpoints checkpoints a SQLite database beside its writer until ctx ends; on
// PostgreSQL it returns at once. Failures are logged, never fatal: the writer's own
// checkpoint still bounds the log.
func (s *Store) RunCheckpoints(ctx context.Context, log *slog.Logger) {
	if s.Dialect != SQLite {
		return
	}
	db, err := sql.Open("sqlite", s.dsn)
	if err != nil {
		log.Warn("store: checkpoints stay with the writer", "err", err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := s.DB.ExecContext(ctx, fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", writerCheckpointPages)); err != nil {
		log.Warn("store: checkpoints stay with the writer", "err", err)
		return
	}
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	failed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var busy, pages, copied int
		err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &pages, &copied)
		if err != nil && ctx.Err() == nil && !failed {
			log.Warn("store: checkpoint beside the writer failed; the writer checkpoints itself", "err", err)
		}
		failed = err != nil
	}
}
