package smtpd

import (
	"strings"
	"testing"
)

func TestForgedAuthenticationResultsInOurNameAreDropped(t *testing.T) {
	const id = "mx.example.com"
	tests := []struct {
		name, in, want string
	}{
		{"ours, one line", "Authentication-Results: mx.example.com; dkim=pass\r\nSubject: x\r\n\r\nbody\r\n",
			"Subject: x\r\n\r\nbody\r\n"},
		{"ours, folded, other case", "Subject: x\r\nauthentication-results:  MX.Example.COM;\r\n\tdmarc=pass header.from=bank.example\r\nFrom: a@b\r\n\r\nbody\r\n",
			"Subject: x\r\nFrom: a@b\r\n\r\nbody\r\n"},
		{"another host's stays", "Authentication-Results: mx.google.com; dkim=pass\r\nSubject: x\r\n\r\nbody\r\n",
			"Authentication-Results: mx.google.com; dkim=pass\r\nSubject: x\r\n\r\nbody\r\n"},
		{"a lookalike name stays", "Authentication-Results: mx.example.com.evil.test; dkim=pass\r\n\r\nb\r\n",
			"Authentication-Results: mx.example.com.evil.test; dkim=pass\r\n\r\nb\r\n"},
		{"only in the body stays", "Subject: x\r\n\r\nAuthentication-Results: mx.example.com; dkim=pass\r\n",
			"Subject: x\r\n\r\nAuthentication-Results: mx.example.com; dkim=pass\r\n"},
	}
	for _, tt := range tests {
		if got := string(dropOurAuthResults([]byte(tt.in), id)); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
	if in := []byte(strings.Repeat("X: y\r\n", 10) + "\r\nbody"); &dropOurAuthResults(in, id)[0] != &in[0] {
		t.Error("a message with nothing to drop was copied")
	}
}
