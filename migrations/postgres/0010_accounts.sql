-- Customer accounts for the portal. An account belongs to one contact (the address it
-- signs in with); it is usable once that address is verified. Every secret is stored as
-- a hash: session ids and emailed tokens as SHA-256 (they are 256 random bits), the
-- password as an argon2id PHC string, recovery codes as SHA-256.
-- Keep in step with ../sqlite/0010_accounts.sql.
CREATE TABLE accounts (
    id              BIGSERIAL PRIMARY KEY,
    contact_id      BIGINT NOT NULL UNIQUE REFERENCES contacts(id),
    password_hash   TEXT NOT NULL DEFAULT '',
    verified_at     TIMESTAMPTZ,
    language        TEXT NOT NULL DEFAULT '',
    totp_secret     TEXT NOT NULL DEFAULT '',   -- base32; in force when totp_enabled
    totp_pending    TEXT NOT NULL DEFAULT '',   -- base32; being set up, not yet confirmed
    totp_enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    totp_last_step  BIGINT NOT NULL DEFAULT 0, -- the last accepted time step: no replay
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE account_recovery_codes (
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    code_hash   TEXT NOT NULL,
    used_at     TIMESTAMPTZ,
    PRIMARY KEY (account_id, code_hash)
);

-- A session is signed in (stage 'full') or has passed the password and waits for the
-- second factor (stage 'mfa', minutes long).
CREATE TABLE account_sessions (
    id_hash       TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    stage         TEXT NOT NULL DEFAULT 'full',
    ip            TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    last_seen_at  TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX account_sessions_account ON account_sessions(account_id);
CREATE INDEX account_sessions_expires ON account_sessions(expires_at);

-- Emailed single-use tokens: verify (sign-up), signin (link), reset (password).
-- binding_hash ties a sign-up's chosen password to the browser that chose it.
CREATE TABLE account_tokens (
    token_hash    TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    purpose       TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    binding_hash  TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    used_at       TIMESTAMPTZ
);
CREATE INDEX account_tokens_account ON account_tokens(account_id);
CREATE INDEX account_tokens_expires ON account_tokens(expires_at);
