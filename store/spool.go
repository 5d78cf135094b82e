package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// ErrSpoolClosed is returned to sessions that try to spool after shutdown began; smtpd
// answers it with a temporary failure so the sender retries.
var ErrSpoolClosed = errors.New("spool closed")

// Spool commits inbound messages with group commit: one writer takes every message
// waiting at that moment and commits them in one transaction, so twenty sessions pay for
// one fsync instead of twenty. Each Commit call returns only when its own row is durable.
type Spool struct {
	st       *Store
	reqs     chan *spoolReq
	maxBatch int
	notify   func(ids []int64)
	done     chan struct{}
	stopped  chan struct{}
}

type spoolReq struct {
	in  *Inbound
	err chan error
}

// NewSpool returns a spool writing to st. notify, if not nil, is told the ids of every
// committed batch (ingest wakes on it).
func (s *Store) NewSpool(notify func(ids []int64)) *Spool {
	return &Spool{
		st:       s,
		reqs:     make(chan *spoolReq),
		maxBatch: 128,
		notify:   notify,
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
}

// Commit stores in durably and sets in.ID. The caller answers 250 only when it returns nil.
func (sp *Spool) Commit(ctx context.Context, in *Inbound) error {
	r := &spoolReq{in: in, err: make(chan error, 1)}
	select {
	case sp.reqs <- r:
	case <-sp.done:
		return ErrSpoolClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once handed over, wait for the verdict even if ctx ends: the row may be committed,
	// and the caller must know whether it was.
	return <-r.err
}

// Run is the writer loop. It returns after Stop, once every handed-over message has its
// verdict.
func (sp *Spool) Run(ctx context.Context) {
	defer close(sp.stopped)
	for {
		var first *spoolReq
		select {
		case first = <-sp.reqs:
		case <-sp.done:
			return
		}
		batch := []*spoolReq{first}
	gather:
		for len(batch) < sp.maxBatch {
			select {
			case r := <-sp.reqs:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		sp.commit(context.WithoutCancel(ctx), batch)
	}
}

// Stop refuses new messages and waits for Run to finish the batch in hand.
func (sp *Spool) Stop() {
	select {
	case <-sp.done:
	default:
		close(sp.done)
	}
	<-sp.stopped
}

func (sp *Spool) commit(ctx context.Context, batch []*spoolReq) {
	err := sp.st.Tx(ctx, func(tx *sqlx.Tx) error {
		for _, r := range batch {
			if err := InsertInbound(ctx, tx, r.in); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// The rolled-back ids mean nothing. One bad row must not fail its neighbours:
		// retry one transaction each.
		for _, r := range batch {
			r.in.ID = 0
			if len(batch) == 1 {
				continue
			}
			if err1 := sp.st.Tx(ctx, func(tx *sqlx.Tx) error { return InsertInbound(ctx, tx, r.in) }); err1 != nil {
				r.in.ID = 0
				r.err <- fmt.Errorf("spool: %w", err1)
			} else {
				r.err <- nil
			}
		}
		if len(batch) == 1 {
			batch[0].err <- fmt.Errorf("spool: %w", err)
		}
	} else {
		for _, r := range batch {
			r.err <- nil
		}
	}
	if sp.notify != nil {
		ids := make([]int64, 0, len(batch))
		for _, r := range batch {
			if r.in.ID != 0 {
				ids = append(ids, r.in.ID)
			}
		}
		if len(ids) > 0 {
			sp.notify(ids)
		}
	}
}
