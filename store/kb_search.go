package store

import (
	"context"
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/jmoiron/sqlx"
)

// KBQuery is a knowledge-base search.
type KBQuery struct {
	// Text is what the visitor typed, or a ticket's subject and text. It never reaches
	// the engine's query syntax: it is cut into words (letters and digits), and each word
	// is quoted.
	Text string
	// Lang is the visitor's language: its articles come first.
	Lang string
	// Prefix matches the last word as a prefix too (type-ahead: "passw").
	Prefix bool
	// Limit is the number of hits wanted (default 10, at most 50).
	Limit int
	// Snippets asks for a highlighted excerpt of each hit's body (the search page; the
	// type-ahead and deflection do without).
	Snippets bool
}

// KBHit is one article found.
type KBHit struct {
	ID        int64     `db:"id"`
	Slug      string    `db:"slug"`
	Lang      string    `db:"lang"`
	Title     string    `db:"title"`
	Summary   string    `db:"summary"`
	Category  string    `db:"category"`
	Tags      string    `db:"tags"`
	Helpful   int64     `db:"helpful"`
	UpdatedAt time.Time `db:"updated_at"`
	// Score is the engine's relevance, higher is better: -bm25 on SQLite, ts_rank_cd on
	// PostgreSQL. The two scales differ; Relevance compares across them.
	Score float64 `db:"score"`
	// TitleHTML and SnippetHTML are escaped HTML with the matched words in <mark>;
	// SnippetHTML only when snippets were asked for.
	TitleHTML   string
	SnippetHTML string
}

// Search limits: enough words for any real question, bounded work for a 10 KB paste.
const (
	kbMaxQueryBytes = 2000
	kbMaxTerms      = 24
	kbMaxTermBytes  = 60
	kbCandidates    = 50 // ranked by the engine, then re-ordered with the tie-breakers
)

// Highlight markers: private-use characters, which no article contains, put around
// matches by the engine, and turned into <mark> after escaping.
const (
	markOpen  = "\ue000"
	markClose = "\ue001"
)

// SearchKB ranks published articles for q in the database itself: SQLite FTS5 (bm25)
// or PostgreSQL full-text search (ts_rank_cd). Words are ORed, so a question finds the
// articles that share most of its words, weighted by where (title over summary and tags
// over body) and how rare they are. Engine ties are broken by the number of query words
// in the title, helpful votes, then recency; the visitor's language comes first.
func (s *Store) SearchKB(ctx context.Context, q KBQuery) ([]KBHit, error) {
	return s.SearchKBIn(ctx, s.DB, q)
}

// SearchKBIn is SearchKB through db, a transaction the caller holds (on SQLite the pool's
// one connection is then taken: a query beside the transaction would wait for itself).
//
// Inside a transaction the search runs under a savepoint: should it fail, the caller's
// transaction goes on (PostgreSQL would otherwise refuse every later statement of it).
func (s *Store) SearchKBIn(ctx context.Context, db sqlx.QueryerContext, q KBQuery) ([]KBHit, error) {
	tx, ok := db.(*sqlx.Tx)
	if !ok {
		return s.searchKB(ctx, db, q)
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT kb_search"); err != nil {
		return nil, fmt.Errorf("search kb: %w", err)
	}
	hits, err := s.searchKB(ctx, tx, q)
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT kb_search"); rerr != nil {
			return nil, fmt.Errorf("%w (rollback to savepoint: %v)", err, rerr)
		}
	}
	if _, rerr := tx.ExecContext(ctx, "RELEASE SAVEPOINT kb_search"); rerr != nil && err == nil {
		err = fmt.Errorf("search kb: %w", rerr)
	}
	return hits, err
}

