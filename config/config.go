// Package config loads mxdesk's configuration.
//
// Configuration comes from three layers, later ones winning: built-in
// defaults, an optional TOML file, and MXDESK_* environment variables. A few
// defaults are derived from other keys (the database lives in the data
// directory, the sender address and mailbox use the domain), so they are
// filled in only after all three layers are applied; that way changing
// data_dir or domain moves everything that depends on it.
//
// Every error names where the bad value came from and which key it is for,
// in one form: "config SOURCE: KEY: problem", for example
//
//	config /etc/mxdesk.toml: smtp.max_message_bytes: must be positive, got -5
//	config MXDESK_SMTP_LISTEN: smtp.listen: "nope" is not host:port
//
// The package holds no global state and never reads the process environment
// itself: callers pass os.Environ() to Load, which keeps tests hermetic.
package config

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// DefaultMaxAutoPerHour is the loop guard's default: automatic mails to one address in
// an hour, beyond which the rest are kept as suppressed.
const DefaultMaxAutoPerHour = 10

// Config is the whole mxdesk configuration. The toml tags are the key names
// used in the file; the environment variable for a key is derived from the
// same tag (see Load), so adding a field here is all it takes to make a new
// key configurable both ways.
type Config struct {
	// Domain is the mail domain the helpdesk answers for. Several defaults
	// are derived from it.
	Domain string `toml:"domain"`
	// DatabaseURL is "sqlite:PATH", "postgres://..." or "postgresql://...".
	// When unset it is "sqlite:" + DataDir + "/mxdesk.db".
	DatabaseURL string `toml:"database_url"`
	// DataDir holds attachments and the default SQLite database.
	DataDir string `toml:"data_dir"`
	// LogLevel is one of debug, info, warn, error.
	LogLevel  string    `toml:"log_level"`
	Log       Log       `toml:"log"`
	SMTP      SMTP      `toml:"smtp"`
	Mailboxes []Mailbox `toml:"mailboxes"`
	// Agents answer tickets by email. `mxdesk agent add` adds more at run time.
	Agents   []Agent  `toml:"agents"`
	Outbound Outbound `toml:"outbound"`
	Brand    Brand    `toml:"brand"`
	Tickets  Tickets  `toml:"tickets"`
	// Hours, SLA, Feedback and Jobs: the SLA clock and the background jobs
	// (see schedule.go).
	Hours    Hours    `toml:"hours"`
	SLA      SLA      `toml:"sla"`
	Feedback Feedback `toml:"feedback"`
	Jobs     Jobs     `toml:"jobs"`
	Portal   Portal   `toml:"portal"`
	KB       KB       `toml:"kb"`
	// Templates are offered on the portal's new-ticket form; none: three built-ins.
	Templates []Template `toml:"templates"`
	Metrics   Metrics    `toml:"metrics"`
	DNS       DNS        `toml:"dns"`
	API       API        `toml:"api"`
	// TrustedUnauthenticatedDomains are sender domains whose mail counts as
	// authenticated without DKIM or SPF (customers who cannot sign their
	// mail). Their From can be forged by anyone: list as few as possible.
	TrustedUnauthenticatedDomains []string `toml:"trusted_unauthenticated_domains"`
}

// Log configures the log lines on stderr.
type Log struct {
	// Format is "text" (key=value, for people) or "json" (one object per line, for
	// log shippers).
	Format string `toml:"format"`
}

// DNS configures the one resolver every lookup goes through (DKIM keys,
// SPF, DMARC, and later MX).
type DNS struct {
	// Server is the host:port of a recursive resolver; empty uses the
	// nameservers of /etc/resolv.conf.
	Server string `toml:"server"`
	// Timeout bounds one query.
	Timeout Duration `toml:"timeout"`
}

