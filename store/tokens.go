package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// APIToken is a bearer token of the agent API. Only the SHA-256 of the secret is
// stored: a copy of the database gives nobody a working token.
type APIToken struct {
	ID         int64      `db:"id" json:"id"`
	UserID     int64      `db:"user_id" json:"-"`
	Email      string     `db:"email" json:"agent"`
	TeamID     *int64     `db:"team_id" json:"-"`
	Team       string     `db:"team" json:"team"`
	Name       string     `db:"name" json:"name"`
	Hash       string     `db:"token_hash" json:"-"`
	Admin      bool       `db:"admin" json:"admin"`
	CreatedAt  time.Time  `db:"created_at" json:"created_at"`
	LastUsedAt *time.Time `db:"last_used_at" json:"last_used_at"`
	RevokedAt  *time.Time `db:"revoked_at" json:"revoked_at,omitempty"`
}

const tokenSelect = `SELECT k.id, k.user_id, u.email, u.team_id, COALESCE(tm.name, '') AS team, k.name,
	k.token_hash, k.admin, k.created_at, k.last_used_at, k.revoked_at
	FROM api_tokens k JOIN users u ON u.id = k.user_id LEFT JOIN teams tm ON tm.id = u.team_id`

// InsertAPIToken stores a new token (its hash) and sets t.ID and t.CreatedAt.
func InsertAPIToken(ctx context.Context, q sqlx.ExtContext, t *APIToken) error {
	t.CreatedAt = now()
	id, err := insertID(ctx, q, q.Rebind(`INSERT INTO api_tokens (user_id, name, token_hash, admin, created_at)
		VALUES (?, ?, ?, ?, ?)`), t.UserID, t.Name, t.Hash, t.Admin, t.CreatedAt)
	if err != nil {
		return fmt.Errorf("api token for user %d: %w", t.UserID, err)
	}
	t.ID = id
	return nil
}

// APITokenByHash returns the live (not revoked) token with this hash, with its agent's
// team, or ErrNotFound.
func APITokenByHash(ctx context.Context, q sqlx.QueryerContext, hash string) (*APIToken, error) {
	var t APIToken
	err := sqlx.GetContext(ctx, q, &t, rebind(q, tokenSelect+" WHERE k.token_hash = ? AND k.revoked_at IS NULL"), hash)
	if err != nil {
		return nil, fmt.Errorf("api token: %w", notFound(err))
	}
	return &t, nil
}

// ListAPITokens returns every token, revoked ones included, oldest first.
func ListAPITokens(ctx context.Context, q sqlx.QueryerContext) ([]APIToken, error) {
	var out []APIToken
	if err := sqlx.SelectContext(ctx, q, &out, tokenSelect+" ORDER BY k.id"); err != nil {
		return nil, fmt.Errorf("api tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken ends a token at once; revoking it again changes nothing.
func RevokeAPIToken(ctx context.Context, q sqlx.ExtContext, id int64) error {
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`), now(), id)
	if err != nil {
		return fmt.Errorf("api token %d: revoke: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("api token %d: %w", id, ErrNotFound)
	}
	return nil
}

// TouchAPIToken records a token's use, at most once a minute per token so that reads
// do not turn into a write each.
func TouchAPIToken(ctx context.Context, q sqlx.ExtContext, id int64, at time.Time) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE api_tokens SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`), at, id, at.Add(-time.Minute))
	if err != nil {
		return fmt.Errorf("api token %d: touch: %w", id, err)
	}
	return nil
}

// IdempotentAnswer is the answer stored for a write sent with an Idempotency-Key.
type IdempotentAnswer struct {
	Fingerprint string `db:"fingerprint"`
	Status      int    `db:"status"`
	Body        string `db:"body"`
}

// IdempotentAnswerFor returns the answer stored for a token's key since a time, or
// ErrNotFound.
func IdempotentAnswerFor(ctx context.Context, q sqlx.QueryerContext, tokenID int64, key string, since time.Time) (*IdempotentAnswer, error) {
	var a IdempotentAnswer
	err := sqlx.GetContext(ctx, q, &a, rebind(q, `SELECT fingerprint, status, body FROM api_idempotency
		WHERE token_id = ? AND idem_key = ? AND created_at >= ?`), tokenID, key, since)
	if err != nil {
		return nil, fmt.Errorf("idempotency key: %w", notFound(err))
	}
	return &a, nil
}

// ErrDuplicate is returned when a row with the same unique key exists already.
var ErrDuplicate = errors.New("duplicate")

// InsertIdempotentAnswer records the answer to a write in the write's transaction. A
// concurrent request with the same key gets ErrDuplicate (after the other committed, on
// PostgreSQL; SQLite runs one writer at a time).
func InsertIdempotentAnswer(ctx context.Context, q sqlx.ExtContext, tokenID int64, key string, a IdempotentAnswer) error {
	_, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO api_idempotency (token_id, idem_key, fingerprint, status, body, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`), tokenID, key, a.Fingerprint, a.Status, a.Body, now())
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("idempotency key: %w", ErrDuplicate)
		}
		return fmt.Errorf("idempotency key: %w", err)
	}
	return nil
}

// DeleteIdempotentAnswers forgets a token's answers older than before.
func DeleteIdempotentAnswers(ctx context.Context, q sqlx.ExtContext, tokenID int64, before time.Time) (int64, error) {
	res, err := q.ExecContext(ctx, q.Rebind(`DELETE FROM api_idempotency WHERE token_id = ? AND created_at < ?`), tokenID, before)
	if err != nil {
		return 0, fmt.Errorf("idempotency keys: cleanup: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
