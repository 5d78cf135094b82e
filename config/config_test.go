package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeConfig writes content to a file in a fresh temporary directory and
// returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mxdesk.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, path string, env []string) *Config {
	t.Helper()
	c, err := Load(path, env)
	if err != nil {
		t.Fatalf("Load(%q, %q): %v", path, env, err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	want := &Config{
		Domain:      "localhost",
		DatabaseURL: "sqlite:./mxdesk-data/mxdesk.db",
		DataDir:     "./mxdesk-data",
		LogLevel:    "info",
		Log:         Log{Format: "text"},
		SMTP: SMTP{
			Listen:          "127.0.0.1:2525",
			Hostname:        "localhost",
			MaxMessageBytes: 26214400,
			MaxRecipients:   50,
			ReadTimeout:     Duration{5 * time.Minute},
			WriteTimeout:    Duration{5 * time.Minute},
			MaxHeaderBytes:  262144,
			MaxHeaderFields: 1000,
			MaxCommands:     1000,
			MaxErrors:       10,
			MaxConnections:  200,
			ConnRatePerIP:   60,
			TrustedNetworks: []string{"127.0.0.0/8", "::1/128"},
		},
		Mailboxes: []Mailbox{{Address: "support@localhost", Team: "Support"}},
		Outbound: Outbound{
			Relay:           "",
			From:            "Support <support@localhost>",
			RetryMax:        Duration{48 * time.Hour},
			MaxAutoPerHour:  10,
			RetrySchedule:   Durations{{time.Minute}, {5 * time.Minute}, {15 * time.Minute}, {time.Hour}, {4 * time.Hour}},
			DefaultLanguage: "en",
			SentRetention:   Duration{90 * 24 * time.Hour},
		},
		Brand:   Brand{Color: "#1f6feb"},
		Tickets: Tickets{AutoCloseAfter: Duration{7 * 24 * time.Hour}, ReopenWindow: Duration{30 * 24 * time.Hour}},
		Hours: Hours{TimeZone: "UTC", Monday: "09:00-17:00", Tuesday: "09:00-17:00", Wednesday: "09:00-17:00",
			Thursday: "09:00-17:00", Friday: "09:00-17:00", Holidays: []string{}},
		SLA: SLA{
			Urgent: SLATarget{Duration{time.Hour}, Duration{4 * time.Hour}},
			High:   SLATarget{Duration{4 * time.Hour}, Duration{8 * time.Hour}},
			Medium: SLATarget{Duration{8 * time.Hour}, Duration{24 * time.Hour}},
			Low:    SLATarget{Duration{8 * time.Hour}, Duration{40 * time.Hour}},
		},
		Feedback: Feedback{Delay: Duration{time.Hour}},
		Jobs: Jobs{FeedbackRequests: "@every 10m", AutoClose: "@hourly", SLAWarnings: "@every 5m",
			InboundRetry: "@every 1m", OutboundSweep: "@every 30s", Cleanup: "@daily"},
		Portal: Portal{
			Listen:          "127.0.0.1:8080",
			BaseURL:         "http://127.0.0.1:8080",
			SessionIdle:     Duration{24 * time.Hour},
			SessionLifetime: Duration{720 * time.Hour},
			TrustedProxies:  []string{"127.0.0.0/8", "::1/128"},
		},
		KB:                            KB{Public: true},
		Metrics:                       Metrics{Listen: "127.0.0.1:9325"},
		DNS:                           DNS{Timeout: Duration{5 * time.Second}},
		API:                           API{RatePerMinute: 600, Burst: 50},
		TrustedUnauthenticatedDomains: []string{},
	}
	if got := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", got, want)
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
	for _, env := range [][]string{nil, {"HOME=/root", "PATH=/bin", "MXDESK_CONFIG=/x.toml", "MXDESK_TEST_DB=1"}} {
		if got := mustLoad(t, "", env); !reflect.DeepEqual(got, want) {
			t.Errorf("Load(\"\", %q) =\n%+v\nwant\n%+v", env, got, want)
		}
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default()
	a.Mailboxes[0].Team = "Changed"
	if b := Default(); b.Mailboxes[0].Team != "Support" {
		t.Errorf("changing one Default() changed another: team %q", b.Mailboxes[0].Team)
	}
}

func TestDerivedDefaults(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   []string
		check func(*Config) []string // returns mismatches
	}{
		{
			name: "data_dir moves database_url",
			file: `data_dir = "/var/lib/mxdesk/"`,
			check: func(c *Config) []string {
				return diff("database_url", c.DatabaseURL, "sqlite:/var/lib/mxdesk/mxdesk.db")
			},
		},
		{
			name: "data_dir from env moves database_url",
			env:  []string{"MXDESK_DATA_DIR=/srv/mx"},
			check: func(c *Config) []string {
				return diff("database_url", c.DatabaseURL, "sqlite:/srv/mx/mxdesk.db")
			},
		},
		{
			name: "explicit database_url is kept",
			file: "data_dir = \"/srv/mx\"\ndatabase_url = \"postgres://db/mxdesk\"",
			check: func(c *Config) []string {
				return diff("database_url", c.DatabaseURL, "postgres://db/mxdesk")
			},
		},
		{
			name: "domain moves mailbox, from and hostname",
			file: `domain = "example.com"`,
			check: func(c *Config) []string {
				var d []string
				d = append(d, diff("outbound.from", c.Outbound.From, "Support <support@example.com>")...)
				d = append(d, diff("smtp.hostname", c.SMTP.Hostname, "example.com")...)
				if want := []Mailbox{{Address: "support@example.com", Team: "Support"}}; !reflect.DeepEqual(c.Mailboxes, want) {
					d = append(d, "mailboxes = "+fmtMailboxes(c.Mailboxes))
				}
				return d
			},
		},
		{
			name: "explicit mailboxes replace the default",
			file: "domain = \"example.com\"\n[[mailboxes]]\naddress = \"help@example.com\"\nteam = \"Help\"",
			check: func(c *Config) []string {
				if want := []Mailbox{{Address: "help@example.com", Team: "Help"}}; !reflect.DeepEqual(c.Mailboxes, want) {
					return []string{"mailboxes = " + fmtMailboxes(c.Mailboxes)}
				}
				return nil
			},
		},
		{
			name: "portal.listen moves base_url",
			env:  []string{"MXDESK_PORTAL_LISTEN=10.0.0.1:9000"},
			check: func(c *Config) []string {
				return diff("portal.base_url", c.Portal.BaseURL, "http://10.0.0.1:9000")
			},
		},
		{
			name: "unspecified listen host becomes localhost in base_url",
			file: "[portal]\nlisten = \":9000\"",
			check: func(c *Config) []string {
				return diff("portal.base_url", c.Portal.BaseURL, "http://localhost:9000")
			},
		},
		{
			name: "IPv6 listen is bracketed in base_url",
			file: "[portal]\nlisten = \"[::]:9000\"",
			check: func(c *Config) []string {
				return diff("portal.base_url", c.Portal.BaseURL, "http://localhost:9000")
			},
		},
		{
			name: "base_url loses its trailing slash",
			file: "[portal]\nbase_url = \"https://help.example.com/\"",
			check: func(c *Config) []string {
				return diff("portal.base_url", c.Portal.BaseURL, "https://help.example.com")
			},
		},
		{
			name: "empty env value falls back to the derived default",
			file: "[outbound]\nfrom = \"Help <help@localhost>\"",
			env:  []string{"MXDESK_OUTBOUND_FROM="},
			check: func(c *Config) []string {
				return diff("outbound.from", c.Outbound.From, "Support <support@localhost>")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
			}
			for _, d := range tt.check(mustLoad(t, path, tt.env)) {
				t.Error(d)
			}
		})
	}
}