// SMTP configures the inbound SMTP server that receives customer mail.
type SMTP struct {
	// Listen is the host:port to accept connections on.
	Listen string `toml:"listen"`
	// Hostname is announced in the SMTP greeting. When unset it is Domain.
	Hostname string `toml:"hostname"`
	// MaxMessageBytes bounds one message, so a single sender cannot fill the
	// disk.
	MaxMessageBytes int64 `toml:"max_message_bytes"`
	// MaxRecipients bounds RCPT TO commands per message.
	MaxRecipients int      `toml:"max_recipients"`
	ReadTimeout   Duration `toml:"read_timeout"`
	WriteTimeout  Duration `toml:"write_timeout"`
	// MaxHeaderBytes and MaxHeaderFields bound a message's header block.
	MaxHeaderBytes  int `toml:"max_header_bytes"`
	MaxHeaderFields int `toml:"max_header_fields"`
	// MaxCommands and MaxErrors bound one connection before it is closed.
	MaxCommands int `toml:"max_commands"`
	MaxErrors   int `toml:"max_errors"`
	// MaxConnections bounds connections open at once; ConnRatePerIP bounds
	// new connections per minute from one address.
	MaxConnections int `toml:"max_connections"`
	ConnRatePerIP  int `toml:"conn_rate_per_ip"`
	// TrustedNetworks (CIDRs) are treated like Postfix's mynetworks: exempt
	// from rate limits and require_tls, and mail they relay is SPF-checked
	// for the client their Received header names.
	TrustedNetworks []string `toml:"trusted_networks"`
	// TLSCert and TLSKey (PEM files) enable STARTTLS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// RequireTLS refuses mail from clients that did not STARTTLS.
	RequireTLS bool `toml:"require_tls"`
	// TLSListen is an optional host:port for implicit TLS (port 465).
	TLSListen string `toml:"tls_listen"`
}

// Mailbox is one address mxdesk accepts mail for and the team that handles
// it. Address is a bare address without a '+' subaddress; mail to
// local+anything@domain is routed to it as well (see Config.MailboxFor).
type Mailbox struct {
	Address string `toml:"address"`
	Team    string `toml:"team"`
	// Priority of the tickets it opens: low, medium, high or urgent (default medium).
	Priority string `toml:"priority"`
}

// Agent is a person who answers the tickets of a team by email.
type Agent struct {
	Email string `toml:"email"`
	Name  string `toml:"name"`
	Team  string `toml:"team"`
}

// Outbound configures mail that mxdesk sends: replies and automatic
// notifications.
type Outbound struct {
	// Relay is the host:port of the SMTP relay. Empty means mail is written
	// to the log instead of sent, which is what you want in development.
	Relay string `toml:"relay"`
	// From is the sender of outgoing mail. When unset it is
	// "Support <support@" + Domain + ">".
	From string `toml:"from"`
	// RetryMax is how long delivery is retried before giving up.
	RetryMax Duration `toml:"retry_max"`
	// MaxAutoPerHour caps automatic mails (acknowledgements, notifications)
	// to one address per hour, which stops mail loops with other
	// autoresponders (DefaultMaxAutoPerHour).
	MaxAutoPerHour int `toml:"max_auto_per_hour"`
	// RetrySchedule is the wait after each failed delivery attempt; the last
	// step repeats until RetryMax. Temporary failures only: a 5xx is final.
	RetrySchedule Durations `toml:"retry_schedule"`
	// RelayUsername and RelayPassword turn on SMTP AUTH (PLAIN, else LOGIN)
	// with the relay; the relay must offer STARTTLS, passwords never travel
	// in clear text.
	RelayUsername string `toml:"relay_username"`
	RelayPassword string `toml:"relay_password"`
	// DKIMSelector and DKIMKey sign every outgoing mail (d= is Domain). The
	// key is a PEM file (PKCS#1 or PKCS#8; RSA or Ed25519) as openssl or
	// opendkim-genkey write it. Empty: mail goes out unsigned.
	DKIMSelector string `toml:"dkim_selector"`
	DKIMKey      string `toml:"dkim_key"`
	// TemplatesDir, when set, holds templates that replace the built-in ones
	// file by file (same names, e.g. "ack.de.html").
	TemplatesDir string `toml:"templates_dir"`
	// DefaultLanguage is used for contacts whose language is not known.
	DefaultLanguage string `toml:"default_language"`
	// SentRetention is how long a delivered mail keeps its body; the cleanup
	// job empties older ones (the row and its Message-ID stay, for threading).
	SentRetention Duration `toml:"sent_retention"`
}

// Tickets configures the life of a ticket.
type Tickets struct {
	// AutoCloseAfter is how long a Resolved ticket waits for the customer before it
	// is closed automatically (the auto-close job).
	AutoCloseAfter Duration `toml:"auto_close_after"`
	// ReopenWindow is how long after closing a customer's reply reopens the ticket;
	// later replies open a new ticket linked to the old one.
	ReopenWindow Duration `toml:"reopen_window"`
}

// Brand is how notifications look: the name they are signed with, a logo and
// an accent colour for the HTML part.
type Brand struct {
	// Name defaults to the display name of outbound.from.
	Name    string `toml:"name"`
	LogoURL string `toml:"logo_url"`
	Color   string `toml:"color"`
}

