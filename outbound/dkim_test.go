package outbound

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// testKeys returns PEM test keys in the forms openssl and opendkim-genkey write:
// RSA-2048 as PKCS#1 and PKCS#8, Ed25519 as PKCS#8. Generated per run, never stored.
func testKeys(t testing.TB) map[string][]byte {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p8rsa, _ := x509.MarshalPKCS8PrivateKey(rk)
	p8ed, _ := x509.MarshalPKCS8PrivateKey(ek)
	return map[string][]byte{
		"rsa-pkcs1":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}),
		"rsa-pkcs8":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8rsa}),
		"ed25519-pkcs8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8ed}),
	}
}

func signedAck(t *testing.T, key *DKIMKey) []byte {
	t.Helper()
	m, err := testComposer(t).Compose(Notice{Kind: KindAck, Lang: "de", TicketID: 7, TicketSubject: "Grüße, printer",
		To: mail.Address{Name: "Jörg", Address: "joerg@example.org"}, InReplyTo: "x@y", References: []string{"x@y"}, AutoSubmitted: "auto-replied"})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := key.Sign(m.Raw)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestDKIMSignaturesVerify(t *testing.T) {
	for name, pemData := range testKeys(t) {
		t.Run(name, func(t *testing.T) {
			signer, err := ParseDKIMKey(pemData)
			if err != nil {
				t.Fatal(err)
			}
			key := &DKIMKey{Domain: "example.com", Selector: "mx1", Signer: signer}
			txt, err := key.TXTRecord()
			if err != nil {
				t.Fatal(err)
			}
			signed := signedAck(t, key)
			verifs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{
				LookupTXT: func(domain string) ([]string, error) {
					if domain != key.Name() {
						t.Errorf("looked up %s, want %s", domain, key.Name())
					}
					return []string{txt}, nil
				},
			})
			if err != nil || len(verifs) != 1 || verifs[0].Err != nil || verifs[0].Domain != "example.com" {
				t.Fatalf("verify: %v %+v", err, verifs)
			}
			// A changed body breaks it: the check above could fail.
			tampered := bytes.Replace(signed, []byte("Ticket #7"), []byte("Ticket #8"), 1)
			verifs, _ = dkim.VerifyWithOptions(bytes.NewReader(tampered), &dkim.VerifyOptions{
				LookupTXT: func(string) ([]string, error) { return []string{txt}, nil },
			})
			if len(verifs) != 1 || verifs[0].Err == nil {
				t.Fatal("tampered body still verifies")
			}
		})
	}
}

func TestParseDKIMKeyRefusesWhatReceiversIgnore(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p8ec, _ := x509.MarshalPKCS8PrivateKey(ec)
	for name, data := range map[string][]byte{
		"not PEM":                 []byte("hello"),
		"public key block":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}),
		"ECDSA, which DKIM lacks": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8ec}),
		"garbage in a PEM block":  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("garbage")}),
	} {
		if _, err := ParseDKIMKey(data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestDKIMVerifiedByDkimpy has a third party, dkimpy from Debian's python3-dkim, verify
// what we sign, so we do not only agree with ourselves.
func TestDKIMVerifiedByDkimpy(t *testing.T) {
	if out, err := exec.Command("/usr/bin/python3", "-c", "import dkim").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-dkim is not installed (CI=true: .ci/run installs it): %v %s", err, out)
		}
		t.Skipf("python3-dkim (dkimpy) is not installed: skipping the third-party DKIM check (apt-get install python3-dkim)")
	}
	dir := t.TempDir()
	for name, pemData := range testKeys(t) {
		t.Run(name, func(t *testing.T) {
			signer, err := ParseDKIMKey(pemData)
			if err != nil {
				t.Fatal(err)
			}
			key := &DKIMKey{Domain: "example.com", Selector: "mx1", Signer: signer}
			txt, _ := key.TXTRecord()
			msgPath, dnsPath := filepath.Join(dir, name+".eml"), filepath.Join(dir, name+".dns")
			os.WriteFile(msgPath, signedAck(t, key), 0o600)
			os.WriteFile(dnsPath, []byte(txt), 0o600)
			script := `import sys, dkim
t = open(sys.argv[2], "rb").read().strip()
def dns(name, timeout=5):
    assert name == b"mx1._domainkey.example.com.", name
    return t
print(dkim.verify(open(sys.argv[1], "rb").read(), dnsfunc=dns))`
			out, err := exec.Command("/usr/bin/python3", "-c", script, msgPath, dnsPath).CombinedOutput()
			if err != nil || strings.TrimSpace(string(out)) != "True" {
				t.Fatalf("dkimpy says %s (%v)", out, err)
			}
		})
	}
}
