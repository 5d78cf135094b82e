package ticket

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Span is one stretch of working time in a day, as wall-clock offsets from local
// midnight: 09:00–17:00 is {9h, 17h}. Wall clock, not elapsed time, because that is what
// the office door says; on a day when the clocks change, the span's real length follows
// the clocks (a 01:00–04:00 span is two hours long on a spring-forward night).
type Span struct{ Start, End time.Duration }

// Calendar is when the team works: a time zone, the spans of each weekday, and holidays
// (local dates) on which nobody works. Its methods are pure: they take the instant to
// work from and never read the clock.
type Calendar struct {
	Loc      *time.Location
	Week     [7][]Span       // indexed by time.Weekday
	Holidays map[string]bool // "2006-01-02" in Loc
}

// DefaultCalendar is Monday to Friday, 09:00–17:00 UTC, no holidays.
func DefaultCalendar() *Calendar {
	c := &Calendar{Loc: time.UTC, Holidays: map[string]bool{}}
	for d := time.Monday; d <= time.Friday; d++ {
		c.Week[d] = []Span{{9 * time.Hour, 17 * time.Hour}}
	}
	return c
}

// ParseSpans reads a day's hours: "09:00-12:00,13:00-17:00" (a split day), or "" for
// a day off. Spans must be in order and must not overlap; "24:00" ends a day.
func ParseSpans(s string) ([]Span, error) {
	var out []Span
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		a, b, ok := strings.Cut(part, "-")
		if !ok {
			return nil, fmt.Errorf("%q is not HH:MM-HH:MM", part)
		}
		start, err := parseClock(a)
		if err != nil {
			return nil, err
		}
		end, err := parseClock(b)
		if err != nil {
			return nil, err
		}
		if end <= start {
			return nil, fmt.Errorf("%q ends before it starts", part)
		}
		if n := len(out); n > 0 && start < out[n-1].End {
			return nil, fmt.Errorf("%q overlaps or precedes the span before it", part)
		}
		out = append(out, Span{start, end})
	}
	return out, nil
}

func parseClock(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || len(s) != 5 {
		return 0, fmt.Errorf("%q is not a time like 09:00", s)
	}
	if h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// ParseHolidays reads local dates "2006-01-02".
func ParseHolidays(list []string) (map[string]bool, error) {
	out := make(map[string]bool, len(list))
	var errs []error
	for _, d := range list {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			errs = append(errs, fmt.Errorf("%q is not a date like 2026-12-24", d))
			continue
		}
		out[d] = true
	}
	return out, errors.Join(errs...)
}

// alwaysOpen reports whether the calendar has no working spans at all. Such a
// calendar would make every deadline infinite; it is read as "the clock always runs".
func (c *Calendar) alwaysOpen() bool {
	for _, d := range c.Week {
		if len(d) > 0 {
			return false
		}
	}
	return true
}

// daySpans returns the working spans of the local day that starts at midnight as
// instants, in order.
func (c *Calendar) daySpans(midnight time.Time) [][2]time.Time {
	if c.Holidays[midnight.Format(time.DateOnly)] {
		return nil
	}
	y, m, d := midnight.Date()
	var out [][2]time.Time
	for _, sp := range c.Week[midnight.Weekday()] {
		// time.Date normalizes wall times that do not exist (the hour skipped in spring)
		// forward, and picks the first of two that exist twice (autumn), so spans stay in
		// order on those days too.
		a := time.Date(y, m, d, int(sp.Start/time.Hour), int(sp.Start%time.Hour/time.Minute), 0, 0, c.Loc)
		b := time.Date(y, m, d, int(sp.End/time.Hour), int(sp.End%time.Hour/time.Minute), 0, 0, c.Loc)
		if b.After(a) {
			out = append(out, [2]time.Time{a, b})
		}
	}
	return out
}

// startOfDay is local midnight of t's day in the calendar's zone.
func (c *Calendar) startOfDay(t time.Time) time.Time {
	y, m, d := t.In(c.Loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, c.Loc)
}

func nextDay(midnight time.Time) time.Time {
	y, m, d := midnight.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, midnight.Location())
}

// maxDays bounds the walk through the calendar: a year and a half of holidays in a row
// is a configuration mistake, not a reason to loop for ever.
const maxDays = 550

// Within reports whether t falls in working time.
func (c *Calendar) Within(t time.Time) bool {
	if c.alwaysOpen() {
		return true
	}
	for _, sp := range c.daySpans(c.startOfDay(t)) {
		if !t.Before(sp[0]) && t.Before(sp[1]) {
			return true
		}
	}
	return false
}

