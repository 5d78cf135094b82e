package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
)

// kbMatchSQLite writes e as an FTS5 query: each word in double quotes (a string, never
// syntax), ORed (or ANDed), the last one with * when it is a prefix. The words hold only
// letters and digits, so there is nothing to escape inside the quotes.
func kbMatchSQLite(e kbExpr) string {
	parts := make([]string, len(e.terms))
	for i, t := range e.terms {
		parts[i] = `"` + t + `"`
	}
	if e.prefix {
		parts[len(parts)-1] += "*"
	}
	if e.all {
		return "{title summary tags} : (" + strings.Join(parts, " AND ") + ")"
	}
	return strings.Join(parts, " OR ")
}

// kbFTSTables are the two FTS5 indexes: English articles stemmed, the rest not. The
// query is tokenized by each table's own tokenizer, so it is stemmed exactly when the
// articles it is compared with are.
var kbFTSTables = []string{"kb_fts_en", "kb_fts_other"}

func searchKBSQLite(ctx context.Context, db sqlx.QueryerContext, e kbExpr) ([]KBHit, error) {
	match := kbMatchSQLite(e)
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
// for the hits to be shown, and only for them: one query per hit in its own index, the
// same statement every time (prepared once per connection).
func highlightKBSQLite(ctx context.Context, db sqlx.QueryerContext, hits []KBHit, e kbExpr, snippets bool) error {
	match := kbMatchSQLite(e)
	for i := range hits {
		h := &hits[i]
		fts := kbFTSTables[0]
		if h.Lang != "en" {
			fts = kbFTSTables[1]
		}
		snippet := "''"
		if snippets {
			snippet = "snippet(" + fts + ", 3, char(57344), char(57345), ' … ', 24)"
		}
		var title, snip string
		err := db.QueryRowxContext(ctx, `SELECT highlight(`+fts+`, 0, char(57344), char(57345)), `+snippet+`
			FROM `+fts+` WHERE `+fts+` MATCH ? AND rowid = ?`, match, h.ID).Scan(&title, &snip)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			title = h.Title // matched by a word the highlight query does not hold
		case err != nil:
			return fmt.Errorf("search kb: highlight: %w", err)
		}
		h.TitleHTML, h.SnippetHTML = markedHTML(title), markedHTML(snip)
	}
	return nil
}
