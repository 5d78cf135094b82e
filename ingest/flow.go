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
// take the place of. While the backlog is above BurstLag no place is given, so it falls
// back to BurstLag; below it, one place per row stored, so it stays there. Pacing ends
// when ingest has caught up. Nothing is refused and nothing already accepted waits
// longer: a session waits before its message, at most flowMaxWait (a sending MTA waits
// five minutes for the reply to MAIL FROM, RFC 5321 4.5.3.2.2).
const flowMaxWait = 30 * time.Second

// flow is the pacing state one Ingester shares with the sessions that call Admit.
type flow struct {
	mu     sync.Mutex
	on     bool
	places int           // rows stored since a session last took one, up to flowMaxPlaces
	wake   chan struct{} // closed, and replaced, when places are given or pacing ends
	// paced counts MAIL FROM commands that waited; timedOut those that went on after
	// flowMaxWait without a place.
	paced, timedOut atomic.Int64
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
	f.mu.Lock()
	if !f.on {
		f.mu.Unlock()
		return nil
	}
	f.paced.Add(1)
	t := time.NewTimer(flowMaxWait)
	defer t.Stop()
	for f.on && f.places == 0 {
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
	if f.on {
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
func (g *Ingester) Pacing() bool {
	g.flow.mu.Lock()
	defer g.flow.mu.Unlock()
	return g.flow.on
}

// pace starts pacing the sessions when the oldest row waiting (which arrived at oldest)
// is BurstLag old: the burst hold has given the sessions all it gives.
func (g *Ingester) pace(oldest time.Time) {
	if g.load == nil || g.burstLag <= 0 || time.Since(oldest) < g.burstLag {
		return
	}
	f := &g.flow
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.on {
		return
	}
	f.on, f.places, f.wake = true, 0, make(chan struct{})
	g.log.Warn("ingest: behind by more than the burst lag, SMTP sessions now wait for ingest before MAIL FROM",
		"oldest_waiting", time.Since(oldest).Round(time.Millisecond), "burst_lag", g.burstLag)
}

// stored gives the sessions places for n rows ingest has stored, the oldest of which
// arrived at oldest, unless that one waited BurstLag or more: the backlog is still above
// it. (The rows' own age, not Backlog: that is as old as each lane's last look.)
func (g *Ingester) stored(n int, oldest time.Time) {
	f := &g.flow
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on || n == 0 || time.Since(oldest) >= g.burstLag {
		return
	}
	f.places = min(f.places+n, flowMaxPlaces)
	close(f.wake)
	f.wake = make(chan struct{})
}

// unpace ends pacing: ingest has caught up.
func (g *Ingester) unpace() {
	f := &g.flow
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on {
		return
	}
	f.on = false
	close(f.wake)
	g.log.Info("ingest: caught up, SMTP sessions no longer wait for ingest", "paced_total", f.paced.Load())
}
