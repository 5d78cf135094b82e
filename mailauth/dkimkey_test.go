package mailauth_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// BenchmarkDKIMKeyShare answers whether a cache of parsed DKIM keys would matter. The
// TXT lookup is already cached by package resolver, but go-msgauth's VerifyOptions take
// only a LookupTXT function: the record it returns is parsed again (tag list, base64,
// x509.ParsePKIXPublicKey) for every signature, and there is no way to hand it a parsed
// key. The sub-benchmarks split one verification of a 4 KiB message signed with RSA-2048:
//
//   - verify: the whole dkim.VerifyWithOptions, with a lookup that costs nothing (as a
//     resolver cache hit nearly does);
//   - parse-key: the key work go-msgauth repeats for each signature, done the same way;
//     the most a parsed-key cache could save;
//   - rsa-only: rsa.VerifyPKCS1v15 with an already parsed key, which a cache cannot save
//     (crypto/rsa sets up the modulus on every call, cached *rsa.PublicKey or not).
func BenchmarkDKIMKeyShare(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	record := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	body := msg("alice@example.org") + strings.Repeat("A line of a 4 KiB message body, as customers write.\r\n", 75)
	var signed bytes.Buffer
	if err := dkim.Sign(&signed, strings.NewReader(body), &dkim.SignOptions{Domain: "example.org", Selector: "rsa", Signer: key}); err != nil {
		b.Fatal(err)
	}
	raw := signed.Bytes()
	opts := &dkim.VerifyOptions{
		LookupTXT:        func(string) ([]string, error) { return []string{record}, nil },
		MaxVerifications: 5,
	}

	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := dkim.VerifyWithOptions(bytes.NewReader(raw), opts)
			if err != nil || len(v) != 1 || v[0].Err != nil {
				b.Fatalf("verification: %v %+v", err, v)
			}
		}
	})
	b.Run("parse-key", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseDKIMKey(record); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rsa-only", func(b *testing.B) {
		hashed := sha256.Sum256([]byte("the canonicalized header fields"))
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, hashed[:])
		if err != nil {
			b.Fatal(err)
		}
		pub := &key.PublicKey
		b.ReportAllocs()
		for b.Loop() {
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, hashed[:], sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// parseDKIMKey does what go-msgauth does with a key record for every signature it
// verifies: split the tags into a map, strip spaces from p=, decode it and parse it as
// SubjectPublicKeyInfo.
func parseDKIMKey(record string) (*rsa.PublicKey, error) {
	params := map[string]string{}
	for _, kv := range strings.Split(record, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		params[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	der, err := base64.StdEncoding.DecodeString(strings.ReplaceAll(params["p"], " ", ""))
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	return pub.(*rsa.PublicKey), nil
}

// TestParseDKIMKeyMatchesTheBenchmarkedKey keeps the benchmark honest: the replica of
// go-msgauth's key parsing must yield the key that signed.
func TestParseDKIMKeyMatchesTheBenchmarkedKey(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := base64.StdEncoding.EncodeToString(der)
	for _, record := range []string{
		"v=DKIM1; k=rsa; p=" + p,
		"v=DKIM1;k=rsa;p=" + p[:100] + " " + p[100:] + ";",
	} {
		pub, err := parseDKIMKey(record)
		if err != nil || !pub.Equal(&key.PublicKey) {
			t.Errorf("parseDKIMKey(%.30q…): %v, same key %v", record, err, err == nil && pub.Equal(&key.PublicKey))
		}
	}
}
