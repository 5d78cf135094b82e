package ingest

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
)

// bigMessage is the size from which ingest streams a message from the database instead
// of holding it whole while enmime decodes it (a 25 MB message should grow the
// process by less than three times its size).
const bigMessage = 8 << 20

// Batch limits. One transaction ingests several spool rows, so the commit (an fsync) is
// paid once per batch instead of once per message: that commit, not parsing, was what
// kept ingest behind the SMTP side. The limits keep one transaction short: on SQLite the
// spool's writer waits for it (one connection), so a long one would show as SMTP latency.
const (
	batchRows  = 32
	batchBytes = 8 << 20 // raw bytes parsed and held per batch
	// handoverBytes bounds the messages kept in memory between the spool's commit and
	// ingest; beyond it, ingest reads the row back from the database.
	handoverBytes = 16 << 20
	// batchTime is how long one ingest transaction may keep adding rows. It is not what
	// keeps the 250 prompt: a batch stops at the next row once the sessions need it to
	// (waitedOn). It bounds the work a failed batch redoes row by row, and how stale the
	// batch's view of the sessions gets; long enough that a batch fills (batchRows) and
	// one commit serves many rows.
	batchTime = 25 * time.Millisecond
)

// item is one spool row on its way through a batch.
type item struct {
	in      *store.Inbound
	pm      *Parsed
	class   Class
	res     Result
	skipped bool // another replica has it, or it is no longer due
	done    bool // handled in the batch transaction
	waits   bool // left for a later batch: a reply whose parent may wait in another lane
	err     error
}

// runOnce ingests up to two batches of lane l's due rows, parsing the second while the
// first is written (on SQLite's one writer, parsing was a sixth of ingest's time, spent
// while the second core idled). Rows parsed and not reached go back to the handover
// parsed (putItem): a batch cut short by a waiting session stores a few rows of the 64
// parsed for it. It returns how many rows it looked at, and whether the
// first batch stopped at its first row because that row waits for another lane
// (olderWaiting).
func (g *Ingester) runOnce(ctx context.Context, l *lane) (n int, stalled bool, err error) {
	ids, err := g.dueRows(ctx, l, 2*batchRows)
	if err != nil {
		return 0, false, err
	}
	if len(ids) == 0 {
		if l.oldestID.Swap(0) != 0 && g.caughtUp() {
			g.heldBack.Store(0)
			if g.burstLogged.Swap(false) {
				g.log.Info("ingest: caught up after the burst")
			}
		}
		if g.caughtUp() && g.Pacing() {
			// Lanes that have not looked since their last rows count as caught up:
			// ask the spool itself before letting sessions in.
			if due, err := g.st.DueInbound(ctx, 1); err == nil && len(due) == 0 {
				g.idle()
			}
		}
		return 0, false, nil
	}
	oldest := g.oldestDue(ctx, l, ids[0])
	if g.holdBack(ctx, oldest) {
		// Rows arrived meanwhile: take the oldest of them all.
		if ids, err = g.dueRows(ctx, l, 2*batchRows); err != nil {
			return 0, false, err
		}
	}
	g.pace(oldest)
	g.handed.forget(ids, l)
	// Finish the rows in hand even when shutdown begins.
	ctx = context.WithoutCancel(ctx)
	items, rest := g.prepareBatch(ctx, ids)
	var next chan []*item
	if len(rest) > 0 {
		next = make(chan []*item, 1)
		go func() {
			second, _ := g.prepareBatch(ctx, rest)
			next <- second
		}()
	}
	stored, complete := g.ingestBatch(ctx, items, l)
	stalled = len(items) > 0 && stored == 0 && items[0].waits
	if next != nil {
		second := <-next
		if complete {
			g.ingestBatch(ctx, second, l)
		} else {
			// The first batch left rows for later: the second waits behind them, so
			// no row is stored before an older one of its lane (a reply before the
			// message it answers).
			for _, it := range second {
				if it.err == nil {
					g.handed.putItem(it)
				}
			}
		}
	}
	return len(ids), stalled, nil
}

// prepareBatch parses the first of ids up to batchRows rows and batchBytes; rest are
// the ids it did not take. The rows the handover does not hold are read in one go.
func (g *Ingester) prepareBatch(ctx context.Context, ids []int64) (items []*item, rest []int64) {
	var read map[int64]*store.Inbound
	if missing := g.handed.missing(ids[:min(len(ids), batchRows)]); len(missing) > 1 {
		var err error
		if read, err = store.GetInboundRows(ctx, g.st.DB, missing, bigMessage); err != nil {
			// Each row is read on its own instead, and fails on its own if it must.
			g.log.Warn("ingest: could not read a batch's spool rows at once", "rows", len(missing), "err", err)
			read = nil
		}
	}
	size := 0
	for i, id := range ids {
		if size >= batchBytes || i == batchRows {
			return items, ids[i:]
		}
		it := g.prepare(ctx, id, read[id])
		if it == nil {
			continue
		}
		size += int(it.in.Size)
		items = append(items, it)
	}
	return items, nil
}

