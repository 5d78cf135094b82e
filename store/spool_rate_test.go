package store

import (
	"math"
	"testing"
	"time"
)

// TestArrivalRate: the spool's arrival rate follows a steady stream, stays up through
// the pauses between waves of sessions in step, and counts one message alone for
// little; ingest's burst threshold (200 a second) lies between those.
func TestArrivalRate(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// arrivals are offsets from t0; the rate is read at each of reads, having
		// seen the arrivals until then.
		arrivals []time.Duration
		reads    []time.Duration
		min, max float64
	}{
		{
			name:  "nothing has arrived",
			reads: []time.Duration{0, time.Hour},
			min:   0,
			max:   0,
		},
		{
			name:     "one message alone",
			arrivals: []time.Duration{0},
			reads:    []time.Duration{0},
			min:      9,
			max:      11,
		},
		{
			name:     "a steady 500 a second, read after two seconds of it",
			arrivals: every(2*time.Millisecond, 1000, 0),
			reads:    []time.Duration{1998 * time.Millisecond},
			min:      450,
			max:      550,
		},
		{
			// Twenty sessions answered by one fsync come back together 17 ms later:
			// read in every pause, just before the next wave, from the second wave
			// on, the rate stays a burst's.
			name:     "waves of twenty, 17 ms apart",
			arrivals: waves(20, 17*time.Millisecond, 60),
			reads:    pauses(17*time.Millisecond, 60)[1:],
			min:      250,
			max:      2000,
		},
		{
			name:     "a second after the waves",
			arrivals: waves(20, 17*time.Millisecond, 60),
			reads:    []time.Duration{60*17*time.Millisecond + time.Second},
			min:      0,
			max:      1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range tc.reads {
				var a arrivalRate // what it had seen by r
				for _, d := range tc.arrivals {
					if d <= r {
						a.add(t0.Add(d))
					}
				}
				if got := a.at(t0.Add(r)); got < tc.min || got > tc.max || math.IsNaN(got) {
					t.Errorf("rate at %v = %.1f a second, want %.0f to %.0f", r, got, tc.min, tc.max)
				}
			}
		})
	}
}

// every is n arrivals gap apart from start.
func every(gap time.Duration, n int, start time.Duration) []time.Duration {
	var ds []time.Duration
	for i := range n {
		ds = append(ds, start+time.Duration(i)*gap)
	}
	return ds
}

// waves is n waves of size arrivals within a millisecond, period apart.
func waves(size int, period time.Duration, n int) []time.Duration {
	var ds []time.Duration
	for w := range n {
		ds = append(ds, every(time.Millisecond/time.Duration(size), size, time.Duration(w)*period)...)
	}
	return ds
}

// pauses is the moment before each of n waves period apart, after the first.
func pauses(period time.Duration, n int) []time.Duration {
	var ds []time.Duration
	for w := 1; w < n; w++ {
		ds = append(ds, time.Duration(w)*period-time.Microsecond)
	}
	return ds
}
