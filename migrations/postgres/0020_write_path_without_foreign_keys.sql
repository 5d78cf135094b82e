-- The tables every incoming message writes keep no foreign keys on PostgreSQL. Each key
-- is a trigger that runs a locking lookup of the parent row (SELECT … FOR KEY SHARE)
-- per row written: eleven for every new ticket, two more for every spool row and every
-- attachment. That is the database server's CPU on every message, and it buys nothing
-- here: mxdesk never deletes a ticket, team, contact, user, spool row, message or blob
-- that these rows point at, and takes every id it writes from a row it has just read or
-- written in the same transaction.
-- SQLite keeps its keys (enforced, and cheap there: no locks, no other process), and the
-- test suites run on both: a change that wrote a dangling id would fail there.
ALTER TABLE tickets DROP CONSTRAINT IF EXISTS tickets_team_id_fkey;
ALTER TABLE tickets DROP CONSTRAINT IF EXISTS tickets_contact_id_fkey;
ALTER TABLE tickets DROP CONSTRAINT IF EXISTS tickets_linked_ticket_id_fkey;
ALTER TABLE tickets DROP CONSTRAINT IF EXISTS tickets_assignee_id_fkey;
ALTER TABLE participants DROP CONSTRAINT IF EXISTS participants_ticket_id_fkey;
ALTER TABLE participants DROP CONSTRAINT IF EXISTS participants_contact_id_fkey;
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_ticket_id_fkey;
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_inbound_id_fkey;
ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_raw_sha256_fkey;
ALTER TABLE attachments DROP CONSTRAINT IF EXISTS attachments_message_id_fkey;
ALTER TABLE attachments DROP CONSTRAINT IF EXISTS attachments_sha256_fkey;
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_ticket_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_ticket_id_fkey;
ALTER TABLE inbound DROP CONSTRAINT IF EXISTS inbound_raw_sha256_fkey;
