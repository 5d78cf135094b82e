package mailauth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mxdesk/mxdesk/mailauth"
	"github.com/mxdesk/mxdesk/resolver"
	"github.com/mxdesk/mxdesk/resolver/dnstest"
)

// signer signs as d=domain s=sel with an Ed25519 test key published in srv.
type signer struct {
	domain, sel string
	key         ed25519.PrivateKey
}

func newSigner(t testing.TB, srv *dnstest.Server, domain, sel string) signer {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv.TXT(sel+"._domainkey."+domain, "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	return signer{domain, sel, priv}
}

func (s signer) sign(t testing.TB, msg string) string {
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{Domain: s.domain, Selector: s.sel, Signer: s.key}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func msg(from string) string {
	return strings.ReplaceAll("From: "+from+"\nTo: support@example.com\nSubject: [#1] printer\nMessage-ID: <x@y>\n\nIt burns.\n", "\n", "\r\n")
}

func TestCheckFollowsDMARC(t *testing.T) {
	srv := dnstest.Start(t)
	org := newSigner(t, srv, "example.org", "sel")
	sub := newSigner(t, srv, "mail.example.org", "s2")
	other := newSigner(t, srv, "evil.test", "sel")
	broken := signer{"broken.example", "sel", org.key}
	srv.ServFail("sel._domainkey.broken.example")
	srv.TXT("_dmarc.example.org", "v=DMARC1; p=none")
	srv.TXT("example.org", "v=spf1 ip4:192.0.2.10 -all")
	srv.TXT("example.net", "v=spf1 ip4:192.0.2.10 -all")
	srv.TXT("_dmarc.example.net", "v=DMARC1; p=reject; sp=quarantine")
	srv.TXT("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s")
	srv.TXT("strict.example", "v=spf1 ip4:192.0.2.10 -all")
	strictSub := newSigner(t, srv, "a.strict.example", "sel")
	srv.TXT("_dmarc.rejecting.example", "v=DMARC1; p=reject")
	srv.TXT("_dmarc.sampled.example", "v=DMARC1; p=reject; pct=10")
	srv.ServFail("_dmarc.dnsbroken.example")
	srv.TXT("_dmarc.quarantine.example", "v=DMARC1; p=quarantine")
	srv.ServFail("spfbroken.example")
	srv.TXT("_dmarc.spfbroken.example", "v=DMARC1; p=reject")

	r, err := resolver.New(resolver.Config{Server: srv.Addr, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := &mailauth.Checker{Resolver: r}
	good := net.ParseIP("192.0.2.10")
	bad := net.ParseIP("198.51.100.7")

	tests := []struct {
		name                  string
		raw                   string
		ip                    net.IP
		mailFrom              string
		dkim, spf, dmarc      string
		aligned, policy       string
		temporary, quarantine bool
		reject                bool
	}{
		{"aligned DKIM signature passes", org.sign(t, msg("Alice <alice@example.org>")), bad, "bounce@elsewhere.test",
			"pass", "none", "pass", "example.org", "none", false, false, false},
		{"subdomain signature aligns relaxed", sub.sign(t, msg("alice@example.org")), bad, "",
			"pass", "none", "pass", "example.org", "none", false, false, false},
		{"valid signature of another domain does not align", other.sign(t, msg("alice@example.org")), bad, "x@evil.test",
			"pass", "none", "fail", "", "none", false, false, false},
		{"tampered body fails", strings.Replace(org.sign(t, msg("alice@example.org")), "It burns.", "It is fine.", 1), bad, "",
			"fail", "none", "fail", "", "none", false, false, false},
		{"no signature, aligned SPF passes", msg("alice@example.org"), good, "alice@example.org",
			"none", "pass", "pass", "example.org", "none", false, false, false},
		{"forged From, SPF of the envelope domain only", msg("alice@example.org"), good, "mallory@example.net",
			"none", "pass", "fail", "", "none", false, false, false},
		{"SERVFAIL on the aligned key is temporary, never a pass", broken.sign(t, msg("bob@broken.example")), bad, "",
			"temperror", "none", "temperror", "", "", true, false, false},
		{"org-domain fallback finds the policy, sp applies to the subdomain", msg("carol@sub.example.net"), bad, "carol@sub.example.net",
			"none", "none", "fail", "", "quarantine", false, true, false},
		{"org-domain record's p applies to the org domain", msg("carol@example.net"), bad, "carol@example.net",
			"none", "fail", "fail", "", "reject", false, false, true},
		{"strict alignment refuses a subdomain signature", strictSub.sign(t, msg("dan@strict.example")), bad, "",
			"pass", "none", "fail", "", "reject", false, false, true},
		{"strict alignment refuses a subdomain envelope", msg("dan@strict.example"), good, "dan@a.strict.example",
			"none", "none", "fail", "", "reject", false, false, true},
		{"pct below 100 lowers reject to quarantine", msg("eve@sampled.example"), bad, "",
			"none", "none", "fail", "", "quarantine", false, true, false},
		{"DMARC record SERVFAIL is temporary", msg("fay@dnsbroken.example"), bad, "",
			"none", "none", "temperror", "", "", true, false, false},
		{"aligned SPF temperror is temporary", msg("gus@spfbroken.example"), good, "gus@spfbroken.example",
			"none", "temperror", "temperror", "", "reject", true, false, false},
		{"two From addresses align with nothing", org.sign(t, msg("alice@example.org, boss@example.org")), good, "alice@example.org",
			"pass", "pass", "permerror", "", "", false, false, false},
		{"a quarantine failure is flagged", msg("hal@quarantine.example"), bad, "",
			"none", "none", "fail", "", "quarantine", false, true, false},
		{"no From at all", "Subject: x\r\n\r\nbody\r\n", good, "alice@example.org",
			"none", "pass", "none", "", "", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.Check(context.Background(), mailauth.Input{IP: tt.ip, Helo: "client.test", MailFrom: tt.mailFrom, Raw: []byte(tt.raw)})
			if res.DKIM != tt.dkim || res.SPF != tt.spf || res.DMARC != tt.dmarc || res.AlignedDomain != tt.aligned ||
				res.Policy != tt.policy || (res.Temporary != "") != tt.temporary || res.Quarantine != tt.quarantine || res.Reject() != tt.reject {
				t.Errorf("got %s\nwant dkim=%s spf=%s dmarc=%s aligned=%q policy=%q temporary=%v quarantine=%v reject=%v",
					res.JSON(), tt.dkim, tt.spf, tt.dmarc, tt.aligned, tt.policy, tt.temporary, tt.quarantine, tt.reject)
			}
			if tt.aligned != "" && !res.Authenticated(tt.aligned) {
				t.Errorf("Authenticated(%s) = false", tt.aligned)
			}
			if got := mailauth.Parse(res.JSON()); got == nil || got.DMARC != res.DMARC {
				t.Errorf("JSON does not round-trip: %s", res.JSON())
			}
		})
	}
}

func TestRSASignaturesVerify(t *testing.T) {
	srv := dnstest.Start(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	srv.TXT("rsa._domainkey.example.org", "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(pub))
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(msg("alice@example.org")), &dkim.SignOptions{Domain: "example.org", Selector: "rsa", Signer: key}); err != nil {
		t.Fatal(err)
	}
	r, _ := resolver.New(resolver.Config{Server: srv.Addr})
	res := (&mailauth.Checker{Resolver: r}).Check(context.Background(), mailauth.Input{IP: net.ParseIP("192.0.2.1"), Raw: b.Bytes()})
	if !res.Authenticated("example.org") {
		t.Errorf("RSA-2048 signature (a key longer than one TXT string): %s", res.JSON())
	}
}

func TestHeaderCannotBeInjected(t *testing.T) {
	res := &mailauth.Results{DKIM: "pass", Signatures: []mailauth.Signature{{Domain: "evil.test\r\nX-Injected: yes", Result: "pass"}},
		SPF: "pass", SPFDomain: "a;dmarc=pass", SPFHelo: "(helo) \r\n", DMARC: "fail", Policy: "reject", FromDomain: "example.org"}
	h := res.Header("mx.example.com")
	if strings.Count(h, "\r\n") != strings.Count(h, "\r\n\t")+1 || strings.Contains(h, "X-Injected: yes") {
		t.Errorf("header lets a value start a line:\n%s", h)
	}
	if strings.Count(h, "dmarc=") != 1 {
		t.Errorf("a value smuggled a second dmarc result:\n%s", h)
	}
	if !strings.HasPrefix(h, "Authentication-Results: mx.example.com;\r\n\tdkim=pass header.d=evil.testX-Injected:yes;") {
		t.Errorf("header:\n%s", h)
	}
}

func TestOrgDomain(t *testing.T) {
	for in, want := range map[string]string{
		"mail.example.org": "example.org", "example.org": "example.org", "a.b.example.co.uk": "example.co.uk",
		"Example.ORG.": "example.org", "co.uk": "co.uk", "localhost": "localhost",
	} {
		if got := mailauth.OrgDomain(in); got != want {
			t.Errorf("OrgDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func BenchmarkCheckSignedMessage(b *testing.B) {
	srv := dnstest.Start(b)
	s := newSigner(b, srv, "example.org", "sel")
	srv.TXT("_dmarc.example.org", "v=DMARC1; p=reject")
	srv.TXT("example.org", "v=spf1 ip4:192.0.2.10 -all")
	raw := []byte(s.sign(b, msg("alice@example.org")))
	r, _ := resolver.New(resolver.Config{Server: srv.Addr})
	c := &mailauth.Checker{Resolver: r}
	ip := net.ParseIP("192.0.2.10")
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), mailauth.Input{IP: ip, MailFrom: "alice@example.org", Raw: raw}); !res.Authenticated("example.org") {
			b.Fatal(res.JSON())
		}
	}
}

func BenchmarkCheckRSA2048Signed(b *testing.B) {
	srv := dnstest.Start(b)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	srv.TXT("rsa._domainkey.example.org", "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(pub))
	srv.TXT("_dmarc.example.org", "v=DMARC1; p=reject")
	var buf bytes.Buffer
	body := msg("alice@example.org") + strings.Repeat("A line of a 4 KiB message body, as customers write.\r\n", 75)
	if err := dkim.Sign(&buf, strings.NewReader(body), &dkim.SignOptions{Domain: "example.org", Selector: "rsa", Signer: key}); err != nil {
		b.Fatal(err)
	}
	r, _ := resolver.New(resolver.Config{Server: srv.Addr})
	c := &mailauth.Checker{Resolver: r}
	ip := net.ParseIP("192.0.2.10")
	b.ReportAllocs()
	for b.Loop() {
		if res := c.Check(context.Background(), mailauth.Input{IP: ip, MailFrom: "alice@example.org", Raw: buf.Bytes()}); !res.Authenticated("example.org") {
			b.Fatal(res.JSON())
		}
	}
}
