-- mxdesk schema, PostgreSQL dialect. Times are stored by the application in UTC.
-- Keep in step with ../sqlite/0001_init.sql: same tables, same columns.

CREATE TABLE teams (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);

-- contacts are the people who write to support: customers and the participants
-- copied on their mail. They never sign in with more than an emailed link or a password.
CREATE TABLE contacts (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,   -- lower-cased address
    name          TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL
);

-- users are agents and administrators.
CREATE TABLE users (
    id               BIGSERIAL PRIMARY KEY,
    email            TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL DEFAULT '',
    role             TEXT NOT NULL DEFAULT 'agent',
    team_id          BIGINT REFERENCES teams(id),
    password_hash    TEXT NOT NULL DEFAULT '',
    api_token_hash   TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL
);

-- blobs hold raw messages and attachments, content-addressed, so a backup of the
-- database is a backup of everything and identical attachments are stored once.
CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    data        BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE tickets (
    id                  BIGSERIAL PRIMARY KEY,
    subject             TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL DEFAULT 'open',
    priority            TEXT NOT NULL DEFAULT 'medium',
    team_id             BIGINT NOT NULL REFERENCES teams(id),
    contact_id          BIGINT NOT NULL REFERENCES contacts(id),
    mailbox             TEXT NOT NULL DEFAULT '',
    flagged             BOOLEAN NOT NULL DEFAULT FALSE,
    flag_reason         TEXT NOT NULL DEFAULT '',
    linked_ticket_id    BIGINT REFERENCES tickets(id),
    outside_hours       BOOLEAN NOT NULL DEFAULT FALSE,
    response_by         TIMESTAMPTZ,
    resolution_by       TIMESTAMPTZ,
    first_responded_at  TIMESTAMPTZ,
    resolved_at         TIMESTAMPTZ,
    closed_at           TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX tickets_contact ON tickets(contact_id);
CREATE INDEX tickets_status ON tickets(status, updated_at);

CREATE TABLE participants (
    ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
    contact_id  BIGINT NOT NULL REFERENCES contacts(id),
    role        TEXT NOT NULL DEFAULT 'cc',
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (ticket_id, contact_id)
);

-- inbound is the spool: every message smtpd answered 250 for has a row here, committed
-- before the 250. Ingest moves it from new to done (or failed, retried later).
CREATE TABLE inbound (
    id              BIGSERIAL PRIMARY KEY,
    received_at     TIMESTAMPTZ NOT NULL,
    remote_addr     TEXT NOT NULL DEFAULT '',
    helo            TEXT NOT NULL DEFAULT '',
    mail_from       TEXT NOT NULL DEFAULT '',
    rcpt_to         TEXT NOT NULL DEFAULT '',  -- JSON array of addresses
    size           BIGINT NOT NULL,
    raw_sha256      TEXT NOT NULL REFERENCES blobs(sha256),
    auth_results    TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'new',  -- new, processing, done, duplicate, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    error           TEXT NOT NULL DEFAULT '',
    processed_at    TIMESTAMPTZ
);
CREATE INDEX inbound_status ON inbound(status, id);

CREATE TABLE messages (
    id              BIGSERIAL PRIMARY KEY,
    ticket_id       BIGINT NOT NULL REFERENCES tickets(id),
    inbound_id      BIGINT REFERENCES inbound(id),
    direction       TEXT NOT NULL,              -- in, out
    kind            TEXT NOT NULL DEFAULT 'customer', -- customer, agent, note, auto, bounce
    from_addr       TEXT NOT NULL DEFAULT '',
    from_name       TEXT NOT NULL DEFAULT '',
    to_addrs        TEXT NOT NULL DEFAULT '',   -- JSON array
    cc_addrs        TEXT NOT NULL DEFAULT '',   -- JSON array
    message_id      TEXT NOT NULL DEFAULT '',   -- without angle brackets
    in_reply_to     TEXT NOT NULL DEFAULT '',
    refs            TEXT NOT NULL DEFAULT '',   -- space-separated ids
    subject         TEXT NOT NULL DEFAULT '',
    text_body       TEXT NOT NULL DEFAULT '',
    html_body       TEXT NOT NULL DEFAULT '',   -- sanitized
    raw_sha256      TEXT REFERENCES blobs(sha256),
    auth_results    TEXT NOT NULL DEFAULT '',
    parse_errors    TEXT NOT NULL DEFAULT '',
    generated       BOOLEAN NOT NULL DEFAULT FALSE, -- 1: mxdesk made this Message-ID
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX messages_ticket ON messages(ticket_id, id);
CREATE INDEX messages_message_id ON messages(message_id);

CREATE TABLE attachments (
    id            BIGSERIAL PRIMARY KEY,
    message_id    BIGINT NOT NULL REFERENCES messages(id),
    filename      TEXT NOT NULL DEFAULT '',
    content_type  TEXT NOT NULL DEFAULT '',
    content_id    TEXT NOT NULL DEFAULT '',
    inline        BOOLEAN NOT NULL DEFAULT FALSE,
    size         BIGINT NOT NULL,
    sha256        TEXT NOT NULL REFERENCES blobs(sha256)
);
CREATE INDEX attachments_message ON attachments(message_id);

CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_ticket ON events(ticket_id, id);

-- outbox holds every mail mxdesk will send, written in the transaction of the change
-- that caused it. message_id is the strong threading pointer (guarantee 3b).
CREATE TABLE outbox (
    id              BIGSERIAL PRIMARY KEY,
    ticket_id       BIGINT REFERENCES tickets(id),
    kind            TEXT NOT NULL,
    automatic       BOOLEAN NOT NULL DEFAULT TRUE,
    mail_from       TEXT NOT NULL,   -- envelope sender
    rcpt_to         TEXT NOT NULL,   -- envelope recipient
    message_id      TEXT NOT NULL UNIQUE,
    raw             BYTEA NOT NULL,   -- rendered, unsigned message
    status          TEXT NOT NULL DEFAULT 'pending', -- pending, sending, sent, failed, suppressed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_rcpt ON outbox(rcpt_to, created_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id);

-- Portal sessions and emailed sign-in tokens; secrets are stored hashed.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    contact_id  BIGINT REFERENCES contacts(id),
    user_id     BIGINT REFERENCES users(id),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE TABLE signin_tokens (
    token_hash  TEXT PRIMARY KEY,
    contact_id  BIGINT NOT NULL REFERENCES contacts(id),
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);

-- Single-use signed links (close, rate) record their use here.
CREATE TABLE used_links (
    nonce       TEXT PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
    used_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE feedback (
    id          BIGSERIAL PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
    rating      INTEGER NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    requested_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE kb_articles (
    id          BIGSERIAL PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    body_md     TEXT NOT NULL,
    language    TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE job_runs (
    job          TEXT PRIMARY KEY,
    last_start   TIMESTAMPTZ,
    last_success TIMESTAMPTZ,
    last_error   TEXT NOT NULL DEFAULT '',
    duration_ms  INTEGER NOT NULL DEFAULT 0
);
