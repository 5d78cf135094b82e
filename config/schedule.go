package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/robfig/cron/v3"
)

// Hours is when the team works. The SLA clock runs only in working time: a ticket that
// arrives on Friday evening is not late on Saturday.
type Hours struct {
	// TimeZone is an IANA zone ("Europe/Berlin"); the hours below are its wall clock,
	// so they follow daylight saving time.
	TimeZone string `toml:"time_zone"`
	// Each day is "HH:MM-HH:MM", several spans comma-separated for a split day
	// ("09:00-12:00,13:00-17:00"), or "" for a day off.
	Monday    string `toml:"monday"`
	Tuesday   string `toml:"tuesday"`
	Wednesday string `toml:"wednesday"`
	Thursday  string `toml:"thursday"`
	Friday    string `toml:"friday"`
	Saturday  string `toml:"saturday"`
	Sunday    string `toml:"sunday"`
	// Holidays are dates ("2026-12-25") in TimeZone on which nobody works.
	Holidays []string `toml:"holidays"`
}

// Days returns the seven day settings indexed by time.Weekday (Sunday first).
func (h Hours) Days() [7]string {
	return [7]string{h.Sunday, h.Monday, h.Tuesday, h.Wednesday, h.Thursday, h.Friday, h.Saturday}
}

// SLA holds the targets per priority, in working time. A working day ("1 d" in the
// usual tables) is written as 8h: see docs/configuration.md.
type SLA struct {
	Urgent SLATarget `toml:"urgent"`
	High   SLATarget `toml:"high"`
	Medium SLATarget `toml:"medium"`
	Low    SLATarget `toml:"low"`
}

// SLATarget is one priority's promise.
type SLATarget struct {
	FirstResponse Duration `toml:"first_response"`
	Resolution    Duration `toml:"resolution"`
}

// ByPriority returns the targets keyed by priority name.
func (s SLA) ByPriority() map[string]SLATarget {
	return map[string]SLATarget{"urgent": s.Urgent, "high": s.High, "medium": s.Medium, "low": s.Low}
}

// Feedback configures the feedback request sent after a ticket is resolved.
type Feedback struct {
	// Delay is how long a ticket stays Resolved before the customer is asked.
	Delay Duration `toml:"delay"`
	// Options are the answers the portal's feedback form offers beside a number of
	// stars ([[feedback.options]]); none: two built-in ones per number of stars.
	Options []FeedbackOption `toml:"options"`
}

// FeedbackOption is one predefined answer of the portal's feedback form, offered with
// its number of stars and stored as the rating's choice.
type FeedbackOption struct {
	Stars int    `toml:"stars"`
	EN    string `toml:"en"`
	DE    string `toml:"de"` // empty: the English label
}

// maxOptionLabel bounds a feedback option's label, in characters.
const maxOptionLabel = 100

// checkFeedbackOptions checks the portal's feedback options: 1 to 5 stars, a label that
// fits a form, no label twice for the same number of stars (the form could not tell
// them apart).
func checkFeedbackOptions(opts []FeedbackOption, check func(string, error)) {
	seen := map[string]bool{}
	for i, o := range opts {
		key := fmt.Sprintf("feedback.options[%d]", i)
		if o.Stars < 1 || o.Stars > 5 {
			check(key+".stars", fmt.Errorf("must be 1 to 5, got %d", o.Stars))
		}
		for _, l := range [][2]string{{"en", o.EN}, {"de", o.DE}} {
			lang, label := l[0], l[1]
			switch {
			case lang == "en" && strings.TrimSpace(label) == "":
				check(key+".en", errors.New("must not be empty"))
			case utf8.RuneCountInString(label) > maxOptionLabel:
				check(key+"."+lang, fmt.Errorf("longer than %d characters", maxOptionLabel))
			case label != "" && seen[fmt.Sprint(o.Stars, lang, label)]:
				check(key+"."+lang, fmt.Errorf("%q appears twice for %d stars", label, o.Stars))
			}
			seen[fmt.Sprint(o.Stars, lang, label)] = true
		}
	}
}

// Jobs are the cron schedules of the background jobs: a standard five-field spec
// ("*/10 * * * *"), a descriptor ("@hourly", "@every 30s"), or "off".
type Jobs struct {
	FeedbackRequests string `toml:"feedback-requests"`
	AutoClose        string `toml:"auto-close"`
	SLAWarnings      string `toml:"sla-warnings"`
	InboundRetry     string `toml:"inbound-retry"`
	OutboundSweep    string `toml:"outbound-sweep"`
	Cleanup          string `toml:"cleanup"`
}

