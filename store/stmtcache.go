package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"strings"
	"time"
)

// Every connection keeps its prepared statements by query text, so a statement mxdesk
// runs thousands of times is parsed (and on PostgreSQL planned) once per connection
// instead of on every call. Without it, lib/pq sends each query unnamed, and PostgreSQL
// parses and plans it again every time: on the ingest path that was about a third of the
// server's time per message; modernc's SQLite likewise re-parses every statement.
// database/sql's own Stmt would need every call site changed; this wrapper sits below it,
// so the store's code stays plain queries.
//
// A prepared statement also keeps PostgreSQL's plan: after five executions it may switch
// to a generic plan, chosen with the table sizes of that moment. On a new database that
// moment is an empty table, and the plan (a sequential scan) would stay for the life of
// the connection while the table grows. So a statement is prepared afresh after
// stmtMaxUses executions or stmtMaxAge, whichever comes first, and planned again against
// the tables as they are then. The age matters for statements run once per batch, not
// per row (the loop guard's count): on a new database their first plan, made on a
// nearly empty table, would otherwise outlast a whole flood.
const (
	stmtCacheSize = 256              // statements per connection; past it the cache starts over
	stmtCacheArgs = 64               // multi-row INSERTs vary in shape; they are not worth keeping
	stmtMaxUses   = 1000             // executions before a statement is prepared (and planned) again
	stmtMaxAge    = 10 * time.Second // or this long after it was prepared
)

// cachingConnector wraps a driver's connector so its connections cache statements.
type cachingConnector struct {
	driver.Connector
}

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &cachingConn{Conn: conn, stmts: map[string]*cachedStmt{}}, nil
}

// dsnConnector is a Connector for drivers that only offer Open.
type dsnConnector struct {
	dsn string
	drv driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }

// cachingConn is one connection with its statements. database/sql uses a connection
// from one goroutine at a time, so the map needs no lock.
type cachingConn struct {
	driver.Conn
	stmts map[string]*cachedStmt
	// restore, if not empty, is a statement to run before the connection's next use by
	// anyone but its holder (held): a holder that changes a setting of the connection
	// leaves it for the next holder of the same kind, and whoever else comes next
	// restores it first (SQLite's synchronous, txUnsynced). Every use comes through
	// ExecContext, QueryContext, PrepareContext or BeginTx (the store prepares no
	// statement of database/sql's, which would run on the driver's directly).
	restore string
	held    bool
}

// ready runs the pending restore, unless the connection is held. A connection it cannot
// restore is bad: database/sql closes it and goes on with a new one, opened as the DSN
// says. The caller's deadline does not apply: a caller giving up must not cost the
// connection (and its statements).
func (c *cachingConn) ready(ctx context.Context) error {
	if c.restore == "" || c.held {
		return nil
	}
	q := c.restore
	c.restore = ""
	if _, err := c.exec(context.WithoutCancel(ctx), q, nil); err != nil {
		return driver.ErrBadConn
	}
	return nil
}

type cachedStmt struct {
	driver.Stmt
	uses     int
	prepared time.Time
}

// cacheable says whether a query is worth a prepared statement: one statement (a
// migration script is several), with a fixed shape.
func cacheable(query string, args int) bool {
	return args <= stmtCacheArgs && !strings.Contains(strings.TrimRight(strings.TrimSpace(query), ";"), ";")
}

func (c *cachingConn) stmt(ctx context.Context, query string) (driver.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		if st.uses++; st.uses <= stmtMaxUses && time.Since(st.prepared) < stmtMaxAge {
			return st.Stmt, nil
		}
		c.forget(query)
	}
	st, err := c.prepare(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) >= stmtCacheSize {
		c.closeStmts()
	}
	c.stmts[query] = &cachedStmt{Stmt: st, uses: 1, prepared: time.Now()}
	return st, nil
}

func (c *cachingConn) prepare(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.Conn.Prepare(query)
}

// forget drops a statement whose use failed: a schema change can leave a PostgreSQL plan
// unusable ("cached plan must not change result type"), and the next call must prepare
// afresh rather than fail forever.
func (c *cachingConn) forget(query string) {
	if st, ok := c.stmts[query]; ok {
		delete(c.stmts, query)
		st.Close()
	}
}

func (c *cachingConn) closeStmts() {
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	return c.exec(ctx, query, args)
}

func (c *cachingConn) exec(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if !cacheable(query, len(args)) {
		if e, ok := c.Conn.(driver.ExecerContext); ok {
			return e.ExecContext(ctx, query, args)
		}
		return nil, driver.ErrSkip
	}
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := st.(driver.StmtExecContext).ExecContext(ctx, args)
	if err != nil {
		c.forgetAfter(query, err)
	}
	return res, err
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	if !cacheable(query, len(args)) {
		if q, ok := c.Conn.(driver.QueryerContext); ok {
			return q.QueryContext(ctx, query, args)
		}
		return nil, driver.ErrSkip
	}
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.forgetAfter(query, err)
	}
	return rows, err
}

// forgetAfter drops the statement after an error, unless the connection itself is gone
// (then database/sql discards it with its statements).
func (c *cachingConn) forgetAfter(query string, err error) {
	if errors.Is(err, driver.ErrBadConn) {
		return
	}
	c.forget(query)
}

func (c *cachingConn) Close() error {
	c.closeStmts()
	return c.Conn.Close()
}

// The interfaces database/sql looks for on a connection, passed through.

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	return c.prepare(ctx, query)
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.Conn.Begin() //nolint:staticcheck // drivers without BeginTx
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
