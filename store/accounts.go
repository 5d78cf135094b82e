package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// Account is a customer's portal account joined with its contact's address. Only an
// account whose address is verified may sign in.
type Account struct {
	ID           int64      `db:"id"`
	ContactID    int64      `db:"contact_id"`
	Email        string     `db:"email"`
	PasswordHash string     `db:"password_hash"`
	VerifiedAt   *time.Time `db:"verified_at"`
	Language     string     `db:"language"`
	TOTPSecret   string     `db:"totp_secret"`
	TOTPPending  string     `db:"totp_pending"`
	TOTPEnabled  bool       `db:"totp_enabled"`
	TOTPLastStep int64      `db:"totp_last_step"`
	CreatedAt    time.Time  `db:"created_at"`
	UpdatedAt    time.Time  `db:"updated_at"`
}

const accountSelect = `SELECT a.id, a.contact_id, c.email, a.password_hash, a.verified_at, a.language,
	a.totp_secret, a.totp_pending, a.totp_enabled, a.totp_last_step, a.created_at, a.updated_at
	FROM accounts a JOIN contacts c ON c.id = a.contact_id`

// EnsureAccount returns the account of the address, creating the contact and an
// unverified account when there is none. Two sign-ups for one address at once end with
// one account: the second insert does nothing and both read the same row.
func EnsureAccount(ctx context.Context, q sqlx.ExtContext, email string, now time.Time) (*Account, error) {
	contact, err := UpsertContact(ctx, q, email, "")
	if err != nil {
		return nil, err
	}
	if _, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO accounts (contact_id, created_at, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (contact_id) DO NOTHING`), contact, now, now); err != nil {
		return nil, fmt.Errorf("account %s: %w", email, err)
	}
	return getAccount(ctx, q, `a.contact_id = ?`, contact)
}

// AccountByEmail loads the account of an address; ErrNotFound when there is none.
func AccountByEmail(ctx context.Context, q sqlx.QueryerContext, email string) (*Account, error) {
	return getAccount(ctx, q, `c.email = ?`, strings.ToLower(strings.TrimSpace(email)))
}

// AccountByID loads one account.
func AccountByID(ctx context.Context, q sqlx.QueryerContext, id int64) (*Account, error) {
	return getAccount(ctx, q, `a.id = ?`, id)
}

func getAccount(ctx context.Context, q sqlx.QueryerContext, where string, arg any) (*Account, error) {
	var a Account
	if err := sqlx.GetContext(ctx, q, &a, rebind(q, accountSelect+` WHERE `+where), arg); err != nil {
		return nil, fmt.Errorf("account: %w", notFound(err))
	}
	return &a, nil
}

// VerifyAccount marks the address verified (once; a later call keeps the first time).
func VerifyAccount(ctx context.Context, q sqlx.ExtContext, id int64, now time.Time) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE accounts SET verified_at = COALESCE(verified_at, ?), updated_at = ? WHERE id = ?`), now, now, id)
	if err != nil {
		return fmt.Errorf("account %d: verify: %w", id, err)
	}
	return nil
}

