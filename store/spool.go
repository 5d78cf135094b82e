package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// ErrSpoolClosed is returned to sessions that try to spool after shutdown began; smtpd
// answers it with a temporary failure so the sender retries.
var ErrSpoolClosed = errors.New("spool closed")

// Spool commits inbound messages with group commit: a writer takes every message
// waiting at that moment and commits them in one transaction, so twenty sessions pay for
// one fsync instead of twenty. Each Commit call returns only when its own row is durable.
//
// SQLite has one writer, on the one connection ingest and the outbound worker use too.
// Its commits do not wait for the disk while they hold that connection: the writer
// commits without a sync and hands the batch to a syncer, which fsyncs the write-ahead
// log once for every batch committed meanwhile and only then answers their sessions.
// The connection is free for the next batch, or for ingest, during the fsync.
//
// PostgreSQL has several writers: while one writer's commit waits for its fsync, the
// next takes the messages that arrived meanwhile, instead of letting them wait a whole
// commit before theirs starts; PostgreSQL flushes concurrent commits together anyway.
type Spool struct {
	st       *Store
	reqs     chan *spoolReq
	maxBatch int
	writers  int
	notify   func(ins []*Inbound)
	done     chan struct{}
	stopped  chan struct{}
	// toSync carries SQLite's committed batches to the syncer (nil on PostgreSQL);
	// sync is what the syncer calls (Store.syncWAL; a test may slow it down).
	toSync   chan []*spoolReq
	sync     func() error
	waiting  atomic.Int64 // sessions whose row is not yet committed
	arrivals arrivalRate  // sessions entering Commit
	redone   atomic.Int64 // batches that failed and were redone row by row
}

type spoolReq struct {
	in  *Inbound
	err chan error
	res error // the commit's verdict, until the session is answered
}

// NewSpool returns a spool writing to st. notify, if not nil, is handed the rows of every
// committed batch, raw bytes included (ingest wakes on it and parses them without reading
// them back). It must not block.
func (s *Store) NewSpool(notify func(ins []*Inbound)) *Spool {
	sp := &Spool{
		st:       s,
		reqs:     make(chan *spoolReq),
		maxBatch: 128,
		writers:  spoolWriters(s.Dialect),
		notify:   notify,
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
	}
	if s.Dialect == SQLite {
		sp.toSync, sp.sync = make(chan []*spoolReq, 64), s.syncWAL
	}
	return sp
}

// Commit stores in durably and sets in.ID. The caller answers 250 only when it returns nil.
func (sp *Spool) Commit(ctx context.Context, in *Inbound) error {
	sp.waiting.Add(1) // the writer takes it off once the row is committed
	sp.arrivals.add(time.Now())
	r := &spoolReq{in: in, err: make(chan error, 1)}
	select {
	case sp.reqs <- r:
	case <-sp.done:
		sp.waiting.Add(-1)
		return ErrSpoolClosed
	case <-ctx.Done():
		sp.waiting.Add(-1)
		return ctx.Err()
	}
	// Once handed over, wait for the verdict even if ctx ends: the row may be committed,
	// and the caller must know whether it was.
	return <-r.err
}

// Redone is how many batches failed and were committed again row by row: each costs
// its sessions a second commit, so it should stay at zero.
func (sp *Spool) Redone() int64 { return sp.redone.Load() }

// Waiting is how many SMTP sessions are waiting for their row to be committed right now:
// ingest gives way while it is not zero, since a client is waiting for each of them.
// Sessions whose row is committed and waits only for the disk (SQLite's syncer) no
// longer count: the database is free for ingest meanwhile.
func (sp *Spool) Waiting() int { return int(sp.waiting.Load()) }

// ArrivalRate is how many sessions a second have lately begun waiting for their commit,
// each counted with a weight that halves every arrivalHalfLife: hundreds a second are a
// burst, which ingest lets pass first.
func (sp *Spool) ArrivalRate() float64 { return sp.arrivals.at(time.Now()) }

// arrivalHalfLife is how fast ArrivalRate forgets. It spans many arrivals of a burst,
// so the rate stays high through the pauses twenty sessions in step leave between their
// waves of commits (each answered by the same fsync, each client then opening its next
// connection), and one message alone counts for little.
const arrivalHalfLife = 70 * time.Millisecond

// arrivalRate is an exponentially decaying rate of events: each event adds
// 1/tau per second, which decays by e^(-t/tau), tau = arrivalHalfLife/ln 2.
type arrivalRate struct {
	mu   sync.Mutex
	rate float64 // at last
	last time.Time
}

func (a *arrivalRate) add(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rate = a.decayed(now) + math.Ln2/arrivalHalfLife.Seconds()
	a.last = now
}

func (a *arrivalRate) at(now time.Time) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.decayed(now)
}

