-- The loop guard counts the automatic mail sent to one address in the last hour on every
-- message. This index lets it seek straight to the counted rows (by status), so a flood
-- from one address, which leaves many suppressed rows, does not make each count slower.
CREATE INDEX outbox_loop_guard ON outbox(rcpt_to, automatic, status, created_at);
