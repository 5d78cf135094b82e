package ingest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Backpressure. During a burst ingest holds back and the sessions take the box
// (burst.go); once the oldest row waiting is BurstLag old, ingest runs beside them again.
// In a flood that never ends that is not enough: twenty sessions and one to three ingest
// loops share the cores about in that proportion, so the sessions accept faster than
// ingest stores and the backlog grows without end. So from then on the sessions are
// paced by ingest, as Postfix's in_flow_delay paces its smtpd by its queue manager: a
// session waits before answering MAIL FROM until ingest has stored a row for it to
// take the place of. While the rows stored waited more than half of BurstLag, every
// second row gives a place, so the backlog shrinks at half ingest's rate; below that,
// every row gives one, so it stays there, and ingest finds a handful whenever it has
// nothing to do. The backlog settles near half of BurstLag: thousands of rows, so
// ingest's batches stay full (its cost is largely per batch, on PostgreSQL most), and
// ingest works the whole time while the sessions go at its pace.
// Pacing ends once ingest has caught up and no session has asked for flowQuiet: the
// flood is over, and the next burst is held for again. Nothing is refused and nothing
// already accepted waits longer: a session waits before its message, at most
// flowMaxWait (a sending MTA waits five minutes for the reply to MAIL FROM, RFC 5321
// 4.5.3.2.2).
const (
	flowMaxWait = 30 * time.Second
	flowQuiet   = time.Second
)

// flow is the pacing state one Ingester shares with the sessions that call Admit.
type flow struct {
	mu sync.Mutex
	// on is set while ingest paces the sessions; written under mu, read without it
	// where a moment's staleness does no harm (busy, before every batch).
	on     atomic.Bool
	places int           // rows stored since a session last took one, up to flowMaxPlaces
	odd    int           // a row stored above the target whose place waits for the next
	wake   chan struct{} // closed, and replaced, when places are given or pacing ends
	// paced counts MAIL FROM commands that waited; timedOut those that went on after
	// flowMaxWait without a place.
	paced, timedOut atomic.Int64
	// lastAsk is when a session last asked for a place (Unix ns).
	lastAsk atomic.Int64
}

// broadcast wakes every session waiting in Admit; f.mu is held.
func (f *flow) broadcast() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// flowMaxPlaces bounds the places saved up while no session asks for one, so a quiet
// moment does not let the next burst in unpaced.
const flowMaxPlaces = 4 * batchRows

// Admit returns when a session may go on with a new message: at once unless ingest is
// pacing the sessions, else when a row stored gives it a place, after flowMaxWait at the
// latest. It returns ctx's error when ctx ends first (shutdown). smtpd calls it before
// answering MAIL FROM.
func (g *Ingester) Admit(ctx context.Context) error {
	f := &g.flow
	if !f.on.Load() {
		return nil
	}
	f.mu.Lock()
	if !f.on.Load() {
		f.mu.Unlock()
		return nil
	}
	f.lastAsk.Store(time.Now().UnixNano())
	if f.places > 0 {
		f.places--
		f.mu.Unlock()
		return nil
	}
	f.paced.Add(1)
	g.wakeAll() // an idle lane looks again, and gives places if it has nothing to do
	t := time.NewTimer(flowMaxWait)
	defer t.Stop()
	for f.on.Load() && f.places == 0 {
		wake := f.wake
		f.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if f.timedOut.Add(1) == 1 {
				// Ingest stored nothing for that long while behind: the database, not load.
				g.log.Warn("ingest: a session waited for ingest the longest it may and went on; ingest is stuck, not busy",
					"waited", flowMaxWait, "backlog", g.Backlog().Round(time.Second))
			}
			return nil
		case <-wake:
		}
		f.mu.Lock()
	}
	if f.on.Load() {
		f.places--
	}
	f.mu.Unlock()
	return nil
}

// Paced is how many MAIL FROM commands waited for ingest (Admit), and how many of them
// went on after flowMaxWait without a place.
func (g *Ingester) Paced() (paced, timedOut int64) {
	return g.flow.paced.Load(), g.flow.timedOut.Load()
}

// Pacing reports whether the sessions are paced by ingest now.
func (g *Ingester) Pacing() bool { return g.flow.on.Load() }

// pace starts pacing the sessions when the oldest row waiting (which arrived at oldest)
// is BurstLag old: the burst hold has given the sessions all it gives.
func (g *Ingester) pace(oldest time.Time) {
	if g.load == nil || g.burstLag <= 0 || time.Since(oldest) < g.burstLag {
		return
	}
	f := &g.flow
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.on.Load() {
		return
	}
	f.places, f.wake = 0, make(chan struct{})
	f.on.Store(true)
	f.lastAsk.Store(time.Now().UnixNano())
	g.log.Warn("ingest: behind by more than the burst lag, SMTP sessions now wait for ingest before MAIL FROM",
		"oldest_waiting", time.Since(oldest).Round(time.Millisecond), "burst_lag", g.burstLag)
}

// stored gives the sessions places for n rows ingest has stored, the oldest of which
// arrived at oldest: one per row, or one per two rows while that one waited more than
// half of BurstLag. (The rows' own age, not Backlog: that is as old as each lane's last
// look.)
func (g *Ingester) stored(n int, oldest time.Time) {
	f := &g.flow
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on.Load() || n == 0 {
		return
	}
	if time.Since(oldest) > g.burstLag/2 {
		n, f.odd = (n+f.odd)/2, (n+f.odd)%2
		if n == 0 {
			return
		}
	}
	f.places = min(f.places+n, flowMaxPlaces)
	f.broadcast()
}

// idle is called when ingest has caught up: while sessions still ask, it lets a
// handful in (ingest has nothing to do); once they have not asked for flowQuiet, pacing
// ends.
func (g *Ingester) idle() {
	f := &g.flow
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on.Load() {
		return
	}
	if time.Since(time.Unix(0, f.lastAsk.Load())) < flowQuiet {
		f.places = flowMaxPlaces
		f.broadcast()
		return
	}
	f.on.Store(false)
	f.broadcast()
	g.log.Info("ingest: caught up, SMTP sessions no longer wait for ingest", "paced_total", f.paced.Load())
}
