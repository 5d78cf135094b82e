package ingest

import (
	"context"
	"time"

	"github.com/mxdesk/mxdesk/store"
)

// yieldMax is how long ingest waits, before each batch, for the SMTP sessions waiting on
// the spool: they have a client waiting for a 250, ingest has not. Bounded, so a
// sustained flood slows ingest down but never stops it.
const yieldMax = 10 * time.Millisecond

// A burst is sessions beginning to wait for the spool at burstRate a second or more,
// less than 5 ms apart on average (a helpdesk's usual mail is far below that; below it
// the sessions leave the box room enough for ingest beside them). During one, ingest
// holds back entirely while the oldest row waiting for it is younger than BurstLag:
// parsing, threading and the acknowledgement take CPU from the sessions, which have a
// client waiting (bench/README.md, "Why the code is as it is"). Once the oldest row is
// BurstLag old ingest runs beside the sessions again, so in a flood that never ends no
// message waits much longer than BurstLag for its ticket, and ingest takes only the
// share of the box that keeps it so.
//
// A rate, not the gap since the last session: twenty clients in step arrive in waves,
// one per fsync, with pauses between them as long as a client's next connection takes;
// a gap short enough to end the burst at one message lets ingest in at every pause, and
// the sessions of the next wave wait behind its transaction.
const (
	BurstLag  = 10 * time.Second
	burstRate = 200
	// burstPoll is how often a held ingest looks whether the burst is over.
	burstPoll = 5 * time.Millisecond
	// burstNotice is how long the oldest row must have waited before the hold is worth
	// a log line.
	burstNotice = time.Second
)

// SMTPLoad is what ingest reads of the SMTP side to give way to it (store.Spool).
type SMTPLoad interface {
	// Waiting is how many sessions are waiting for their commit now.
	Waiting() int
	// ArrivalRate is how many sessions a second have lately begun waiting for their
	// commit.
	ArrivalRate() float64
}

// YieldTo makes the ingester give way to the SMTP sessions load reports: before each
// batch while any waits for the spool (yieldMax), and for up to lag during a burst
// (BurstLag in serve; 0 turns the hold off). Call it before Run.
func (g *Ingester) YieldTo(load SMTPLoad, lag time.Duration) { g.load, g.burstLag = load, lag }

// busy reports how many sessions are waiting for the spool now; none while ingest paces
// them: they go at ingest's pace then, and ingest giving way to them would only slow
// both.
func (g *Ingester) busy() int {
	if g.load == nil || g.Pacing() {
		return 0
	}
	return g.load.Waiting()
}

// waitedOn reports whether a batch should stop at the next row for the sessions: when
// busy says so, and on SQLite whenever a session waits on the spool, pacing or not. Its
// spool writer shares ingest's one connection, so those sessions (admitted already,
// their clients waiting for the 250) wait for the batch to commit, a whole batch time
// under pacing.
func (g *Ingester) waitedOn() bool {
	if g.load != nil && g.st.Dialect == store.SQLite {
		return g.load.Waiting() > 0
	}
	return g.busy() > 0
}

// yield waits, up to yieldMax, until no session is waiting for the spool.
func (g *Ingester) yield() {
	for deadline := time.Now().Add(yieldMax); g.busy() > 0 && time.Now().Before(deadline); {
		time.Sleep(500 * time.Microsecond)
	}
}

// holdBack waits while the SMTP side is in a burst, until the oldest row waiting (which
// arrived at oldest) is burstLag old, and reports whether it waited. It returns early
// when ctx ends.
func (g *Ingester) holdBack(ctx context.Context, oldest time.Time) (held bool) {
	if g.load == nil || g.burstLag <= 0 || g.Pacing() {
		return false // pacing: the sessions wait for ingest, not ingest for them
	}
	until := oldest.Add(g.burstLag)
	for ; ; held = true {
		now := time.Now()
		if !now.Before(until) || g.load.Waiting() == 0 && g.load.ArrivalRate() < burstRate {
			return held
		}
		g.heldBack.Add(1)
		if now.Sub(oldest) >= min(burstNotice, g.burstLag/2) && g.burstLogged.CompareAndSwap(false, true) {
			// Once per backlog, and only for a real burst: the admin reading the log
			// learns why tickets lag, and is not told of a burst at every message.
			g.log.Info("ingest: SMTP burst, holding back so sessions go first",
				"oldest_waiting", now.Sub(oldest).Round(time.Millisecond), "at_most", g.burstLag)
		}
		t := time.NewTimer(min(burstPoll, until.Sub(now)))
		select {
		case <-ctx.Done():
			t.Stop()
			return held
		case <-t.C:
		}
	}
}

// oldestDue records when the oldest row waiting for ingest, id, arrived: from the
// handover when it is there, else from the database. A row it cannot read counts as
// old, so ingest does not hold back for it.
func (g *Ingester) oldestDue(ctx context.Context, l *lane, id int64) time.Time {
	if id == l.oldestID.Load() {
		return time.Unix(0, l.oldestAt.Load())
	}
	t, ok := g.handed.receivedAt(id)
	if !ok {
		if in, err := store.GetInboundRow(ctx, g.st.DB, id); err == nil {
			t = in.ReceivedAt
		} else {
			g.log.Warn("ingest: backlog age unknown", "err", err)
			t = time.Now().Add(-g.burstLag)
		}
	}
	l.oldestAt.Store(t.UnixNano())
	l.oldestID.Store(id)
	return t
}

// Backlog is how long the oldest spool row waiting for ingest has waited (zero when
// ingest has caught up). Up to BurstLag is a burst being absorbed; more means ingest is
// not keeping up.
func (g *Ingester) Backlog() time.Duration {
	var oldest time.Duration
	for _, l := range g.lanes {
		if l.oldestID.Load() != 0 {
			oldest = max(oldest, time.Since(time.Unix(0, l.oldestAt.Load())))
		}
	}
	return oldest
}
