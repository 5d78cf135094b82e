package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Validate checks every key and reports all problems at once (joined with
// errors.Join), so an operator can fix a config in one pass instead of one
// restart per mistake. Load calls it; call it again after changing a Config
// by hand.
func (c *Config) Validate() error {
	return c.validate(func(string) string { return "" }, nil)
}

// validate is Validate with source telling where each key's value came
// from, so Load's errors can point at the file or variable to fix, and
// derived mapping each key Load derived to the key it came from. A derived
// value is not reported when its source key is already bad: one bad domain
// is one mistake, not five.
func (c *Config) validate(source func(key string) string, derived map[string]string) error {
	var errs []error
	failed := make(map[string]bool)
	check := func(key string, err error) {
		if err == nil {
			return
		}
		base, _, _ := strings.Cut(key, "[") // mailboxes[0].address -> mailboxes
		if from, ok := derived[base]; ok && failed[from] {
			return
		}
		failed[key] = true
		errs = append(errs, &configError{src: source(key), key: key, err: err})
	}

	check("domain", checkHostname(c.Domain))
	check("data_dir", checkNonEmpty(c.DataDir))
	check("database_url", checkDatabaseURL(c.DatabaseURL))
	check("log_level", checkLogLevel(c.LogLevel))
	check("log.format", checkOneOf(c.Log.Format, "text", "json"))

	check("smtp.listen", checkHostPort(c.SMTP.Listen, true))
	check("smtp.hostname", checkHostname(c.SMTP.Hostname))
	check("smtp.max_message_bytes", checkPositive(c.SMTP.MaxMessageBytes))
	check("smtp.max_recipients", checkPositive(c.SMTP.MaxRecipients))
	check("smtp.read_timeout", checkPositive(c.SMTP.ReadTimeout.Duration))
	check("smtp.write_timeout", checkPositive(c.SMTP.WriteTimeout.Duration))
	check("smtp.max_header_bytes", checkPositive(c.SMTP.MaxHeaderBytes))
	check("smtp.max_header_fields", checkPositive(c.SMTP.MaxHeaderFields))
	check("smtp.max_commands", checkPositive(c.SMTP.MaxCommands))
	check("smtp.max_errors", checkPositive(c.SMTP.MaxErrors))
	check("smtp.max_connections", checkPositive(c.SMTP.MaxConnections))
	check("smtp.conn_rate_per_ip", checkPositive(c.SMTP.ConnRatePerIP))
	for i, n := range c.SMTP.TrustedNetworks {
		check(fmt.Sprintf("smtp.trusted_networks[%d]", i), checkCIDR(n))
	}
	check("smtp.tls_cert", checkTLS(c.SMTP))
	noCert := c.SMTP.TLSCert == "" && c.SMTP.TLSKey == ""
	if c.SMTP.RequireTLS && noCert {
		check("smtp.require_tls", errors.New("needs smtp.tls_cert and smtp.tls_key"))
	}
	if c.SMTP.TLSListen != "" {
		err := checkHostPort(c.SMTP.TLSListen, true)
		if err == nil && noCert {
			err = errors.New("needs smtp.tls_cert and smtp.tls_key")
		}
		check("smtp.tls_listen", err)
	}
	if c.DNS.Server != "" {
		check("dns.server", checkHostPort(c.DNS.Server, false))
	}
	check("dns.timeout", checkPositive(c.DNS.Timeout.Duration))
	for i, d := range c.TrustedUnauthenticatedDomains {
		check(fmt.Sprintf("trusted_unauthenticated_domains[%d]", i), checkHostname(d))
	}

	if len(c.Mailboxes) == 0 {
		check("mailboxes", errors.New("must list at least one mailbox, or mxdesk accepts no mail"))
	}
	first := make(map[string]int) // lower-cased address -> index of first use
	for i, m := range c.Mailboxes {
		key := fmt.Sprintf("mailboxes[%d]", i)
		err := checkMailboxAddress(m.Address)
		if err == nil {
			lower := strings.ToLower(m.Address)
			if j, dup := first[lower]; dup {
				err = fmt.Errorf("%q duplicates mailboxes[%d]", m.Address, j)
			} else {
				first[lower] = i
			}
		}
		check(key+".address", err)
		if strings.TrimSpace(m.Team) == "" {
			check(key+".team", errors.New("must not be empty"))
		}
	}

	if c.Outbound.Relay != "" && c.Outbound.Relay != "mx" {
		check("outbound.relay", checkHostPort(c.Outbound.Relay, false))
	}
	check("outbound.from", checkFrom(c.Outbound.From))
	check("outbound.retry_max", checkPositive(c.Outbound.RetryMax.Duration))
	check("outbound.max_auto_per_hour", checkPositive(c.Outbound.MaxAutoPerHour))
	check("outbound.retry_schedule", checkSchedule(c.Outbound.RetrySchedule))
	check("tickets.auto_close_after", checkPositive(c.Tickets.AutoCloseAfter.Duration))
	check("tickets.reopen_window", checkPositive(c.Tickets.ReopenWindow.Duration))
	c.validateTime(check)
	for i, m := range c.Mailboxes {
		switch m.Priority {
		case "", "low", "medium", "high", "urgent":
		default:
			check(fmt.Sprintf("mailboxes[%d].priority", i), fmt.Errorf("%q: want low, medium, high or urgent", m.Priority))
		}
	}
	seenAgent := map[string]bool{}
	for i, a := range c.Agents {
		key := fmt.Sprintf("agents[%d]", i)
		if addr, err := mail.ParseAddress(a.Email); err != nil || addr.Address != a.Email {
			check(key+".email", fmt.Errorf("%q is not a bare address like \"ana@example.com\"", a.Email))
		} else if seenAgent[strings.ToLower(a.Email)] {
			check(key+".email", fmt.Errorf("%s is listed twice", a.Email))
		}
		seenAgent[strings.ToLower(a.Email)] = true
		if strings.TrimSpace(a.Team) == "" {
			check(key+".team", errors.New("must name the team whose tickets the agent answers"))
		}
		if _, ok := c.MailboxFor(a.Email); ok {
			check(key+".email", fmt.Errorf("%s is one of the mailboxes: an agent needs a personal address", a.Email))
		}
	}
	if (c.Outbound.DKIMKey == "") != (c.Outbound.DKIMSelector == "") {
		check("outbound.dkim_key", errors.New("dkim_key and dkim_selector go together: set both or neither"))
	}
	if c.Outbound.DKIMKey != "" {
		check("outbound.dkim_key", checkReadable(c.Outbound.DKIMKey))
	}
	if c.Outbound.DKIMSelector != "" {
		check("outbound.dkim_selector", checkLabel(c.Outbound.DKIMSelector))
	}
	if (c.Outbound.RelayUsername == "") != (c.Outbound.RelayPassword == "") {
		check("outbound.relay_username", errors.New("relay_username and relay_password go together"))
	}
	if c.Outbound.RelayUsername != "" && (c.Outbound.Relay == "" || c.Outbound.Relay == "mx") {
		check("outbound.relay_username", errors.New("set outbound.relay too: AUTH is for a relay"))
	}
	if c.Outbound.DefaultLanguage != "en" && c.Outbound.DefaultLanguage != "de" {
		check("outbound.default_language", fmt.Errorf("%q: the built-in languages are en and de", c.Outbound.DefaultLanguage))
	}
	if c.Brand.Color != "" {
		check("brand.color", checkColor(c.Brand.Color))
	}
	if c.Brand.LogoURL != "" {
		check("brand.logo_url", checkBaseURL(c.Brand.LogoURL))
	}
	if c.Metrics.Listen != "" {
		check("metrics.listen", checkHostPort(c.Metrics.Listen, true))
	}

	check("portal.listen", checkHostPort(c.Portal.Listen, true))
	check("portal.base_url", checkBaseURL(c.Portal.BaseURL))
	check("portal.session_idle", checkPositive(c.Portal.SessionIdle.Duration))
	check("portal.session_lifetime", checkPositive(c.Portal.SessionLifetime.Duration))
	for i, n := range c.Portal.TrustedProxies {
		check(fmt.Sprintf("portal.trusted_proxies[%d]", i), checkCIDR(n))
	}
	checkTemplates(c.Templates, check)
	check("api.rate_per_minute", checkPositive(c.API.RatePerMinute))
	check("api.burst", checkPositive(c.API.Burst))

	return errors.Join(errs...)
}

func checkNonEmpty(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	return nil
}

// checkPositive rejects zero and negative counts, sizes and durations; none
// of them has a useful meaning at zero, and "0 means unlimited" would be a
// surprise nobody asked for.
func checkPositive[T interface{ ~int | ~int64 }](n T) error {
	if n <= 0 {
		return fmt.Errorf("must be positive, got %v", n)
	}
	return nil
}

// checkHostname accepts names made of DNS labels (letters, digits and
// inner hyphens, 1 to 63 characters each). It is a plausibility check to
// catch typos such as a URL or an address in place of a domain, not a DNS
// lookup.
func checkHostname(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > 253 {
		return fmt.Errorf("%q is not a hostname: longer than 253 characters", s)
	}
	for label := range strings.SplitSeq(s, ".") {
		if !validLabel(label) {
			return fmt.Errorf("%q is not a hostname", s)
		}
	}
	return nil
}

func validLabel(label string) bool {
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for _, r := range label {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
		default:
			return false
		}
	}
	return true
}

