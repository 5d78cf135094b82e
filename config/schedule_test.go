package config

import (
	"strings"
	"testing"
)

func TestTimeKeysAreValidated(t *testing.T) {
	tests := []struct {
		name, env, want string
	}{
		{"an unknown time zone names the key", "MXDESK_HOURS_TIME_ZONE=Mars/Olympus", "hours.time_zone"},
		{"a day with overlapping spans names the day", "MXDESK_HOURS_MONDAY=09:00-13:00,12:00-17:00", "hours.monday"},
		{"a day that ends before it starts is refused", "MXDESK_HOURS_FRIDAY=17:00-09:00", "hours.friday"},
		{"a holiday must be a date", "MXDESK_HOURS_HOLIDAYS=2026-12-25,Christmas", "hours.holidays[1]"},
		{"a resolution target shorter than the response target is refused", "MXDESK_SLA_LOW_RESOLUTION=1h", "sla.low.resolution"},
		{"a bad cron spec names the job", "MXDESK_JOBS_AUTO_CLOSE=every hour", "jobs.auto-close"},
		{"the feedback delay must be positive", "MXDESK_FEEDBACK_DELAY=0s", "feedback.delay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("", []string{tt.env})
			if err == nil || !strings.Contains(err.Error(), tt.want+":") {
				t.Fatalf("err = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestTimeKeysFromTheEnvironment(t *testing.T) {
	c, err := Load("", []string{"MXDESK_JOBS_OUTBOUND_SWEEP=off", "MXDESK_HOURS_SATURDAY=10:00-12:00",
		"MXDESK_HOURS_TIME_ZONE=Europe/Berlin", "MXDESK_SLA_URGENT_FIRST_RESPONSE=30m"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Jobs.OutboundSweep != JobOff || c.Hours.Saturday != "10:00-12:00" || c.Hours.TimeZone != "Europe/Berlin" ||
		c.SLA.Urgent.FirstResponse.Minutes() != 30 {
		t.Errorf("got %+v %+v %+v", c.Jobs, c.Hours, c.SLA.Urgent)
	}
}
