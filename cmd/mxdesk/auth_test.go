package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
)

// testDKIMKey is an RSA key made for one test run, never committed. It signs as
// d=example.org s=sel; its public half is published in the instance's DNS server.
type testDKIMKey struct {
	key     *rsa.PrivateKey
	pemPath string // PKCS#1 PEM, for dkimsign and opendkim
}

func newTestDKIMKey(t *testing.T, inst *instance, domain, selector string) *testDKIMKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	inst.dns.TXT(selector+"._domainkey."+domain, "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(pub))
	path := filepath.Join(t.TempDir(), "test-dkim-key.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(path, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return &testDKIMKey{key: key, pemPath: path}
}

// goSign signs with go-msgauth: the signature every machine with Go can make.
func (k *testDKIMKey) goSign(t *testing.T, domain, selector, msg string) string {
	t.Helper()
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(crlf(msg)), &dkim.SignOptions{Domain: domain, Selector: selector, Signer: k.key}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// authShow is the part of `ticket show --json` these tests read.
type authShow struct {
	Flagged    bool   `json:"flagged"`
	FlagReason string `json:"flag_reason"`
	Linked     *int64 `json:"linked_ticket_id"`
	Messages   []struct {
		From string `json:"from"`
		Auth *struct {
			DKIM          string `json:"dkim"`
			SPF           string `json:"spf"`
			DMARC         string `json:"dmarc"`
			AlignedDomain string `json:"aligned_domain"`
		} `json:"auth"`
	} `json:"messages"`
}

func (inst *instance) show(id int64) authShow {
	inst.t.Helper()
	var s authShow
	inst.cliJSON(&s, "ticket", "show", fmt.Sprint(id))
	return s
}

// smtpCode returns "550 5.7.1" for an SMTP error, "250" for nil.
func smtpCode(err error) string {
	var se *smtp.SMTPError
	if err == nil {
		return "250"
	}
	if errors.As(err, &se) {
		return fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	return err.Error()
}

const forgedReply = `From: Alice Example <alice@example.org>
To: support@example.com
Subject: Re: [#1] Printer on fire
Message-ID: <%s>

Please send the refund to my new account.
`

// TestTrustRuleEndToEnd is guarantee 3 through the real binary, with a real DNS server
// on loopback: who may append to ticket 1, and what is refused at SMTP.
func TestTrustRuleEndToEnd(t *testing.T) {
	for name, mkURL := range storetest.Dialects(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inst := newInstance(t, mkURL(t), "", "")
			key := newTestDKIMKey(t, inst, "example.org", "sel")
			inst.dns.TXT("_dmarc.example.org", "v=DMARC1; p=none")
			inst.dns.TXT("_dmarc.example.net", "v=DMARC1; p=reject") // org domain of sub.example.net
			inst.dns.TXT("_dmarc.quarantine.example", "v=DMARC1; p=quarantine")
			inst.dns.ServFail("sel._domainkey.broken.example")
			inst.start()

			first := "From: Alice Example <alice@example.org>\nTo: support@example.com\nSubject: Printer on fire\nMessage-ID: <first@example.org>\n\nIt burns.\n"
			if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, key.goSign(t, "example.org", "sel", first)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "ticket 1", 15*time.Second, func() bool { return len(inst.tickets()) == 1 })
			if a := inst.show(1).Messages[0].Auth; a == nil || a.DKIM != "pass" || a.DMARC != "pass" || a.AlignedDomain != "example.org" {
				t.Errorf("ticket 1 message auth = %+v, want dkim pass, dmarc pass, aligned example.org", a)
			}

			// A forged From of Alice with [#1] and no valid signature: a new flagged ticket.
			if err := send(inst.smtp, "mallory@evil.test", []string{"support@example.com"}, crlf(fmt.Sprintf(forgedReply, "forged@evil.test"))); err != nil {
				t.Fatalf("forged mail under p=none: %v", err)
			}
			waitFor(t, "ticket 2", 15*time.Second, func() bool { return len(inst.tickets()) == 2 })
			t2 := inst.show(2)
			if !t2.Flagged || t2.Linked == nil || *t2.Linked != 1 || t2.Messages[0].Auth == nil || t2.Messages[0].Auth.DMARC != "fail" || t2.Messages[0].Auth.AlignedDomain != "" {
				t.Errorf("forged mail became %+v, want a flagged ticket linked to 1 with dmarc fail", t2)
			}
			if n := len(inst.show(1).Messages); n != 1 {
				t.Errorf("ticket 1 has %d messages after the forgery, want 1", n)
			}

			// The same, with a valid signature aligned with the From: appended.
			signed := key.goSign(t, "example.org", "sel", fmt.Sprintf(forgedReply, "real@example.org"))
			if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, signed); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the signed reply on ticket 1", 15*time.Second, func() bool { return len(inst.show(1).Messages) == 2 })

			// A signature that does not verify (body changed after signing) counts for nothing.
			broken := strings.Replace(key.goSign(t, "example.org", "sel", fmt.Sprintf(forgedReply, "tampered@example.org")), "refund", "money", 1)
			if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, broken); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "ticket 3", 15*time.Second, func() bool { return len(inst.tickets()) == 3 })
			if t3 := inst.show(3); !t3.Flagged || t3.Messages[0].Auth.DKIM != "fail" {
				t.Errorf("tampered signature: %+v", t3)
			}

			// A reply to ticket 1's signed reply address appends whatever the From says.
			secret, err := os.ReadFile(filepath.Join(inst.dir, "data", "secret.key"))
			if err != nil {
				t.Fatal(err)
			}
			replyAddr := threading.ReplyAddress("support@example.com", threading.NewSigner(secret).Token(threading.RoleCustomer, 1))
			colleague := "From: Bob <bob@elsewhere.test>\nTo: " + replyAddr + "\nSubject: about Alice's printer\nMessage-ID: <bob1@elsewhere.test>\n\nI'm her colleague.\n"
			if err := send(inst.smtp, "bob@elsewhere.test", []string{replyAddr}, crlf(colleague)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "Bob's reply on ticket 1", 15*time.Second, func() bool { return len(inst.show(1).Messages) == 3 })
			if from := inst.show(1).Messages[2].From; from != "bob@elsewhere.test" {
				t.Errorf("reply-address message recorded From %q", from)
			}

			// Refused at SMTP, each with its reply; nothing of them is stored.
			tampered := strings.Replace(replyAddr, "+t1-", "+t2-", 1)
			refusals := []struct {
				name, mailFrom, rcpt, body, want string
			}{
				{"tampered reply token", "alice@example.org", tampered, crlf(fmt.Sprintf(forgedReply, "tok@example.org")), "550 5.1.1"},
				{"SERVFAIL for the signer's key", "bob@broken.example", "support@example.com",
					key.goSign(t, "broken.example", "sel", "From: bob@broken.example\nTo: support@example.com\nSubject: hi\n\nx\n"), "451 4.4.3"},
				{"DMARC p=reject found at the organizational domain", "carol@sub.example.net", "support@example.com",
					crlf("From: carol@sub.example.net\nTo: support@example.com\nSubject: invoice\n\npay\n"), "550 5.7.1"},
			}
			for _, r := range refusals {
				got := smtpCode(send(inst.smtp, r.mailFrom, []string{r.rcpt}, r.body))
				t.Logf("%-50s -> %s", r.name, got)
				if got != r.want {
					t.Errorf("%s: %s, want %s", r.name, got, r.want)
				}
			}

			// p=quarantine: accepted, flagged, not acknowledged.
			if err := send(inst.smtp, "x@quarantine.example", []string{"support@example.com"}, crlf("From: boss@quarantine.example\nTo: support@example.com\nSubject: wire money\n\nnow\n")); err != nil {
				t.Fatalf("p=quarantine: %v", err)
			}
			waitFor(t, "ticket 4", 15*time.Second, func() bool { return len(inst.tickets()) == 4 })
			if t4 := inst.show(4); !t4.Flagged || !strings.Contains(t4.FlagReason, "quarantine") {
				t.Errorf("quarantined mail: %+v", t4)
			}
			var inq []any
			inst.cliJSON(&inq, "queue", "inbound")
			if len(inq) != 6 {
				t.Errorf("%d spool rows, want the 6 accepted messages only", len(inq))
			}
		})
	}
}

