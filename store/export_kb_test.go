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
