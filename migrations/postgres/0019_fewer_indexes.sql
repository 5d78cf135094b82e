-- Every new ticket and every acknowledgement pays an insert into each index of its
-- table, and an outbox row's status changes (claimed, sent) pay them again. Three
-- indexes were kept for nothing:
-- tickets_contact (contact_id) is the first column of tickets_contact_team, which every
-- query by contact uses as well;
-- outbox_rcpt (rcpt_to, created_at) is the first column of outbox_loop_guard, and the one
-- query naming rcpt_to beside created_at names the ticket too (outbox_ticket);
-- tickets_resolved held every ticket, while the one query on it (resolved tickets due to
-- close) reads resolved ones only.
DROP INDEX IF EXISTS tickets_contact;
DROP INDEX IF EXISTS outbox_rcpt;
DROP INDEX IF EXISTS tickets_resolved;
CREATE INDEX tickets_resolved ON tickets(resolved_at) WHERE status = 'resolved';
