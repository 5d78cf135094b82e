package api

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per API token: Burst requests at once, refilled at Rate per
// second. It lives in this process; with several replicas each keeps its own buckets,
// so a client may reach the rate once per replica.
type limiter struct {
	rate  float64
	burst float64
	mu    sync.Mutex
	b     map[int64]*bucket
	sweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), b: map[int64]*bucket{}}
}

// allow takes one request from id's bucket at now. When the bucket is empty it returns
// false and how long until the next request would be allowed.
func (l *limiter) allow(id int64, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute {
		// Forget buckets that have refilled: they are the same as new ones.
		full := time.Duration(l.burst / l.rate * float64(time.Second))
		for k, b := range l.b {
			if now.Sub(b.at) > full {
				delete(l.b, k)
			}
		}
		l.sweep = now
	}
	b := l.b[id]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.b[id] = b
	}
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := (1 - b.tokens) / l.rate
	return false, time.Duration(wait * float64(time.Second))
}
