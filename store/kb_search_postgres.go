package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// kbQueryPostgres writes e for websearch_to_tsquery (each word quoted, ORed: that
// function never fails on any input) and, for a prefix, the last word for to_tsquery as
// word:* (the word holds only letters and digits, so it cannot be tsquery syntax). When
// all words are wanted in title, summary or tags, the whole query is for to_tsquery:
// w1:AB & w2:AB & w3:*AB.
func kbQueryPostgres(e kbExpr) (words, last string) {
	if e.all {
		parts := make([]string, len(e.terms))
		for i, t := range e.terms {
			parts[i] = t + ":AB"
			if e.prefix && i == len(e.terms)-1 {
				parts[i] = t + ":*AB"
			}
		}
		return "", strings.Join(parts, " & ")
	}
	terms := e.terms
	if e.prefix {
		terms, last = terms[:len(terms)-1], terms[len(terms)-1]+":*"
	}
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + t + `"`
	}
	return strings.Join(parts, " or "), last
}

// kbTSQuery builds the two queries for e, English (stemmed, for lang en) and simple (for
// the rest), from the parameters $1 (words) and $2 (the prefix, or empty): the prefix ORed
// with the words, or ANDed when all of them are wanted.
func kbTSQuery(e kbExpr) string {
	op := "||"
	if e.all {
		op = "&&"
	}
	return `WITH q AS (SELECT
	websearch_to_tsquery('english', $1) ` + op + ` (CASE WHEN $2 = '' THEN ''::tsquery ELSE to_tsquery('english', $2) END) AS en,
	websearch_to_tsquery('simple', $1) ` + op + ` (CASE WHEN $2 = '' THEN ''::tsquery ELSE to_tsquery('simple', $2) END) AS other)`
}

// kbMatchesPostgres selects the ids of the published articles that match, with enScore
// for English articles and otherScore for the rest. One SELECT per configuration, so that
// each is a bitmap scan of the GIN index; an OR of both made the planner read and
// decompress every article's tsvector (330 ms for 10,000 articles). Status and language
// are literals so that the planner, even with a generic plan, uses each SELECT's partial
// index (migration 0016), which holds only the articles of its configuration.
//
// When all words are wanted in title, summary or tags, they are matched in search_head,
// which holds only those: the index then finds exactly the articles wanted, where in
// search (whose index knows no weights) it found every article holding the words
// anywhere, and each was read to check the weights.
func kbMatchesPostgres(e kbExpr, enScore, otherScore string) string {
	pub := sqlList(KBPublished)
	col := "search"
	if e.all {
		col = "search_head"
	}
	return `SELECT a.id, ` + enScore + ` AS score FROM kb_articles a, q
			WHERE a.status = ` + pub + ` AND a.` + col + ` @@ q.en AND a.lang = 'en'
		UNION ALL SELECT a.id, ` + otherScore + ` FROM kb_articles a, q
			WHERE a.status = ` + pub + ` AND a.` + col + ` @@ q.other AND a.lang <> 'en'`
}

