package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/mxdesk/mxdesk/store/storetest"
)

// writeCert writes a self-signed certificate for cn and its key as PEM files.
func writeCert(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		DNSNames: []string{cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

// presentedCert is the common name of the certificate serve shows after STARTTLS.
func presentedCert(t *testing.T, addr string) string {
	t.Helper()
	c, err := smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer c.Close()
	if err := c.Noop(); err != nil { // the handshake completes with the first exchange
		t.Fatalf("NOOP after STARTTLS: %v", err)
	}
	st, ok := c.TLSConnectionState()
	if !ok || len(st.PeerCertificates) == 0 {
		t.Fatal("no TLS state after STARTTLS")
	}
	return st.PeerCertificates[0].Subject.CommonName
}

// TestSIGHUPReloadsWithoutDroppingAConnection: serve gets SIGHUP while a session is open
// and while mail is being sent; the session goes on, every message is accepted, and
// from then on the new certificate and the new mailbox are in force. A broken file, or a
// certificate that does not load, keeps the configuration serve had and logs why.
func TestSIGHUPReloadsWithoutDroppingAConnection(t *testing.T) {
	inst := newInstance(t, "sqlite:"+filepath.Join(t.TempDir(), "x.db"), "", "")
	certA, keyA := writeCert(t, inst.dir, "a.example.com")
	certB, keyB := writeCert(t, inst.dir, "b.example.com")
	orig, err := os.ReadFile(inst.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	withTLS := func(cert, key, extra string) string {
		return strings.Replace(string(orig), `hostname = "mx.example.com"`,
			fmt.Sprintf("hostname = \"mx.example.com\"\ntls_cert = %q\ntls_key = %q", cert, key), 1) + extra
	}
	write := inst.writeConfig
	write(withTLS(certA, keyA, ""))
	inst.start()
	if cn := presentedCert(t, inst.smtp); cn != "a.example.com" {
		t.Fatalf("certificate %s at start, want a.example.com", cn)
	}
	msg := "From: alice@example.org\r\nTo: support@example.com\r\nSubject: during the reload\r\n\r\nhello\r\n"
	if err := send(inst.smtp, "alice@example.org", []string{"sales@example.com"}, msg); err == nil {
		t.Fatal("sales@ was accepted before it was configured")
	}

	// A session open across the reload.
	open, err := smtp.Dial(inst.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := open.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := open.Mail("alice@example.org", nil); err != nil {
		t.Fatal(err)
	}
	// And mail sent all through it.
	stop := make(chan struct{})
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, msg); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			} else {
				sent.Add(1)
			}
		}
	}()
	waitFor(t, "mail flowing", 10*time.Second, func() bool { return sent.Load() > 0 })

	write(withTLS(certB, keyB, "[[mailboxes]]\naddress = \"sales@example.com\"\nteam = \"Sales\"\n"))
	inst.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "the reload", 10*time.Second, func() bool { return strings.Contains(inst.log.String(), "configuration reloaded") })
	before := sent.Load()
	waitFor(t, "mail after the reload", 10*time.Second, func() bool { return sent.Load() > before })
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Errorf("%d of %d sends failed during the reload; first: %v", failed.Load(), failed.Load()+sent.Load(), firstErr.Load())
	}
	if err := open.Rcpt("sales@example.com", nil); err != nil {
		t.Fatalf("the session open across the reload: RCPT to the new mailbox: %v", err)
	}
	w, err := open.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg))
	if err := w.Close(); err != nil {
		t.Fatalf("the session open across the reload: DATA: %v", err)
	}
	open.Quit()
	if cn := presentedCert(t, inst.smtp); cn != "b.example.com" {
		t.Errorf("certificate %s after the reload, want b.example.com", cn)
	}

	tests := []struct {
		name, config, why string
	}{
		{"broken TOML", "domain = [\n", inst.cfgPath},
		{"certificate that does not load", withTLS(filepath.Join(inst.dir, "missing.crt"), keyA, ""), "smtp.tls_cert"},
		{"invalid value", withTLS(certA, keyA, "") + "[log]\nformat = \"xml\"\n", "log.format"},
		{"certificate with another's key", withTLS(certA, keyB, ""), "smtp.tls_cert"},
		{"certificate without its key", withTLS(certA, "", ""), "smtp.tls_cert"},
		{"require_tls without a certificate", strings.Replace(string(orig), `hostname = "mx.example.com"`,
			"hostname = \"mx.example.com\"\nrequire_tls = true", 1), "smtp.require_tls"},
	}
	for i, tt := range tests {
		write(tt.config)
		inst.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, tt.name+" logged", 10*time.Second, func() bool {
			return strings.Count(inst.log.String(), "reload failed, keeping the configuration it had") == i+1
		})
		log := inst.log.String()
		failed := log[strings.LastIndex(log, "reload failed"):]
		failed, _, _ = strings.Cut(failed, "\n")
		t.Logf("%s: %s", tt.name, failed)
		if !strings.Contains(failed, tt.why) {
			t.Errorf("%s: the log does not say why (%q):\n%s", tt.name, tt.why, failed)
		}
		if err := send(inst.smtp, "alice@example.org", []string{"sales@example.com"}, msg); err != nil {
			t.Errorf("%s: the configuration before it was lost: %v", tt.name, err)
		}
		if cn := presentedCert(t, inst.smtp); cn != "b.example.com" {
			t.Errorf("%s: certificate %s, want b.example.com kept", tt.name, cn)
		}
	}
	if inst.cmd.ProcessState != nil {
		t.Fatal("serve exited")
	}
}

