package ticket

import (
	"testing"
	"time"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	return loc
}

// office is Mon–Fri 09:00–17:00 in Berlin, with Friday a split day (09:00–12:00,
// 13:00–15:00), 2026-12-24 and 2026-12-25 holidays, and Sunday open all day (to see
// DST on a working day).
func office(t *testing.T) *Calendar {
	t.Helper()
	c := &Calendar{Loc: berlin(t), Holidays: map[string]bool{"2026-12-24": true, "2026-12-25": true}}
	for d := time.Monday; d <= time.Thursday; d++ {
		c.Week[d] = mustSpans(t, "09:00-17:00")
	}
	c.Week[time.Friday] = mustSpans(t, "09:00-12:00, 13:00-15:00")
	c.Week[time.Sunday] = mustSpans(t, "00:00-24:00")
	return c
}

func mustSpans(t *testing.T, s string) []Span {
	t.Helper()
	sp, err := ParseSpans(s)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin(t))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCalendarAdd(t *testing.T) {
	c := office(t)
	// 2026-12-14 is a Monday.
	tests := []struct {
		name   string
		from   string
		add    time.Duration
		want   string
		inside bool
	}{
		{"an hour inside the day stays inside the day", "2026-12-14 10:00", time.Hour, "2026-12-14 11:00", true},
		{"a deadline that uses the day up exactly is the day's end", "2026-12-14 09:00", 8 * time.Hour, "2026-12-14 17:00", true},
		{"time left over carries across the night", "2026-12-14 16:00", 2 * time.Hour, "2026-12-15 10:00", true},
		{"a ticket created at night starts counting in the morning", "2026-12-14 22:30", time.Hour, "2026-12-15 10:00", false},
		{"a ticket created before opening starts counting at opening", "2026-12-15 06:00", 30 * time.Minute, "2026-12-15 09:30", false},
		{"the Friday lunch break of a split day does not count", "2026-12-18 11:00", 2 * time.Hour, "2026-12-18 14:00", true},
		{"Friday's short afternoon runs over into the weekend's Sunday", "2026-12-18 14:00", 2 * time.Hour, "2026-12-20 01:00", true},
		{"Saturday is not a working day", "2026-12-19 10:00", time.Hour, "2026-12-20 01:00", false},
		{"holidays are skipped", "2026-12-23 16:00", 2 * time.Hour, "2026-12-27 01:00", true},
		{"a ticket created on a holiday waits for the next working day", "2026-12-24 10:00", time.Hour, "2026-12-27 01:00", false},
		{"three working days from Monday morning end on Wednesday evening", "2026-12-14 09:00", 3 * WorkingDay, "2026-12-16 17:00", true},
		{"five working days from Thursday cross the weekend", "2026-12-10 09:00", 5 * WorkingDay, "2026-12-14 12:00", true},
		{"zero adds nothing even outside hours", "2026-12-19 10:00", 0, "2026-12-19 10:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := at(t, tt.from)
			got := c.Add(from, tt.add)
			if want := at(t, tt.want); !got.Equal(want) {
				t.Errorf("Add(%s, %s) = %s, want %s", tt.from, tt.add, got.In(c.Loc), want)
			}
			if in := c.Within(from); in != tt.inside {
				t.Errorf("Within(%s) = %v, want %v", tt.from, in, tt.inside)
			}
			if tt.add > 0 {
				if back := c.Between(from, got); back != tt.add {
					t.Errorf("Between(%s, Add(...)) = %s, want %s", tt.from, back, tt.add)
				}
			}
		})
	}
}

func TestCalendarAcrossDaylightSavingChanges(t *testing.T) {
	c := office(t)
	tests := []struct {
		name string
		from string
		add  time.Duration
		want time.Time
	}{
		// 2026-03-29 (Sunday): clocks go from 02:00 to 03:00, the day has 23 hours.
		{"the spring-forward Sunday has 23 working hours", "2026-03-29 00:00", 23 * time.Hour,
			time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC)},
		{"an hour from 01:30 on the spring-forward night ends at 03:30 local", "2026-03-29 01:30", time.Hour,
			time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)},
		// 2026-10-25 (Sunday): clocks go from 03:00 back to 02:00, the day has 25 hours.
		{"the fall-back Sunday has 25 working hours", "2026-10-25 00:00", 25 * time.Hour,
			time.Date(2026, 10, 25, 23, 0, 0, 0, time.UTC)},
		{"office hours keep their wall-clock times after the change", "2026-03-27 14:00", 25 * time.Hour,
			time.Date(2026, 3, 30, 8, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Add(at(t, tt.from), tt.add)
			if !got.Equal(tt.want) {
				t.Errorf("Add(%s, %s) = %s (%s), want %s", tt.from, tt.add, got.UTC(), got.In(c.Loc), tt.want)
			}
		})
	}
	t.Run("a Monday in summer opens at 07:00 UTC", func(t *testing.T) {
		got := c.Add(at(t, "2026-03-30 06:00"), time.Minute)
		if want := time.Date(2026, 3, 30, 7, 1, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("got %s, want %s", got.UTC(), want)
		}
	})
}

