package smtpd

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mxdesk/mxdesk/mailauth"
	"github.com/mxdesk/mxdesk/resolver"
	"github.com/mxdesk/mxdesk/resolver/dnstest"
	"github.com/mxdesk/mxdesk/store"
)

// memSpool is a Spooler that keeps messages in memory: these tests are about SMTP.
type memSpool struct {
	mu   sync.Mutex
	msgs []*store.Inbound
}

func (m *memSpool) Commit(_ context.Context, in *store.Inbound) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	in.ID = int64(len(m.msgs) + 1)
	m.msgs = append(m.msgs, in)
	return nil
}

func (m *memSpool) all() []*store.Inbound {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*store.Inbound(nil), m.msgs...)
}

func testConfig() Config {
	return Config{
		Hostname: "mx.example.com", MaxMessageBytes: 64 << 10, MaxRecipients: 3,
		ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		LocalDomains: []string{"example.com"},
		KnownRecipient: func(a string) bool {
			return strings.EqualFold(a, "support@example.com") || strings.EqualFold(a, "billing@example.com")
		},
		MaxHeaderBytes: 8 << 10, MaxHeaderFields: 50, MaxCommands: 40, MaxErrors: 5,
		TrustedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	}
}

// start runs a Server with cfg on a loopback port until the test ends; setup changes it
// before it serves (after would race with the accepting goroutine).
func start(t *testing.T, cfg Config, setup ...func(*Server)) (*Server, string, *memSpool) {
	t.Helper()
	spool := &memSpool{}
	s := New(cfg, spool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, f := range setup {
		f(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, l.Addr().String(), spool
}

// raw is an SMTP client that writes bytes exactly as given, so tests can send what no
// well-behaved client library would.
type raw struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) (*raw, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &raw{t: t, c: c, r: bufio.NewReader(c)}
	return rc, rc.reply()
}

// reply reads one whole reply and returns its last line ("" when the server closed).
func (rc *raw) reply() string {
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := rc.r.ReadString('\n')
		if err != nil {
			return strings.TrimSpace(line)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

func (rc *raw) write(s string) {
	rc.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Logf("write: %v", err)
	}
}

func (rc *raw) cmd(line string) string {
	rc.write(line + "\r\n")
	return rc.reply()
}

// transaction sends EHLO, MAIL, RCPT, DATA and body (which must end the DATA itself),
// and returns the final reply.
func (rc *raw) transaction(body string) string {
	for _, c := range []string{"EHLO client.example.org", "MAIL FROM:<alice@example.org>", "RCPT TO:<support@example.com>"} {
		if r := rc.cmd(c); !strings.HasPrefix(r, "250") {
			return c + " -> " + r
		}
	}
	if r := rc.cmd("DATA"); !strings.HasPrefix(r, "354") {
		return "DATA -> " + r
	}
	rc.write(body)
	return rc.reply()
}

const okHeader = "From: alice@example.org\r\nTo: support@example.com\r\nSubject: hi\r\n\r\n"

// TestHostileInputGetsAClearAnswer sends what attackers and broken clients send over a
// raw connection and checks each reply; the log lists every input with its reply.
func TestHostileInputGetsAClearAnswer(t *testing.T) {
	tests := []struct {
		name  string
		body  string // a DATA body, ending the DATA itself
		want  string
		after string // then this command, with this reply prefix (the session survives)
	}{
		{"well-formed message", okHeader + "hello\r\n.\r\n", "250 2.0.0", "RSET"},
		{"smuggling with \\n.\\n", okHeader + "hi\n.\nMAIL FROM:<evil@evil.test>\nRCPT TO:<support@example.com>\nDATA\nFrom: ceo@example.com\n\nsmuggled\n.\n\r\n.\r\n", "550 5.6.0", "RSET"},
		{"smuggling with \\r.\\r", okHeader + "hi\r.\rMAIL FROM:<evil@evil.test>\rRCPT TO:<support@example.com>\rDATA\rsmuggled\r\n.\r\n", "550 5.6.0", "RSET"},
		{"smuggling with \\r\\n.\\n", okHeader + "hi\r\n.\nMAIL FROM:<evil@evil.test>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nsmuggled\r\n.\n\r\n.\r\n", "550 5.6.0", "RSET"},
		{"smuggling with \\n.\\r\\n", okHeader + "hi\n.\r\nMAIL FROM:<evil@evil.test>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nsmuggled\r\n\r\n.\r\n", "550 5.6.0", "RSET"},
		{"bare LF in the header", "From: alice@example.org\nSubject: x\r\n\r\nhi\r\n.\r\n", "550 5.6.0", "RSET"},
		{"header over max_header_bytes", "X-Big: " + strings.Repeat("a", 9000) + "\r\n" + okHeader + "x\r\n.\r\n", "552 5.3.4", "RSET"},
		{"more header fields than max_header_fields", strings.Repeat("X-F: 1\r\n", 60) + okHeader + "x\r\n.\r\n", "552 5.3.4", "RSET"},
		{"101 Received fields: a mail loop", strings.Repeat("Received: from a by b; Tue, 24 Nov 2026 10:00:00 +0000\r\n", 101) + okHeader + "x\r\n.\r\n", "554 5.4.6", "RSET"},
		{"over max_message_bytes", okHeader + strings.Repeat(strings.Repeat("y", 998)+"\r\n", 70) + ".\r\n", "552 5.3.4", "RSET"},
		{"NUL bytes and 8-bit junk in the body", okHeader + "a\x00b\xff\xfe\r\n.\r\n", "250 2.0.0", "RSET"},
	}
	_, addr, spool := start(t, testConfig())
	accepted := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, greeting := dial(t, addr)
			if !strings.HasPrefix(greeting, "220 ") {
				t.Fatalf("greeting %q", greeting)
			}
			got := rc.transaction(tt.body)
			t.Logf("%-45s -> %s", tt.name, got)
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("reply %q, want %s", got, tt.want)
			}
			if strings.HasPrefix(tt.want, "250") {
				accepted++
			}
			if r := rc.cmd(tt.after); !strings.HasPrefix(r, "250") {
				t.Errorf("%s after it: %q; the session should go on", tt.after, r)
			}
			if n := len(spool.all()); n != accepted {
				t.Errorf("%d messages spooled, want %d: no refused or smuggled message may be stored", n, accepted)
			}
		})
	}
}

