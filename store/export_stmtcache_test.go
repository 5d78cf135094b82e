package store

import (
	"context"
	"fmt"
)

// StatementRuns reports how often the one connection's cache has run query since it was
// prepared (0 if it is not cached), without running anything on the connection.
func (s *Store) StatementRuns(ctx context.Context, query string) (int, error) {
	conn, err := s.DB.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var n int
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("connection %T is not the store's", dc)
		}
		if st, ok := c.stmts[query]; ok {
			n = st.uses
		}
		return nil
	})
	return n, err
}
