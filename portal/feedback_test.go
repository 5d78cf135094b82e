package portal_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/portal"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestConfiguredRateOptions: the feedback form offers the configured options, in the
// page's language, grouped by stars, and accepts exactly those (either language) for
// their number of stars; with none configured, the built-in two per star.
func TestConfiguredRateOptions(t *testing.T) {
	custom := []portal.RateOption{{Stars: 5, EN: "Fast", DE: "Schnell"}, {Stars: 1, EN: "Rude"}}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		for _, tc := range []struct {
			name      string
			rate      []portal.RateOption
			lang      string
			shown     []string // on the form
			notShown  []string
			refused   [][2]string // rating, option
			accepted  [2]string
			wantStore string
		}{
			{"built-in", nil, "en", []string{`<option value="Quick answer">`, `<option value="Unfriendly">`, `<optgroup label="3 of 5 stars">`},
				nil, [][2]string{{"5", "Fast"}, {"1", "Problem solved"}}, [2]string{"5", "Problem solved"}, "Problem solved"},
			{"configured, English", custom, "en", []string{`<option value="Fast">`, `<option value="Rude">`},
				[]string{"Quick answer", `<optgroup label="3 of 5 stars">`}, [][2]string{{"5", "Quick answer"}, {"1", "Fast"}, {"5", "Rude"}}, [2]string{"1", "Rude"}, "Rude"},
			{"configured, German", custom, "de", []string{`<option value="Schnell">`, `<option value="Rude">`},
				[]string{`value="Fast"`}, [][2]string{{"4", "Schnell"}}, [2]string{"5", "Schnell"}, "Schnell"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f := setupAccounts(t, st, accOptions{rate: tc.rate})
				email := strings.ReplaceAll(tc.name, ", ", "-") + "@example.org"
				email = strings.ToLower(strings.ReplaceAll(email, " ", ""))
				id, _, _ := f.mailTicket(t, email, "Printer", "It burns.")
				b := f.browser(t)
				f.signUp(t, b, email, goodPassword)
				b.post("/account/language", "language", tc.lang)
				page := fmt.Sprintf("/my-tickets/%d", id)
				b.post(page + "/close")
				r := b.get(page)
				for _, want := range tc.shown {
					if !strings.Contains(r.Body, want) {
						t.Errorf("form lacks %s", want)
					}
				}
				for _, not := range tc.notShown {
					if strings.Contains(r.Body, not) {
						t.Errorf("form offers %s", not)
					}
				}
				for _, bad := range tc.refused {
					if r := b.post(page+"/rate", "rating", bad[0], "option", bad[1]); r.Code != 400 {
						t.Errorf("%s stars with %q: %d", bad[0], bad[1], r.Code)
					}
				}
				if r := b.post(page+"/rate", "rating", tc.accepted[0], "option", tc.accepted[1]); r.URL != page+"?done=rate" {
					t.Fatalf("rate %v: %d at %s\n%s", tc.accepted, r.Code, r.URL, r.Body)
				}
				fb, _ := store.ListFeedback(context.Background(), st.DB, id)
				if len(fb) != 1 || fb[0].Choice != tc.wantStore {
					t.Errorf("feedback: %+v", fb)
				}
			})
		}
	})
}
