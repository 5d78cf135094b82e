package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/mxdesk/mxdesk/store"
	"github.com/mxdesk/mxdesk/store/storetest"
)

// The search for every word in title, summary or tags reads its own index of those
// fields (SQLite's kb_head_*, PostgreSQL's search_head): it must follow the articles as
// they are written, edited, unpublished and deleted, stem English words and not others,
// and never find a word that is only in the body.
func TestKBAllWordsSearchFollowsTheArticles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		put := func(a *store.KBArticle) {
			t.Helper()
			err := st.Tx(ctx, func(tx *sqlx.Tx) error { return store.PutKBArticle(ctx, tx, a, nil) })
			storetest.MustNotErr(t, "put", err)
		}
		check := func(words []string, prefix bool, want ...string) {
			t.Helper()
			got, err := st.KBAllWordsSlugs(ctx, words, prefix)
			storetest.MustNotErr(t, "search", err)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("all of %v (prefix %v) in title, summary or tags: %v, want %v", words, prefix, got, want)
			}
		}
		a := &store.KBArticle{Slug: "a", Lang: "en", Title: "Resetting passwords", Summary: "For customers.",
			Tags: "account", Status: store.KBPublished, BodyText: "Billing invoices are elsewhere."}
		put(a)
		put(&store.KBArticle{Slug: "b", Lang: "en", Title: "Invoices", Summary: "Billing for customers.",
			Status: store.KBPublished, BodyText: "Reset passwords elsewhere."})
		put(&store.KBArticle{Slug: "c", Lang: "de", Title: "Passwörter", Summary: "Für Kunden.",
			Tags: "konto", Status: store.KBPublished, BodyText: "Passwort zurücksetzen."})
		put(&store.KBArticle{Slug: "d", Lang: "en", Title: "Password draft", Summary: "For customers.",
			Status: "draft", BodyText: "Not yet."})
		storetest.MustNotErr(t, "optimize", st.OptimizeKB(ctx))

		check([]string{"password", "customers"}, false, "a")         // stemmed; not b's body, not the draft
		check([]string{"reset", "account"}, false, "a")              // "resetting" is "reset" in English
		check([]string{"passwörter", "kunden", "konto"}, false, "c") // as written, tags too
		check([]string{"passwort"}, false)                           // only in c's body
		check([]string{"customers", "pass"}, true, "a")              // a prefix
		check([]string{"customers"}, false, "a", "b")

		a.Title, a.Tags = "Changing the email address", ""
		put(a)
		check([]string{"password", "customers"}, false)
		check([]string{"email", "customers"}, false, "a")
		a.BodyText = "Password and more." // the body only: the search for every word in the head does not find it
		put(a)
		check([]string{"password", "customers"}, false)

		storetest.MustNotErr(t, "archive", store.SetKBStatus(ctx, st.DB, store.KBArchived, a.ID))
		check([]string{"customers"}, false, "b")
		storetest.MustNotErr(t, "publish", store.SetKBStatus(ctx, st.DB, store.KBPublished, a.ID))
		check([]string{"customers"}, false, "a", "b")
		storetest.MustNotErr(t, "delete", store.DeleteKBArticles(ctx, st.DB, a.ID))
		check([]string{"customers"}, false, "b")
	})
}