func (s *Store) searchKB(ctx context.Context, db sqlx.QueryerContext, q KBQuery) ([]KBHit, error) {
	terms, prefix := kbTerms(q.Text, q.Prefix)
	if len(terms) == 0 {
		return nil, nil
	}
	if q.Limit <= 0 {
		q.Limit = 10
	}
	q.Limit = min(q.Limit, kbCandidates)
	e, err := s.kbPrune(ctx, db, kbExpr{terms: terms, prefix: prefix})
	if err != nil {
		return nil, err
	}
	var hits []KBHit
	if s.Dialect == Postgres {
		hits, err = searchKBPostgres(ctx, db, e)
	} else {
		hits, err = searchKBSQLite(ctx, db, e)
	}
	if err != nil {
		return nil, err
	}
	sortKBHits(hits, terms, q.Lang)
	if len(hits) > q.Limit {
		hits = hits[:q.Limit]
	}
	if len(hits) == 0 {
		return nil, nil
	}
	// Highlighting marks every word asked for, common ones too: it reads the shown
	// articles only.
	all := kbExpr{terms: terms, prefix: prefix}
	if s.Dialect == Postgres {
		err = highlightKBPostgres(ctx, db, hits, all, q.Snippets)
	} else {
		err = highlightKBSQLite(ctx, db, hits, e, all, q.Snippets)
	}
	return hits, err
}

// kbExpr is what the engine is asked: the terms ORed (all of them ANDed, and only in
// title, summary and tags, when all is set), the last one a prefix when prefix is set.
type kbExpr struct {
	terms       []string
	prefix, all bool
}

// kbBudget bounds the articles one search scores. Scoring (bm25, ts_rank_cd) costs per
// matching article, and a question made of common words matched nearly all of 10,000
// articles: 100-500 ms. The rarest words are kept while the articles they match stay
// within the budget; the common ones dropped carry little weight in bm25 anyway (none
// past half the articles).
const kbBudget = 1000

// kbPrune keeps the query within kbBudget: the rarer words, in their order, as long as
// the articles they match add up to at most the budget. When even the rarest word is
// more common than that, it asks for the articles with every word in their title,
// summary or tags instead.
func (s *Store) kbPrune(ctx context.Context, db sqlx.QueryerContext, e kbExpr) (kbExpr, error) {
	var df []int
	var err error
	if s.Dialect == Postgres {
		df, err = kbDocCountsPostgres(ctx, db, e)
	} else {
		df, err = kbDocCountsSQLite(ctx, db, e, kbBudget+1)
	}
	if err != nil {
		return e, err
	}
	return pruneKB(e, df, kbBudget), nil
}

// pruneKB is kbPrune's choice, given each term's document count df: the rarest terms
// while their counts add up to at most budget. A term no article holds (a typo, the
// first letters of a word no article has) is not a choice: keeping it alone would drop
// the word that does match and find nothing. When no term that matches anything fits the
// budget, it asks for the articles with every such term in their title, summary or tags.
func pruneKB(e kbExpr, df []int, budget int) kbExpr {
	order := make([]int, len(e.terms))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return df[order[a]] < df[order[b]] })
	keep := make([]bool, len(e.terms))
	sum := 0
	for _, i := range order {
		if df[i] == 0 {
			continue
		}
		if sum+df[i] > budget {
			break
		}
		sum += df[i]
		keep[i] = true
	}
	last := len(e.terms) - 1
	var kept, common kbExpr
	for i, t := range e.terms {
		if keep[i] {
			kept.terms = append(kept.terms, t)
			kept.prefix = i == last && e.prefix
		}
		if df[i] > 0 {
			common.terms = append(common.terms, t)
			common.prefix = i == last && e.prefix
		}
	}
	switch {
	case len(kept.terms) > 0:
		return kept
	case len(common.terms) > 0:
		common.all = true
		return common
	default:
		return e // no article holds any of the words: the search finds none
	}
}

// kbStopwords are words too common to say anything about an article. They are dropped
// when the query has other words (PostgreSQL's english configuration drops them anyway;
// FTS5 has no stop words), so "how do I reset my password" ranks like "reset password".
var kbStopwords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`a about an and are as at be but by can could did do does doing
		for from had has have having he her here how i if in into is it its just me my no not of
		on or our out please so some than that the their them then there these they this to too
		up us was we were what when where which while who why will with would you your yours
		der die das und ist ich nicht ein eine mit wie was zu den im auf für von es sie wir mein meine`) {
		kbStopwords[w] = true
	}
}

