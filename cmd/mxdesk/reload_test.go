package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
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
	write := func(s string) {
		if err := os.WriteFile(inst.cfgPath, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
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
	}
	for i, tt := range tests {
		write(tt.config)
		inst.cmd.Process.Signal(syscall.SIGHUP)
		waitFor(t, tt.name+" logged", 10*time.Second, func() bool {
			return strings.Count(inst.log.String(), "reload failed, keeping the configuration it had") == i+1
		})
		if log := inst.log.String(); !strings.Contains(log[strings.LastIndex(log, "reload failed"):], tt.why) {
			t.Errorf("%s: the log does not say why (%q):\n%s", tt.name, tt.why, log[strings.LastIndex(log, "reload failed"):])
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
