package portal

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClientIPBelievesXForwardedForOnlyFromTrustedProxies(t *testing.T) {
	s := &Server{proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tc := range []struct{ name, peer, xff, want string }{
		{"no proxy", "203.0.113.7:5000", "", "203.0.113.7"},
		{"a client's own header is ignored", "203.0.113.7:5000", "1.2.3.4", "203.0.113.7"},
		{"the proxy's header is believed", "127.0.0.1:5000", "198.51.100.2", "198.51.100.2"},
		{"the rightmost untrusted hop", "127.0.0.1:5000", "1.2.3.4, 198.51.100.2, 10.1.1.1", "198.51.100.2"},
		{"a forged left part changes nothing", "127.0.0.1:5000", "127.0.0.1, 198.51.100.2", "198.51.100.2"},
		{"garbage stops the walk", "127.0.0.1:5000", "198.51.100.2, bogus", "127.0.0.1"},
		{"loopback without header is loopback", "127.0.0.1:5000", "", "127.0.0.1"},
		{"IPv6 and mapped IPv4", "[::1]:5000", "::ffff:198.51.100.9", "198.51.100.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if got := s.clientIP(r); got != tc.want {
				t.Errorf("clientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSafeNextStaysOnTheSite(t *testing.T) {
	for in, want := range map[string]string{
		"/account": "/account", "/my-tickets?status=open": "/my-tickets?status=open", "": "/", "//evil.example": "/",
		"https://evil.example": "/", "/\\evil.example": "/", "account": "/", "/a\r\nLocation: x": "/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEveryLanguageHasEveryString(t *testing.T) {
	for key := range accountTexts["en"] {
		for l, m := range accountTexts {
			if m[key] == "" {
				t.Errorf("%s lacks %q", l, key)
			}
		}
	}
	for l, m := range accountTexts {
		if len(m) != len(accountTexts["en"]) {
			t.Errorf("%s has %d strings, en %d", l, len(m), len(accountTexts["en"]))
		}
	}
}

func TestCleanFilename(t *testing.T) {
	for in, want := range map[string]string{
		"report.pdf": "report.pdf", "../../etc/passwd": "passwd", `..\..\boot.ini`: "boot.ini", "pass\x00\x1fwd": "passwd",
		".htaccess": "htaccess", "": "attachment", "..": "attachment", "/": "attachment", "a\u202eb": "ab",
		strings.Repeat("ä", 150): strings.Repeat("ä", 100),
	} {
		if got := cleanFilename(in); got != want {
			t.Errorf("cleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
}
