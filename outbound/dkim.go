package outbound

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// DKIMKey is the key every outgoing mail is signed with (d= domain, s= selector).
type DKIMKey struct {
	Domain   string
	Selector string
	Signer   crypto.Signer
}

// LoadDKIMKey reads a PEM private key as openssl and opendkim-genkey write them: PKCS#1
// ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY", RSA or Ed25519). RSA keys shorter than
// 1024 bits are refused: receivers treat them as unsigned (RFC 8301).
func LoadDKIMKey(path, domain, selector string) (*DKIMKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("outbound.dkim_key: %w", err)
	}
	signer, err := ParseDKIMKey(data)
	if err != nil {
		return nil, fmt.Errorf("outbound.dkim_key %s: %w", path, err)
	}
	return &DKIMKey{Domain: domain, Selector: selector, Signer: signer}, nil
}

// ParseDKIMKey parses a PEM private key.
func ParseDKIMKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("no PEM block found")
	}
	var key any
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q: want RSA PRIVATE KEY or PRIVATE KEY", block.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key of %d bits: receivers ignore signatures below 1024 (use 2048)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, fmt.Errorf("key type %T: want RSA or Ed25519", key)
	}
}

// signedHeaders are the fields a DKIM signature covers: those a forwarder must not change
// and whose tampering would mislead the reader or break threading. From is listed twice
// (oversigning) so a second From cannot be added without breaking the signature.
var signedHeaders = []string{"From", "From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To",
	"In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted"}

// Sign returns raw with a DKIM-Signature header in front (relaxed/relaxed, SHA-256).
func (k *DKIMKey) Sign(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	err := dkim.Sign(&b, bytes.NewReader(raw), &dkim.SignOptions{
		Domain:                 k.Domain,
		Selector:               k.Selector,
		Signer:                 k.Signer,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             signedHeaders,
	})
	if err != nil {
		return nil, fmt.Errorf("dkim sign: %w", err)
	}
	return b.Bytes(), nil
}

// TXTRecord is the value to publish at <selector>._domainkey.<domain>.
func (k *DKIMKey) TXTRecord() (string, error) {
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	default:
		return "", fmt.Errorf("key type %T", pub)
	}
}

// Name is the DNS name the TXT record goes under.
func (k *DKIMKey) Name() string {
	return k.Selector + "._domainkey." + strings.TrimSuffix(k.Domain, ".")
}