// Add returns the instant at which d of working time has passed since t. Time outside
// working hours does not count, so a ticket created on Friday evening with 4 h to go is
// due on Monday at 13:00. A deadline that uses up a span exactly is that span's end
// (17:00), not the next morning.
func (c *Calendar) Add(t time.Time, d time.Duration) time.Time {
	if d <= 0 || c.alwaysOpen() {
		return t.Add(max(d, 0))
	}
	day := c.startOfDay(t)
	for range maxDays {
		for _, sp := range c.daySpans(day) {
			start := sp[0]
			if t.After(start) {
				start = t
			}
			if !start.Before(sp[1]) {
				continue
			}
			if left := sp[1].Sub(start); d <= left {
				return start.Add(d)
			} else {
				d -= left
			}
		}
		day = nextDay(day)
	}
	return t.Add(d) // no working time for maxDays: fall back to the wall clock
}

// Between returns the working time from a to b; negative when b is before a.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -c.Between(b, a)
	}
	if c.alwaysOpen() {
		return b.Sub(a)
	}
	var sum time.Duration
	for day, n := c.startOfDay(a), 0; day.Before(b) && n < maxDays*4; day, n = nextDay(day), n+1 {
		for _, sp := range c.daySpans(day) {
			lo, hi := sp[0], sp[1]
			if lo.Before(a) {
				lo = a
			}
			if hi.After(b) {
				hi = b
			}
			if hi.After(lo) {
				sum += hi.Sub(lo)
			}
		}
	}
	return sum
}

// Priorities in order of urgency; "medium" is the default.
var Priorities = []string{"urgent", "high", "medium", "low"}

// Target is a priority's SLA: first response and resolution, in working time.
type Target struct{ FirstResponse, Resolution time.Duration }

// WorkingDay is what "1 d" means in an SLA: eight working hours, one day of the default
// Monday–Friday 09:00–17:00 week. It is a fixed length, not "the same time on the next
// working day", so an SLA means the same amount of work whichever day a ticket arrives.
const WorkingDay = 8 * time.Hour

// DefaultTargets are the defaults: urgent 1 h / 4 h, high 4 h / 1 d,
// medium 8 h / 3 d, low 1 d / 5 d.
func DefaultTargets() map[string]Target {
	return map[string]Target{
		"urgent": {time.Hour, 4 * time.Hour},
		"high":   {4 * time.Hour, WorkingDay},
		"medium": {8 * time.Hour, 3 * WorkingDay},
		"low":    {WorkingDay, 5 * WorkingDay},
	}
}

// SLA is the policy: when the team works and what each priority promises.
type SLA struct {
	Calendar *Calendar
	Targets  map[string]Target
}

// DefaultSLA is the default calendar with the default targets.
func DefaultSLA() SLA { return SLA{Calendar: DefaultCalendar(), Targets: DefaultTargets()} }

// Target returns the priority's target, medium's for an unknown priority.
func (s SLA) Target(priority string) Target {
	if t, ok := s.Targets[priority]; ok {
		return t
	}
	return s.Targets["medium"]
}

// Deadlines are response_by and resolution_by for a ticket created at created with
// the given priority that has spent paused of working time waiting on the customer
// (Resolved or Closed). The clock rule: targets count working time from creation;
// time waiting on the customer does not count, so every reopen moves both deadlines
// later by the working time the ticket waited; a priority change recomputes both from
// creation with the new targets (keeping the waiting time out).
func (s SLA) Deadlines(created time.Time, priority string, paused time.Duration) (responseBy, resolutionBy time.Time) {
	t := s.Target(priority)
	return s.Calendar.Add(created, t.FirstResponse+paused), s.Calendar.Add(created, t.Resolution+paused)
}

// WarnAt is when a deadline's warning is due: when 20 % of the target's working time
// is left. Computed backwards from the deadline, so a pause that moved the deadline
// moves the warning with it.
func (s SLA) WarnAt(deadline time.Time, target time.Duration) time.Time {
	return s.Calendar.Sub(deadline, target/5)
}

// Sub returns the instant that lies d of working time before t (the inverse of Add for
// instants in working time).
func (c *Calendar) Sub(t time.Time, d time.Duration) time.Time {
	if d <= 0 || c.alwaysOpen() {
		return t.Add(-max(d, 0))
	}
	day := c.startOfDay(t)
	for range maxDays {
		spans := c.daySpans(day)
		sort.Slice(spans, func(i, j int) bool { return spans[i][0].After(spans[j][0]) })
		for _, sp := range spans {
			end := sp[1]
			if t.Before(end) {
				end = t
			}
			if !end.After(sp[0]) {
				continue
			}
			if got := end.Sub(sp[0]); d <= got {
				return end.Add(-d)
			} else {
				d -= got
			}
		}
		y, m, dd := day.Date()
		day = time.Date(y, m, dd-1, 0, 0, 0, 0, c.Loc)
	}
	return t.Add(-d)
}