// Metrics configures the Prometheus endpoint, on its own listener so it can
// stay private while the portal is public.
type Metrics struct {
	// Listen is host:port for /metrics; empty turns metrics off.
	Listen string `toml:"listen"`
	// Pprof adds Go's profiler under /debug/pprof/ on the same listener, for finding
	// where the time goes on a live server (bench/README.md). Keep the listener private.
	Pprof bool `toml:"pprof"`
}

// KB configures the knowledge base's pages in the portal (articles are imported with
// `mxdesk kb import`).
type KB struct {
	// Public shows the knowledge base and its search to everyone; false hides it.
	Public bool `toml:"public"`
}

// Portal configures the web portal for agents and customers.
type Portal struct {
	// Listen is the host:port the HTTP server listens on.
	Listen string `toml:"listen"`
	// BaseURL is the public URL of the portal, used for links in mail. When
	// unset it is "http://" + Listen (with "localhost" for an unspecified
	// host). It never ends in a slash, so links can be built as
	// BaseURL + "/path".
	BaseURL string `toml:"base_url"`
	// SessionIdle and SessionLifetime bound a customer's portal session: signed out
	// after this long without a request, and this long after signing in whatever
	// happens. With two-factor authentication on, at most 1h and 24h.
	SessionIdle     Duration `toml:"session_idle"`
	SessionLifetime Duration `toml:"session_lifetime"`
	// TrustedProxies (CIDRs) are the peers whose X-Forwarded-For names the client,
	// for throttles and logs: the HTTPS proxy in front of the portal.
	TrustedProxies []string `toml:"trusted_proxies"`
	// CustomerPriority lets customers mark a ticket they open in the portal as high
	// priority.
	CustomerPriority bool `toml:"customer_priority"`
}

// Template is a ticket template of the portal's new-ticket form ([[templates]]).
type Template struct {
	Name   string          `toml:"name"`
	About  string          `toml:"about"`
	Body   string          `toml:"body"`
	Fields []TemplateField `toml:"fields"`
}

// TemplateField is an extra field of a template, stored with the ticket.
type TemplateField struct {
	Name     string   `toml:"name"`
	Label    string   `toml:"label"`
	Type     string   `toml:"type"` // text, textarea, select, checkbox, date, number
	Required bool     `toml:"required"`
	Options  []string `toml:"options"`
}

// API configures the agents' JSON API under /api/v1 on the portal's listener.
type API struct {
	// RatePerMinute and Burst are each token's budget: Burst requests at once,
	// refilled at RatePerMinute. Past it: 429 with Retry-After.
	RatePerMinute int `toml:"rate_per_minute"`
	Burst         int `toml:"burst"`
}

// Duration wraps time.Duration so TOML and environment values are Go
// duration strings ("90s", "48h") rather than bare nanosecond counts, which
// are easy to get wrong by a factor of a billion.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string such as "90s" or "48h".
func (d *Duration) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (use a unit, like \"90s\" or \"48h\")", string(text))
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in the short form UnmarshalText accepts.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String is time.Duration's form without trailing zero units ("48h" instead
// of "48h0m0s"), matching how durations are written in the file.
func (d Duration) String() string {
	s := d.Duration.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Durations is a comma-separated list of Go durations ("1m,5m,1h"), written
// as one string in the file and in the environment alike.
type Durations []Duration

// UnmarshalText parses "1m,5m,1h".
func (d *Durations) UnmarshalText(text []byte) error {
	var out Durations
	for item := range strings.SplitSeq(string(text), ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		var one Duration
		if err := one.UnmarshalText([]byte(item)); err != nil {
			return err
		}
		out = append(out, one)
	}
	*d = out
	return nil
}

// MarshalText writes the list back in the form UnmarshalText reads.
func (d Durations) MarshalText() ([]byte, error) {
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = x.String()
	}
	return []byte(strings.Join(parts, ",")), nil
}

// Std returns the list as time.Durations.
func (d Durations) Std() []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Duration
	}
	return out
}

