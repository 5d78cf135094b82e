package store

import (
	"context"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestKBTermsAreOnlyWords(t *testing.T) {
	tests := []struct {
		text       string
		wantPrefix bool
		terms      string
		prefix     bool
	}{
		{"", true, "", false},
		{"*", true, "", false},
		{`"`, true, "", false},
		{`foo"bar`, false, "foo bar", false},
		{"NEAR(", true, "near", false},
		{"'; DROP TABLE kb_articles; --", false, "drop table kb articles", false},
		{"How do I reset my password", false, "reset password", false},
		{"how do i", false, "how do i", false}, // only stop words: kept
		{"passw", true, "passw", true},
		{"passw ", true, "passw", false}, // a finished word
		{"pa", true, "pa", false},        // too short to expand
		{"Reset RESET reset", false, "reset", false},
		{"🔑 password 🙈", true, "password", false},
		{"كلمة المرور", false, "كلمة المرور", false},
		{"Grüße, Straße", false, "grüße straße", false},
		{"title:dkim OR key*", false, "title dkim key", false},
	}
	for _, tt := range tests {
		terms, prefix := kbTerms(tt.text, tt.wantPrefix)
		if got := strings.Join(terms, " "); got != tt.terms || prefix != tt.prefix {
			t.Errorf("kbTerms(%q) = %q %v, want %q %v", tt.text, got, prefix, tt.terms, tt.prefix)
		}
	}
	many, _ := kbTerms(strings.Repeat("word ", 10)+strings.Repeat("x", 5000), true)
	if len(many) != 1 {
		t.Errorf("a 5 KB word is a term: %v", many)
	}
	long, prefix := kbTerms(strings.Repeat("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega aa bb cc ", 3), true)
	if len(long) != kbMaxTerms || prefix {
		t.Errorf("500 words: %d terms, prefix %v", len(long), prefix)
	}
}

func TestKBQueriesQuoteEveryWord(t *testing.T) {
	e := kbExpr{terms: []string{"reset", "passw"}, prefix: true}
	if got := kbMatchSQLite(e); got != `"reset" OR "passw"*` {
		t.Errorf("sqlite: %s", got)
	}
	if w, l := kbQueryPostgres(e); w != `"reset"` || l != "passw:*" {
		t.Errorf("postgres: %q %q", w, l)
	}
	e.all = true
	if got := kbMatchSQLite(e); got != `"reset" AND "passw"*` {
		t.Errorf("sqlite all: %s", got)
	}
	if w, l := kbQueryPostgres(e); w != "" || l != "reset:AB & passw:*AB" {
		t.Errorf("postgres all: %q %q", w, l)
	}
	// The highlight marks every word; it walks the kept ones, unless all were kept or
	// all are wanted in title, summary or tags.
	all := kbExpr{terms: []string{"mail", "refused", "550"}, prefix: true}
	kept := kbExpr{terms: []string{"550"}, prefix: true}
	if got := kbHighlightMatchSQLite(kept, all); got != `("550"*) AND ("mail" OR "refused" OR "550"*)` {
		t.Errorf("sqlite highlight: %s", got)
	}
	if got := kbHighlightMatchSQLite(all, all); got != `"mail" OR "refused" OR "550"*` {
		t.Errorf("sqlite highlight, all kept: %s", got)
	}
	kept = kbExpr{terms: []string{"mail", "refused"}, all: true}
	if got := kbHighlightMatchSQLite(kept, all); got != `"mail" OR "refused" OR "550"*` {
		t.Errorf("sqlite highlight, all in the head: %s", got)
	}
}

func TestMarkedHTMLEscapesAllButTheMarks(t *testing.T) {
	got := markedHTML("<b>" + markOpen + "x&y" + markClose + "</b>")
	if got != "&lt;b&gt;<mark>x&amp;y</mark>&lt;/b&gt;" {
		t.Errorf("%s", got)
	}
}

// FuzzSearchKB: any text is a search, never an error from the engine.
func FuzzSearchKB(f *testing.F) {
	for _, s := range []string{"", "*", `foo"bar`, "NEAR(", "a OR b", "x:*", "'--", "🔑", "\xff"} {
		f.Add(s)
	}
	st, err := Open(context.Background(), "sqlite:"+f.TempDir()+"/fuzz.db")
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(context.Background()); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if _, err := st.SearchKB(context.Background(), KBQuery{Text: q, Prefix: true, Snippets: true}); err != nil {
			t.Fatalf("%q: %v", q, err)
		}
		terms, _ := kbTerms(q, true)
		for _, w := range terms {
			if !utf8.ValidString(w) || strings.ContainsAny(w, `"*:()'&|!<>-^{}`) {
				t.Fatalf("%q: term %q", q, w)
			}
		}
	})
}

// TestPruneKB: the words a search keeps, given how many articles hold each. A word no
// article holds is never kept on its own: "postgres da" (no article has a word starting
// with "da") searched for "da" alone and found nothing.
func TestPruneKB(t *testing.T) {
	tests := []struct {
		name   string
		terms  []string
		prefix bool
		df     []int
		want   kbExpr
	}{
		{"rare words are kept, the common one dropped", []string{"reset", "password", "the"}, false, []int{30, 40, 990},
			kbExpr{terms: []string{"reset", "password"}}},
		{"a word no article holds does not stand in for the common one", []string{"postgres", "da"}, true, []int{1500, 0},
			kbExpr{terms: []string{"postgres"}, all: true}},
		{"nor beside a rare one", []string{"dkim", "xyzzy"}, false, []int{12, 0},
			kbExpr{terms: []string{"dkim"}}},
		{"every word too common: all of them, in title, summary or tags", []string{"office", "mail"}, true, []int{2000, 3000},
			kbExpr{terms: []string{"office", "mail"}, prefix: true, all: true}},
		{"the prefix stays with the last word when it is kept", []string{"german", "notif"}, true, []int{1200, 40},
			kbExpr{terms: []string{"notif"}, prefix: true}},
		{"no article holds any word: asked as it was", []string{"qwerty", "zzz"}, true, []int{0, 0},
			kbExpr{terms: []string{"qwerty", "zzz"}, prefix: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := pruneKB(kbExpr{terms: tc.terms, prefix: tc.prefix}, tc.df, 1000)
			if !slices.Equal(got.terms, tc.want.terms) || got.prefix != tc.want.prefix || got.all != tc.want.all {
				t.Errorf("pruneKB(%v, %v) = %+v, want %+v", tc.terms, tc.df, got, tc.want)
			}
		})
	}
}