// kbTerms cuts text into lower-case words of letters and digits: nothing else of the
// user's text survives, so no quote, star, parenthesis or keyword reaches MATCH or
// to_tsquery. It drops stop words (unless only stop words are left) and repeated words,
// keeps at most kbMaxTerms, and says whether the last one is to be a prefix (only when
// asked, when the text ends in that word, and for three letters or more).
// KBTerms returns the words SearchKB searches for in text (without a prefix).
func KBTerms(text string) []string {
	terms, _ := kbTerms(text, false)
	return terms
}

func kbTerms(text string, wantPrefix bool) (terms []string, prefix bool) {
	if len(text) > kbMaxQueryBytes {
		text = text[:kbMaxQueryBytes]
		wantPrefix = false // the last word was cut, not typed
	}
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
	seen := map[string]bool{}
	var all, kept []string
	for _, w := range words {
		if len(w) > kbMaxTermBytes || seen[w] {
			continue
		}
		seen[w] = true
		all = append(all, w)
		if !kbStopwords[w] {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		kept = all
	}
	if len(kept) > kbMaxTerms {
		kept = kept[:kbMaxTerms]
		wantPrefix = false
	}
	if len(kept) == 0 {
		return nil, false
	}
	last := kept[len(kept)-1]
	// A prefix only while the word is being typed: the text ends in it.
	end := lastRune(text)
	prefix = wantPrefix && len([]rune(last)) >= 3 && words[len(words)-1] == last &&
		(unicode.IsLetter(end) || unicode.IsNumber(end))
	return kept, prefix
}

func lastRune(s string) rune {
	r := []rune(s)
	if len(r) == 0 {
		return ' '
	}
	return r[len(r)-1]
}

// sortKBHits orders hits: the visitor's language first, then by score, where scores
// within 5 % of each other count as a tie (with few articles bm25 flattens), broken by
// query words in the title, helpful votes and recency.
func sortKBHits(hits []KBHit, terms []string, lang string) {
	type key struct {
		other  bool
		bucket int
		title  int
	}
	keys := make(map[int64]key, len(hits))
	for _, h := range hits {
		b := math.MinInt32
		if h.Score > 0 {
			b = int(math.Floor(math.Log(h.Score) / math.Log(1.05)))
		}
		keys[h.ID] = key{other: lang != "" && h.Lang != lang, bucket: b, title: titleWords(h.Title, terms)}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		a, b := keys[hits[i].ID], keys[hits[j].ID]
		switch {
		case a.other != b.other:
			return !a.other
		case a.bucket != b.bucket:
			return a.bucket > b.bucket
		case a.title != b.title:
			return a.title > b.title
		case hits[i].Helpful != hits[j].Helpful:
			return hits[i].Helpful > hits[j].Helpful
		}
		return hits[i].UpdatedAt.After(hits[j].UpdatedAt)
	})
}

// KBWordsIn counts the terms found in text, each by a crude stem: a term of more than
// four letters by its first four ("signature" counts for "signing", "passwords" for
// "password"), a shorter one as itself or its plural ("add" is not "address").
func KBWordsIn(text string, terms []string) int { return titleWords(text, terms) }

func titleWords(title string, terms []string) int {
	words := strings.FieldsFunc(strings.ToLower(title), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsNumber(r)
	})
	n := 0
	for _, t := range terms {
		r := []rune(t)
		for _, w := range words {
			if len(r) > 4 && strings.HasPrefix(w, string(r[:4])) || w == t || w == t+"s" {
				n++
				break
			}
		}
	}
	return n
}

// markedHTML escapes text the engine marked up and turns the markers into <mark>.
func markedHTML(s string) string {
	s = html.EscapeString(s)
	s = strings.ReplaceAll(s, markOpen, "<mark>")
	return strings.ReplaceAll(s, markClose, "</mark>")
}