func checkDatabaseURL(s string) error {
	switch {
	case strings.HasPrefix(s, "sqlite:"):
		if s == "sqlite:" {
			return errors.New(`"sqlite:" needs a path, like "sqlite:./mxdesk-data/mxdesk.db"`)
		}
		return nil
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		return nil
	}
	return fmt.Errorf("%q must start with sqlite:, postgres:// or postgresql://", s)
}

func checkOneOf(s string, want ...string) error {
	for _, w := range want {
		if s == w {
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(want, ", "))
}

func checkLogLevel(s string) error {
	switch s {
	case "debug", "info", "warn", "error":
		return nil
	}
	return fmt.Errorf("%q is not one of debug, info, warn, error", s)
}

// checkHostPort checks a host:port with a numeric port. A listener may
// omit the host (all interfaces) and use port 0 (any free port, handy in
// tests); a relay to connect to needs both.
func checkHostPort(s string, listen bool) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fmt.Errorf("%q is not host:port: port %q is not a number from 0 to 65535", s, port)
	}
	if !listen {
		if host == "" {
			return fmt.Errorf("%q is not host:port: the host is missing", s)
		}
		if n == 0 {
			return fmt.Errorf("%q is not host:port: port 0 cannot be connected to", s)
		}
	}
	return nil
}