// kbDocCountsPostgres reads, for each word of e, the number of published articles that
// hold it from kb_words, in one statement: the word's lexemes in the English
// configuration (its stem) and in the simple one, the last word's as a prefix when it
// is one (then the sum over the words it begins: an article holding two of them counts
// twice, more than the index would match, never less).
func kbDocCountsPostgres(ctx context.Context, db sqlx.QueryerContext, e kbExpr) ([]int, error) {
	prefixAt := 0 // 1-based position of the prefix word, 0 for none
	if e.prefix {
		prefixAt = len(e.terms)
	}
	// A lateral subquery per lexeme, so that configuration and word range are both
	// conditions of the primary key's index scan (a join filtered them row by row).
	rows, err := db.QueryContext(ctx, `SELECT t.i, coalesce(sum(n.ndoc), 0)
		FROM unnest($1::text[]) WITH ORDINALITY t(term, i)
		CROSS JOIN (VALUES ('english'::regconfig, 'english'), ('simple'::regconfig, 'simple')) c(cfg, name)
		CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector(c.cfg, t.term))) l(lex)
		CROSS JOIN LATERAL (SELECT sum(w.ndoc) AS ndoc FROM kb_words w WHERE w.cfg = c.name AND w.word >= l.lex
			AND w.word <= l.lex || CASE WHEN t.i = $2 THEN U&'\+10FFFF' ELSE '' END) n
		GROUP BY t.i`, pq.StringArray(e.terms), prefixAt)
	if err != nil {
		return nil, fmt.Errorf("search kb: count: %w", err)
	}
	defer rows.Close()
	df := make([]int, len(e.terms))
	for rows.Next() {
		var i, n int
		if err := rows.Scan(&i, &n); err != nil {
			return nil, fmt.Errorf("search kb: count: %w", err)
		}
		if i >= 1 && i <= len(df) {
			df[i-1] = n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search kb: count: %w", err)
	}
	return df, nil
}

func searchKBPostgres(ctx context.Context, db sqlx.QueryerContext, e kbExpr) ([]KBHit, error) {
	words, last := kbQueryPostgres(e)
	var hits []KBHit
	// The best are chosen before the join: joined first, every match's row was read.
	// ts_rank_cd weighs title (A) 1.0, summary and tags (B) 0.4, body (D) 0.1;
	// normalization 1 divides by 1 + log(length), so a long article does not win by
	// length alone.
	// When all words are wanted in title, summary or tags, they are ranked there too, as
	// SQLite does: search_head is a few dozen words, where search would decompress and
	// walk each article's whole body for words it holds in every article.
	col := "search"
	if e.all {
		col = "search_head"
	}
	err := sqlx.SelectContext(ctx, db, &hits, kbTSQuery(e)+`, m AS (`+kbMatchesPostgres(e,
		"ts_rank_cd('{0.1, 0.2, 0.4, 1.0}', a."+col+", q.en, 1)", "ts_rank_cd('{0.1, 0.2, 0.4, 1.0}', a."+col+", q.other, 1)")+`)
		SELECT a.id, a.slug, a.lang, a.title, a.summary, a.category, a.tags, a.helpful, a.updated_at, m.score
		FROM (SELECT * FROM m ORDER BY score DESC LIMIT $3) m JOIN kb_articles a ON a.id = m.id
		ORDER BY m.score DESC`, words, last, kbCandidates)
	if err != nil {
		return nil, fmt.Errorf("search kb: %w", err)
	}
	return hits, nil
}

// highlightKBPostgres runs ts_headline, which re-parses each document, only for the hits
// shown.
func highlightKBPostgres(ctx context.Context, db sqlx.QueryerContext, hits []KBHit, e kbExpr, snippets bool) error {
	words, last := kbQueryPostgres(e)
	ids := make([]int64, len(hits))
	byID := map[int64]*KBHit{}
	for i := range hits {
		ids[i] = hits[i].ID
		byID[hits[i].ID] = &hits[i]
	}
	opts := `StartSel="` + markOpen + `", StopSel="` + markClose + `"`
	args := []any{words, last, pq.Int64Array(ids), opts + `, HighlightAll=true`}
	if snippets {
		args = append(args, opts+`, MaxFragments=2, MaxWords=24, MinWords=10, FragmentDelimiter=" … "`,
			pq.StringArray(kbProbes(e.terms)))
	}
	rows, err := db.QueryContext(ctx, kbTSQuery(e)+kbHighlightPostgres(snippets), args...)
	if err != nil {
		return fmt.Errorf("search kb: highlight: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var title, snip string
		if err := rows.Scan(&id, &title, &snip); err != nil {
			return fmt.Errorf("search kb: highlight: %w", err)
		}
		if h := byID[id]; h != nil {
			h.TitleHTML, h.SnippetHTML = markedHTML(title), markedHTML(snip)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("search kb: highlight: %w", err)
	}
	for i := range hits {
		if hits[i].TitleHTML == "" {
			hits[i].TitleHTML = markedHTML(hits[i].Title)
		}
	}
	return nil
}

// kbHighlightPostgres selects, after kbTSQuery, each shown hit's id ($3), title
// highlighted ($4: ts_headline's options) and, with snippets, a snippet of its body ($5,
// with the words' probes in $6).
//
// The snippet is made from about 360 characters of the body (some 55 words, enough for
// two fragments of 24) from 100 before the first place where a probe begins a word (else
// appears at all) in the first 2,000 characters, cut at spaces so that no word is shown
// in part. ts_headline parses and stems every word it is given, about 0.5 ms per 2,000
// characters: over the whole 2,000 it took 9 ms for a page of 20 hits. strpos finds a
// probe in microseconds; it only chooses where to look, and ts_headline still marks the
// words the query matches (or, when none is in the window, shows its first words).
// Each step is MATERIALIZED: inlined, every mention of the body read (and decompressed)
// the column again, which cost more than the headline saved.
func kbHighlightPostgres(snippets bool) string {
	c := `, c AS MATERIALIZED (SELECT a.id, a.title,
			CASE WHEN a.lang = 'en' THEN 'english'::regconfig ELSE 'simple'::regconfig END AS cfg,
			CASE WHEN a.lang = 'en' THEN q.en ELSE q.other END AS q`
	if !snippets {
		return c + ` FROM kb_articles a, q WHERE a.id = ANY($3))
		SELECT c.id, ts_headline(c.cfg, c.title, c.q, $4), '' FROM c`
	}
	return c + `, left(a.body_text, 2000) AS body FROM kb_articles a, q WHERE a.id = ANY($3)),
		l AS MATERIALIZED (SELECT c.*, lower(c.body) AS low FROM c),
		f AS MATERIALIZED (SELECT l.id, l.title, l.cfg, l.q, l.body, coalesce(
			(SELECT min(nullif(strpos(l.low, ' ' || p), 0)) FROM unnest($6::text[]) p),
			(SELECT min(nullif(strpos(l.low, p), 0)) FROM unnest($6::text[]) p), 1) AS at FROM l),
		s AS MATERIALIZED (SELECT f.*, CASE WHEN f.at <= 100 THEN 1
			ELSE f.at - 100 + strpos(substr(f.body, f.at - 100, 40), ' ') END AS start FROM f),
		w AS MATERIALIZED (SELECT s.*, substr(s.body, s.start, 360) AS text FROM s)
		SELECT w.id, ts_headline(w.cfg, w.title, w.q, $4), ts_headline(w.cfg,
			CASE WHEN w.start + 360 > length(w.body) THEN w.text
			ELSE left(w.text, 360 - strpos(reverse(w.text), ' ')) END, w.q, $5) FROM w`
}

// kbProbes returns what kbHighlightPostgres looks for in an article's text for each word:
// its first five letters, so that "delayed" finds "delay" and "notifications"
// "notification" where the English stemmer matches them (the words hold only letters and
// digits; they are a parameter, never SQL).
func kbProbes(terms []string) []string {
	out := make([]string, len(terms))
	for i, t := range terms {
		r := []rune(t)
		out[i] = string(r[:min(len(r), 5)])
	}
	return out
}
