package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// The counts a search chooses its rarest words by are those of the articles the engine
// matches: stemmed for English, as typed for other languages, drafts left out, a prefix
// counting every word it begins (at least the articles it matches), and the counts follow
// an import that changes articles.
func TestKBWordCountsAreTheArticlesMatched(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put := func(slug, lang, title, body, status string) {
			t.Helper()
			err := st.Tx(ctx, func(tx *sqlx.Tx) error {
				return store.PutKBArticle(ctx, tx, &store.KBArticle{Slug: slug, Lang: lang, Title: title,
					Status: status, BodyMD: body, BodyHTML: body, BodyText: body}, nil)
			})
			storetest.MustNotErr(t, "put", err)
		}
		put("a", "en", "Resetting passwords", "Reset the password from the sign-in page.", store.KBPublished)
		put("b", "en", "Password rules", "A password has twelve characters.", store.KBPublished)
		put("c", "en", "Billing", "Invoices are sent monthly.", store.KBPublished)
		put("d", "de", "Passwörter", "Das Passwort zurücksetzen.", store.KBPublished)
		put("e", "en", "Draft about passwords", "Not yet.", "draft")
		storetest.MustNotErr(t, "optimize", st.OptimizeKB(ctx))

		check := func(words []string, prefix bool, want []int) {
			t.Helper()
			got, err := st.KBDocCounts(ctx, words, prefix)
			storetest.MustNotErr(t, "counts", err)
			if !slices.Equal(got, want) {
				t.Errorf("counts of %v (prefix %v) = %v, want %v", words, prefix, got, want)
			}
		}
		// "passwords" and "password" share the stem in English; the German article
		// holds "passwort", not "password"; the draft counts for nothing.
		check([]string{"password", "passwords", "invoices", "passwort", "nowhere"}, false, []int{2, 2, 1, 1, 0})
		check([]string{"invoices", "reset"}, false, []int{1, 1})
		got, err := st.KBDocCounts(ctx, []string{"invoices", "passw"}, true)
		storetest.MustNotErr(t, "counts", err)
		if got[0] != 1 || got[1] < 3 {
			t.Errorf("counts of invoices passw* = %v, want 1 and at least 3 (two English articles, one German)", got)
		}

		put("f", "en", "More invoices", "Invoices again.", store.KBPublished)
		storetest.MustNotErr(t, "optimize", st.OptimizeKB(ctx))
		check([]string{"invoices"}, false, []int{2})
	})
}
