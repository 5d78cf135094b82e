package store

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// kbMatchSQLite writes e as an FTS5 query: each word in double quotes (a string, never
// syntax), ORed (ANDed when all are wanted), the last one with * when it is a prefix.
// The words hold only letters and digits, so there is nothing to escape inside the
// quotes. When all words are wanted, the query is for the head indexes (kbHeadTables),
// which hold title, summary and tags alone: no column filter is needed.
func kbMatchSQLite(e kbExpr) string {
	parts := make([]string, len(e.terms))
	for i, t := range e.terms {
		parts[i] = `"` + t + `"`
	}
	if e.prefix {
		parts[len(parts)-1] += "*"
	}
	if e.all {
		return strings.Join(parts, " AND ")
	}
	return strings.Join(parts, " OR ")
}

// kbFTSTables are the two FTS5 indexes: English articles stemmed, the rest not. The
// query is tokenized by each table's own tokenizer, so it is stemmed exactly when the
// articles it is compared with are.
var kbFTSTables = []string{"kb_fts_en", "kb_fts_other"}

// kbHeadTables are the same two indexes of title, summary and tags alone (migration
// 0017), for a search that wants every word there. A column filter on kbFTSTables
// (`{title summary tags} : …`) still decodes each word's whole doclist, body positions
// included, and bm25 walks it once more to count the articles holding the word: for a
// question of common words that was most of the search. Here each doclist holds only
// the three columns.
var kbHeadTables = []string{"kb_head_en", "kb_head_other"}

// kbDocCountsSQLite counts, for each word of e, the published articles that match it, up
// to max: FTS5 stops reading there. The counting is FTS5's own because only its
// tokenizer knows a word's Porter stem, which is what the index holds.
func kbDocCountsSQLite(ctx context.Context, db sqlx.QueryerContext, e kbExpr, max int) ([]int, error) {
	df := make([]int, len(e.terms))
	for i, t := range e.terms {
		one := kbMatchSQLite(kbExpr{terms: []string{t}, prefix: e.prefix && i == len(e.terms)-1})
		for _, fts := range kbFTSTables {
			var n int
			err := sqlx.GetContext(ctx, db, &n, `SELECT COUNT(*) FROM (SELECT 1 FROM `+fts+` WHERE `+fts+` MATCH ? LIMIT ?)`, one, max)
			if err != nil {
				return nil, fmt.Errorf("search kb: count: %w", err)
			}
			df[i] += n
		}
	}
	return df, nil
}

// kbHighlightMatchSQLite is the query the highlight walks: every word of all, so that
// each is marked, but ANDed with the words the search kept (found) when it dropped some.
// ORed alone, the common words matched nearly every article between the smallest and
// largest id shown, and the walk decoded each of their doclist entries; ANDed, the kept
// words (at most about kbBudget articles) lead and the common words' doclists are only
// sought to each of those. Every hit matches: it was found by those words. A word of
// both halves is two phrases, whose matches highlight and snippet merge. Not when the
// search wanted every word in title, summary or tags: ANDed anywhere, common words
// match nearly every article all the same, and the AND only adds work.
func kbHighlightMatchSQLite(found, all kbExpr) string {
	m := kbMatchSQLite(all)
	if found.all || len(found.terms) == len(all.terms) {
		return m
	}
	return "(" + kbMatchSQLite(found) + ") AND (" + m + ")"
}

