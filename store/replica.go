package store

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/jmoiron/sqlx"
)

// Replica liveness on PostgreSQL. Each serve holds a session advisory lock on a
// connection of its own for as long as it lives, and stamps the outbox rows it claims
// with the lock's number. PostgreSQL drops the lock when the process dies (kill -9
// included: the connection goes with it), so another replica, or the same one restarted,
// can take it and knows the rows stamped with it were left in flight: they are sent again
// at once (same Message-ID) instead of after the claim's ten-minute lease.

// replicaLockClass is the first key of the two-key advisory locks used for liveness; the
// two-key form never conflicts with the one-key locks of jobs and migrations.
const replicaLockClass = 0x6d78 // "mx"

// Register takes this process's liveness lock. On SQLite it does nothing (one process
// owns the file; ReleaseSending covers a crash).
func (s *Store) Register(ctx context.Context) error {
	if s.Dialect != Postgres {
		return nil
	}
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("replica lock: %w", err)
	}
	for range 16 {
		id := rand.Int32N(1<<31-1) + 1
		var ok bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, $2)", replicaLockClass, id).Scan(&ok); err != nil {
			conn.Close()
			return fmt.Errorf("replica lock: %w", err)
		}
		if ok {
			s.replica, s.live = int64(id), conn
			return nil
		}
	}
	conn.Close()
	return fmt.Errorf("replica lock: no free lock number in 16 tries")
}

// ReleaseDead makes the outbox rows claimed by replicas that are gone due again, and
// returns how many. A replica is gone when its liveness lock can be taken. Rows claimed
// by a process without a lock (number 0: a one-off `mxdesk jobs run`) wait for the lease.
func (s *Store) ReleaseDead(ctx context.Context) (int64, error) {
	if s.Dialect != Postgres {
		return 0, nil
	}
	var owners []int64
	err := s.DB.SelectContext(ctx, &owners, `SELECT DISTINCT claimed_by FROM outbox
		WHERE status = '`+OutboxSending+`' AND claimed_by > 0 AND claimed_by <> $1`, s.replica)
	if err != nil {
		return 0, fmt.Errorf("release dead replicas: %w", err)
	}
	var total int64
	for _, owner := range owners {
		err := s.Tx(ctx, func(tx *sqlx.Tx) error {
			var gone bool
			// Transaction-scoped: released at commit, so the lock number stays free.
			if err := tx.GetContext(ctx, &gone, "SELECT pg_try_advisory_xact_lock($1, $2)", replicaLockClass, int32(owner)); err != nil {
				return err
			}
			if !gone {
				return nil
			}
			res, err := tx.ExecContext(ctx, `UPDATE outbox SET status = '`+OutboxPending+`', next_attempt_at = $1, claimed_by = NULL
				WHERE status = '`+OutboxSending+`' AND claimed_by = $2`, now(), owner)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("release dead replica %d: %w", owner, err)
		}
	}
	return total, nil
}

// closeReplica gives up the liveness lock with its connection.
func (s *Store) closeReplica() {
	if s.live != nil {
		s.live.Close()
		s.live = nil
	}
}
