package portal_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/portal"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
	"github.com/mxdesk/mxdesk/threading"
	"github.com/mxdesk/mxdesk/ticket"
)

// TestAMountedHandlerGetsItsPathsAheadOfThePortalsLimits: the agent API is mounted on
// the portal's listener; it gets every path under its prefix with the whole body (the
// portal caps its own at 64 KiB) and without the portal's cross-origin refusal, and the
// portal keeps the rest, refusal included.
func TestAMountedHandlerGetsItsPathsAheadOfThePortalsLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		secret := []byte("0123456789abcdef0123456789abcdef")
		composer, err := outbound.NewComposer(outbound.ComposerConfig{Domain: "example.com", From: "Support <support@example.com>"})
		storetest.MustNotErr(t, "composer", err)
		links := ticket.NewLinks(secret, "http://portal.test")
		svc := ticket.New(st, ticket.Config{Composer: composer, Signer: threading.NewSigner(secret), Links: links}, log)
		web, err := portal.New(st, svc, links, composer.Brand(), log)
		storetest.MustNotErr(t, "portal", err)
		web.Mount("/api/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
				return
			}
			w.Write([]byte("mounted " + r.URL.Path + " " + strconv.FormatInt(n, 10)))
		}))
		srv := httptest.NewServer(web.Handler())
		t.Cleanup(srv.Close)
		// Cross-site, as a script on another origin sends it: the API authenticates by
		// bearer token, so the portal's cookie CSRF refusal is not for it.
		post := func(path string, size int) (int, string) {
			req, err := http.NewRequest("POST", srv.URL+path, bytes.NewReader(make([]byte, size)))
			storetest.MustNotErr(t, "request", err)
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Sec-Fetch-Site", "cross-site")
			resp, err := http.DefaultClient.Do(req)
			storetest.MustNotErr(t, "post", err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if code, body := post("/api/v1/tickets", 200<<10); code != 200 || body != "mounted /api/v1/tickets 204800" {
			t.Errorf("mounted handler with 200 KiB: %d %q", code, body)
		}
		resp, err := http.Get(srv.URL + "/healthz")
		storetest.MustNotErr(t, "healthz", err)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("the portal's /healthz after Mount: %d", resp.StatusCode)
		}
		if code, body := post("/l/x", 1); code != http.StatusForbidden || bytes.Contains([]byte(body), []byte("mounted")) {
			t.Errorf("a cross-site POST to a portal path: %d %q, want the portal's 403", code, body)
		}
	})
}