func TestEnvelopeRefusals(t *testing.T) {
	_, addr, spool := start(t, testConfig())
	rc, _ := dial(t, addr)
	steps := []struct{ cmd, want string }{
		{"EHLO client.example.org", "250 "},
		{"MAIL FROM:<alice@example.org>", "250 2.0.0"},
		{"RCPT TO:<someone@gmail.com>", "550 5.7.1"}, // relay attempt
		{"RCPT TO:<sales@example.com>", "550 5.1.1"}, // unknown mailbox
		{"RCPT TO:<a@b@c\x01>", "553 5.1.3"},
		{"RCPT TO:<support@example.com>", "250 2.0.0"},
		{"RCPT TO:<billing@example.com>", "250 2.0.0"},
		{"RCPT TO:<Support@Example.com>", "250 2.0.0"},
		{"RCPT TO:<support@example.com>", "452 4.5.3"}, // past max_recipients (3)
		{"RCPT TO:<not an address>", "501 5.5.2"},
		{"VRFY support", "252 "},
		{"RSET", "250 "},
		{"QUIT", "221 "},
	}
	for _, s := range steps {
		got := rc.cmd(s.cmd)
		t.Logf("%-32s -> %s", s.cmd, got)
		if !strings.HasPrefix(got, s.want) {
			t.Errorf("%s -> %q, want %s", s.cmd, got, s.want)
		}
	}
	if len(spool.all()) != 0 {
		t.Error("something was spooled")
	}
}

