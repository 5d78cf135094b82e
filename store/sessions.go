package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Session stages.
const (
	SessionFull = "full" // signed in
	SessionMFA  = "mfa"  // password (or link) accepted, second factor awaited
)

// Session is a portal sign-in. The id itself is only in the customer's cookie; the
// row holds its SHA-256.
type Session struct {
	IDHash     string    `db:"id_hash"`
	AccountID  int64     `db:"account_id"`
	Stage      string    `db:"stage"`
	IP         string    `db:"ip"`
	UserAgent  string    `db:"user_agent"`
	CreatedAt  time.Time `db:"created_at"`
	LastSeenAt time.Time `db:"last_seen_at"`
	ExpiresAt  time.Time `db:"expires_at"`
}

// InsertSession stores a new session.
func InsertSession(ctx context.Context, q sqlx.ExtContext, s *Session) error {
	_, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO account_sessions
		(id_hash, account_id, stage, ip, user_agent, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		s.IDHash, s.AccountID, s.Stage, s.IP, s.UserAgent, s.CreatedAt, s.LastSeenAt, s.ExpiresAt)
	if err != nil {
		return fmt.Errorf("account %d: insert session: %w", s.AccountID, err)
	}
	return nil
}

// GetSession loads a session by the hash of its id.
func GetSession(ctx context.Context, q sqlx.QueryerContext, idHash string) (*Session, error) {
	var s Session
	if err := sqlx.GetContext(ctx, q, &s, rebind(q, `SELECT * FROM account_sessions WHERE id_hash = ?`), idHash); err != nil {
		return nil, fmt.Errorf("session: %w", notFound(err))
	}
	return &s, nil
}

// TouchSession records activity, for the idle timeout.
func TouchSession(ctx context.Context, q sqlx.ExtContext, idHash string, now time.Time) error {
	if _, err := q.ExecContext(ctx, q.Rebind(`UPDATE account_sessions SET last_seen_at = ? WHERE id_hash = ?`), now, idHash); err != nil {
		return fmt.Errorf("session: touch: %w", err)
	}
	return nil
}

// DeleteSession ends one session.
func DeleteSession(ctx context.Context, q sqlx.ExtContext, idHash string) error {
	if _, err := q.ExecContext(ctx, q.Rebind(`DELETE FROM account_sessions WHERE id_hash = ?`), idHash); err != nil {
		return fmt.Errorf("session: delete: %w", err)
	}
	return nil
}

// DeleteOtherSessions ends every session of the account but keep (empty: all of them),
// and returns how many it ended.
func DeleteOtherSessions(ctx context.Context, q sqlx.ExtContext, accountID int64, keep string) (int64, error) {
	res, err := q.ExecContext(ctx, q.Rebind(`DELETE FROM account_sessions WHERE account_id = ? AND id_hash <> ?`), accountID, keep)
	if err != nil {
		return 0, fmt.Errorf("account %d: end sessions: %w", accountID, err)
	}
	return res.RowsAffected()
}

// ListSessions returns the account's signed-in sessions, newest first.
func ListSessions(ctx context.Context, q sqlx.QueryerContext, accountID int64) ([]Session, error) {
	var out []Session
	err := sqlx.SelectContext(ctx, q, &out, rebind(q, `SELECT * FROM account_sessions WHERE account_id = ? AND stage = ?
		ORDER BY created_at DESC`), accountID, SessionFull)
	if err != nil {
		return nil, fmt.Errorf("account %d: sessions: %w", accountID, err)
	}
	return out, nil
}

// Token purposes: what an emailed link does.
const (
	TokenVerify = "verify" // sign-up: verify the address and sign in
	TokenSignIn = "signin" // the emailed sign-in link
	TokenReset  = "reset"  // set a new password
)

// AccountToken is an emailed single-use token; the row holds its SHA-256.
type AccountToken struct {
	TokenHash    string     `db:"token_hash"`
	AccountID    int64      `db:"account_id"`
	Purpose      string     `db:"purpose"`
	PasswordHash string     `db:"password_hash"`
	BindingHash  string     `db:"binding_hash"`
	CreatedAt    time.Time  `db:"created_at"`
	ExpiresAt    time.Time  `db:"expires_at"`
	UsedAt       *time.Time `db:"used_at"`
}

// InsertAccountToken stores a new emailed token.
func InsertAccountToken(ctx context.Context, q sqlx.ExtContext, t *AccountToken) error {
	_, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO account_tokens
		(token_hash, account_id, purpose, password_hash, binding_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		t.TokenHash, t.AccountID, t.Purpose, t.PasswordHash, t.BindingHash, t.CreatedAt, t.ExpiresAt)
	if err != nil {
		return fmt.Errorf("account %d: insert %s token: %w", t.AccountID, t.Purpose, err)
	}
	return nil
}

// GetAccountToken loads a token by its hash.
func GetAccountToken(ctx context.Context, q sqlx.QueryerContext, hash string) (*AccountToken, error) {
	var t AccountToken
	if err := sqlx.GetContext(ctx, q, &t, rebind(q, `SELECT * FROM account_tokens WHERE token_hash = ?`), hash); err != nil {
		return nil, fmt.Errorf("token: %w", notFound(err))
	}
	return &t, nil
}

// UseAccountToken spends a token; false when it was already spent (two clicks at once:
// one wins).
func UseAccountToken(ctx context.Context, q sqlx.ExtContext, hash string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE account_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL`), now, hash)
	if err != nil {
		return false, fmt.Errorf("token: use: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SpendAccountTokens spends every unused token of a purpose for the account (a reset
// makes older reset links useless).
func SpendAccountTokens(ctx context.Context, q sqlx.ExtContext, accountID int64, purpose string, now time.Time) error {
	if _, err := q.ExecContext(ctx, q.Rebind(`UPDATE account_tokens SET used_at = ? WHERE account_id = ? AND purpose = ? AND used_at IS NULL`),
		now, accountID, purpose); err != nil {
		return fmt.Errorf("account %d: spend tokens: %w", accountID, err)
	}
	return nil
}

// PurgeAccounts deletes sessions and tokens that expired before t.
func PurgeAccounts(ctx context.Context, q sqlx.ExtContext, t time.Time) (int64, error) {
	var total int64
	for _, table := range []string{"account_sessions", "account_tokens"} {
		res, err := q.ExecContext(ctx, q.Rebind(`DELETE FROM `+table+` WHERE expires_at < ?`), t)
		if err != nil {
			return total, fmt.Errorf("purge %s: %w", table, err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
