-- The customer portal's tickets: custom fields from ticket templates, what each account
-- has seen of a ticket (to mark unseen agent answers), the option chosen with a rating.
-- Keep in step with ../sqlite/0011_portal.sql.
CREATE TABLE ticket_fields (
    ticket_id  BIGINT NOT NULL REFERENCES tickets(id),
    name       TEXT NOT NULL,
    label      TEXT NOT NULL DEFAULT '',
    value      TEXT NOT NULL DEFAULT '',
    position   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ticket_id, name)
);

CREATE TABLE portal_seen (
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
    message_id  BIGINT NOT NULL, -- the newest message the customer has been shown
    PRIMARY KEY (account_id, ticket_id)
);

-- A customer's tickets are those of their contact and those they take part in.
CREATE INDEX participants_contact ON participants(contact_id, ticket_id);

ALTER TABLE feedback ADD COLUMN choice TEXT NOT NULL DEFAULT '';