func TestConnectionsThatMisbehaveAreClosed(t *testing.T) {
	cfg := testConfig()
	cfg.MaxErrors = 3
	cfg.MaxCommands = 10
	_, addr, _ := start(t, cfg)

	t.Run("past max_errors refusals", func(t *testing.T) {
		rc, _ := dial(t, addr)
		rc.cmd("EHLO client.example.org")
		rc.cmd("MAIL FROM:<a@example.org>")
		var got []string
		for i := range 4 {
			got = append(got, rc.cmd("RCPT TO:<guess"+string(rune('a'+i))+"@example.com>"))
		}
		t.Logf("guessing addresses: %q", got)
		if !strings.HasPrefix(got[0], "550 5.1.1") || !strings.HasPrefix(got[2], "421 4.7.0") || got[3] != "" {
			t.Errorf("replies %q; want 550s, then 421 4.7.0 at the third error and the connection closed", got)
		}
	})
	t.Run("past max_commands", func(t *testing.T) {
		rc, _ := dial(t, addr)
		var last string
		n := 0
		for ; n < 20; n++ {
			last = rc.cmd("NOOP")
			if !strings.HasPrefix(last, "250") {
				break
			}
		}
		t.Logf("NOOP flood: %d NOOPs answered, then %q", n, last)
		if n != 10 || !strings.HasPrefix(last, "421 4.7.0") {
			t.Errorf("%d NOOPs then %q; want 10 then 421 4.7.0", n, last)
		}
		if r := rc.reply(); r != "" {
			t.Errorf("connection still open: %q", r)
		}
	})
	t.Run("garbage commands", func(t *testing.T) {
		rc, _ := dial(t, addr)
		var got []string
		for range 5 {
			got = append(got, rc.cmd("\x16\x03\x01 GET / HTTP/1.1"))
		}
		t.Logf("garbage: %q", got)
		if !strings.HasPrefix(got[0], "501 5.5.2") || !strings.HasPrefix(got[4], "500 5.5.1") {
			t.Errorf("garbage replies %q; want 501s then 500 5.5.1 and a closed connection", got)
		}
		if r := rc.reply(); r != "" {
			t.Errorf("connection still open: %q", r)
		}
	})
	t.Run("a command line over 64 KiB", func(t *testing.T) {
		rc, _ := dial(t, addr)
		got := rc.cmd("EHLO " + strings.Repeat("a", 70000))
		t.Logf("long line: %q", got)
		if !strings.HasPrefix(got, "500 5.4.0") {
			t.Errorf("long line: %q", got)
		}
	})
}

func TestDataThatStallsEndsTheConnectionWithout250(t *testing.T) {
	cfg := testConfig()
	cfg.ReadTimeout = 300 * time.Millisecond
	_, addr, spool := start(t, cfg)
	rc, _ := dial(t, addr)
	for _, c := range []string{"EHLO x.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<support@example.com>", "DATA"} {
		rc.cmd(c)
	}
	rc.write(okHeader + "half a body, then silence\r\n")
	time.Sleep(700 * time.Millisecond)
	// What a slow client sends after the timeout must not be read as commands.
	rc.write("RSET\r\nMAIL FROM:<x@example.org>\r\n")
	got := rc.reply()
	rest := rc.reply()
	t.Logf("stalled DATA: %q then %q", got, rest)
	if strings.HasPrefix(got, "250") || rest != "" {
		t.Errorf("stalled DATA answered %q then %q; want no 250 and a closed connection", got, rest)
	}
	if len(spool.all()) != 0 {
		t.Error("a partial message was spooled")
	}
}

