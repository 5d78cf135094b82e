package ingest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/store"
)

// PostgresLanes is how many ingest loops run side by side on PostgreSQL. One loop spends
// most of its time waiting for the database's answers, not computing; on PostgreSQL,
// several transactions can write at once, so loops over disjoint rows (lane i takes the
// rows whose id modulo the lane count is i) turn that waiting into work. SQLite has one
// writer: one lane.
//
// What one loop got from its order, lanes keep:
//   - copies of one message in two lanes: the copies lock (lockCopies) makes the later
//     wait for the earlier and find it;
//   - the loop guard: it counts under a lock per recipient (store.CountAutomaticSince);
//   - a reply whose parent is still waiting in another lane waits for it (olderWaiting),
//     so a follow-up sent a second after the first mail still joins its ticket.
const PostgresLanes = 3

// SQLiteLanes is the lanes on SQLite.
const SQLiteLanes = 1

// lane is one ingest loop's state.
type lane struct {
	n, of int // this lane takes the spool rows whose id modulo of is n
	wake  chan struct{}
	// oldestID is the oldest spool row waiting for this lane (0 when it has caught up),
	// oldestAt when it arrived (Unix ns).
	oldestID atomic.Int64
	oldestAt atomic.Int64
	// floor is the first row the lane's last scan found, where the next one starts
	// (dueRows; 0 when it found none); rescanned is when a scan last began at the
	// spool's start (Unix ns).
	floor     atomic.Int64
	rescanned atomic.Int64
}

// rescanEvery is how often a busy lane looks for its new rows from the spool's start
// rather than from its floor: for a row that became new below the floor, committed late
// by another replica's spool, or left new by a batch that rolled back.
const rescanEvery = time.Second

// dueRows asks for up to limit of lane l's due rows, oldest first, from where its last
// scan found the first (store.DueInboundLane). A scan from the floor that finds nothing
// is repeated from the start, so a lane that reports no rows has none, as Drain and the
// pacing need; a busy lane starts from the start every rescanEvery. A lane that found
// nothing has no floor: its next look, most often on an idle server, is one scan from
// the start, not a scan from a stale floor and then another.
func (g *Ingester) dueRows(ctx context.Context, l *lane, limit int) ([]int64, error) {
	t := g.now().UnixNano()
	from := l.floor.Load()
	if t-l.rescanned.Load() >= int64(rescanEvery) {
		from = 0
	}
	ids, err := g.st.DueInboundLane(ctx, limit, l.n, l.of, from)
	if err == nil && len(ids) == 0 && from > 0 {
		from = 0
		ids, err = g.st.DueInboundLane(ctx, limit, l.n, l.of, 0)
	}
	if err != nil {
		return nil, err
	}
	if from == 0 {
		l.rescanned.Store(t)
	}
	var floor int64
	if len(ids) > 0 {
		floor = ids[0]
	}
	l.floor.Store(floor)
	return ids, nil
}

func newLanes(n int) []*lane {
	out := make([]*lane, n)
	for i := range out {
		out[i] = &lane{n: i, of: n, wake: make(chan struct{}, 1)}
	}
	return out
}

// owns reports whether a spool row is this lane's.
func (l *lane) owns(id int64) bool { return l.of <= 1 || id%int64(l.of) == int64(l.n) }

func (l *lane) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// wakeAll wakes every lane: new rows may be anyone's, and a lane whose reply waited for
// another lane's rows may go on once that lane committed.
func (g *Ingester) wakeAll() {
	for _, l := range g.lanes {
		l.poke()
	}
}

// Run processes due spool rows until ctx ends, each lane in its own loop, then returns
// after the batches in hand.
func (g *Ingester) Run(ctx context.Context, poll time.Duration) {
	var wg sync.WaitGroup
	for _, l := range g.lanes {
		wg.Go(func() { g.runLane(ctx, poll, l) })
	}
	wg.Wait()
}

func (g *Ingester) runLane(ctx context.Context, poll time.Duration, l *lane) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-t.C:
		}
		wait := poll
		for ctx.Err() == nil {
			n, stalled, err := g.runOnce(ctx, l)
			if err != nil {
				g.log.Error("ingest: claim failed", "lane", l.n, "err", err)
				break
			}
			if stalled {
				wait = stallWait // the lane it waits for wakes it when it commits
				break
			}
			if n == 0 {
				break
			}
		}
		if g.Pacing() {
			wait = min(wait, flowQuiet) // to end pacing once the sessions are quiet
		}
		t.Reset(wait)
	}
}

// stallWait bounds how long a lane whose first row waits for another lane sleeps before
// it looks again (the other lane's commit wakes it sooner).
const stallWait = 10 * time.Millisecond

// RunOnce ingests a batch of due rows in each lane, one lane after the other; it
// returns how many rows it looked at.
func (g *Ingester) RunOnce(ctx context.Context) (int, error) {
	total := 0
	for _, l := range g.lanes {
		n, _, err := g.runOnce(ctx, l)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// Drain runs every lane side by side, as Run does, until no row is due: what a test or
// a benchmark waits for.
func (g *Ingester) Drain(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(g.lanes))
	for i, l := range g.lanes {
		wg.Go(func() {
			for ctx.Err() == nil {
				n, stalled, err := g.runOnce(ctx, l)
				if err != nil {
					errs[i] = err
					return
				}
				if n == 0 {
					return
				}
				if stalled {
					select {
					case <-l.wake:
					case <-time.After(stallWait):
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// olderWaiting reports whether a spool row older than id is still waiting in another
// lane: a reply (it names Message-IDs, or came to a ticket's reply address) waits for it,
// in case it is the message the reply answers.
func (g *Ingester) olderWaiting(ctx context.Context, q sqlx.QueryerContext, it *item, l *lane) (bool, error) {
	if l.of <= 1 || !g.isReply(it) {
		return false, nil
	}
	return store.OlderInboundWaiting(ctx, q, it.in.ID, l.n, l.of)
}

// isReply reports whether a message may thread onto a ticket by its headers or its
// recipient address.
func (g *Ingester) isReply(it *item) bool {
	if it.pm != nil && (len(it.pm.InReplyTo) > 0 || len(it.pm.References) > 0) {
		return true
	}
	for _, rt := range g.routes(it.in.Rcpt) {
		if rt.TicketID != 0 {
			return true
		}
	}
	return false
}
