package kb_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/kb"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// TestSuggestListsGoodArticlesOrNone: the articles an acknowledgement lists. want is the
// article that must be among them; "" means the list must be empty.
func TestSuggestListsGoodArticlesOrNone(t *testing.T) {
	tests := []struct {
		subject, text, want string
	}{
		{"I forgot my password", "Hello, I cannot sign in to the portal, I forgot my password. Please help.", "reset-password"},
		{"", "I lost my password", "reset-password"},
		{"Re: Fwd: password forgotten", "", "reset-password"},
		{"How do I add a new agent?", "", "agents-add"},
		{"Links in your mail expired", "", "link-expired"},
		{"DKIM signature fails", "Our mails from mxdesk fail DKIM at Gmail.", "dkim-signing"},
		{"Invoice for order 4411 is wrong", "Hi, the invoice you sent for order 4411 lists the wrong amount. Regards, Bob", ""},
		{"Printer on fire", "Our printer in room 3 is on fire, please send someone.", ""},
		{"Meeting next week", "Can we meet on Tuesday to talk about the new contract?", ""},
		{"Question", "Hi, I have a question about my account.", ""},
		{"", "", ""},
		{"!!!", "***", ""},
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		importDocs(t, st)
		for _, tt := range tests {
			hits, err := kb.Suggest(context.Background(), st, st.DB, tt.subject, tt.text, "en")
			if err != nil {
				t.Fatalf("%q: %v", tt.subject, err)
			}
			var got []string
			for _, h := range hits {
				got = append(got, h.Slug)
			}
			switch {
			case len(hits) > kb.SuggestMax:
				t.Errorf("%q: %d articles, at most %d", tt.subject, len(hits), kb.SuggestMax)
			case tt.want == "" && len(hits) > 0:
				t.Errorf("%q: want none, got %s", tt.subject, strings.Join(got, ", "))
			case tt.want != "" && !slices.Contains(got, tt.want):
				t.Errorf("%q: want %s among them, got %s", tt.subject, tt.want, strings.Join(got, ", "))
			}
		}
	})
}