// checkMailboxAddress insists on a bare address without a subaddress,
// because MailboxFor matches "local+tag@domain" against "local@domain": a
// '+' in the configured address could never match.
func checkMailboxAddress(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return fmt.Errorf("%q is not an email address: %s", s, strings.TrimPrefix(err.Error(), "mail: "))
	}
	if a.Name != "" || a.Address != s {
		return fmt.Errorf("%q must be a bare address like support@example.com, without a display name", s)
	}
	local := s[:strings.LastIndexByte(s, '@')]
	if strings.Contains(local, "+") {
		return fmt.Errorf("%q must not contain '+' in the local part; support+tag@ mail reaches support@ anyway", s)
	}
	return nil
}

func checkFrom(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if _, err := mail.ParseAddress(s); err != nil {
		return fmt.Errorf("%q is not an email address: %s", s, strings.TrimPrefix(err.Error(), "mail: "))
	}
	return nil
}

// checkBaseURL requires an absolute http(s) URL with a host and nothing
// after the path, since links are built by appending paths to it.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not have a query or fragment", s)
	}
	return nil
}

// checkSchedule wants at least one step, each positive.
func checkSchedule(d Durations) error {
	if len(d) == 0 {
		return errors.New("needs at least one duration, like \"1m,5m,1h\"")
	}
	for _, x := range d {
		if x.Duration <= 0 {
			return fmt.Errorf("%s is not positive", x)
		}
	}
	return nil
}

// checkReadable makes a missing key file a config error, not a failure at the first send.
func checkReadable(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", path, errors.Unwrap(err))
	}
	return f.Close()
}

// checkLabel accepts a DNS label such as a DKIM selector.
func checkLabel(s string) error {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("%q is not a DNS label", s)
		}
	}
	return nil
}

// checkColor accepts a CSS hex colour, the only form safe to put in a style attribute.
func checkColor(s string) error {
	if len(s) != 4 && len(s) != 7 || s[0] != '#' {
		return fmt.Errorf("%q is not a hex colour like \"#1f6feb\"", s)
	}
	for _, r := range s[1:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return fmt.Errorf("%q is not a hex colour like \"#1f6feb\"", s)
		}
	}
	return nil
}

// checkCIDR accepts a network ("192.0.2.0/24", "2001:db8::/32") or a single
// address, which is its own /32 or /128.
func checkCIDR(s string) error {
	if _, err := netip.ParsePrefix(s); err == nil {
		return nil
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	return fmt.Errorf("%q is not a network like 192.0.2.0/24 or an address", s)
}

// ParseNetworks returns smtp.trusted_networks as prefixes; Validate has
// checked them, so anything unparsable is skipped.
func ParseNetworks(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// checkTLS insists on a certificate and key together, and loadable.
func checkTLS(s SMTP) error {
	switch {
	case s.TLSCert == "" && s.TLSKey == "":
		return nil
	case s.TLSCert == "" || s.TLSKey == "":
		return errors.New("tls_cert and tls_key must be set together")
	}
	if _, err := tls.LoadX509KeyPair(s.TLSCert, s.TLSKey); err != nil {
		return fmt.Errorf("cannot load %s with key %s: %v", s.TLSCert, s.TLSKey, err)
	}
	return nil
}

// checkTemplates checks the portal's ticket templates: named, unique, fields of a known
// type with a usable name, a select with options.
func checkTemplates(ts []Template, check func(string, error)) {
	seen := map[string]bool{}
	for i, t := range ts {
		key := fmt.Sprintf("templates[%d]", i)
		if strings.TrimSpace(t.Name) == "" {
			check(key+".name", errors.New("must not be empty"))
		} else if seen[t.Name] {
			check(key+".name", fmt.Errorf("%q appears twice", t.Name))
		}
		seen[t.Name] = true
		fields := map[string]bool{}
		for j, f := range t.Fields {
			fk := fmt.Sprintf("%s.fields[%d]", key, j)
			switch {
			case f.Name == "" || strings.Trim(f.Name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "":
				check(fk+".name", fmt.Errorf("%q: use lower-case letters, digits and _ (the form field is field_<name>)", f.Name))
			case fields[f.Name]:
				check(fk+".name", fmt.Errorf("%q appears twice", f.Name))
			}
			fields[f.Name] = true
			switch f.Type {
			case "text", "textarea", "checkbox", "date", "number":
			case "select":
				if len(f.Options) == 0 {
					check(fk+".options", errors.New("a select needs options"))
				}
			default:
				check(fk+".type", fmt.Errorf("%q: one of text, textarea, select, checkbox, date, number", f.Type))
			}
		}
	}
}
