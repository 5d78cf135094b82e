package smtpd

import (
	"bufio"
	"crypto/tls"
	"strings"
	"testing"
)

// ehlo sends EHLO and returns every line of the reply.
func (rc *raw) ehlo() string {
	rc.write("EHLO client.example.org\r\n")
	var b strings.Builder
	for {
		line, err := rc.r.ReadString('\n')
		b.WriteString(line)
		if err != nil || len(line) < 4 || line[3] != '-' {
			return b.String()
		}
	}
}

// TestSetTLSAndLocalDomainsWhileRunning: STARTTLS turned on and off reaches the sessions
// that start afterwards, while a session already open keeps what it began with; the
// local domains change for every RCPT from then on.
func TestSetTLSAndLocalDomainsWhileRunning(t *testing.T) {
	cfg := testConfig()
	cfg.TrustedNetworks = nil // loopback must not be exempt from require_tls here
	s, addr, spool := start(t, cfg)

	before, _ := dial(t, addr)
	if e := before.ehlo(); strings.Contains(e, "STARTTLS") {
		t.Fatalf("STARTTLS offered without a certificate:\n%s", e)
	}
	cert := testCert(t)
	s.SetTLS(&cert, true)
	on, _ := dial(t, addr)
	if e := on.ehlo(); !strings.Contains(e, "STARTTLS") {
		t.Fatalf("STARTTLS not offered after SetTLS:\n%s", e)
	}
	if got := on.cmd("MAIL FROM:<a@example.org>"); !strings.HasPrefix(got, "530 5.7.0") {
		t.Errorf("require_tls after SetTLS: MAIL before STARTTLS: %q", got)
	}
	// The session open before keeps its plain-text rules and delivers.
	if got := before.transaction(okHeader + "open across SetTLS\r\n.\r\n"); !strings.HasPrefix(got, "250") {
		t.Errorf("session open across SetTLS: %q", got)
	}

	s.SetTLS(nil, false)
	off, _ := dial(t, addr)
	if e := off.ehlo(); strings.Contains(e, "STARTTLS") {
		t.Fatalf("STARTTLS still offered after it was turned off:\n%s", e)
	}
	// The session that began with STARTTLS can still start it, with the last certificate.
	if got := on.cmd("STARTTLS"); !strings.HasPrefix(got, "220") {
		t.Fatalf("STARTTLS in a session open across turning it off: %q", got)
	}
	tc := tls.Client(on.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	on.c, on.r = tc, bufio.NewReader(tc)
	if got := on.transaction(okHeader + "over TLS\r\n.\r\n"); !strings.HasPrefix(got, "250") {
		t.Errorf("message over STARTTLS after it was turned off for new sessions: %q", got)
	}
	if n := len(spool.all()); n != 2 {
		t.Errorf("%d messages spooled, want 2", n)
	}

	off.cmd("MAIL FROM:<a@example.org>")
	if got := off.cmd("RCPT TO:<someone@example.net>"); !strings.HasPrefix(got, "550 5.7.1") {
		t.Errorf("RCPT to a domain not ours: %q", got)
	}
	s.SetLocalDomains([]string{"example.com", "Example.NET"})
	if got := off.cmd("RCPT TO:<someone@example.net>"); !strings.HasPrefix(got, "550 5.1.1") {
		t.Errorf("RCPT to an unknown address in a domain added while running: %q, want 550 5.1.1", got)
	}
	s.SetLocalDomains([]string{"example.net"})
	if got := off.cmd("RCPT TO:<support@example.com>"); !strings.HasPrefix(got, "550 5.7.1") {
		t.Errorf("RCPT to a domain removed while running: %q, want 550 5.7.1", got)
	}
}