func diff(key, got, want string) []string {
	if got != want {
		return []string{key + " = " + got + ", want " + want}
	}
	return nil
}

func fmtMailboxes(list []Mailbox) string {
	var s []string
	for _, m := range list {
		s = append(s, m.Address+"="+m.Team)
	}
	return "[" + strings.Join(s, ",") + "]"
}

func TestMailboxFor(t *testing.T) {
	c := Default()
	c.Mailboxes = []Mailbox{
		{Address: "support@example.com", Team: "Support"},
		{Address: "Billing@Example.com", Team: "Billing"},
	}
	tests := []struct {
		addr     string
		wantTeam string // "" means no mailbox
	}{
		{"support@example.com", "Support"},
		{"SUPPORT@EXAMPLE.COM", "Support"},
		{" support@example.com ", "Support"},
		{"support+abc@example.com", "Support"},
		{"Support+T-1234@Example.COM", "Support"},
		{"support+@example.com", "Support"},
		{"support+a+b@example.com", "Support"},
		{"billing@example.com", "Billing"},
		{"billing+x@EXAMPLE.com", "Billing"},
		{"sales@example.com", ""},
		{"support@example.org", ""},
		{"supportx@example.com", ""},
		{"+abc@example.com", ""},
		{"support", ""},
		{"", ""},
	}
	for _, tt := range tests {
		m, ok := c.MailboxFor(tt.addr)
		if ok != (tt.wantTeam != "") || m.Team != tt.wantTeam {
			t.Errorf("MailboxFor(%q) = %+v, %v; want team %q", tt.addr, m, ok, tt.wantTeam)
		}
	}
}

