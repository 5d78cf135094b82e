package portal_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestFormScript: the pages with an upload form load static/forms.js (drag-and-drop,
// Ctrl+Enter) from this origin, and only those pages' CSP allows a script, from this
// origin only; no page has inline script. The forms keep their plain names and work
// without it (the other tests post them without any script).
func TestFormScript(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := setupAccounts(t, st, accOptions{})
		id, _, _ := f.mailTicket(t, "alice@example.org", "Printer", "It burns.")
		b := f.browser(t)
		f.signUp(t, b, "alice@example.org", goodPassword)
		inline := regexp.MustCompile(`<script>|<script [^>]*>[^<]|\son[a-z]+=`)
		for _, tc := range []struct {
			path    string
			script  bool
			markers []string
		}{
			{"/my-tickets/new", true, []string{`name="attachments" multiple aria-describedby="attach-limit" data-drop`}},
			{fmt.Sprintf("/my-tickets/%d", id), true, []string{`name="body" rows="6" data-ctrl-enter`, "data-drop"}},
			{"/my-tickets", false, nil},
			{"/account", false, nil},
		} {
			r := b.get(tc.path)
			csp := r.Header.Get("Content-Security-Policy")
			loads := strings.Contains(r.Body, `<script src="/static/forms.js" defer></script>`)
			if r.Code != 200 || loads != tc.script || strings.Contains(csp, "script-src 'self'") != tc.script ||
				strings.Contains(csp, "unsafe") || inline.MatchString(r.Body) {
				t.Errorf("%s: %d, script %v, CSP %q", tc.path, r.Code, loads, csp)
			}
			for _, m := range tc.markers {
				if !strings.Contains(r.Body, m) {
					t.Errorf("%s lacks %s", tc.path, m)
				}
			}
		}
		r := b.get("/static/forms.js")
		if r.Code != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/javascript") ||
			!strings.Contains(r.Body, "requestSubmit") || !strings.Contains(r.Body, "dataTransfer") {
			t.Errorf("forms.js: %d %q", r.Code, r.Header.Get("Content-Type"))
		}
	})
}