// decayed is the rate at now; with no event yet it is 0 (0 × anything).
func (a *arrivalRate) decayed(now time.Time) float64 {
	return a.rate * math.Exp2(-now.Sub(a.last).Seconds()/arrivalHalfLife.Seconds())
}

// spoolWriters is how many writers commit at once: SQLite has one writer whatever we do;
// on PostgreSQL several shorten the 250's wait for large messages.
func spoolWriters(dialect string) int {
	if dialect == Postgres {
		return 4
	}
	return 1
}

// Run runs the writers. It returns after Stop, once every handed-over message has its
// verdict.
func (sp *Spool) Run(ctx context.Context) {
	defer close(sp.stopped)
	var syncer sync.WaitGroup
	if sp.toSync != nil {
		syncer.Go(sp.syncLoop)
	}
	var wg sync.WaitGroup
	for range sp.writers {
		wg.Go(func() { sp.write(ctx) })
	}
	wg.Wait()
	if sp.toSync != nil {
		close(sp.toSync)
	}
	syncer.Wait()
}

// write is one writer's loop.
func (sp *Spool) write(ctx context.Context) {
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
		if sp.toSync != nil {
			sp.toSync <- batch
		} else {
			sp.answer(batch, nil)
		}
		sp.waiting.Add(-int64(len(batch)))
	}
}

// syncLoop is SQLite's syncer: it takes every batch committed since its last fsync,
// fsyncs the write-ahead log once for all of them, and answers their sessions.
func (sp *Spool) syncLoop() {
	for batch := range sp.toSync {
		batches := [][]*spoolReq{batch}
	gather:
		for {
			select {
			case b, ok := <-sp.toSync:
				if !ok {
					break gather
				}
				batches = append(batches, b)
			default:
				break gather
			}
		}
		err := sp.sync()
		if err != nil {
			// The rows are committed but perhaps not on disk: the sessions get a
			// temporary failure and their senders retry (a copy ingest recognises
			// by its Message-ID, or a second ticket if it has none).
			err = fmt.Errorf("spool: %w", err)
		}
		for _, b := range batches {
			sp.answer(b, err)
		}
	}
}

