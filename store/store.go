// Package store is mxdesk's only door to the database. SQL is written once with `?`
// placeholders and rebound per dialect; what truly differs between SQLite and PostgreSQL
// (connection setup, locking) sits in small functions here. Open picks the driver from
// the URL. The store knows tables, not rules: deciding what to write is ticket's and
// ingest's job.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // PostgreSQL driver
	_ "modernc.org/sqlite" // SQLite driver, pure Go
)

// Dialect names the SQL flavour behind a Store.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// ErrNotFound is returned when a row asked for by id does not exist.
var ErrNotFound = errors.New("not found")

// Store wraps the database handle with the dialect it speaks.
type Store struct {
	DB      *sqlx.DB
	Dialect string
	// walPath is the SQLite database's write-ahead log, which the spool fsyncs itself
	// (syncWAL); empty on PostgreSQL. walSeen is the log file last synced, whose
	// directory entry is synced too.
	walPath string
	walMu   sync.Mutex
	walSeen os.FileInfo
	// dsn opens another SQLite connection to the same file (RunCheckpoints).
	dsn string

	replica int64     // this process's liveness lock number (replica.go); 0: none
	live    *sql.Conn // the connection holding it

	// outboxWake is called after a transaction that wrote an outbox row commits
	// (outbox.go); queued holds the open transactions that did.
	outboxWake func()
	queued     sync.Map // *sqlx.Tx -> struct{}
}

// Open connects to the database named by url: "sqlite:PATH" or "postgres://…".
// It does not migrate; call Migrate.
func Open(ctx context.Context, url string) (*Store, error) {
	var drvName, dsn, dialect, walPath string
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		path = strings.TrimPrefix(path, "//")
		if path == "" {
			return nil, fmt.Errorf("open database: %q names no file", url)
		}
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("open database: %w", err)
			}
		}
		// WAL lets readers (the CLI, the portal) run beside the writer. synchronous=FULL
		// because a 250 promises the message survives power loss, not only a crash.
		// _txlock=immediate takes the write lock at BEGIN, so two writers queue on the
		// busy timeout instead of failing with SQLITE_BUSY at their first write.
		dsn = "file:" + uriPath(path) + "?_pragma=busy_timeout(15000)&_pragma=journal_mode(WAL)" +
			"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate&_time_format=sqlite"
		drvName, dialect, walPath = "sqlite", SQLite, path+"-wal"
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		drvName, dsn, dialect = "postgres", url, Postgres
		// Binary parameters: lib/pq otherwise sends []byte (raw mail, attachments) as hex
		// text, doubling what crosses the wire.
		if !strings.Contains(dsn, "binary_parameters=") {
			sep := "?"
			if strings.Contains(dsn, "?") {
				sep = "&"
			}
			dsn += sep + "binary_parameters=yes"
		}
	default:
		return nil, fmt.Errorf("open database: %q: want sqlite:PATH or postgres://…", redact(url))
	}
	db, err := openCaching(drvName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", redact(url), err)
	}
	if dialect == SQLite {
		// One connection: SQLite has one writer anyway, and writers on several connections
		// meet in its busy handler, which sleeps up to 100 ms at a time. WAL still lets other
		// processes (the CLI) read beside it. Code must never query the DB handle while
		// holding a transaction: that would wait for itself.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
	} else {
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(16)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", redact(url), err)
	}
	st := &Store{DB: db, Dialect: dialect, walPath: walPath}
	if dialect == SQLite {
		st.dsn = dsn
	}
	return st, nil
}

// uriPath escapes what a SQLite URI filename would read as syntax: a '#' would end the
// path (the rest a fragment) and a '?' start the parameters, so a data directory named
// "support#2" would silently open the database "support" instead.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "#", "%23", "?", "%3f").Replace(path)
}

// openCaching opens a handle whose connections keep their prepared statements
// (stmtcache.go).
func openCaching(driverName, dsn string) (*sqlx.DB, error) {
	probe, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	probe.Close()
	var conn driver.Connector = dsnConnector{dsn: dsn, drv: drv}
	if dc, ok := drv.(driver.DriverContext); ok {
		if conn, err = dc.OpenConnector(dsn); err != nil {
			return nil, err
		}
	}
	return sqlx.NewDb(sql.OpenDB(cachingConnector{conn}), driverName), nil
}

// sqlList writes constant values (statuses) as SQL string literals. Only for constants
// of this package: nothing from outside may reach it.
func sqlList(vals ...string) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + strings.ReplaceAll(v, "'", "''") + "'")
	}
	return b.String()
}

// redact hides a password in a database URL before it reaches a log or an error.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	userinfo := url[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return url[:scheme+3] + user + ":xxx" + url[at:]
	}
	return url
}

// Migrate applies the embedded schema migrations and returns the versions applied now.
func (s *Store) Migrate(ctx context.Context) ([]int, error) {
	return applyMigrations(ctx, s.DB, s.Dialect)
}

// Close closes the database handle.
func (s *Store) Close() error {
	s.closeReplica()
	return s.DB.Close()
}

// Tx runs fn in one transaction and commits it when fn returns nil.
func (s *Store) Tx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	return s.runTx(ctx, s.DB, fn)
}

// txBeginner is a pool (sqlx.DB) or one held connection (sqlx.Conn).
type txBeginner interface {
	BeginTxx(ctx context.Context, opts *sql.TxOptions) (*sqlx.Tx, error)
}

// runTx runs fn in a transaction begun on b and commits it when fn returns nil; then,
// if fn wrote outbox rows, it wakes the outbound worker, so no caller has to remember.
func (s *Store) runTx(ctx context.Context, b txBeginner, fn func(tx *sqlx.Tx) error) error {
	tx, err := b.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	_, queued := s.queued.LoadAndDelete(tx) // a reused address must not inherit a mark
	if err := fn(tx); err != nil {
		s.queued.Delete(tx)
		if rerr := tx.Rollback(); rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			return fmt.Errorf("%w (rollback: %v)", err, rerr)
		}
		return err
	}
	_, queued = s.queued.LoadAndDelete(tx)
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if queued && s.outboxWake != nil {
		s.outboxWake()
	}
	return nil
}

// now is the store's timestamp: UTC with microsecond precision, which both dialects keep
// exactly, so a value written and read back compares equal.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Now exposes the store's timestamp rounding to the packages that write rows.
func Now() time.Time { return now() }

// insertID runs an INSERT … RETURNING id and returns the id. Both SQLite (3.35+) and
// PostgreSQL support RETURNING, so the same statement serves both.
func insertID(ctx context.Context, q sqlx.QueryerContext, query string, args ...any) (int64, error) {
	var id int64
	if err := sqlx.GetContext(ctx, q, &id, query+" RETURNING id", args...); err != nil {
		return 0, err
	}
	return id, nil
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