func TestConnectionLimits(t *testing.T) {
	t.Run("per-address rate", func(t *testing.T) {
		cfg := testConfig()
		cfg.TrustedNetworks = nil
		cfg.ConnRatePerIP = 3
		clock, skew := time.Now(), atomic.Int64{} // the test moves the server's clock on
		_, addr, _ := start(t, cfg, func(s *Server) {
			s.now = func() time.Time { return clock.Add(time.Duration(skew.Load())) }
		})
		var got []string
		for range 4 {
			rc, greeting := dial(t, addr)
			got = append(got, greeting)
			rc.cmd("QUIT")
		}
		t.Logf("4 connections at a rate of 3/min: %q", got)
		if !strings.HasPrefix(got[2], "220") || !strings.HasPrefix(got[3], "421 4.7.0") {
			t.Errorf("greetings %q; want the 4th refused with 421 4.7.0", got)
		}
		skew.Add(int64(21 * time.Second)) // one token back
		if _, g := dial(t, addr); !strings.HasPrefix(g, "220") {
			t.Errorf("after 21s: %q", g)
		}
	})
	t.Run("trusted networks are exempt from the rate", func(t *testing.T) {
		cfg := testConfig()
		cfg.ConnRatePerIP = 1
		_, addr, _ := start(t, cfg)
		for i := range 3 {
			rc, g := dial(t, addr)
			if !strings.HasPrefix(g, "220") {
				t.Errorf("connection %d from loopback (trusted): %q", i, g)
			}
			rc.cmd("QUIT")
		}
	})
	t.Run("concurrent connections", func(t *testing.T) {
		cfg := testConfig()
		cfg.MaxConnections = 2
		_, addr, _ := start(t, cfg)
		_, g1 := dial(t, addr)
		rc2, g2 := dial(t, addr)
		_, g3 := dial(t, addr)
		t.Logf("3 connections with max_connections 2: %q %q %q", g1, g2, g3)
		if !strings.HasPrefix(g3, "421 4.7.0") {
			t.Errorf("third connection: %q", g3)
		}
		rc2.cmd("QUIT")
		rc2.c.Close()
		waitFor(t, func() bool { _, g := dial(t, addr); return strings.HasPrefix(g, "220") })
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; !cond(); i++ {
		if i > 100 {
			t.Fatal("condition never held")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testCert makes a self-signed certificate for mx.example.com.
func testCert(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.example.com"},
		DNSNames: []string{"mx.example.com"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestTLS(t *testing.T) {
	cfg := testConfig()
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{testCert(t)}}
	cfg.RequireTLS = true
	cfg.TrustedNetworks = nil // loopback must not be exempt from require_tls here
	s, addr, spool := start(t, cfg)
	clientTLS := &tls.Config{InsecureSkipVerify: true, ServerName: "mx.example.com"}

	t.Run("require_tls refuses MAIL before STARTTLS", func(t *testing.T) {
		rc, _ := dial(t, addr)
		rc.cmd("EHLO x.example.org")
		if got := rc.cmd("MAIL FROM:<a@example.org>"); !strings.HasPrefix(got, "530 5.7.0") {
			t.Errorf("MAIL before STARTTLS: %q", got)
		}
	})
	t.Run("STARTTLS then a message", func(t *testing.T) {
		rc, _ := dial(t, addr)
		rc.cmd("EHLO x.example.org")
		if got := rc.cmd("STARTTLS"); !strings.HasPrefix(got, "220") {
			t.Fatalf("STARTTLS: %q", got)
		}
		tc := tls.Client(rc.c, clientTLS)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		rc.c, rc.r = tc, bufio.NewReader(tc)
		if got := rc.transaction(okHeader + "over TLS\r\n.\r\n"); !strings.HasPrefix(got, "250") {
			t.Fatalf("message over STARTTLS: %q", got)
		}
		msgs := spool.all()
		if len(msgs) != 1 || !strings.Contains(string(msgs[0].Raw[:min(300, len(msgs[0].Raw))]), "with ESMTPS") {
			t.Errorf("Received field does not say ESMTPS")
		}
	})
	t.Run("implicit TLS listener", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go s.ServeTLS(l)
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr().String(), clientTLS)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		rc := &raw{t: t, c: c, r: bufio.NewReader(c)}
		if g := rc.reply(); !strings.HasPrefix(g, "220") {
			t.Fatalf("greeting over implicit TLS: %q", g)
		}
		if got := rc.transaction(okHeader + "over implicit TLS\r\n.\r\n"); !strings.HasPrefix(got, "250") {
			t.Errorf("message over implicit TLS: %q", got)
		}
	})
}

// TestAuthenticationAtEndOfData runs the checks against a real DNS server on loopback.
func TestAuthenticationAtEndOfData(t *testing.T) {
	dns := dnstest.Start(t)
	dns.TXT("_dmarc.example.org", "v=DMARC1; p=none")
	dns.TXT("example.org", "v=spf1 ip4:192.0.2.10 -all")
	dns.TXT("_dmarc.example.net", "v=DMARC1; p=reject")
	dns.TXT("_dmarc.quarantine.test", "v=DMARC1; p=quarantine")
	dns.ServFail("_dmarc.broken.test")
	r, err := resolver.New(resolver.Config{Server: dns.Addr, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Auth = &mailauth.Checker{Resolver: r}
	_, addr, spool := start(t, cfg)

	relayed := "Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n\tby relay.example.com (Postfix) with ESMTPS id 1;\r\n\tTue, 24 Nov 2026 10:00:00 +0000\r\n"
	tests := []struct {
		name, body, want string
		check            func(*mailauth.Results) bool
	}{
		{"behind a trusted relay, SPF is for the client its Received field names", relayed + okHeader + "x\r\n.\r\n", "250 2.0.0",
			func(r *mailauth.Results) bool {
				return r.SPF == "pass" && r.SPFIP == "192.0.2.10" && r.SPFRelay == "127.0.0.1" && r.Authenticated("example.org")
			}},
		{"claimed Authentication-Results are not believed", "Authentication-Results: mx.example.com; dkim=pass header.d=example.net; dmarc=pass header.from=example.net\r\nFrom: boss@example.net\r\nSubject: x\r\n\r\nx\r\n.\r\n", "550 5.7.1", nil},
		{"p=reject failure", "From: boss@example.net\r\nSubject: pay\r\n\r\nx\r\n.\r\n", "550 5.7.1", nil},
		{"p=quarantine failure is accepted and marked", "From: x@quarantine.test\r\nSubject: x\r\n\r\nx\r\n.\r\n", "250 2.0.0",
			func(r *mailauth.Results) bool { return r.Quarantine && !r.Authenticated("quarantine.test") }},
		{"SERVFAIL for the DMARC record", "From: x@broken.test\r\nSubject: x\r\n\r\nx\r\n.\r\n", "451 4.4.3", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(spool.all())
			rc, _ := dial(t, addr)
			got := rc.transaction(tt.body)
			t.Logf("%-60s -> %s", tt.name, got)
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("reply %q, want %s", got, tt.want)
			}
			msgs := spool.all()
			if tt.check == nil {
				if len(msgs) != before {
					t.Error("a refused message was spooled")
				}
				return
			}
			m := msgs[len(msgs)-1]
			res := mailauth.Parse(m.AuthResults)
			if res == nil || !tt.check(res) {
				t.Errorf("auth results %s", m.AuthResults)
			}
			if !strings.Contains(string(m.Raw), "Authentication-Results: mx.example.com;") {
				t.Errorf("stored copy has no Authentication-Results of ours:\n%s", m.Raw)
			}
		})
	}
}

func TestRelayedClient(t *testing.T) {
	tests := []struct {
		name, field, ip, helo string
	}{
		{"Postfix", "Received: from mail.example.org (mail.example.org [192.0.2.1])\r\n\tby mx (Postfix) with ESMTPS id X;\r\n\tdate\r\n", "192.0.2.1", "mail.example.org"},
		{"Postfix, no reverse DNS", "Received: from helo.example (unknown [192.0.2.2])\r\n\tby mx (Postfix) id Y\r\n", "192.0.2.2", "helo.example"},
		{"Postfix, IPv6", "Received: from h.example (h.example [IPv6:2001:db8::1]) by mx id Z\r\n", "2001:db8::1", "h.example"},
		{"Exim", "Received: from rdns.example ([192.0.2.3] helo=claimed.example)\r\n\tby mx with esmtp\r\n", "192.0.2.3", "claimed.example"},
		{"Exim, no reverse DNS", "Received: from [192.0.2.4] (helo=x.example) by mx\r\n", "192.0.2.4", "x.example"},
		{"no address", "Received: by mx id 1\r\n", "", ""},
	}
	for _, tt := range tests {
		ip, helo, ok := relayedClient([]byte(tt.field + "From: a@b\r\n\r\nbody\r\n"))
		if tt.ip == "" {
			if ok {
				t.Errorf("%s: found %v %q in a field with no client", tt.name, ip, helo)
			}
			continue
		}
		if !ok || ip.String() != tt.ip || helo != tt.helo {
			t.Errorf("%s: %v %q %v, want %s %s", tt.name, ip, helo, ok, tt.ip, tt.helo)
		}
	}
}

// TestBDAT checks the CHUNKING path (RFC 3030), which go-smtp always offers and which
// Postfix and Exchange use when offered: the body arrives counted, not dot-stuffed, so
// it must get the same checks and the same answers as a DATA body.
func TestBDAT(t *testing.T) {
	body := okHeader + "hello\r\n.\r\nstill the body after a lone dot\r\n"
	tests := []struct {
		name   string
		chunks []string // each sent as one BDAT; the last with LAST unless open
		open   bool     // the transaction is left open, then RSET
		want   string   // reply to the last BDAT (or to RSET when open)
		stored string   // the body as spooled, "" when nothing may be
	}{
		{"one chunk", []string{body}, false, "250 2.0.0", body},
		{"three chunks, split mid-line", []string{body[:10], body[10:50], body[50:]}, false, "250 2.0.0", body},
		{"an empty last chunk", []string{body, ""}, false, "250 2.0.0", body},
		{"bare LF (smuggling)", []string{okHeader + "hi\n.\nMAIL FROM:<evil@evil.test>\r\n"}, false, "550 5.6.0", ""},
		{"over max_message_bytes", []string{okHeader + strings.Repeat(strings.Repeat("y", 998)+"\r\n", 70)}, false, "552 5.3.4", ""},
		{"over max_message_bytes in the second chunk", []string{body, strings.Repeat(strings.Repeat("y", 998)+"\r\n", 70)}, false, "552 5.3.4", ""},
		{"RSET before the last chunk", []string{body}, true, "250", ""},
	}
	_, addr, spool := start(t, testConfig())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(spool.all())
			rc, _ := dial(t, addr)
			for _, c := range []string{"EHLO client.example.org", "MAIL FROM:<alice@example.org>", "RCPT TO:<support@example.com>"} {
				if r := rc.cmd(c); !strings.HasPrefix(r, "250") {
					t.Fatalf("%s -> %s", c, r)
				}
			}
			var got string
			for i, chunk := range tt.chunks {
				last := ""
				if i == len(tt.chunks)-1 && !tt.open {
					last = " LAST"
				}
				rc.write(fmt.Sprintf("BDAT %d%s\r\n%s", len(chunk), last, chunk))
				got = rc.reply()
				if last == "" && !strings.HasPrefix(got, "250") {
					break // refused before the end: the rest is not sent
				}
			}
			if tt.open {
				got = rc.cmd("RSET")
			}
			t.Logf("%-45s -> %s", tt.name, got)
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("reply %q, want %s", got, tt.want)
			}
			if r := rc.cmd("NOOP"); !strings.HasPrefix(r, "250") {
				t.Errorf("NOOP after it: %q; the session should go on", r)
			}
			msgs := spool.all()
			switch {
			case tt.stored == "" && len(msgs) != before:
				t.Errorf("a refused or abandoned message was spooled")
			case tt.stored != "" && len(msgs) != before+1:
				t.Errorf("%d messages spooled, want 1", len(msgs)-before)
			case tt.stored != "" && !strings.HasSuffix(string(msgs[len(msgs)-1].Raw), "\r\n"+tt.stored):
				t.Errorf("stored copy does not end in the body as sent:\n%s", msgs[len(msgs)-1].Raw)
			}
		})
	}
}

