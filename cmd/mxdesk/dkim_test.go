package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/mxdesk/mxdesk/outbound"
)

// TestDKIMKeygenWritesAKeyThatVerifies: the key keygen writes signs mail that verifies
// against the TXT record it prints, is mode 0600, and is never overwritten.
func TestDKIMKeygenWritesAKeyThatVerifies(t *testing.T) {
	for _, algo := range []string{"rsa", "ed25519"} {
		t.Run(algo, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("MXDESK_CONFIG", "")
			t.Setenv("MXDESK_DOMAIN", "example.com")
			t.Setenv("MXDESK_DATA_DIR", dir)
			args := []string{"dkim", "keygen", "--selector", "mx1"}
			if algo == "ed25519" {
				args = append(args, "--ed25519")
			}
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			path := filepath.Join(dir, "dkim", "mx1.private")
			fi, err := os.Stat(path)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode())
			}
			out := stdout.String()
			for _, w := range []string{path, "mx1._domainkey.example.com.", `dkim_selector = "mx1"`, `dkim_key = "` + path + `"`} {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			// The zone-file value: quoted strings of at most 255 octets, joined for DNS.
			m := regexp.MustCompile(`TXT\t(.*)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no TXT record in:\n%s", out)
			}
			txt := strings.Join(regexp.MustCompile(`"([^"]*)"`).FindAllString(m[1], -1), "")
			txt = strings.ReplaceAll(txt, `"`, "")
			key, err := outbound.LoadDKIMKey(path, "example.com", "mx1")
			if err != nil {
				t.Fatal(err)
			}
			signed, err := key.Sign([]byte("From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			vs, err := dkim.VerifyWithOptions(bytes.NewReader(signed), &dkim.VerifyOptions{
				LookupTXT: func(name string) ([]string, error) {
					if name != "mx1._domainkey.example.com" {
						return nil, errors.New("no such record " + name)
					}
					return []string{txt}, nil
				},
			})
			if err != nil || len(vs) != 1 || vs[0].Err != nil {
				t.Fatalf("verify against the printed record: %v %+v", err, vs)
			}

			stdout.Reset()
			stderr.Reset()
			if code := run(args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "exists") {
				t.Errorf("second keygen: exit %d, %q; want a refusal", code, stderr.String())
			}
			if again, _ := os.ReadFile(path); len(again) == 0 {
				t.Error("the existing key was damaged")
			}
		})
	}
}

func TestDKIMKeygenAnswersBadInputClearly(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MXDESK_CONFIG", "")
	t.Setenv("MXDESK_DATA_DIR", dir)
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		ro = "/proc" // root writes anywhere else
	}
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dkim", "keygen"}, 2, "--selector is required"},
		{[]string{"dkim", "keygen", "--selector", "bad_sel"}, 2, "not a DNS name"},
		{[]string{"dkim"}, 2, "dkim keygen --selector"},
		{[]string{"dkim", "keygen", "--selector", "s1", "--out", filepath.Join(ro, "s1.private")}, 1, "s1.private"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := run(tt.args, &stdout, &stderr)
		if code != tt.code || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with %q", tt.args, code, stderr.String(), tt.code, tt.want)
		}
	}
}