// offersSTARTTLS opens a session and reports whether its EHLO answer offers STARTTLS.
func offersSTARTTLS(t *testing.T, addr string) bool {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	ok, _ := c.Extension("STARTTLS")
	return ok
}

// portalBrand fetches the portal's home page and the stylesheet it links to.
func portalBrand(t *testing.T, inst *instance) (page, css string) {
	t.Helper()
	get := func(path string) string {
		resp, err := http.Get("http://" + inst.portalAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return string(b)
	}
	page = get("/")
	m := regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no stylesheet on the home page:\n%s", page)
	}
	return page, get(html.UnescapeString(m[1]))
}

// relayRefused reports whether err is the answer to a relay attempt.
func relayRefused(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code == 550 && se.EnhancedCode == smtp.EnhancedCode{5, 7, 1}
}

// TestSIGHUPChangesDomainsSTARTTLSAndPortalBrand: what used to need a restart. A
// mailbox in a new domain is accepted after SIGHUP and its mail becomes a ticket; once
// the mailbox is gone its domain is a relay attempt again. STARTTLS appears in EHLO after
// a certificate is added and disappears after it is removed, while sessions open across
// each reload keep what they started with and deliver. The portal shows the new brand
// name and colour.
func TestSIGHUPChangesDomainsSTARTTLSAndPortalBrand(t *testing.T) {
	dbs := map[string]func(t *testing.T) string{
		"sqlite": func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "x.db") },
	}
	if pg := os.Getenv("MXDESK_TEST_POSTGRES"); pg != "" {
		dbs["postgres"] = func(t *testing.T) string { return storetest.PostgresURL(t, pg) }
	}
	for name, dbURL := range dbs {
		t.Run(name, func(t *testing.T) { testSIGHUPDomainsTLSBrand(t, dbURL(t)) })
	}
}