// answer gives each session of a committed batch its verdict (syncErr, if not nil, for
// the rows that committed) and hands the stored rows to ingest.
func (sp *Spool) answer(batch []*spoolReq, syncErr error) {
	var ins []*Inbound
	if sp.notify != nil {
		ins = make([]*Inbound, 0, len(batch))
	}
	for _, r := range batch {
		if r.res == nil && syncErr != nil {
			r.res = syncErr
		}
		if r.res == nil && sp.notify != nil {
			ins = append(ins, r.in)
		}
		r.err <- r.res
	}
	if len(ins) > 0 {
		sp.notify(ins)
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

// commit writes a batch and records each request's verdict in res; on SQLite without
// waiting for the disk (the syncer does).
func (sp *Spool) commit(ctx context.Context, batch []*spoolReq) {
	tx := sp.st.Tx
	if sp.toSync != nil {
		tx = sp.st.txUnsynced
	}
	var err error
	if sp.st.Dialect == Postgres && !hasLarge(batch) {
		// One statement, committed on its own: one round trip instead of four
		// (BEGIN, two INSERTs, COMMIT), and the fsync all the same.
		err = insertInboundStatement(ctx, sp.st.DB, batch)
	} else {
		err = tx(ctx, func(tx *sqlx.Tx) error { return insertInboundBatch(ctx, tx, batch) })
	}
	if err != nil {
		// The rolled-back ids mean nothing. One bad row must not fail its neighbours:
		// retry one transaction each.
		sp.redone.Add(1)
		for _, r := range batch {
			r.in.ID = 0
			if len(batch) == 1 {
				continue
			}
			if err1 := tx(ctx, func(tx *sqlx.Tx) error { return InsertInbound(ctx, tx, r.in) }); err1 != nil {
				r.in.ID = 0
				r.res = fmt.Errorf("spool: %w", err1)
			} else {
				r.res = nil
			}
		}
		if len(batch) == 1 {
			batch[0].res = fmt.Errorf("spool: %w", err)
		}
	} else {
		for _, r := range batch {
			r.res = nil
		}
	}
}

func hasLarge(batch []*spoolReq) bool {
	for _, r := range batch {
		if len(r.in.Raw) > blobChunk {
			return true
		}
	}
	return false
}

// insertInboundStatement is insertInboundBatch as one PostgreSQL statement (the blobs in
// a data-modifying WITH): outside a transaction it commits by itself.
func insertInboundStatement(ctx context.Context, db *sqlx.DB, batch []*spoolReq) error {
	v, err := batchValues(batch)
	if err != nil {
		return err
	}
	var ids []int64
	if err := db.SelectContext(ctx, &ids, db.Rebind("WITH b AS (INSERT INTO blobs (sha256, size, data, created_at) VALUES "+
		strings.Join(v.blobs, ", ")+" ON CONFLICT (sha256) DO NOTHING) "+insertInboundSQL+strings.Join(v.rows, ", ")+" RETURNING id"),
		append(v.blobArgs, v.rowArgs...)...); err != nil {
		return fmt.Errorf("spool: insert: %w", err)
	}
	return v.setIDs(ids)
}

const insertInboundSQL = `INSERT INTO inbound
		(received_at, remote_addr, helo, mail_from, rcpt_to, size, raw_sha256, auth_results, status)
		VALUES `

// spoolValues are a batch's rows as multi-row VALUES lists and their arguments.
type spoolValues struct {
	batch             []*spoolReq
	blobs, rows       []string
	blobArgs, rowArgs []any
}

func batchValues(batch []*spoolReq) (*spoolValues, error) {
	t := now()
	v := &spoolValues{
		batch:    batch,
		blobs:    make([]string, 0, len(batch)),
		blobArgs: make([]any, 0, 4*len(batch)),
		rows:     make([]string, 0, len(batch)),
		rowArgs:  make([]any, 0, 9*len(batch)),
	}
	blobs := make([]blobValue, 0, len(batch))
	for _, r := range batch {
		in := r.in
		sum := SHA256(in.Raw)
		rcpt, err := json.Marshal(in.Rcpt)
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		in.RawSHA256, in.RcptJSON, in.Size, in.Status = sum, string(rcpt), int64(len(in.Raw)), InboundNew
		if in.ReceivedAt.IsZero() {
			in.ReceivedAt = t
		}
		data := in.Raw
		if data == nil {
			data = []byte{}
		}
		v.rows = append(v.rows, "(?, ?, ?, ?, ?, ?, ?, ?, ?)")
		v.rowArgs = append(v.rowArgs, in.ReceivedAt, in.RemoteAddr, in.Helo, in.MailFrom, in.RcptJSON, in.Size, sum, in.AuthResults, InboundNew)
		if len(data) > blobChunk {
			continue // stored in chunks, on its own (insertInboundBatch)
		}
		blobs = append(blobs, blobValue{sum, data})
	}
	// In hash order and once each: PostgreSQL's writers commit side by side, and two
	// batches inserting the same two blobs in opposite orders would deadlock (a second
	// lost, then redone row by row).
	slices.SortFunc(blobs, func(a, b blobValue) int { return strings.Compare(a.sum, b.sum) })
	blobs = slices.CompactFunc(blobs, func(a, b blobValue) bool { return a.sum == b.sum })
	for _, b := range blobs {
		v.blobs = append(v.blobs, "(?, ?, ?, ?)")
		v.blobArgs = append(v.blobArgs, b.sum, len(b.data), b.data, t)
	}
	return v, nil
}

type blobValue struct {
	sum  string
	data []byte
}

// setIDs gives each request its row's id.
func (v *spoolValues) setIDs(ids []int64) error {
	if len(ids) != len(v.batch) {
		return fmt.Errorf("spool: insert returned %d ids for %d rows", len(ids), len(v.batch))
	}
	// Both dialects number the rows of one multi-row INSERT in VALUES order; RETURNING
	// does not promise that order, so sort rather than trust it.
	slices.Sort(ids)
	for i, r := range v.batch {
		r.in.ID = ids[i]
	}
	return nil
}

// insertInboundBatch is InsertInbound for a whole batch in two statements, one multi-row
// INSERT for the blobs and one for the spool rows, instead of two per message: on
// PostgreSQL every statement is a round trip (two with parameters), and with twenty
// sessions waiting those round trips, not the fsync, were the commit's cost.
func insertInboundBatch(ctx context.Context, tx sqlx.ExtContext, batch []*spoolReq) error {
	v, err := batchValues(batch)
	if err != nil {
		return err
	}
	// A large message goes in chunks, on its own (blobs.go); in hash order too, like the
	// small ones, so concurrent writers take the rows' locks in one order.
	var large []*Inbound
	for _, r := range batch {
		if len(r.in.Raw) > blobChunk {
			large = append(large, r.in)
		}
	}
	slices.SortFunc(large, func(a, b *Inbound) int { return strings.Compare(a.RawSHA256, b.RawSHA256) })
	for _, in := range large {
		if err := putBlob(ctx, tx, in.RawSHA256, in.Raw); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	if len(v.blobs) > 0 {
		if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO blobs (sha256, size, data, created_at) VALUES "+
			strings.Join(v.blobs, ", ")+" ON CONFLICT (sha256) DO NOTHING"), v.blobArgs...); err != nil {
			return fmt.Errorf("spool: blobs: %w", err)
		}
	}
	var ids []int64
	if err := sqlx.SelectContext(ctx, tx, &ids, tx.Rebind(insertInboundSQL+strings.Join(v.rows, ", ")+" RETURNING id"), v.rowArgs...); err != nil {
		return fmt.Errorf("spool: insert: %w", err)
	}
	return v.setIDs(ids)
}