// TestBDATThatStallsEndsTheConnectionWithout250 is TestDataThatStallsEndsTheConnectionWithout250
// for a chunk: a client that drips a chunk in past the body's time gets no 250, and no
// permanent refusal either (go-smtp on its own answers 554 with the read error, and
// the sender would bounce a message it should retry); and what it sends after that is
// never read as commands. Left to go-smtp, that last point would depend on which
// goroutine runs first; TestBodyReadTimeoutClosesTheConnection checks the close that
// settles it.
func TestBDATThatStallsEndsTheConnectionWithout250(t *testing.T) {
	cfg := testConfig()
	cfg.ReadTimeout = 200 * time.Millisecond // the whole body may take 4 × 200 ms
	_, addr, spool := start(t, cfg)
	rc, _ := dial(t, addr)
	for _, c := range []string{"EHLO x.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<support@example.com>"} {
		rc.cmd(c)
	}
	rest := "RSET\r\nMAIL FROM:<x@example.org>\r\nRCPT TO:<support@example.com>\r\nDATA\r\nFrom: ceo@example.com\r\n\r\nsmuggled\r\n.\r\n"
	first := okHeader + "a body that drips in, "
	rc.write(fmt.Sprintf("BDAT %d LAST\r\n%s", len(first)+50+len(rest), first))
	// A byte every 100 ms, inside the idle timeout, until the server gives up on the
	// body; then, at once, the rest of the chunk.
	var replies []string
	for i := 0; i < 50 && len(replies) == 0; i++ {
		rc.write("x")
		rc.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		line, err := rc.r.ReadString('\n')
		if line != "" || err == io.EOF {
			replies = append(replies, strings.TrimSpace(line))
		}
	}
	rc.write(rest)
	for r := rc.reply(); r != ""; r = rc.reply() {
		replies = append(replies, r)
	}
	t.Logf("stalled BDAT: %q", replies)
	for _, r := range replies {
		if strings.HasPrefix(r, "250") || strings.HasPrefix(r, "354") {
			t.Errorf("replies %q: the rest of the chunk was read as commands", replies)
			break
		}
		if strings.HasPrefix(r, "5") {
			t.Errorf("replies %q: a slow sender was refused for good", replies)
		}
	}
	if len(spool.all()) != 0 {
		t.Error("a partial or smuggled message was spooled")
	}
}