// TestThirdPartySignaturesVerify checks what others sign, not only what we sign: a
// message signed by dkimpy's dkimsign and one signed by OpenDKIM, each with a key made
// for this run, appended to ticket 1 because the signature is aligned with Alice's From.
func TestThirdPartySignaturesVerify(t *testing.T) {
	dkimsign := needPeer(t, "dkimsign")
	opendkim := needPeer(t, "opendkim")
	inst := newInstance(t, storetest.Dialects(t)["sqlite"](t), "", "")
	key := newTestDKIMKey(t, inst, "example.org", "sel")
	inst.dns.TXT("_dmarc.example.org", "v=DMARC1; p=reject")
	inst.start()
	if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, key.goSign(t, "example.org", "sel",
		"From: alice@example.org\nTo: support@example.com\nSubject: Printer on fire\nMessage-ID: <p1@example.org>\n\nfire\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ticket 1", 15*time.Second, func() bool { return len(inst.tickets()) == 1 })

	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	msg := func(id string) string {
		return fmt.Sprintf("From: Alice <alice@example.org>\nTo: support@example.com\nSubject: Re: [#1] Printer on fire\nMessage-ID: <%s@example.org>\n\nsigned by a peer\n", id)
	}
	signers := []struct {
		name string
		sign func() string
	}{
		{"dkimpy", func() string {
			cmd := exec.Command(dkimsign, "sel", "example.org", key.pemPath)
			cmd.Stdin = strings.NewReader(msg("dkimpy"))
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("dkimsign: %v", err)
			}
			return string(out)
		}},
		{"opendkim", func() string {
			conf := write("sign.conf", fmt.Sprintf("Mode s\nDomain example.org\nSelector sel\nKeyFile %s\nSignatureAlgorithm rsa-sha256\nCanonicalization relaxed/relaxed\nRequireSafeKeys no\n", key.pemPath))
			m := write("od.eml", msg("opendkim"))
			out, _ := exec.Command(opendkim, "-x", conf, "-vv", "-t", m).CombinedOutput()
			// opendkim -t prints the header it would insert: "### INSHEADER: ... hvalue='…'".
			_, v, ok := strings.Cut(string(out), "hname='DKIM-Signature' hvalue='")
			if !ok {
				t.Fatalf("opendkim printed no signature:\n%s", out)
			}
			v, _, _ = strings.Cut(v, "'\n")
			return "DKIM-Signature: " + v + "\n" + msg("opendkim")
		}},
	}
	for i, s := range signers {
		signed := crlf(s.sign())
		if err := send(inst.smtp, "bounces@lists.elsewhere.test", []string{"support@example.com"}, signed); err != nil {
			t.Fatalf("%s-signed mail under p=reject: %v", s.name, err)
		}
		waitFor(t, s.name+"'s message on ticket 1", 15*time.Second, func() bool { return len(inst.show(1).Messages) == i+2 })
		if a := inst.show(1).Messages[i+1].Auth; a == nil || a.DKIM != "pass" || a.AlignedDomain != "example.org" {
			t.Errorf("%s signature: auth %+v", s.name, a)
		}
	}
	if n := len(inst.tickets()); n != 1 {
		t.Errorf("%d tickets, want the peer-signed replies on ticket 1", n)
	}
}