func testSIGHUPDomainsTLSBrand(t *testing.T, dbURL string) {
	inst := newInstance(t, dbURL, "", "")
	cert, key := writeCert(t, inst.dir, "mx.example.com")
	orig, err := os.ReadFile(inst.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	write := inst.writeConfig
	reloads := 0
	hup := func() {
		t.Helper()
		reloads++
		inst.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, "the reload", 10*time.Second, func() bool {
			return strings.Count(inst.log.String(), "configuration reloaded") == reloads
		})
		if strings.Contains(inst.log.String(), "reload failed") {
			t.Fatalf("reload failed:\n%s", inst.log.String())
		}
	}
	inst.start()

	const netMsg = "From: alice@example.org\r\nTo: help@example.net\r\nSubject: to the new domain\r\n\r\nhello\r\n"
	const msg = "From: alice@example.org\r\nTo: support@example.com\r\nSubject: across the reload\r\n\r\nhello\r\n"
	if offersSTARTTLS(t, inst.smtp) {
		t.Fatal("STARTTLS offered at start without a certificate")
	}
	if err := send(inst.smtp, "alice@example.org", []string{"help@example.net"}, netMsg); !relayRefused(err) {
		t.Fatalf("RCPT to example.net before it is configured: %v, want 550 5.7.1", err)
	}
	page, css := portalBrand(t, inst)
	if !strings.Contains(page, "Example Support") || !strings.Contains(css, "#1f6feb") {
		t.Fatalf("portal at start: want the name from outbound.from and the default colour")
	}

	// A session open across the first reload, begun without STARTTLS.
	plain, err := smtp.Dial(inst.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := plain.Mail("alice@example.org", nil); err != nil {
		t.Fatal(err)
	}

	// Reload 1: a certificate, a mailbox in a new domain, a brand.
	withTLS := strings.Replace(string(orig), `hostname = "mx.example.com"`,
		fmt.Sprintf("hostname = \"mx.example.com\"\ntls_cert = %q\ntls_key = %q", cert, key), 1)
	write(withTLS + "[[mailboxes]]\naddress = \"help@example.net\"\nteam = \"Net\"\n" +
		"[brand]\nname = \"Acme Help\"\ncolor = \"#c0ffee\"\n")
	hup()
	if !offersSTARTTLS(t, inst.smtp) {
		t.Error("STARTTLS not offered after a certificate was added")
	}
	if cn := presentedCert(t, inst.smtp); cn != "mx.example.com" {
		t.Errorf("certificate %s after it was added", cn)
	}
	if err := send(inst.smtp, "alice@example.org", []string{"help@example.net"}, netMsg); err != nil {
		t.Fatalf("RCPT to the new domain after SIGHUP: %v", err)
	}
	waitFor(t, "a ticket from the new domain's mailbox", 20*time.Second, func() bool {
		for _, tk := range inst.tickets() {
			if tk.Subject == "to the new domain" && tk.Team == "Net" {
				return true
			}
		}
		return false
	})
	page, css = portalBrand(t, inst)
	if !strings.Contains(page, "Acme Help") || strings.Contains(page, "Example Support") {
		t.Errorf("portal after SIGHUP does not show the new brand name")
	}
	if !strings.Contains(css, "#c0ffee") || strings.Contains(css, "#1f6feb") {
		t.Errorf("portal stylesheet after SIGHUP does not have the new colour")
	}
	// The session open across it: plain text still, and the new domain is open to it.
	if err := plain.Rcpt("help@example.net", nil); err != nil {
		t.Fatalf("session open across the reload: RCPT to the new domain: %v", err)
	}
	w, err := plain.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(msg))
	if err := w.Close(); err != nil {
		t.Fatalf("session open across the reload: DATA: %v", err)
	}
	plain.Quit()

	// A session open across the second reload, begun with STARTTLS offered.
	conn, err := net.Dial("tcp", inst.smtp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	secure := textproto.NewConn(conn)
	if _, _, err := secure.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	if err := secure.PrintfLine("EHLO client.example.org"); err != nil {
		t.Fatal(err)
	}
	if _, ehlo, err := secure.ReadResponse(250); err != nil || !strings.Contains(ehlo, "STARTTLS") {
		t.Fatalf("EHLO with a certificate: %q %v", ehlo, err)
	}

	// Reload 2: the certificate and the new domain's mailbox removed.
	write(string(orig))
	hup()
	if offersSTARTTLS(t, inst.smtp) {
		t.Error("STARTTLS still offered after the certificate was removed")
	}
	if err := send(inst.smtp, "alice@example.org", []string{"help@example.net"}, netMsg); !relayRefused(err) {
		t.Errorf("RCPT to a domain removed by SIGHUP: %v, want 550 5.7.1", err)
	}
	if err := send(inst.smtp, "alice@example.org", []string{"support@example.com"}, msg); err != nil {
		t.Errorf("plain-text mail after STARTTLS was turned off: %v", err)
	}
	secure.PrintfLine("STARTTLS")
	if _, _, err := secure.ReadResponse(220); err != nil {
		t.Fatalf("STARTTLS in a session open across turning it off: %v", err)
	}
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	secure = textproto.NewConn(tc)
	for _, step := range []struct {
		line string
		code int
	}{{"EHLO client.example.org", 250}, {"MAIL FROM:<alice@example.org>", 250},
		{"RCPT TO:<support@example.com>", 250}, {"DATA", 354}} {
		secure.PrintfLine("%s", step.line)
		if _, m, err := secure.ReadResponse(step.code); err != nil {
			t.Fatalf("session open across the reload, over TLS: %s: %q %v", step.line, m, err)
		}
	}
	dw := secure.DotWriter()
	io.WriteString(dw, strings.ReplaceAll(msg, "\r\n", "\n"))
	dw.Close()
	if _, m, err := secure.ReadResponse(250); err != nil {
		t.Fatalf("session open across the reload, over TLS: end of DATA: %q %v", m, err)
	}
	if inst.cmd.ProcessState != nil {
		t.Fatal("serve exited")
	}
}