// slowSpool commits after delay, as a busy disk does.
type slowSpool struct {
	memSpool
	delay time.Duration
}

func (s *slowSpool) Commit(ctx context.Context, in *store.Inbound) error {
	time.Sleep(s.delay)
	return s.memSpool.Commit(ctx, in)
}

// lockedBuffer is a log the server writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAcceptedLogNamesWhereTheWaitWent: a slow 250 after DATA is explained by its log
// line: the wait after the body, and of it the commit's share.
func TestAcceptedLogNamesWhereTheWaitWent(t *testing.T) {
	const delay = 30 * time.Millisecond
	var logs lockedBuffer
	_, addr, _ := start(t, testConfig(), func(s *Server) {
		s.spool = &slowSpool{delay: delay}
		s.log = slog.New(slog.NewTextHandler(&logs, nil))
	})
	rc, _ := dial(t, addr)
	if r := rc.transaction(okHeader + "body\r\n.\r\n"); !strings.HasPrefix(r, "250") {
		t.Fatalf("reply %q, want 250", r)
	}
	line := ""
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "message accepted") {
			line = l
		}
	}
	field := func(name string) float64 {
		m := regexp.MustCompile(` ` + name + `=([0-9.]+)`).FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("no %s in %q", name, line)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	after, spool, auth := field("after_data_ms"), field("spool_ms"), field("auth_ms")
	if spool < float64(delay.Milliseconds()) || after < spool+auth || field("ms") < after {
		t.Errorf("ms=%v after_data_ms=%v spool_ms=%v auth_ms=%v: want spool_ms >= %d, after_data_ms >= spool+auth, ms >= after_data_ms",
			field("ms"), after, spool, auth, delay.Milliseconds())
	}
}