// ByName returns the schedules keyed by job name.
func (j Jobs) ByName() map[string]string {
	return map[string]string{
		"feedback-requests": j.FeedbackRequests, "auto-close": j.AutoClose, "sla-warnings": j.SLAWarnings,
		"inbound-retry": j.InboundRetry, "outbound-sweep": j.OutboundSweep, "cleanup": j.Cleanup,
	}
}

// JobOff is the schedule that turns a job off.
const JobOff = "off"

func defaultHours() Hours {
	day := "09:00-17:00"
	return Hours{TimeZone: "UTC", Monday: day, Tuesday: day, Wednesday: day, Thursday: day, Friday: day, Holidays: []string{}}
}

func defaultSLA() SLA {
	const day = 8 * time.Hour // one working day
	return SLA{
		Urgent: SLATarget{Duration{time.Hour}, Duration{4 * time.Hour}},
		High:   SLATarget{Duration{4 * time.Hour}, Duration{day}},
		Medium: SLATarget{Duration{8 * time.Hour}, Duration{3 * day}},
		Low:    SLATarget{Duration{day}, Duration{5 * day}},
	}
}

func defaultJobs() Jobs {
	return Jobs{FeedbackRequests: "@every 10m", AutoClose: "@hourly", SLAWarnings: "@every 5m",
		InboundRetry: "@every 1m", OutboundSweep: "@every 30s", Cleanup: "@daily"}
}

// validateTime checks the working hours, the SLA targets, the feedback delay and the
// job schedules.
func (c *Config) validateTime(check func(key string, err error)) {
	if _, err := time.LoadLocation(c.Hours.TimeZone); err != nil || c.Hours.TimeZone == "" || c.Hours.TimeZone == "Local" {
		check("hours.time_zone", fmt.Errorf("%q is not an IANA time zone like \"Europe/Berlin\"", c.Hours.TimeZone))
	}
	names := [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
	for i, d := range c.Hours.Days() {
		check("hours."+names[i], checkDaySpans(d))
	}
	for i, d := range c.Hours.Holidays {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			check(fmt.Sprintf("hours.holidays[%d]", i), fmt.Errorf("%q is not a date like \"2026-12-25\"", d))
		}
	}
	for name, t := range c.SLA.ByPriority() {
		check("sla."+name+".first_response", checkPositive(t.FirstResponse.Duration))
		check("sla."+name+".resolution", checkPositive(t.Resolution.Duration))
		if t.Resolution.Duration < t.FirstResponse.Duration {
			check("sla."+name+".resolution", fmt.Errorf("%s is shorter than first_response %s", t.Resolution, t.FirstResponse))
		}
	}
	check("feedback.delay", checkPositive(c.Feedback.Delay.Duration))
	checkFeedbackOptions(c.Feedback.Options, check)
	check("outbound.sent_retention", checkPositive(c.Outbound.SentRetention.Duration))
	for name, spec := range c.Jobs.ByName() {
		check("jobs."+name, checkCronSpec(spec))
	}
}

// checkCronSpec accepts what the scheduler parses: cron.ParseStandard's forms, or "off".
func checkCronSpec(spec string) error {
	if spec == JobOff {
		return nil
	}
	if strings.TrimSpace(spec) == "" {
		return errors.New(`must be a cron spec like "*/10 * * * *" or "@every 10m", or "off"`)
	}
	if _, err := cron.ParseStandard(spec); err != nil {
		return fmt.Errorf("%q is not a cron spec: %v", spec, err)
	}
	return nil
}

// checkDaySpans accepts "HH:MM-HH:MM[,HH:MM-HH:MM…]" in order without overlaps, or "".
// ticket.ParseSpans reads the same grammar into spans; this only judges it.
func checkDaySpans(s string) error {
	prev := -1
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		a, b, ok := strings.Cut(part, "-")
		start, err1 := clockMinutes(a)
		end, err2 := clockMinutes(b)
		switch {
		case !ok || err1 != nil || err2 != nil:
			return fmt.Errorf("%q is not HH:MM-HH:MM (e.g. \"09:00-12:00,13:00-17:00\")", part)
		case end <= start:
			return fmt.Errorf("%q ends before it starts", part)
		case start < prev:
			return fmt.Errorf("%q overlaps or precedes the span before it", part)
		}
		prev = end
	}
	return nil
}

func clockMinutes(s string) (int, error) {
	s = strings.TrimSpace(s)
	var h, m int
	if _, err := fmt.Sscanf(s, "%d:%d", &h, &m); err != nil || len(s) != 5 || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return h*60 + m, nil
}