// ingestBatch writes prepared items in one transaction and records what failed. It
// returns how many it stored, and whether it reached every item (none left for later).
func (g *Ingester) ingestBatch(ctx context.Context, items []*item, l *lane) (stored int, complete bool) {
	g.runBatch(ctx, items, l)
	complete = true
	var oldest time.Time // when the oldest row stored arrived
	for _, it := range items {
		if it.err != nil {
			msgID := ""
			if it.pm != nil {
				msgID = it.pm.MessageID
			}
			g.log.Error("ingest: failed, will retry", "inbound_id", it.in.ID, "message_id", msgID, "err", it.err)
			if ferr := g.st.FailInbound(ctx, it.in.ID, it.err); ferr != nil {
				g.log.Error("ingest: could not record failure", "inbound_id", it.in.ID, "err", ferr)
			}
			continue
		}
		if !it.done {
			complete = false // not reached, or waiting for another lane: due again
		} else if !it.skipped {
			stored++
			if oldest.IsZero() || it.in.ReceivedAt.Before(oldest) {
				oldest = it.in.ReceivedAt
			}
		}
		g.finish(it)
	}
	if stored > 0 && len(g.lanes) > 1 {
		g.wakeAll() // a reply in another lane may have waited for these rows
	}
	g.stored(stored, oldest)
	return stored, complete
}

// caughtUp reports whether no lane has rows waiting.
func (g *Ingester) caughtUp() bool {
	for _, l := range g.lanes {
		if l.oldestID.Load() != 0 {
			return false
		}
	}
	return true
}

// Process ingests one spool row in its own transaction. Unlike RunOnce, it leaves
// recording a failure to the caller.
func (g *Ingester) Process(ctx context.Context, id int64) error {
	it := g.prepare(ctx, id, nil)
	if it == nil {
		return nil
	}
	g.runOne(ctx, it, nil)
	if it.err != nil {
		return it.err
	}
	g.finish(it)
	return nil
}

// prepare loads and parses a row outside any transaction (the raw message never changes,
// so the database lock is held only for the writes). read is the row when the batch
// has read it already (GetInboundRows), else nil. It returns nil for a row that is no
// longer due.
func (g *Ingester) prepare(ctx context.Context, id int64, read *store.Inbound) *item {
	in, ready := g.handed.take(id)
	if ready != nil {
		ready.res, ready.skipped, ready.done, ready.waits = Result{}, false, false, false
		return ready
	}
	if in == nil {
		var err error
		if in = read; in == nil {
			if in, err = store.GetInboundRow(ctx, g.st.DB, id); err != nil {
				return &item{in: &store.Inbound{ID: id}, err: fmt.Errorf("ingest %d: %w", id, err)}
			}
		}
		if !store.InboundDue(in.Status) {
			return nil
		}
		if in.Size <= bigMessage && in.Raw == nil {
			if in.Raw, err = store.GetBlob(ctx, g.st.DB, in.RawSHA256); err != nil {
				return &item{in: in, err: fmt.Errorf("ingest %d: %w", id, err)}
			}
		}
	}
	routes := g.routes(in.Rcpt)
	if len(routes) == 0 {
		// Known before any write: failing it here keeps it out of the batch transaction.
		return &item{in: in, err: fmt.Errorf("ingest %d: %w", id, errNoRoute)}
	}
	for _, rt := range routes {
		if err := g.loadTeam(ctx, rt.Team); err != nil {
			return &item{in: in, err: fmt.Errorf("ingest %d: %w", id, err)}
		}
	}
	var pm *Parsed
	g.parsed.Add(1)
	if in.Raw != nil || in.Size == 0 {
		pm = g.parser.Parse(in.Raw)
	} else {
		// A large message is parsed from the database a chunk at a time (its Raw stays
		// nil: a DSN this large is read for its In-Reply-To and References only).
		// smtpd's buffers for it are garbage by now, in pieces the decoded parts cannot
		// reuse: give them back to the system first, or they add to the peak.
		debug.FreeOSMemory()
		pm = g.parser.ParseStream(func() (io.Reader, error) { return store.OpenBlob(ctx, g.st.DB, in.RawSHA256) })
	}
	return &item{in: in, pm: pm, class: Classify(in.MailFrom, pm, g.cfg.Own)}
}

