package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		key    string // the key the error must name
		want   string // substring of the reason
	}{
		{"empty domain", func(c *Config) { c.Domain = "" }, "domain", "must not be empty"},
		{"domain with space", func(c *Config) { c.Domain = "example com" }, "domain", `"example com" is not a hostname`},
		{"domain is a URL", func(c *Config) { c.Domain = "https://example.com" }, "domain", "is not a hostname"},
		{"domain with empty label", func(c *Config) { c.Domain = "example..com" }, "domain", "is not a hostname"},
		{"domain label starts with hyphen", func(c *Config) { c.Domain = "-example.com" }, "domain", "is not a hostname"},
		{"domain label too long", func(c *Config) { c.Domain = strings.Repeat("a", 64) + ".com" }, "domain", "is not a hostname"},
		{"domain too long", func(c *Config) { c.Domain = strings.Repeat("abcdefghi.", 26) + "com" }, "domain", "longer than 253"},
		{"mysql database", func(c *Config) { c.DatabaseURL = "mysql://db/mx" }, "database_url", "must start with sqlite:, postgres:// or postgresql://"},
		{"sqlite without path", func(c *Config) { c.DatabaseURL = "sqlite:" }, "database_url", "needs a path"},
		{"empty data_dir", func(c *Config) { c.DataDir = "" }, "data_dir", "must not be empty"},
		{"bad log level", func(c *Config) { c.LogLevel = "verbose" }, "log_level", `"verbose" is not one of debug, info, warn, error`},
		{"log level is case-sensitive", func(c *Config) { c.LogLevel = "INFO" }, "log_level", "is not one of"},
		{"bad log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", `"xml" is not one of text, json`},
		{"smtp listen without port", func(c *Config) { c.SMTP.Listen = "nope" }, "smtp.listen", `"nope" is not host:port`},
		{"smtp listen named port", func(c *Config) { c.SMTP.Listen = "127.0.0.1:smtp" }, "smtp.listen", `port "smtp" is not a number`},
		{"smtp listen port too big", func(c *Config) { c.SMTP.Listen = "127.0.0.1:70000" }, "smtp.listen", "is not a number from 0 to 65535"},
		{"smtp hostname", func(c *Config) { c.SMTP.Hostname = "mx example" }, "smtp.hostname", "is not a hostname"},
		{"zero message size", func(c *Config) { c.SMTP.MaxMessageBytes = 0 }, "smtp.max_message_bytes", "must be positive, got 0"},
		{"negative message size", func(c *Config) { c.SMTP.MaxMessageBytes = -5 }, "smtp.max_message_bytes", "must be positive, got -5"},
		{"zero recipients", func(c *Config) { c.SMTP.MaxRecipients = 0 }, "smtp.max_recipients", "must be positive, got 0"},
		{"zero read timeout", func(c *Config) { c.SMTP.ReadTimeout = Duration{} }, "smtp.read_timeout", "must be positive, got 0s"},
		{"negative write timeout", func(c *Config) { c.SMTP.WriteTimeout = Duration{-time.Second} }, "smtp.write_timeout", "must be positive, got -1s"},
		{"no mailboxes", func(c *Config) { c.Mailboxes = nil }, "mailboxes", "at least one mailbox"},
		{"empty mailbox address", func(c *Config) { c.Mailboxes[0].Address = "" }, "mailboxes[0].address", "must not be empty"},
		{
			"mailbox not an address",
			func(c *Config) { c.Mailboxes = append(c.Mailboxes, Mailbox{Address: "billing", Team: "Billing"}) },
			"mailboxes[1].address", `"billing" is not an email address`,
		},
		{
			"mailbox with display name",
			func(c *Config) { c.Mailboxes[0].Address = "Support <support@localhost>" },
			"mailboxes[0].address", "must be a bare address",
		},
		{
			"mailbox in angle brackets",
			func(c *Config) { c.Mailboxes[0].Address = "<support@localhost>" },
			"mailboxes[0].address", "must be a bare address",
		},
		{
			"mailbox with subaddress",
			func(c *Config) { c.Mailboxes[0].Address = "support+x@localhost" },
			"mailboxes[0].address", "must not contain '+' in the local part",
		},
		{
			"mailbox without team",
			func(c *Config) { c.Mailboxes[0].Team = " " },
			"mailboxes[0].team", "must not be empty",
		},
		{
			"duplicate mailbox ignoring case",
			func(c *Config) {
				c.Mailboxes = []Mailbox{{Address: "a@x.com", Team: "A"}, {Address: "b@x.com", Team: "B"}, {Address: "A@X.com", Team: "C"}}
			},
			"mailboxes[2].address", `"A@X.com" duplicates mailboxes[0]`,
		},
		{"relay without port", func(c *Config) { c.Outbound.Relay = "smtp.example.com" }, "outbound.relay", `"smtp.example.com" is not host:port`},
		{"relay without host", func(c *Config) { c.Outbound.Relay = ":25" }, "outbound.relay", "the host is missing"},
		{"relay port 0", func(c *Config) { c.Outbound.Relay = "smtp.example.com:0" }, "outbound.relay", "port 0"},
		{"empty from", func(c *Config) { c.Outbound.From = "" }, "outbound.from", "must not be empty"},
		{"bad from", func(c *Config) { c.Outbound.From = "Support <support>" }, "outbound.from", "is not an email address"},
		{"zero retry", func(c *Config) { c.Outbound.RetryMax = Duration{} }, "outbound.retry_max", "must be positive"},
		{"zero auto mails", func(c *Config) { c.Outbound.MaxAutoPerHour = 0 }, "outbound.max_auto_per_hour", "must be positive, got 0"},
		{"portal listen", func(c *Config) { c.Portal.Listen = "8080" }, "portal.listen", `"8080" is not host:port`},
		{"api rate", func(c *Config) { c.API.RatePerMinute = 0 }, "api.rate_per_minute", "must be positive"},
		{"api burst", func(c *Config) { c.API.Burst = -1 }, "api.burst", "must be positive"},
		{"relative base url", func(c *Config) { c.Portal.BaseURL = "/help" }, "portal.base_url", "is not an absolute http(s) URL"},
		{"ftp base url", func(c *Config) { c.Portal.BaseURL = "ftp://example.com" }, "portal.base_url", "is not an absolute http(s) URL"},
		{"base url without host", func(c *Config) { c.Portal.BaseURL = "http://" }, "portal.base_url", "is not an absolute http(s) URL"},
		{"base url with query", func(c *Config) { c.Portal.BaseURL = "https://example.com/?a=b" }, "portal.base_url", "must not have a query"},
		{"feedback option with 0 stars", func(c *Config) { c.Feedback.Options = []FeedbackOption{{Stars: 0, EN: "Meh"}} },
			"feedback.options[0].stars", "must be 1 to 5, got 0"},
		{"feedback option with 6 stars", func(c *Config) { c.Feedback.Options = []FeedbackOption{{Stars: 6, EN: "Wow"}} },
			"feedback.options[0].stars", "must be 1 to 5, got 6"},
		{"feedback option without a label", func(c *Config) { c.Feedback.Options = []FeedbackOption{{Stars: 3, EN: " ", DE: "Mittel"}} },
			"feedback.options[0].en", "must not be empty"},
		{"feedback option too long", func(c *Config) {
			c.Feedback.Options = []FeedbackOption{{Stars: 3, EN: "ok", DE: strings.Repeat("ü", 101)}}
		},
			"feedback.options[0].de", "longer than 100 characters"},
		{"feedback option twice", func(c *Config) {
			c.Feedback.Options = []FeedbackOption{{Stars: 5, EN: "Fast"}, {Stars: 4, EN: "Fast"}, {Stars: 5, EN: "Fast", DE: "Schnell"}}
		}, "feedback.options[2].en", `"Fast" appears twice for 5 stars`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want error naming %s", tt.key)
			}
			want := "config: " + tt.key + ": "
			if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %q, want it to contain %q and %q", err, want, tt.want)
			}
			// One problem, one error: checks do not cascade.
			if n := strings.Count(err.Error(), "\n") + 1; n != 1 {
				t.Errorf("Validate() reported %d problems, want 1:\n%v", n, err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"defaults", func(*Config) {}},
		{"postgres", func(c *Config) { c.DatabaseURL = "postgres://u:p@db:5432/mx?sslmode=disable" }},
		{"postgresql", func(c *Config) { c.DatabaseURL = "postgresql://db/mx" }},
		{"sqlite memory", func(c *Config) { c.DatabaseURL = "sqlite::memory:" }},
		{"listen on all interfaces", func(c *Config) { c.SMTP.Listen = ":25" }},
		{"listen on any port", func(c *Config) { c.Portal.Listen = "127.0.0.1:0" }},
		{"IPv6 listen", func(c *Config) { c.SMTP.Listen = "[::1]:2525" }},
		{"relay", func(c *Config) { c.Outbound.Relay = "smtp.example.com:587" }},
		{"bare from", func(c *Config) { c.Outbound.From = "help@example.com" }},
		{"https base url with path", func(c *Config) { c.Portal.BaseURL = "https://example.com/help" }},
		{"uppercase domain", func(c *Config) { c.Domain = "Example.COM" }},
		{"log level debug", func(c *Config) { c.LogLevel = "debug" }},
		{"log level warn", func(c *Config) { c.LogLevel = "warn" }},
		{"log level error", func(c *Config) { c.LogLevel = "error" }},
		{"feedback options, one without German", func(c *Config) {
			c.Feedback.Options = []FeedbackOption{{Stars: 5, EN: "Fast", DE: "Schnell"}, {Stars: 1, EN: "Slow"}, {Stars: 4, EN: "Fast"}}
		}},
		{"several mailboxes, shared team", func(c *Config) {
			c.Mailboxes = []Mailbox{{Address: "a@example.com", Team: "T"}, {Address: "b@example.com", Team: "T"}}
		}},
	}
	for _, tt := range tests {
		c := Default()
		tt.change(c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
	}
}