// SetAccountPassword stores a new password hash (empty: no password, links only).
func SetAccountPassword(ctx context.Context, q sqlx.ExtContext, id int64, hash string, now time.Time) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?`), hash, now, id)
	if err != nil {
		return fmt.Errorf("account %d: password: %w", id, err)
	}
	return nil
}

// SetAccountPasswordIfUnset stores a password only if the account has none, and says
// whether it did.
func SetAccountPasswordIfUnset(ctx context.Context, q sqlx.ExtContext, id int64, hash string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ''`), hash, now, id)
	if err != nil {
		return false, fmt.Errorf("account %d: password: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// SetAccountLanguage records the language the customer chose for pages and mail.
func SetAccountLanguage(ctx context.Context, q sqlx.ExtContext, id int64, lang string, now time.Time) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE accounts SET language = ?, updated_at = ? WHERE id = ?`), lang, now, id)
	if err != nil {
		return fmt.Errorf("account %d: language: %w", id, err)
	}
	return nil
}

// SetTOTPPending stores a secret being set up (empty: none).
func SetTOTPPending(ctx context.Context, q sqlx.ExtContext, id int64, secret string, now time.Time) error {
	_, err := q.ExecContext(ctx, q.Rebind(`UPDATE accounts SET totp_pending = ?, updated_at = ? WHERE id = ?`), secret, now, id)
	if err != nil {
		return fmt.Errorf("account %d: totp: %w", id, err)
	}
	return nil
}

// EnableTOTP puts the pending secret in force, with the step of the code that confirmed
// it as the last one used, and replaces the recovery codes. It fails with ErrNotFound
// when the pending secret changed meanwhile (another tab started over).
func EnableTOTP(ctx context.Context, q sqlx.ExtContext, id int64, secret string, step int64, codeHashes []string, now time.Time) error {
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE accounts SET totp_secret = totp_pending, totp_pending = '', totp_enabled = TRUE,
		totp_last_step = ?, updated_at = ? WHERE id = ? AND totp_pending = ? AND totp_pending <> ''`), step, now, id, secret)
	if err != nil {
		return fmt.Errorf("account %d: enable totp: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("account %d: enable totp: %w", id, ErrNotFound)
	}
	return replaceRecoveryCodes(ctx, q, id, codeHashes)
}

// DisableTOTP turns the second factor off and forgets its secret and recovery codes.
func DisableTOTP(ctx context.Context, q sqlx.ExtContext, id int64, now time.Time) error {
	if _, err := q.ExecContext(ctx, q.Rebind(`UPDATE accounts SET totp_secret = '', totp_pending = '', totp_enabled = FALSE,
		totp_last_step = 0, updated_at = ? WHERE id = ?`), now, id); err != nil {
		return fmt.Errorf("account %d: disable totp: %w", id, err)
	}
	return replaceRecoveryCodes(ctx, q, id, nil)
}

// UseTOTPStep records that a code of this time step was accepted. It says false when
// this step or a later one was already used: a code works once (a replay within its 30
// seconds is refused).
func UseTOTPStep(ctx context.Context, q sqlx.ExtContext, id, step int64) (bool, error) {
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE accounts SET totp_last_step = ? WHERE id = ? AND totp_enabled = TRUE AND totp_last_step < ?`), step, id, step)
	if err != nil {
		return false, fmt.Errorf("account %d: totp step: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func replaceRecoveryCodes(ctx context.Context, q sqlx.ExtContext, id int64, hashes []string) error {
	if _, err := q.ExecContext(ctx, q.Rebind(`DELETE FROM account_recovery_codes WHERE account_id = ?`), id); err != nil {
		return fmt.Errorf("account %d: recovery codes: %w", id, err)
	}
	for _, h := range hashes {
		if _, err := q.ExecContext(ctx, q.Rebind(`INSERT INTO account_recovery_codes (account_id, code_hash) VALUES (?, ?)`), id, h); err != nil {
			return fmt.Errorf("account %d: recovery codes: %w", id, err)
		}
	}
	return nil
}

// UseRecoveryCode spends one recovery code; false when it is unknown or already spent.
func UseRecoveryCode(ctx context.Context, q sqlx.ExtContext, id int64, hash string, now time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, q.Rebind(`UPDATE account_recovery_codes SET used_at = ? WHERE account_id = ? AND code_hash = ? AND used_at IS NULL`), now, id, hash)
	if err != nil {
		return false, fmt.Errorf("account %d: recovery code: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// RecoveryCodesLeft counts the unspent recovery codes.
func RecoveryCodesLeft(ctx context.Context, q sqlx.QueryerContext, id int64) (int, error) {
	var n int
	if err := sqlx.GetContext(ctx, q, &n, rebind(q, `SELECT COUNT(*) FROM account_recovery_codes WHERE account_id = ? AND used_at IS NULL`), id); err != nil {
		return 0, fmt.Errorf("account %d: recovery codes: %w", id, err)
	}
	return n, nil
}
