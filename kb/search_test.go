package kb_test

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mxdesk/mxdesk/kb"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// docsKB is the knowledge base about mxdesk itself that ships in docs/kb: the fixture.
func docsKB(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "docs", "kb")
}

// importDocs imports docs/kb into st and fails the test on any skipped file.
func importDocs(t testing.TB, st *store.Store) kb.Result {
	t.Helper()
	res, err := kb.Import(context.Background(), st, docsKB(t), kb.Options{DefaultLang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Skipped {
		t.Errorf("skipped: %v", e)
	}
	return res
}

// searchExpectations are questions a customer or administrator types, each with the
// article that answers it. Both engines must rank it among the first three.
var searchExpectations = []struct {
	query, want string
}{
	{"how do I install mxdesk", "install-binary"},
	{"postgres database", "database-postgresql"},
	{"back up my data", "backup-restore"},
	{"dkim key", "dkim-signing"},
	{"mail refused 550 user unknown", "unknown-recipient"},
	{"customer reply became a new ticket", "reply-opened-new-ticket"},
	{"out of office loop", "auto-replies-loops"},
	{"email too large rejected", "message-size-limit"},
	{"add agent to team", "agents-add"},
	{"#status resolved command", "agent-commands"},
	{"link expired", "link-expired"},
	{"prometheus metrics", "metrics-monitoring"},
	{"run several servers", "replicas"},
	{"notification delayed retry", "delivery-retries"},
	{"change email template", "custom-templates"},
	{"working hours sla", "sla-working-hours"},
	{"starttls certificate", "tls-starttls"},
	{"postfix transport relay", "relay-from-postfix"},
	{"rating stars feedback", "rate-ticket"},
	{"import markdown articles", "kb-import"},
	{"secret key lost", "secret-key"},
	{"german notifications", "customer-language"},
}

func TestTheDocsKnowledgeBaseAnswersItsQuestionsInTheTopThree(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		importDocs(t, st)
		for _, tt := range searchExpectations {
			hits, err := st.SearchKB(context.Background(), store.KBQuery{Text: tt.query, Lang: "en", Limit: 3})
			if err != nil {
				t.Fatalf("%q: %v", tt.query, err)
			}
			var got []string
			found := false
			for _, h := range hits {
				got = append(got, h.Slug)
				found = found || h.Slug == tt.want
			}
			if !found {
				t.Errorf("%q: want %s in the top 3, got %s", tt.query, tt.want, strings.Join(got, ", "))
			}
		}
	})
}

// TestTheVisitorsLanguageComesFirstAndOnlyEnglishIsStemmed: both articles match
// "password"; the visitor's language decides the order. "resetting" finds the English
// article by its stem, and not the German one, which is not stemmed.
func TestTheVisitorsLanguageComesFirstAndOnlyEnglishIsStemmed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"reset-en.md": "---\ntitle: Reset your password\n---\nForgot the password? Reset it on the sign-in page.\n",
			"reset-de.md": "---\ntitle: Passwort zurücksetzen\nlang: de\n---\nPasswort (password) vergessen? Auf der Anmeldeseite reset wählen.\n",
		})
		if res, err := kb.Import(ctx, st, dir, kb.Options{DefaultLang: "en"}); err != nil || res.Added != 2 {
			t.Fatalf("%v %v", res, err)
		}
		for _, tt := range []struct{ query, lang, want string }{
			{"password", "de", "reset-de reset-en"},
			{"password", "en", "reset-en reset-de"},
			{"resetting", "en", "reset-en"},
			{"zurücksetzen", "en", "reset-de"},
		} {
			hits, err := st.SearchKB(ctx, store.KBQuery{Text: tt.query, Lang: tt.lang})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range hits {
				got = append(got, h.Slug)
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("%q for %s: %v, want %s", tt.query, tt.lang, got, tt.want)
			}
		}
	})
}
