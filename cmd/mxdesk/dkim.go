package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mxdesk/mxdesk/outbound"
)

// cmdDKIM dispatches `mxdesk dkim`; keygen is its one subcommand.
func cmdDKIM(_ context.Context, cfgPath string, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "keygen" {
		return usageError{"want: dkim keygen --selector S [--ed25519] [--out FILE]"}
	}
	fset := flag.NewFlagSet("dkim keygen", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	selector := fset.String("selector", "", "the DKIM selector: the key is published at SELECTOR._domainkey.DOMAIN")
	useEd := fset.Bool("ed25519", false, "an Ed25519 key instead of RSA-2048 (not every receiver verifies Ed25519 yet)")
	out := fset.String("out", "", "where to write the private key (default data_dir/dkim/SELECTOR.private)")
	if _, err := parseInterspersed(fset, args[1:]); err != nil {
		return err
	}
	if err := checkSelector(*selector); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = filepath.Join(cfg.DataDir, "dkim", *selector+".private")
	}
	key, pemBytes, err := newDKIMKey(*useEd)
	if err != nil {
		return err
	}
	if err := writeNewFile(path, pemBytes); err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	dk := &outbound.DKIMKey{Domain: strings.TrimSuffix(cfg.Domain, "."), Selector: *selector, Signer: key}
	txt, err := dk.TXTRecord()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (mode 0600)\n\n", abs)
	fmt.Fprintf(stdout, "; publish this record, then check it with `mxdesk dns`:\n%s.\t3600\tIN\tTXT\t%s\n\n",
		dk.Name(), zoneValue(dnsRecord{Type: "TXT", Value: txt}))
	fmt.Fprintf(stdout, "# and add to the configuration:\n[outbound]\ndkim_selector = %q\ndkim_key = %q\n", *selector, abs)
	return nil
}

// checkSelector accepts a selector that is a DNS name of letters, digits, '-' and '.'.
func checkSelector(s string) error {
	if s == "" {
		return errors.New("--selector is required (e.g. --selector mx1)")
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("--selector %q: not a DNS name", s)
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("--selector %q: not a DNS name (letters, digits, '-' and '.')", s)
			}
		}
	}
	return nil
}

// newDKIMKey makes an RSA-2048 key in PKCS #1 PEM, the form opendkim-genkey writes, or
// an Ed25519 key in PKCS #8 PEM.
func newDKIMKey(useEd25519 bool) (crypto.Signer, []byte, error) {
	if useEd25519 {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, nil, fmt.Errorf("dkim keygen: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, nil, fmt.Errorf("dkim keygen: %w", err)
		}
		return priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("dkim keygen: %w", err)
	}
	return priv, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}), nil
}

// writeNewFile writes a secret to a file that must not exist yet, mode 0600, creating
// its directory (0700). An existing key is never overwritten: its public half may be
// published, and replacing it would break every signature until DNS is updated.
func writeNewFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("dkim keygen: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("dkim keygen: %s exists; not overwriting a key that may be published (choose another --selector or --out)", path)
	}
	if err != nil {
		return fmt.Errorf("dkim keygen: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("dkim keygen: %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("dkim keygen: %s: %w", path, err)
	}
	return f.Close()
}
