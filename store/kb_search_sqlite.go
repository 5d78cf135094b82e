package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// kbMatchSQLite writes terms as an FTS5 query: each word in double quotes (a string, never
// syntax), ORed, the last one with * when it is a prefix. The words hold only letters and
// digits, so there is nothing to escape inside the quotes.
func kbMatchSQLite(terms []string, prefix bool) string {
	parts := make([]string, len(terms))
	for i, t := range terms {
		parts[i] = `"` + t + `"`
	}
	if prefix {
		parts[len(parts)-1] += "*"
	}
	return strings.Join(parts, " OR ")
}

// kbFTSTables are the two FTS5 indexes: English articles stemmed, the rest not. The
// query is tokenized by each table's own tokenizer, so it is stemmed exactly when the
// articles it is compared with are.
var kbFTSTables = []string{"kb_fts_en", "kb_fts_other"}

func searchKBSQLite(ctx context.Context, db sqlx.QueryerContext, terms []string, prefix bool) ([]KBHit, error) {
	match := kbMatchSQLite(terms, prefix)
	var hits []KBHit
	for _, fts := range kbFTSTables {
		// rank is bm25 with the column weights set in the migration (title 10, summary
		// and tags 4, body 1); it is negative, better is lower.
		var part []KBHit
		err := sqlx.SelectContext(ctx, db, &part, `SELECT a.id, a.slug, a.lang, a.title, a.summary, a.category, a.tags,
			a.helpful, a.updated_at, -f.rank AS score
			FROM `+fts+` f JOIN kb_articles a ON a.id = f.rowid
			WHERE `+fts+` MATCH ? AND a.status = ? ORDER BY f.rank LIMIT ?`, match, KBPublished, kbCandidates)
		if err != nil {
			return nil, fmt.Errorf("search kb: %w", err)
		}
		hits = append(hits, part...)
	}
	return hits, nil
}

// highlightKBSQLite fills in the highlighted title and, when asked, a snippet of the body
// for the hits to be shown, and only for them.
func highlightKBSQLite(ctx context.Context, db sqlx.QueryerContext, hits []KBHit, terms []string, prefix, snippets bool) error {
	byID := map[int64]*KBHit{}
	var ids []int64
	for i := range hits {
		byID[hits[i].ID] = &hits[i]
		ids = append(ids, hits[i].ID)
	}
	match := kbMatchSQLite(terms, prefix)
	for _, fts := range kbFTSTables {
		snippet := "''"
		if snippets {
			snippet = "snippet(" + fts + ", 3, char(57344), char(57345), ' … ', 24)"
		}
		query, args, err := sqlx.In(`SELECT rowid, highlight(`+fts+`, 0, char(57344), char(57345)), `+snippet+`
			FROM `+fts+` WHERE `+fts+` MATCH ? AND rowid IN (?)`, match, ids)
		if err != nil {
			return fmt.Errorf("search kb: highlight: %w", err)
		}
		rows, err := db.QueryContext(ctx, query, args...)
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
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("search kb: highlight: %w", err)
		}
	}
	for i := range hits {
		if hits[i].TitleHTML == "" {
			hits[i].TitleHTML = markedHTML(hits[i].Title)
		}
	}
	return nil
}