func TestTeamNames(t *testing.T) {
	tests := []struct {
		mailboxes []Mailbox
		want      []string
	}{
		{nil, nil},
		{[]Mailbox{{Address: "a@x", Team: "Support"}}, []string{"Support"}},
		{
			[]Mailbox{{Address: "a@x", Team: "Sales"}, {Address: "b@x", Team: "Support"}, {Address: "c@x", Team: "Sales"}, {Address: "d@x", Team: "Billing"}},
			[]string{"Sales", "Support", "Billing"},
		},
	}
	for _, tt := range tests {
		c := &Config{Mailboxes: tt.mailboxes}
		if got := c.TeamNames(); !slices.Equal(got, tt.want) {
			t.Errorf("TeamNames() for %v = %q, want %q", tt.mailboxes, got, tt.want)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
		text    string // MarshalText of the result
	}{
		{in: "90s", want: 90 * time.Second, text: "1m30s"},
		{in: "48h", want: 48 * time.Hour, text: "48h"},
		{in: "5m", want: 5 * time.Minute, text: "5m"},
		{in: "1h30m", want: 90 * time.Minute, text: "1h30m"},
		{in: "1h0m1s", want: time.Hour + time.Second, text: "1h0m1s"},
		{in: "250ms", want: 250 * time.Millisecond, text: "250ms"},
		{in: " 2s ", want: 2 * time.Second, text: "2s"},
		{in: "0", want: 0, text: "0s"},
		{in: "-5s", want: -5 * time.Second, text: "-5s"},
		{in: "300", wantErr: true},
		{in: "5 minutes", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if tt.wantErr {
			if err == nil {
				t.Errorf("UnmarshalText(%q) = %v, want error", tt.in, d)
			}
			continue
		}
		if err != nil || d.Duration != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tt.in, d.Duration, err, tt.want)
			continue
		}
		text, err := d.MarshalText()
		if err != nil || string(text) != tt.text {
			t.Errorf("MarshalText(%v) = %q, %v; want %q", tt.want, text, err, tt.text)
		}
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back != d {
			t.Errorf("round trip of %q gave %v, %v", text, back, err)
		}
	}
}