// runBatch ingests the items in one transaction, for as long as the dialect's batch time
// allows; rows left over are due again at once. Errors are rare (a row no mailbox
// serves, a conflict with another replica), and on PostgreSQL one aborts the whole
// transaction, so a batch with an error is rolled back and every row redone alone.
func (g *Ingester) runBatch(ctx context.Context, items []*item, l *lane) {
	var todo []*item
	for _, it := range items {
		if it.err == nil {
			todo = append(todo, it)
		}
	}
	if len(todo) == 0 {
		return
	}
	g.yield()
	if len(todo) == 1 {
		g.runOne(ctx, todo[0], l)
		return
	}
	start := time.Now()
	// The spool row is durable and stays due until this commits: on SQLite the commit
	// need not wait for the disk (store.TxRedoable says why nothing is lost or sent twice).
	err := g.st.TxRedoable(ctx, func(tx *sqlx.Tx) error {
		ctx, batch := store.WithBatch(ctx)
		ids := make([]int64, len(todo))
		for i, it := range todo {
			ids[i] = it.in.ID
		}
		due, err := store.LockInbounds(ctx, tx, g.st.Dialect, ids)
		if err != nil {
			return err
		}
		var mine []*item
		for _, it := range todo {
			if due[it.in.ID] {
				mine = append(mine, it)
			}
		}
		if err := g.lockCopies(ctx, tx, mine); err != nil {
			return err
		}
		finished := map[string][]int64{}
		for i, it := range todo {
			it.res, it.skipped, it.waits = Result{}, false, false
			if i > 0 && (time.Since(start) > batchTime || g.waitedOn()) {
				break // commit what is done; the rest is due again at once
			}
			if due[it.in.ID] {
				if it.waits, err = g.olderWaiting(ctx, tx, it, l); err != nil {
					return err
				} else if it.waits {
					break // this and the rest in a later batch, after the other lane's
				}
			}
			it.done = true
			if !due[it.in.ID] {
				it.skipped = true
				continue
			}
			if err = g.apply(ctx, tx, it.in, it.pm, it.class, &it.res); err != nil {
				return err
			}
			finished[it.res.Status] = append(finished[it.res.Status], it.in.ID)
		}
		if err := g.tickets.FlushBatch(ctx, tx, batch); err != nil {
			return err
		}
		return store.FinishInbounds(ctx, tx, finished)
	})
	if err == nil {
		for _, it := range todo {
			if !it.done {
				// Not reached: still new, the next batch takes it.
				it.skipped = true
				g.handed.putItem(it)
			}
		}
		return
	}
	waiting := false
	for _, it := range todo {
		it.done = false
		if waiting {
			// Behind a row that waits for another lane: later, in order.
			it.skipped = true
			g.handed.putItem(it)
			continue
		}
		g.runOne(ctx, it, l)
		waiting = it.waits
	}
}

// runOne ingests one item in its own transaction; l is its lane (nil: none, as for
// Process).
func (g *Ingester) runOne(ctx context.Context, it *item, l *lane) {
	if it.err != nil {
		return
	}
	if err := g.st.TxRedoable(ctx, func(tx *sqlx.Tx) error { return g.applyItem(ctx, tx, it, l) }); err != nil {
		it.err = fmt.Errorf("ingest %d: %w", it.in.ID, err)
		return
	}
	if it.waits {
		it.skipped = true // due again, after the other lane's rows
		g.handed.putItem(it)
	} else {
		it.done = true
	}
}

// applyItem locks the row and applies it, in tx.
func (g *Ingester) applyItem(ctx context.Context, tx *sqlx.Tx, it *item, l *lane) error {
	ctx, batch := store.WithBatch(ctx)
	it.res, it.skipped, it.waits = Result{}, false, false
	due, err := store.LockInbound(ctx, tx, g.st.Dialect, it.in.ID)
	if err != nil {
		return err
	}
	if !due {
		it.skipped = true
		return nil
	}
	if l != nil {
		if it.waits, err = g.olderWaiting(ctx, tx, it, l); err != nil || it.waits {
			return err
		}
	}
	if err := g.lockCopies(ctx, tx, []*item{it}); err != nil {
		return err
	}
	if err = g.apply(ctx, tx, it.in, it.pm, it.class, &it.res); err != nil {
		return err
	}
	if err := g.tickets.FlushBatch(ctx, tx, batch); err != nil {
		return err
	}
	return store.FinishInbound(ctx, tx, it.in.ID, it.res.Status)
}

// finish logs a committed outcome.
func (g *Ingester) finish(it *item) {
	id := it.in.ID
	if it.skipped {
		return
	}
	pm, res := it.pm, it.res
	attrs := []any{"inbound_id", id, "from", pm.From.Address, "message_id", pm.MessageID, "tickets", res.Tickets, "created", res.Created}
	if res.Duplicate {
		attrs = append(attrs, "duplicate", true)
	}
	if it.class.Automatic {
		attrs = append(attrs, "automatic", it.class.Why)
	}
	g.log.Info("ingest: message stored", attrs...)
}

// loadTeam makes sure the team exists and remembers its id. It runs outside any
// transaction, so a remembered id is committed; teams are never deleted, so it stays true.
// A round trip less per message on the hot path.
func (g *Ingester) loadTeam(ctx context.Context, name string) error {
	if _, ok := g.teams.Load(name); ok {
		return nil
	}
	id, err := store.EnsureTeam(ctx, g.st.DB, name)
	if err != nil {
		return err
	}
	g.teams.Store(name, id)
	return nil
}

// teamID is the team's id from memory, or from the database in tx.
func (g *Ingester) teamID(ctx context.Context, tx *sqlx.Tx, name string) (int64, error) {
	if id, ok := g.teams.Load(name); ok {
		return id.(int64), nil
	}
	return store.EnsureTeam(ctx, tx, name)
}
