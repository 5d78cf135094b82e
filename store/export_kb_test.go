package store

import "context"

// KBDocCounts exposes the per-word article counts a search chooses its words by.
func (s *Store) KBDocCounts(ctx context.Context, words []string, prefix bool) ([]int, error) {
	e := kbExpr{terms: words, prefix: prefix}
	if s.Dialect == Postgres {
		return kbDocCountsPostgres(ctx, s.DB, e)
	}
	return kbDocCountsSQLite(ctx, s.DB, e, kbBudget+1)
}

// KBAllWordsSlugs runs the search for every word in title, summary or tags (the one a
// search falls back to when even its rarest word is too common) and returns the slugs
// found, best first.
func (s *Store) KBAllWordsSlugs(ctx context.Context, words []string, prefix bool) ([]string, error) {
	e := kbExpr{terms: words, prefix: prefix, all: true}
	var hits []KBHit
	var err error
	if s.Dialect == Postgres {
		hits, err = searchKBPostgres(ctx, s.DB, e)
	} else {
		hits, err = searchKBSQLite(ctx, s.DB, e)
	}
	var slugs []string
	for _, h := range hits {
		slugs = append(slugs, h.Slug)
	}
	return slugs, err
}
