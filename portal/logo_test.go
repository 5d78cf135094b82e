package portal_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/portal"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/ticket"
)

// TestBrandLogoInTheHeader: a configured logo shows in every page's header and its
// origin, exactly, joins the CSP's img-src; a URL the CSP cannot name safely shows no
// logo and leaves the CSP as it was.
func TestBrandLogoInTheHeader(t *testing.T) {
	const plain = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		links := ticket.NewLinks([]byte("0123456789abcdef0123456789abcdef"), "http://portal.test")
		for _, tc := range []struct {
			name, logo string
			img        string // the header's <img>, "" for none
			imgSrc     string // the CSP's img-src directive
		}{
			{"none", "", "", "img-src 'self' data:;"},
			{"https", "https://cdn.example.com/brand/logo.png", `<img src="https://cdn.example.com/brand/logo.png" alt="" height="32">`,
				"img-src 'self' data: https://cdn.example.com;"},
			{"with a port", "http://static.example.org:8443/l.svg", `<img src="http://static.example.org:8443/l.svg"`,
				"img-src 'self' data: http://static.example.org:8443;"},
			{"IPv6", "https://[2001:db8::1]/logo.png", `<img src="https://[2001:db8::1]/logo.png"`, "img-src 'self' data: https://[2001:db8::1];"},
			{"a directive smuggled in the host", "https://x.example.com;script-src%20*/l.png", "", "img-src 'self' data:;"},
			{"javascript", "javascript:alert(1)", "", "img-src 'self' data:;"},
			{"relative", "/logo.png", "", "img-src 'self' data:;"},
			{"with credentials", "https://user:pw@cdn.example.com/l.png", "", "img-src 'self' data:;"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				web, err := portal.New(st, ticket.New(st, ticket.Config{Links: links}, quietLog()), links,
					outbound.Brand{Name: "Acme Help", LogoURL: tc.logo}, quietLog())
				if err != nil {
					t.Fatal(err)
				}
				for _, path := range []string{"/", "/l/not-a-token"} {
					rec := httptest.NewRecorder()
					web.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
					body, policy := rec.Body.String(), rec.Header().Get("Content-Security-Policy")
					if rec.Code >= http.StatusInternalServerError {
						t.Fatalf("%s: %d", path, rec.Code)
					}
					if tc.img == "" && strings.Contains(body, "<img") || tc.img != "" && !strings.Contains(body, tc.img) {
						t.Errorf("%s: header wants %q\n%s", path, tc.img, body)
					}
					if !strings.Contains(policy, tc.imgSrc) || strings.Replace(policy, tc.imgSrc, "img-src 'self' data:;", 1) != plain {
						t.Errorf("%s: CSP %q, want %q and nothing else changed", path, policy, tc.imgSrc)
					}
				}
			})
		}
	})
}
