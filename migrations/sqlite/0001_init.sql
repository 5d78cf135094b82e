-- mxdesk schema, SQLite dialect. Times are stored by the application in UTC.
-- Keep in step with ../postgres/0001_init.sql: same tables, same columns.

CREATE TABLE teams (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL
);

-- contacts are the people who write to support: customers and the participants
-- copied on their mail. They never sign in with more than an emailed link or a password.
CREATE TABLE contacts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,   -- lower-cased address
    name          TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL
);

-- users are agents and administrators.
CREATE TABLE users (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    email            TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL DEFAULT '',
    role             TEXT NOT NULL DEFAULT 'agent',
    team_id          INTEGER REFERENCES teams(id),
    password_hash    TEXT NOT NULL DEFAULT '',
    api_token_hash   TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMP NOT NULL
);

-- blobs hold raw messages and attachments, content-addressed, so a backup of the
-- database is a backup of everything and identical attachments are stored once.
CREATE TABLE blobs (
    sha256      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    data        BLOB NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE tickets (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    subject             TEXT NOT NULL DEFAULT '',
    status              TEXT NOT NULL DEFAULT 'open',
    priority            TEXT NOT NULL DEFAULT 'medium',
    team_id             INTEGER NOT NULL REFERENCES teams(id),
    contact_id          INTEGER NOT NULL REFERENCES contacts(id),
    mailbox             TEXT NOT NULL DEFAULT '',
    flagged             INTEGER NOT NULL DEFAULT 0,
    flag_reason         TEXT NOT NULL DEFAULT '',
    linked_ticket_id    INTEGER REFERENCES tickets(id),
    outside_hours       INTEGER NOT NULL DEFAULT 0,
    response_by         TIMESTAMP,
    resolution_by       TIMESTAMP,
    first_responded_at  TIMESTAMP,
    resolved_at         TIMESTAMP,
    closed_at           TIMESTAMP,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE INDEX tickets_contact ON tickets(contact_id);
CREATE INDEX tickets_status ON tickets(status, updated_at);

CREATE TABLE participants (
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    contact_id  INTEGER NOT NULL REFERENCES contacts(id),
    role        TEXT NOT NULL DEFAULT 'cc',
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (ticket_id, contact_id)
);

-- inbound is the spool: every message smtpd answered 250 for has a row here, committed
-- before the 250. Ingest moves it from new to done (or failed, retried later).
CREATE TABLE inbound (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at     TIMESTAMP NOT NULL,
    remote_addr     TEXT NOT NULL DEFAULT '',
    helo            TEXT NOT NULL DEFAULT '',
    mail_from       TEXT NOT NULL DEFAULT '',
    rcpt_to         TEXT NOT NULL DEFAULT '',  -- JSON array of addresses
    size            INTEGER NOT NULL,
    raw_sha256      TEXT NOT NULL REFERENCES blobs(sha256),
    auth_results    TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'new',  -- new, processing, done, duplicate, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    error           TEXT NOT NULL DEFAULT '',
    processed_at    TIMESTAMP
);
CREATE INDEX inbound_status ON inbound(status, id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id       INTEGER NOT NULL REFERENCES tickets(id),
    inbound_id      INTEGER REFERENCES inbound(id),
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
    generated       INTEGER NOT NULL DEFAULT 0, -- 1: mxdesk made this Message-ID
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX messages_ticket ON messages(ticket_id, id);
CREATE INDEX messages_message_id ON messages(message_id);

CREATE TABLE attachments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    INTEGER NOT NULL REFERENCES messages(id),
    filename      TEXT NOT NULL DEFAULT '',
    content_type  TEXT NOT NULL DEFAULT '',
    content_id    TEXT NOT NULL DEFAULT '',
    inline        INTEGER NOT NULL DEFAULT 0,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL REFERENCES blobs(sha256)
);
CREATE INDEX attachments_message ON attachments(message_id);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    kind        TEXT NOT NULL,
    actor       TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX events_ticket ON events(ticket_id, id);

-- outbox holds every mail mxdesk will send, written in the transaction of the change
-- that caused it. message_id is the strong threading pointer (guarantee 3b).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id       INTEGER REFERENCES tickets(id),
    kind            TEXT NOT NULL,
    automatic       INTEGER NOT NULL DEFAULT 1,
    mail_from       TEXT NOT NULL,   -- envelope sender
    rcpt_to         TEXT NOT NULL,   -- envelope recipient
    message_id      TEXT NOT NULL UNIQUE,
    raw             BLOB NOT NULL,   -- rendered, unsigned message
    status          TEXT NOT NULL DEFAULT 'pending', -- pending, sending, sent, failed, suppressed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_rcpt ON outbox(rcpt_to, created_at);
CREATE INDEX outbox_ticket ON outbox(ticket_id);

-- Portal sessions and emailed sign-in tokens; secrets are stored hashed.
CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    contact_id  INTEGER REFERENCES contacts(id),
    user_id     INTEGER REFERENCES users(id),
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE TABLE signin_tokens (
    token_hash  TEXT PRIMARY KEY,
    contact_id  INTEGER NOT NULL REFERENCES contacts(id),
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);

-- Single-use signed links (close, rate) record their use here.
CREATE TABLE used_links (
    nonce       TEXT PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    used_at     TIMESTAMP NOT NULL
);

CREATE TABLE feedback (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    rating      INTEGER NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    requested_at TIMESTAMP,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE kb_articles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slug        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    body_md     TEXT NOT NULL,
    language    TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);

CREATE TABLE job_runs (
    job          TEXT PRIMARY KEY,
    last_start   TIMESTAMP,
    last_success TIMESTAMP,
    last_error   TEXT NOT NULL DEFAULT '',
    duration_ms  INTEGER NOT NULL DEFAULT 0
);