func searchKBSQLite(ctx context.Context, db sqlx.QueryerContext, e kbExpr) ([]KBHit, error) {
	match := kbMatchSQLite(e)
	tables := kbFTSTables
	if e.all {
		tables = kbHeadTables
	}
	var hits []KBHit
	for _, fts := range tables {
		// rank is bm25 with the column weights set in the migrations (title 10, summary
		// and tags 4, body 1); it is negative, better is lower. In the head indexes the
		// length it normalises by is that of title, summary and tags.
		//
		// The best are chosen by SQLite's sort, not by FTS5's ORDER BY rank (the unary +
		// keeps the order from FTS5): that one ranks every match in a cursor of its own
		// and then ranks each row returned again in the query's cursor, and bm25 counts
		// the articles holding each word (a walk of each word's whole doclist) once per
		// cursor: twice a search. Here each match is ranked once, by one cursor.
		var part []KBHit
		err := sqlx.SelectContext(ctx, db, &part, `SELECT a.id, a.slug, a.lang, a.title, a.summary, a.category, a.tags,
			a.helpful, a.updated_at, -m.r AS score
			FROM (SELECT rowid AS id, +rank AS r FROM `+fts+` WHERE `+fts+` MATCH ? ORDER BY r LIMIT ?) m
			JOIN kb_articles a ON a.id = m.id
			WHERE a.status = ? ORDER BY m.r`, match, kbCandidates, KBPublished)
		if err != nil {
			return nil, fmt.Errorf("search kb: %w", err)
		}
		hits = append(hits, part...)
	}
	return hits, nil
}

// highlightKBSQLite fills in the highlighted title and, when asked, a snippet of the body
// for the hits to be shown, and only for them: one query per index for all its hits.
// FTS5 sets the whole expression up again for each query (a prefix word merges the
// doclists of every word it begins), which one query per hit paid twenty times; here it
// is set up once and walks the matches between the smallest and largest id shown, the
// unary + keeping the id list out of the index so that it only filters those rows before
// highlight and snippet are computed. found is what the search asked (kbPrune's choice),
// all every word to be marked: see kbHighlightMatchSQLite.
//
// Without snippets only the title is marked, and the head indexes hold it (column 0 there
// too) in doclists without the body's positions: the walk is shorter. There the query is
// every word ORed: a hit found by body words alone is not in it, and its title, holding
// none of the words, is shown as it is either way.
func highlightKBSQLite(ctx context.Context, db sqlx.QueryerContext, hits []KBHit, found, all kbExpr, snippets bool) error {
	tables, match := kbHeadTables, kbMatchSQLite(all)
	if snippets {
		tables, match = kbFTSTables, kbHighlightMatchSQLite(found, all)
	}
	for t, fts := range tables {
		byID := map[int64]*KBHit{}
		lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
		for i := range hits {
			if h := &hits[i]; (h.Lang == "en") == (t == 0) {
				byID[h.ID] = h
				lo, hi = min(lo, h.ID), max(hi, h.ID)
			}
		}
		if len(byID) == 0 {
			continue
		}
		ids := make([]string, 0, len(byID))
		for id := range byID {
			ids = append(ids, strconv.FormatInt(id, 10))
		}
		snippet := "''"
		if snippets {
			snippet = "snippet(" + fts + ", 3, char(57344), char(57345), ' … ', 24)"
		}
		// The ids are integers formatted here, not user text.
		rows, err := db.QueryContext(ctx, `SELECT rowid, highlight(`+fts+`, 0, char(57344), char(57345)), `+snippet+`
			FROM `+fts+` WHERE `+fts+` MATCH ? AND rowid >= ? AND rowid <= ? AND +rowid IN (SELECT value FROM json_each(?))`,
			match, lo, hi, "["+strings.Join(ids, ",")+"]")
		if err != nil {
			return fmt.Errorf("search kb: highlight: %w", err)
		}
		for rows.Next() {
			var id int64
			var title, snip string
			if err := rows.Scan(&id, &title, &snip); err != nil {
				rows.Close()
				return fmt.Errorf("search kb: highlight: %w", err)
			}
			if h := byID[id]; h != nil {
				h.TitleHTML, h.SnippetHTML = markedHTML(title), markedHTML(snip)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("search kb: highlight: %w", err)
		}
	}
	for i := range hits {
		if hits[i].TitleHTML == "" {
			// matched by a word the highlight query does not hold
			hits[i].TitleHTML = markedHTML(hits[i].Title)
		}
	}
	return nil
}
