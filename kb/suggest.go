package kb

import (
	"context"
	"regexp"
	"sort"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/mxdesk/mxdesk/outbound"
	"github.com/mxdesk/mxdesk/store"
)

// SuggestMax is how many articles an acknowledgement lists at most.
const SuggestMax = 3

// replyPrefix matches the "Re:", "Fwd:", "AW:" … a subject may start with.
var replyPrefix = regexp.MustCompile(`(?i)^\s*((re|fwd?|aw|wg|sv|vs|tr|rv|antw|doorst)\s*(\[\d+\])?\s*:\s*)+`)

// Suggest picks the articles that may answer a new ticket, for its acknowledgement. It
// searches with the subject (the customer's own summary; its first words of text when
// there is no subject), and keeps an article only when its title, summary or tags hold at
// least half of those words: no list rather than a list of weak
// matches. The rule needs no engine score, so it holds alike on SQLite and PostgreSQL.
// db is the caller's transaction (or the pool).
func Suggest(ctx context.Context, st *store.Store, db sqlx.QueryerContext, subject, text, lang string) ([]store.KBHit, error) {
	q := strings.TrimSpace(replyPrefix.ReplaceAllString(subject, ""))
	if len(store.KBTerms(q)) == 0 {
		q = strings.Join(first(strings.Fields(text), 30), " ")
	}
	terms := store.KBTerms(q)
	if len(terms) == 0 {
		return nil, nil
	}
	if some, err := store.AnyKBPublished(ctx, db); err != nil || !some {
		return nil, err
	}
	need := max(1, (len(terms)+1)/2)
	hits, err := st.SearchKBIn(ctx, db, store.KBQuery{Text: q, Lang: lang, Limit: 10})
	if err != nil {
		return nil, err
	}
	var out []store.KBHit
	cover := map[int64]int{}
	for _, h := range hits {
		if n := store.KBWordsIn(h.Title+" "+h.Summary+" "+h.Tags, terms); n >= need {
			out = append(out, h)
			cover[h.ID] = n
		}
	}
	// The articles that hold more of the words first; the engine's order among equals.
	sort.SliceStable(out, func(i, j int) bool { return cover[out[i].ID] > cover[out[j].ID] })
	return out[:min(len(out), SuggestMax)], nil
}

func first(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Suggester is Suggest for the acknowledgement (ticket.Config.Suggest): the articles as
// links under baseURL, the portal's public address.
func Suggester(st *store.Store, baseURL string) func(ctx context.Context, tx *sqlx.Tx, subject, text, lang string) ([]outbound.Article, error) {
	baseURL = strings.TrimRight(baseURL, "/")
	return func(ctx context.Context, tx *sqlx.Tx, subject, text, lang string) ([]outbound.Article, error) {
		hits, err := Suggest(ctx, st, tx, subject, text, lang)
		if err != nil {
			return nil, err
		}
		var out []outbound.Article
		for _, h := range hits {
			out = append(out, outbound.Article{Title: h.Title, Summary: h.Summary, URL: baseURL + "/kb/" + h.Slug})
		}
		return out, nil
	}
}