func TestCalendarSubIsAddBackwards(t *testing.T) {
	c := office(t)
	for _, tc := range []struct {
		name string
		from string
		d    time.Duration
	}{
		{"within a day", "2026-12-14 15:00", time.Hour},
		{"across a night", "2026-12-15 10:00", 3 * time.Hour},
		{"across a weekend and a split day", "2026-12-21 10:00", 9 * time.Hour},
		{"across holidays", "2026-12-27 02:00", 3 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := at(t, tc.from)
			from := c.Sub(to, tc.d)
			if got := c.Add(from, tc.d); !got.Equal(to) {
				t.Errorf("Add(Sub(%s, %s)) = %s", tc.from, tc.d, got.In(c.Loc))
			}
		})
	}
}

func TestCalendarWithoutWorkingHoursAlwaysRuns(t *testing.T) {
	c := &Calendar{Loc: time.UTC}
	from := time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)
	if got := c.Add(from, time.Hour); !got.Equal(from.Add(time.Hour)) {
		t.Errorf("Add = %s", got)
	}
	if !c.Within(from) {
		t.Error("an empty week should count as always open")
	}
}

func TestParseSpans(t *testing.T) {
	tests := []struct {
		in      string
		want    []Span
		wantErr bool
	}{
		{"", nil, false},
		{"09:00-17:00", []Span{{9 * time.Hour, 17 * time.Hour}}, false},
		{"08:30-12:00,13:00-24:00", []Span{{8*time.Hour + 30*time.Minute, 12 * time.Hour}, {13 * time.Hour, 24 * time.Hour}}, false},
		{"17:00-09:00", nil, true},
		{"09:00-13:00,12:00-17:00", nil, true},
		{"9-17", nil, true},
		{"09:00-25:00", nil, true},
	}
	for _, tt := range tests {
		t.Run("spans "+tt.in, func(t *testing.T) {
			got, err := ParseSpans(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("span %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestDeadlines(t *testing.T) {
	p := SLA{Calendar: office(t), Targets: DefaultTargets()}
	created := at(t, "2026-12-14 16:00") // Monday, an hour before closing
	tests := []struct {
		name           string
		priority       string
		paused         time.Duration
		response, done string
	}{
		{"urgent answers within the hour", "urgent", 0, "2026-12-14 17:00", "2026-12-15 12:00"},
		{"high resolves within one working day", "high", 0, "2026-12-15 12:00", "2026-12-15 16:00"},
		{"medium is the default for an unknown priority", "whatever", 0, "2026-12-15 16:00", "2026-12-17 16:00"},
		{"low resolves within five working days", "low", 0, "2026-12-15 16:00", "2026-12-20 10:00"},
		{"time waiting on the customer moves both deadlines", "urgent", 2 * time.Hour, "2026-12-15 11:00", "2026-12-15 14:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, sb := p.Deadlines(created, tt.priority, tt.paused)
			if want := at(t, tt.response); !rb.Equal(want) {
				t.Errorf("response_by = %s, want %s", rb.In(p.Calendar.Loc), want)
			}
			if want := at(t, tt.done); !sb.Equal(want) {
				t.Errorf("resolution_by = %s, want %s", sb.In(p.Calendar.Loc), want)
			}
		})
	}
}

func TestExpectationNamesThePolicy(t *testing.T) {
	p := DefaultSLA()
	tests := []struct{ lang, priority, want string }{
		{"en", "urgent", "We typically respond within 1 working hour."},
		{"en", "medium", "We typically respond within 1 working day."},
		{"en", "high", "We typically respond within 4 working hours."},
		{"de", "urgent", "Wir antworten in der Regel innerhalb einer Arbeitsstunde."},
		{"de", "low", "Wir antworten in der Regel innerhalb eines Arbeitstages."},
	}
	for _, tt := range tests {
		t.Run(tt.lang+" "+tt.priority, func(t *testing.T) {
			if got := p.Expectation(tt.lang, tt.priority); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
