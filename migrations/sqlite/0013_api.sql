-- The agent API (package api): bearer tokens, and the answers to writes sent with an
-- Idempotency-Key, so a retried POST changes nothing twice.
-- A token is shown once; only its SHA-256 is kept. admin tokens see every team's
-- tickets, the others the tickets of their agent's team.
CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL DEFAULT '',
    token_hash    TEXT NOT NULL UNIQUE,
    admin         INTEGER NOT NULL DEFAULT 0,
    created_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP,
    revoked_at    TIMESTAMP
);

-- One row per (token, Idempotency-Key): the request's fingerprint (method, path, body
-- hash) and the answer given, replayed to a retry. Written in the transaction of the
-- change itself, so the change and its record commit together.
CREATE TABLE api_idempotency (
    token_id     INTEGER NOT NULL REFERENCES api_tokens(id),
    idem_key     TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    status       INTEGER NOT NULL,
    body         TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (token_id, idem_key)
);
CREATE INDEX api_idempotency_created ON api_idempotency(token_id, created_at);

-- Listing tickets by team and by last change, newest first, page by page.
CREATE INDEX tickets_team_status ON tickets(team_id, status, updated_at);
CREATE INDEX tickets_updated ON tickets(updated_at, id);
-- A contact's tickets within a team: the contacts list probes and counts them per page.
CREATE INDEX tickets_contact_team ON tickets(contact_id, team_id);
