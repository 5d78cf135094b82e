package account

import (
	"fmt"
	"sync"
	"time"
)

// Rate is a token bucket: Burst attempts at once, then one more every Every.
type Rate struct {
	Burst int
	Every time.Duration
}

// Limits are the throttles in front of the account flows, each per client IP and per
// address (account), checked in that order; an attempt spends from both.
type Limits struct {
	SignInIP      Rate // password sign-ins and password changes from one IP
	SignInAccount Rate // the same for one address
	MailIP        Rate // sign-up, sign-in link and reset requests from one IP
	MailAddress   Rate // the same for one address (each sends a mail)
	Code          Rate // second-factor codes for one account
}

// DefaultLimits are chosen so a customer who mistypes never meets them and a guesser
// gets nowhere: 10 password tries per address at once then one every 3 minutes (480 a
// day, against a blocklist of the 10,000 most common; NIST SP 800-63B allows up to 100
// consecutive failures); 30 per IP then one every 5 s, generous for an office behind
// one NAT; 3 mails per address then one per 10 minutes (the automatic-mail cap stops
// the rest anyway); 5 codes then one a minute, against a million codes.
func DefaultLimits() Limits {
	return Limits{
		SignInIP:      Rate{Burst: 30, Every: 5 * time.Second},
		SignInAccount: Rate{Burst: 10, Every: 3 * time.Minute},
		MailIP:        Rate{Burst: 10, Every: time.Minute},
		MailAddress:   Rate{Burst: 3, Every: 10 * time.Minute},
		Code:          Rate{Burst: 5, Every: time.Minute},
	}
}

// ThrottledError says an attempt was refused by a throttle, and when to try again.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts: retry after %s", e.RetryAfter.Round(time.Second))
}

// throttle holds token buckets in memory, one per key. Each replica throttles on its own:
// behind a load balancer the effective limits are the replicas' sum.
type throttle struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	max     int // keys kept; past it, full buckets are dropped
}

type bucket struct {
	tokens float64
	last   time.Time
	rate   Rate
}

func newThrottle() *throttle { return &throttle{buckets: map[string]*bucket{}, max: 100_000} }

// allow spends one attempt from every key's bucket if each has one, else spends
// nothing and says how long until the emptiest refills.
func (t *throttle) allow(now time.Time, keys []string, rates []Rate) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	bs := make([]*bucket, len(keys))
	for i, k := range keys {
		r := rates[i]
		if r.Burst <= 0 || r.Every <= 0 {
			continue // this throttle is off
		}
		b := t.buckets[k]
		if b == nil {
			if len(t.buckets) >= t.max {
				t.prune(now)
			}
			b = &bucket{tokens: float64(r.Burst), last: now, rate: r}
			t.buckets[k] = b
		}
		b.refill(now)
		if b.tokens < 1 {
			if w := time.Duration((1 - b.tokens) * float64(r.Every)); w > wait {
				wait = w
			}
		}
		bs[i] = b
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait.Round(time.Second) + time.Second}
	}
	for _, b := range bs {
		if b != nil {
			b.tokens--
		}
	}
	return nil
}

func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens += float64(d) / float64(b.rate.Every)
		if b.tokens > float64(b.rate.Burst) {
			b.tokens = float64(b.rate.Burst)
		}
		b.last = now
	}
}

// prune drops buckets that have refilled: they hold nothing a new bucket would not.
func (t *throttle) prune(now time.Time) {
	for k, b := range t.buckets {
		b.refill(now)
		if b.tokens >= float64(b.rate.Burst) {
			delete(t.buckets, k)
		}
	}
}