// base returns the defaults that do not depend on other keys. Derived keys
// are left empty so derive can tell "not set" from "set".
func base() *Config {
	return &Config{
		Domain:   "localhost",
		DataDir:  "./mxdesk-data",
		LogLevel: "info",
		Log:      Log{Format: "text"},
		SMTP: SMTP{
			Listen:          "127.0.0.1:2525",
			MaxMessageBytes: 25 << 20,
			MaxRecipients:   50,
			ReadTimeout:     Duration{5 * time.Minute},
			WriteTimeout:    Duration{5 * time.Minute},
			MaxHeaderBytes:  256 << 10,
			MaxHeaderFields: 1000,
			MaxCommands:     1000,
			MaxErrors:       10,
			MaxConnections:  200,
			ConnRatePerIP:   60,
			TrustedNetworks: []string{"127.0.0.0/8", "::1/128"},
		},
		DNS: DNS{
			Timeout: Duration{5 * time.Second},
		},
		TrustedUnauthenticatedDomains: []string{},
		Outbound: Outbound{
			RetryMax:        Duration{48 * time.Hour},
			MaxAutoPerHour:  DefaultMaxAutoPerHour,
			RetrySchedule:   Durations{{time.Minute}, {5 * time.Minute}, {15 * time.Minute}, {time.Hour}, {4 * time.Hour}},
			DefaultLanguage: "en",
			SentRetention:   Duration{90 * 24 * time.Hour},
		},
		Brand:    Brand{Color: "#1f6feb"},
		Tickets:  Tickets{AutoCloseAfter: Duration{7 * 24 * time.Hour}, ReopenWindow: Duration{30 * 24 * time.Hour}},
		Hours:    defaultHours(),
		SLA:      defaultSLA(),
		Feedback: Feedback{Delay: Duration{time.Hour}},
		Jobs:     defaultJobs(),
		Metrics:  Metrics{Listen: "127.0.0.1:9325"},
		Portal: Portal{
			Listen:          "127.0.0.1:8080",
			SessionIdle:     Duration{24 * time.Hour},
			SessionLifetime: Duration{720 * time.Hour},
			TrustedProxies:  []string{"127.0.0.0/8", "::1/128"},
		},
		API: API{RatePerMinute: 600, Burst: 50},
		KB:  KB{Public: true},
	}
}

// Default returns the configuration used when there is no file and no
// environment, with derived keys filled in.
func Default() *Config {
	c := base()
	c.derive()
	return c
}

// derive fills keys whose defaults depend on other keys and were left
// empty. It returns each key it filled mapped to the key it was derived
// from, so validation can blame the file or variable that set that key, and
// stay quiet about the derived value when that key is itself bad.
func (c *Config) derive() map[string]string {
	filled := make(map[string]string)
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:" + strings.TrimRight(c.DataDir, "/") + "/mxdesk.db"
		filled["database_url"] = "data_dir"
	}
	if c.SMTP.Hostname == "" {
		c.SMTP.Hostname = c.Domain
		filled["smtp.hostname"] = "domain"
	}
	if c.Outbound.From == "" {
		c.Outbound.From = "Support <support@" + c.Domain + ">"
		filled["outbound.from"] = "domain"
	}
	if c.Portal.BaseURL == "" {
		c.Portal.BaseURL = "http://" + publicHostPort(c.Portal.Listen)
		filled["portal.base_url"] = "portal.listen"
	}
	c.Portal.BaseURL = strings.TrimRight(c.Portal.BaseURL, "/")
	if len(c.Mailboxes) == 0 {
		c.Mailboxes = []Mailbox{{Address: "support@" + c.Domain, Team: "Support"}}
		filled["mailboxes"] = "domain"
	}
	return filled
}

// publicHostPort turns a listen address into one usable in a link: a
// listener on all interfaces (":8080", "0.0.0.0:8080") is reached as
// localhost, since "http://:8080" is not a URL anyone can open.
func publicHostPort(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// MailboxFor returns the mailbox that receives mail sent to addr. Matching
// ignores case and a "+tag" subaddress, so "Support+1234@Example.com" finds
// the "support@example.com" mailbox, whatever tag (a ticket reference, a
// customer's filter label) the sender added.
func (c *Config) MailboxFor(addr string) (Mailbox, bool) {
	want := stripSubaddress(strings.TrimSpace(addr))
	for _, m := range c.Mailboxes {
		if strings.EqualFold(m.Address, want) {
			return m, true
		}
	}
	return Mailbox{}, false
}

// stripSubaddress removes "+tag" from the local part of addr.
func stripSubaddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	local, domain := addr[:at], addr[at:]
	if plus := strings.IndexByte(local, '+'); plus >= 0 {
		local = local[:plus]
	}
	return local + domain
}

// TeamNames returns each team named by a mailbox once, in the order the
// mailboxes are configured, so listings follow the operator's ordering.
// Names are compared exactly.
func (c *Config) TeamNames() []string {
	var names []string
	seen := make(map[string]bool)
	for _, m := range c.Mailboxes {
		if !seen[m.Team] {
			seen[m.Team] = true
			names = append(names, m.Team)
		}
	}
	return names
}
